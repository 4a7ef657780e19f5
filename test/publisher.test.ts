/**
 * The queue-length publisher, run for real against loopback servers standing in for the RabbitMQ
 * management API, the ECS credentials endpoint, CloudWatch, ECS and InfluxDB, with the environment the
 * synthesized task definition gives it. What it sends must match the synthesized alarms; what it reads
 * for the dashboards must be what its task role may read; a failing InfluxDB or AWS read never stops
 * the CloudWatch publishing. (test/grafana.test.ts runs it into a real InfluxDB and RabbitMQ.)
 */
import { SignatureV4 } from "@smithy/signature-v4";
import { NodeHash } from "../runner/s3-http";
import { publisherScript } from "../constructs/ecs/broker";
import { containers, only, resources, synthConfig, type TfJson } from "./support/stack-json";
import { serve } from "./support/http-recorder";

const publisher = require("../constructs/ecs/queue-length-publisher.js");

describe("queue-length publisher", () => {
  const { json } = synthConfig({ ecs: { clusterName: "montage" } });
  const stack = json.ecs;
  const master = resources(stack, "aws_ecs_task_definition").find((t) => t.family === "montage-hyperflow-master");
  const container = containers(master).find((c: any) => c.name === "queue-length-publisher");
  const stackEnv: Record<string, string> = Object.fromEntries(container.environment.map((e: any) => [e.name, e.value]));

  test("the task definition ships this very script and runs it through the environment", () => {
    expect(stackEnv.HF_PUBLISHER_JS).toBe(publisherScript());
    expect(stackEnv.HF_PUBLISHER_RUN).toBe("1");
    expect(container.command).toEqual(["sh", "-c", 'exec node -e "$HF_PUBLISHER_JS"']);
    expect(publisherScript()).not.toMatch(/\$\{|%\{/);
  });

  test("reads the queue, signs with the task role and sends what the alarms watch", async () => {
    const rabbit = await serve((req, res) => {
      const ok = req.headers.authorization === `Basic ${Buffer.from("hyperflow:s3cret").toString("base64")}`;
      res
        .writeHead(ok ? 200 : 401, { "content-type": "application/json" })
        .end(JSON.stringify({ messages: 742, messages_ready: 700, messages_unacknowledged: 42 }));
    });
    const creds = await serve((req, res) => {
      const ok = req.headers.authorization === "token-1";
      res.writeHead(ok ? 200 : 403).end(
        JSON.stringify({
          AccessKeyId: "TESTKEYID",
          SecretAccessKey: "testsecret",
          Token: "session-token",
          Expiration: new Date(Date.now() + 3600e3).toISOString(),
        }),
      );
    });
    const cloudwatch = await serve((_req, res) => res.writeHead(200).end("<PutMetricDataResponse/>"));
    try {
      const env = {
        ...stackEnv,
        HF_RABBITMQ_API: rabbit.url,
        HF_CLOUDWATCH_ENDPOINT: cloudwatch.url,
        RABBITMQ_USER: "hyperflow",
        RABBITMQ_PASS: "s3cret",
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${creds.url}/creds`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: "token-1",
      };
      const settings = publisher.settingsFromEnv(env);
      const now = new Date("2026-11-21T12:00:00Z");
      const value = await publisher.publishOnce(settings, publisher.cachedCredentials(env), now);
      expect(value).toBe(742);
      expect(rabbit.seen[0].url).toBe("/api/queues/%2F/hyperflow.jobs");
      expect(cloudwatch.seen).toHaveLength(1);
      const sent = cloudwatch.seen[0];
      const form = Object.fromEntries(new URLSearchParams(sent.body));
      const alarms = resources(stack, "aws_cloudwatch_metric_alarm");
      for (const alarm of alarms) {
        expect(form.Namespace).toBe(alarm.namespace);
        expect(form["MetricData.member.1.MetricName"]).toBe(alarm.metric_name);
        const dims = Object.fromEntries(
          Object.keys(alarm.dimensions).map((_, i) => [
            form[`MetricData.member.1.Dimensions.member.${i + 1}.Name`],
            form[`MetricData.member.1.Dimensions.member.${i + 1}.Value`],
          ]),
        );
        expect(dims).toEqual(alarm.dimensions);
      }
      expect(form).toEqual(
        expect.objectContaining({ Action: "PutMetricData", "MetricData.member.1.Value": "742", "MetricData.member.1.StorageResolution": "1" }),
      );
      expect(sent.headers["x-amz-security-token"]).toBe("session-token");
      expect(sent.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=TESTKEYID\/20261121\/us-east-1\/monitoring\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
      );
    } finally {
      await Promise.all([rabbit.close(), creds.close(), cloudwatch.close()]);
    }
  });

  test("a queue that does not exist yet counts as 0; server errors are raised", async () => {
    let status = 404;
    const rabbit = await serve((_req, res) => res.writeHead(status).end("{}"));
    try {
      const s = { rabbitApi: rabbit.url, vhost: "/", queue: "hyperflow.jobs", rabbitUser: "u", rabbitPass: "p" };
      expect(await publisher.queueLength(s)).toBe(0);
      status = 500;
      await expect(publisher.queueLength(s)).rejects.toThrow(/HTTP 500/);
    } finally {
      await rabbit.close();
    }
  });

  test("SigV4 signature equals the AWS SDK's signer", async () => {
    const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "tok" };
    const now = new Date("2026-11-21T10:20:30Z");
    const body = publisher.putMetricDataBody({
      namespace: "hyperflow",
      metricName: "QueueLength",
      dimensions: { ClusterName: "a b/c" },
      value: 3,
      storageResolution: 1,
      timestamp: now,
    });
    const ours = publisher.signV4({
      method: "POST",
      url: "https://monitoring.eu-west-1.amazonaws.com/",
      region: "eu-west-1",
      service: "monitoring",
      body,
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
      credentials,
      now,
    });
    const signer = new SignatureV4({ credentials, region: "eu-west-1", service: "monitoring", sha256: NodeHash, applyChecksum: false });
    const signed = await signer.sign(
      {
        method: "POST",
        protocol: "https:",
        hostname: "monitoring.eu-west-1.amazonaws.com",
        path: "/",
        query: {},
        headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8", host: "monitoring.eu-west-1.amazonaws.com" },
        body,
      },
      { signingDate: now },
    );
    const sdkSig = String(signed.headers.authorization).replace(/.*Signature=/, "");
    expect(ours.authorization.replace(/.*Signature=/, "")).toBe(sdkSig);
  });

  test("missing settings fail loudly", () => {
    expect(() => publisher.settingsFromEnv({ ...stackEnv, HF_QUEUE_NAME: "" })).toThrow(/HF_QUEUE_NAME/);
  });
});

/** Policies of the master task role (the publisher's), by name. */
function publisherPolicies(stack: TfJson): Record<string, any[]> {
  const role = Object.entries(stack.resource!.aws_iam_role).find(([, r]: [string, any]) => String(r.description).startsWith("HyperFlow master tasks"))![0];
  return Object.fromEntries(
    resources(stack, "aws_iam_role_policy")
      .filter((p) => p.role === `\${aws_iam_role.${role}.id}`)
      .map((p) => [p.name, JSON.parse(p.policy).Statement]),
  );
}

const envOf = (stack: TfJson): Record<string, string> => {
  const master = resources(stack, "aws_ecs_task_definition").find((t) => String(t.family).endsWith("-hyperflow-master"));
  return Object.fromEntries(
    containers(master)
      .find((c: any) => c.name === "queue-length-publisher")
      .environment.map((e: any) => [e.name, e.value]),
  );
};

describe("the publisher's dashboard feed: wiring and permissions", () => {
  test("without an InfluxDB URL it publishes to CloudWatch only, and its role may not read anything", async () => {
    const { json } = synthConfig({ ecs: { clusterName: "plain" } });
    const env = envOf(json.ecs);
    expect(Object.keys(env).filter((k) => /INFLUX|HF_ALARM|HF_ECS|HF_CLUSTER|HF_MONITOR/.test(k))).toEqual([]);
    expect(Object.keys(publisherPolicies(json.ecs))).toEqual(["PutMetricData"]);
    const s = publisher.settingsFromEnv({ ...env, RABBITMQ_USER: "u", RABBITMQ_PASS: "p" });
    expect(s.monitoring).toBeUndefined();
    expect(await publisher.monitorOnce(s, () => Promise.reject(new Error("no AWS call expected")))).toEqual([]);
  });

  test("with an InfluxDB URL it names the synthesized alarms, cluster and services, and may read exactly those", () => {
    const { json } = synthConfig({ ecs: { clusterName: "montage", metricsUrl: "http://10.0.0.5:8086/hyperflow_tests" } });
    const stack = json.ecs;
    const env = envOf(stack);
    const alarms = Object.entries(stack.resource!.aws_cloudwatch_metric_alarm) as [string, any][];
    const names = JSON.parse(env.HF_ALARM_NAMES);
    // The alarms' names are built from a reference to the cluster's name; the publisher gets the literal.
    const literal = (n: string) => n.replace(/^\$\{aws_ecs_cluster\.[^.]+\.name\}/, env.HF_CLUSTER_NAME);
    expect(alarms.map(([, a]) => literal(a.alarm_name)).sort()).toEqual([names.high, names.low].sort());
    expect(literal(alarms.find(([, a]) => a.comparison_operator === "GreaterThanThreshold")![1].alarm_name)).toBe(names.high);
    expect(env.HF_CLUSTER_NAME).toBe(only(stack, "aws_ecs_cluster").name);
    const services = Object.entries(stack.resource!.aws_ecs_service) as [string, any][];
    const byName = (n: string) => services.find(([, s]) => s.name === n)!;
    const svc = JSON.parse(env.HF_ECS_SERVICES);
    expect(byName(svc.master)[1].placement_constraints[0].expression).toMatch(/master/);
    expect(byName(svc.worker)[1].capacity_provider_strategy).toBeDefined();
    expect(env.INFLUXDB_URL).toBe("http://10.0.0.5:8086/hyperflow_tests");

    const policies = publisherPolicies(stack);
    expect(Object.keys(policies).sort()).toEqual(["DescribeCluster", "DescribeScalingAlarms", "GetMetricData", "PutMetricData"]);
    const statements = Object.values(policies).flat();
    for (const st of statements) for (const a of st.Action) expect(a).not.toMatch(/\*/);
    const grant = (action: string) => statements.filter((st) => st.Action.includes(action)).flatMap((st) => st.Resource);
    expect(grant("cloudwatch:DescribeAlarms").sort()).toEqual(alarms.map(([id]) => `\${aws_cloudwatch_metric_alarm.${id}.arn}`).sort());
    expect(grant("ecs:DescribeServices")).toEqual([`\${aws_ecs_service.${byName(svc.worker)[0]}.arn}`]);
    expect(grant("ecs:ListContainerInstances")).toEqual([`\${aws_ecs_cluster.${Object.keys(stack.resource!.aws_ecs_cluster)[0]}.arn}`]);
    // GetMetricData supports no resource ARNs; it is the one read on "*".
    expect(
      statements
        .filter((st) => st.Resource.includes("*"))
        .map((st) => st.Action)
        .sort(),
    ).toEqual([["cloudwatch:GetMetricData"], ["cloudwatch:PutMetricData"]]);
  });

  test("bad dashboard settings fail loudly", () => {
    const { json } = synthConfig({ ecs: { clusterName: "montage", metricsUrl: "http://10.0.0.5:8086/hyperflow_tests" } });
    const env = { ...envOf(json.ecs), RABBITMQ_USER: "u", RABBITMQ_PASS: "p" };
    expect(publisher.settingsFromEnv(env).monitoring).toMatchObject({
      influx: { origin: "http://10.0.0.5:8086", db: "hyperflow_tests" },
      clusterName: "montage",
      intervalMs: 60_000,
    });
    expect(() => publisher.settingsFromEnv({ ...env, INFLUXDB_URL: "http://10.0.0.5:8086" })).toThrow(/INFLUXDB_URL must be http\(s\):\/\/host:port\/database/);
    expect(() => publisher.settingsFromEnv({ ...env, HF_ALARM_NAMES: "" })).toThrow(/HF_ALARM_NAMES/);
    expect(() => publisher.settingsFromEnv({ ...env, HF_ECS_SERVICES: '{"master":"m"}' })).toThrow(/HF_ECS_SERVICES/);
    expect(() => publisher.settingsFromEnv({ ...env, HF_MONITOR_INTERVAL_SECONDS: "0" })).toThrow(/HF_MONITOR_INTERVAL_SECONDS/);
  });
});

describe("the publisher's dashboard feed: failures", () => {
  const { json } = synthConfig({ ecs: { clusterName: "montage", metricsUrl: "http://10.0.0.5:8086/hyperflow_tests" } });
  const stackEnv = envOf(json.ecs);
  const creds = () => Promise.resolve({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" });
  let rabbit: Awaited<ReturnType<typeof serve>>;
  let cloudwatch: Awaited<ReturnType<typeof serve>>;
  let ecs: Awaited<ReturnType<typeof serve>>;
  let alarmsDenied = true;
  beforeAll(async () => {
    rabbit = await serve((_req, res) =>
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ messages: 9, messages_ready: 7, messages_unacknowledged: 2, consumers: 3 })),
    );
    cloudwatch = await serve((req, res) => {
      const target = String(req.headers["x-amz-target"] ?? "");
      if (target.endsWith(".DescribeAlarms") && alarmsDenied) {
        return res.writeHead(400, { "content-type": "application/x-amz-json-1.0" }).end(
          JSON.stringify({
            __type: "com.amazon.coral.service#AccessDeniedException",
            message: "User is not authorized to perform: cloudwatch:DescribeAlarms",
          }),
        );
      }
      if (target.endsWith(".DescribeAlarms"))
        return res.writeHead(200).end(JSON.stringify({ MetricAlarms: [{ AlarmName: "montage_queue_length_low", StateValue: "ALARM" }] }));
      if (target.endsWith(".GetMetricData")) {
        const input = JSON.parse(req.body);
        return res.writeHead(200).end(
          JSON.stringify({
            MetricDataResults: input.MetricDataQueries.map((q: any) => ({
              Id: q.Id,
              Timestamps: [1_800_000_000, 1_800_000_060],
              Values: [10, 20],
              StatusCode: "Complete",
            })),
          }),
        );
      }
      return res.writeHead(200).end("<PutMetricDataResponse/>");
    });
    ecs = await serve((req, res) =>
      String(req.headers["x-amz-target"]).endsWith(".ListContainerInstances")
        ? res.writeHead(200).end(JSON.stringify({ containerInstanceArns: ["a", "b"] }))
        : res.writeHead(400).end(JSON.stringify({ __type: "AccessDeniedException", message: "not authorized: ecs:DescribeServices" })),
    );
  });
  afterAll(() => Promise.all([rabbit.close(), cloudwatch.close(), ecs.close()]));

  const settings = (influxUrl: string) =>
    publisher.settingsFromEnv({
      ...stackEnv,
      INFLUXDB_URL: influxUrl,
      HF_RABBITMQ_API: rabbit.url,
      HF_CLOUDWATCH_ENDPOINT: cloudwatch.url,
      HF_ECS_ENDPOINT: ecs.url,
      RABBITMQ_USER: "u",
      RABBITMQ_PASS: "p",
    });

  test("an unreachable or failing InfluxDB never stops the CloudWatch publishing", async () => {
    const failing = await serve((_req, res) => res.writeHead(500).end('{"error":"engine: cache maximum memory size exceeded"}'));
    const closed = await serve(() => undefined);
    const closedUrl = closed.url;
    await closed.close();
    try {
      for (const url of [`${failing.url}/hyperflow_tests`, `${closedUrl}/hyperflow_tests`]) {
        const log: string[] = [];
        const sent = cloudwatch.seen.length;
        expect(await publisher.publishOnce(settings(url), creds, new Date(), (l: string) => log.push(l))).toBe(9);
        expect(cloudwatch.seen.slice(sent).map((r) => new URLSearchParams(r.body).get("MetricData.member.1.Value"))).toEqual(["9"]);
        expect(log).toEqual([expect.stringMatching(/^queue-length publisher: InfluxDB: /)]);
      }
    } finally {
      await failing.close();
    }
  });

  test("a missing database is created once, then the points are written", async () => {
    let created = false;
    const influx = await serve((req, res) => {
      if (req.url.startsWith("/query")) {
        created = new URL(req.url, "http://x").searchParams.get("q") === 'CREATE DATABASE "hyperflow_tests"';
        return res.writeHead(200).end('{"results":[{"statement_id":0}]}');
      }
      return created ? res.writeHead(204).end() : res.writeHead(404).end('{"error":"database not found: \\"hyperflow_tests\\""}');
    });
    try {
      const log: string[] = [];
      expect(await publisher.publishOnce(settings(`${influx.url}/hyperflow_tests`), creds, new Date(1_800_000_000_000), (l: string) => log.push(l))).toBe(9);
      expect(log).toEqual([]);
      expect(influx.seen.map((r) => r.url.replace(/\?.*/, ""))).toEqual(["/write", "/query", "/write"]);
      expect(new URL(influx.seen[2].url, "http://x").searchParams.get("precision")).toBe("ms");
      expect(influx.seen[2].body).toBe(
        "hyperflow_rabbitmq_monitor,cluster=montage,queue=hyperflow.jobs QueueLength=9,messagesReady=7,messagesUnacknowledged=2,consumerCount=3 1800000000000",
      );
    } finally {
      await influx.close();
    }
  });

  test("a denied AWS read is logged and the other reads are written", async () => {
    const influx = await serve((_req, res) => res.writeHead(204).end());
    try {
      const log: string[] = [];
      alarmsDenied = true;
      const lines: string[] = await publisher.monitorOnce(settings(`${influx.url}/db`), creds, new Date(1_800_000_100_000), (l: string) => log.push(l));
      expect(log.sort()).toEqual([
        "queue-length publisher: ECS counts: DescribeServices answered HTTP 400 AccessDeniedException: not authorized: ecs:DescribeServices",
        "queue-length publisher: scaling alarms: DescribeAlarms answered HTTP 400 AccessDeniedException: User is not authorized to perform: cloudwatch:DescribeAlarms",
      ]);
      // ECS counts without the worker service: only the instance count; utilization at the newest point's time.
      expect(lines).toContain("hyperflow_monitor,cluster=montage ec2_count=2 1800000100000");
      expect(lines).toContain("hyperflow_worker_cpu,cluster=montage,service=hyperflow-service-worker utilization=20 1800000060000");
      expect(lines.filter((l) => l.startsWith("hyperflow_alarms"))).toEqual([]);
      expect(influx.seen.at(-1)!.body.split("\n")).toEqual(lines);

      alarmsDenied = false;
      const after: string[] = await publisher.monitorOnce(settings(`${influx.url}/db`), creds, new Date(1_800_000_100_000), () => undefined);
      // An alarm the answer leaves out (not created yet) gets no point.
      expect(after.filter((l) => l.startsWith("hyperflow_alarms"))).toEqual([
        "hyperflow_alarms,cluster=montage,direction=low,name=montage_queue_length_low alarm=1 1800000100000",
      ]);
    } finally {
      await influx.close();
    }
  });

  test("repeated errors are logged once, then every 100th time", () => {
    const out: string[] = [];
    const log = publisher.sparseLog((l: string) => out.push(l));
    for (let i = 0; i < 250; i++) log("InfluxDB down");
    log("other");
    expect(out).toEqual(["InfluxDB down", "InfluxDB down (100 times)", "InfluxDB down (200 times)", "other"]);
  });

  test("line protocol escapes tags and measurement, drops fields that are not numbers, refuses a point without fields", () => {
    expect(publisher.influxLine("a b,c", { "k=1": "v, w", empty: "" }, { f: 1.5, g: Number.NaN, h: undefined }, 1000.4)).toBe(
      "a\\ b\\,c,k\\=1=v\\,\\ w f=1.5 1000",
    );
    expect(() => publisher.influxLine("m", {}, { g: Number.POSITIVE_INFINITY }, 1)).toThrow(/no fields/);
  });

  test("SigV4 of an AWS JSON request equals the AWS SDK's signer", async () => {
    const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "tok" };
    const now = new Date("2026-11-21T10:20:30Z");
    const body = JSON.stringify({ cluster: "montage", services: ["hyperflow-service-worker"] });
    const headers = { "content-type": "application/x-amz-json-1.1", "x-amz-target": "AmazonEC2ContainerServiceV20141113.DescribeServices" };
    const ours = publisher.signV4({
      method: "POST",
      url: "https://ecs.eu-west-1.amazonaws.com/",
      region: "eu-west-1",
      service: "ecs",
      body,
      headers,
      credentials,
      now,
    });
    const signer = new SignatureV4({ credentials, region: "eu-west-1", service: "ecs", sha256: NodeHash, applyChecksum: false });
    const signed = await signer.sign(
      {
        method: "POST",
        protocol: "https:",
        hostname: "ecs.eu-west-1.amazonaws.com",
        path: "/",
        query: {},
        headers: { ...headers, host: "ecs.eu-west-1.amazonaws.com" },
        body,
      },
      { signingDate: now },
    );
    expect(ours.authorization.replace(/.*Signature=/, "")).toBe(String(signed.headers.authorization).replace(/.*Signature=/, ""));
  });
});
