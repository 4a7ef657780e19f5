/**
 * The queue-length publisher, run for real against loopback servers standing in for the RabbitMQ
 * management API, the ECS credentials endpoint and CloudWatch, with the environment the synthesized
 * task definition gives it. What it sends must match the synthesized alarms.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { SignatureV4 } from "@smithy/signature-v4";
import { NodeHash } from "../runner/fast-put";
import { publisherScript } from "../constructs/ecs/broker";
import { containers, resources, synthConfig } from "./support/synth";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const publisher = require("../constructs/ecs/queue-length-publisher.js");

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function serve(handler: (req: Recorded, res: http.ServerResponse) => void): Promise<{ url: string; seen: Recorded[]; close: () => Promise<void> }> {
  const seen: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      seen.push(r);
      handler(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

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
      res.writeHead(ok ? 200 : 401, { "content-type": "application/json" }).end(JSON.stringify({ messages: 742, messages_ready: 700, messages_unacknowledged: 42 }));
    });
    const creds = await serve((req, res) => {
      const ok = req.headers.authorization === "token-1";
      res.writeHead(ok ? 200 : 403).end(JSON.stringify({ AccessKeyId: "TESTKEYID", SecretAccessKey: "testsecret", Token: "session-token", Expiration: new Date(Date.now() + 3600e3).toISOString() }));
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
          Object.keys(alarm.dimensions).map((_, i) => [form[`MetricData.member.1.Dimensions.member.${i + 1}.Name`], form[`MetricData.member.1.Dimensions.member.${i + 1}.Value`]]),
        );
        expect(dims).toEqual(alarm.dimensions);
      }
      expect(form).toEqual(expect.objectContaining({ Action: "PutMetricData", "MetricData.member.1.Value": "742", "MetricData.member.1.StorageResolution": "1" }));
      expect(sent.headers["x-amz-security-token"]).toBe("session-token");
      expect(sent.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=TESTKEYID\/20261121\/us-east-1\/monitoring\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
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
    const body = publisher.putMetricDataBody({ namespace: "hyperflow", metricName: "QueueLength", dimensions: { ClusterName: "a b/c" }, value: 3, storageResolution: 1, timestamp: now });
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
      { method: "POST", protocol: "https:", hostname: "monitoring.eu-west-1.amazonaws.com", path: "/", query: {}, headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8", host: "monitoring.eu-west-1.amazonaws.com" }, body },
      { signingDate: now },
    );
    const sdkSig = String(signed.headers.authorization).replace(/.*Signature=/, "");
    expect(ours.authorization.replace(/.*Signature=/, "")).toBe(sdkSig);
  });

  test("missing settings fail loudly", () => {
    expect(() => publisher.settingsFromEnv({ ...stackEnv, HF_QUEUE_NAME: "" })).toThrow(/HF_QUEUE_NAME/);
  });
});
