/**
 * HyperFlow dashboards: generated, kept in sync with grafana/dashboards/, covering the measurements the
 * dashboards of hyperflow-wms/hyperflow-grafana showed, and every panel fed by something we deploy: each
 * writer's real output goes into a real InfluxDB 1.x (one database per writer) and every panel's query
 * must return what its feed wrote.
 *
 * - publisher: queue-length-publisher.js with the environment of the synthesized task definition, a real
 *   RabbitMQ with the management plugin (jobs waiting and being worked on), and loopback stand-ins for
 *   CloudWatch (AWS JSON 1.0 / Query) and ECS (AWS JSON 1.1) that answer in the documented shapes; the
 *   ECS stand-in's answers are parsed by the real @aws-sdk/client-ecs, whose requests must equal the
 *   publisher's.
 * - executor: executor/metrics.ts (JobRecorder + InfluxWriter), what the workers run.
 * - statusReporter: a third-party image that cannot run here; the points are those its source writes
 *   (zagura/hyperflow-ec2-status-reporter `index.js`, fork of krystianpawlik/hyperflow-ec2-status-reporter:
 *   measurement, field and `ec2_incance_id` tag as written there).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { DescribeServicesCommand, ECSClient, ListContainerInstancesCommand } from "@aws-sdk/client-ecs";
import * as amqp from "amqplib";
import { InfluxWriter, JobRecorder } from "../executor/metrics";
import { DASHBOARDS, dashboardFiles, DATASOURCE_UID, datasourceProvisioning, type Feed, FEEDS, panelQuery, renderDashboard } from "../grafana/dashboards";
import { type Influx, startInfluxdb } from "./support/influxdb";
import { type RabbitMq, startRabbitMq } from "./support/rabbitmq";
import { containers, resources, synthConfig } from "./support/stack-json";
import { type Recorded, serve } from "./support/http-recorder";

const publisher = require("../constructs/ecs/queue-length-publisher.js");

/** Measurements of hyperflow-wms/hyperflow-grafana's dashboards (`provisioning/dashboards/hyperflow_dashboardv3.json`); ours must show each of them. */
const GRAFANA_REPO_MEASUREMENTS = [
  "hyperflow_disc_write",
  "hyperflow_disc_read",
  "hyperflow_connection_transferred",
  "hyperflow_connection_received",
  "hyperflow_cpu_usage_ec2",
  "hyperflow_memory_usage_ec2",
  "hyperflow_worker_cpu",
  "hyperflow_master_cpu",
  "hyperflow_cluster_cpu",
  "hyperflow_master_memory",
  "hyperflow_cluster_memory",
  "execution_log",
  "execution_log_sub_stage",
  "execution_times",
  "hyperflow_rabbitmq_monitor",
  "hyperflow_monitor",
  "hyperflow_alarms",
];

/** What Grafana puts in for its macros when it runs a panel. */
const asGrafanaSends = (q: string) => q.replace(/\$timeFilter/g, "time > now() - 1h").replace(/\$__interval/g, "1m");

describe("dashboards", () => {
  test("grafana/dashboards/ holds exactly the generated files", () => {
    const dir = path.join(__dirname, "..", "grafana", "dashboards");
    const files = dashboardFiles();
    expect(fs.readdirSync(dir).sort()).toEqual(Object.keys(files).sort());
    for (const [name, json] of Object.entries(files)) expect(fs.readFileSync(path.join(dir, name), "utf8")).toBe(json);
  });

  test("every measurement of hyperflow-grafana's dashboards has a panel", () => {
    const shown = DASHBOARDS.flatMap((d) => d.panels.map((p) => p.measurement));
    expect(GRAFANA_REPO_MEASUREMENTS.filter((m) => !shown.includes(m))).toEqual([]);
  });

  test("panels point at the provisioned datasource, ids are unique, no panel overlaps another, each names its writer", () => {
    expect(datasourceProvisioning("hyperflow_tests")).toContain(`uid: ${DATASOURCE_UID}`);
    for (const d of DASHBOARDS) {
      const json = renderDashboard(d) as { panels: any[]; uid: string };
      expect(new Set(json.panels.map((p) => p.id)).size).toBe(json.panels.length);
      const cells = new Set<string>();
      for (const [i, p] of json.panels.entries()) {
        expect(p.datasource.uid).toBe(DATASOURCE_UID);
        expect(p.targets[0].datasource.uid).toBe(DATASOURCE_UID);
        expect(p.description).toContain(`Written by ${FEEDS[d.panels[i].feed]}`);
        const cell = `${p.gridPos.x},${p.gridPos.y}`;
        expect(cells.has(cell)).toBe(false);
        cells.add(cell);
      }
    }
    expect(new Set(DASHBOARDS.map((d) => d.uid)).size).toBe(DASHBOARDS.length);
  });
});

const sendJson = (res: http.ServerResponse, contentType: string, body: unknown, status = 200) =>
  res.writeHead(status, { "content-type": contentType }).end(JSON.stringify(body));

const CLUSTER = "montage";
const WORKER_SERVICE = "hyperflow-service-worker";
const MASTER_SERVICE = "hyperflow-service-master";
/** What the CloudWatch stand-in holds for AWS/ECS (Average, 60 s), by metric and service ("" = the cluster). */
const UTILIZATION: Record<string, number> = {
  "CPUUtilization/": 41.5,
  "MemoryUtilization/": 63.25,
  [`CPUUtilization/${MASTER_SERVICE}`]: 3.5,
  [`MemoryUtilization/${MASTER_SERVICE}`]: 27,
  [`CPUUtilization/${WORKER_SERVICE}`]: 88.75,
  [`MemoryUtilization/${WORKER_SERVICE}`]: 71.5,
};

/** CloudWatch: PutMetricData (Query protocol), DescribeAlarms and GetMetricData (AWS JSON 1.0), answered as the API reference documents them. */
function cloudwatchStandIn(req: Recorded, res: http.ServerResponse): unknown {
  const target = String(req.headers["x-amz-target"] ?? "");
  const json = (body: unknown, status = 200) => sendJson(res, "application/x-amz-json-1.0", body, status);
  if (!target && new URLSearchParams(req.body).get("Action") === "PutMetricData") {
    return res
      .writeHead(200, { "content-type": "text/xml" })
      .end(
        '<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></PutMetricDataResponse>',
      );
  }
  if (req.headers["content-type"] !== "application/x-amz-json-1.0") return json({ __type: "com.amazon.coral.service#UnknownOperationException" }, 400);
  const input = JSON.parse(req.body);
  if (target === "GraniteServiceVersion20100801.DescribeAlarms") {
    const alarms = (input.AlarmNames as string[])
      .filter((n) => n === `${CLUSTER}_queue_length_high` || n === `${CLUSTER}_queue_length_low`)
      .map((n) => ({
        AlarmName: n,
        AlarmArn: `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${n}`,
        StateValue: n.endsWith("_high") ? "ALARM" : "OK",
        StateReason: "Threshold Crossed",
        StateUpdatedTimestamp: Math.floor(Date.now() / 1000) - 30,
        Namespace: "hyperflow",
        MetricName: "QueueLength",
        Dimensions: [{ Name: "ClusterName", Value: CLUSTER }],
        Statistic: "Average",
        Period: 10,
        EvaluationPeriods: 1,
        Threshold: n.endsWith("_high") ? 700 : 0,
        ComparisonOperator: n.endsWith("_high") ? "GreaterThanThreshold" : "LessThanOrEqualToThreshold",
      }));
    return json({ MetricAlarms: alarms, CompositeAlarms: [] });
  }
  if (target === "GraniteServiceVersion20100801.GetMetricData") {
    const minute = Math.floor(input.EndTime / 60) * 60;
    const results = (input.MetricDataQueries as any[]).map((q) => {
      const m = q.MetricStat;
      const dims = Object.fromEntries((m.Metric.Dimensions as { Name: string; Value: string }[]).map((d) => [d.Name, d.Value]));
      const value = UTILIZATION[`${m.Metric.MetricName}/${dims.ServiceName ?? ""}`];
      const known = m.Metric.Namespace === "AWS/ECS" && dims.ClusterName === CLUSTER && m.Period === 60 && m.Stat === "Average" && value !== undefined;
      // Newest first, as ScanBy TimestampDescending asks.
      return {
        Id: q.Id,
        Label: m.Metric.MetricName,
        Timestamps: known ? [minute - 60, minute - 120] : [],
        Values: known ? [value, value / 2] : [],
        StatusCode: "Complete",
      };
    });
    return json({ MetricDataResults: results, Messages: [] });
  }
  return json({ __type: "com.amazon.coral.service#UnknownOperationException" }, 400);
}

/** ECS: ListContainerInstances (two pages) and DescribeServices (AWS JSON 1.1), shaped as the API reference documents them. */
function ecsStandIn(req: Recorded, res: http.ServerResponse): unknown {
  const json = (body: unknown, status = 200) => sendJson(res, "application/x-amz-json-1.1", body, status);
  const input = JSON.parse(req.body || "{}");
  const target = String(req.headers["x-amz-target"] ?? "");
  if (input.cluster !== CLUSTER) return json({ __type: "ClusterNotFoundException", message: "Cluster not found." }, 400);
  const arn = (what: string) => `arn:aws:ecs:us-east-1:123456789012:${what}`;
  if (target === "AmazonEC2ContainerServiceV20141113.ListContainerInstances" && input.status === "ACTIVE") {
    return json(
      input.nextToken === "page-2"
        ? { containerInstanceArns: [arn(`container-instance/${CLUSTER}/c3`)] }
        : { containerInstanceArns: [arn(`container-instance/${CLUSTER}/c1`), arn(`container-instance/${CLUSTER}/c2`)], nextToken: "page-2" },
    );
  }
  if (target === "AmazonEC2ContainerServiceV20141113.DescribeServices") {
    const known: string[] = (input.services as string[]).filter((s) => s === WORKER_SERVICE || s === MASTER_SERVICE);
    return json({
      services: known.map((s) => ({
        serviceArn: arn(`service/${CLUSTER}/${s}`),
        serviceName: s,
        clusterArn: arn(`cluster/${CLUSTER}`),
        status: "ACTIVE",
        desiredCount: s === WORKER_SERVICE ? 6 : 1,
        runningCount: s === WORKER_SERVICE ? 4 : 1,
        pendingCount: s === WORKER_SERVICE ? 2 : 0,
        launchType: "EC2",
      })),
      failures: (input.services as string[]).filter((s) => !known.includes(s)).map((s) => ({ arn: arn(`service/${CLUSTER}/${s}`), reason: "MISSING" })),
    });
  }
  return json({ __type: "InvalidParameterException", message: `unexpected ${target}` }, 400);
}

/** The lines the status reporter writes every second (zagura/hyperflow-ec2-status-reporter `index.js`, collectUsage). */
const STATUS_REPORTER_LINES = ["i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60002"].flatMap((id, k) => [
  `hyperflow_cpu_usage_ec2,ec2_incance_id=${id} cpu_usage=${0.25 + k / 10}`,
  `hyperflow_memory_usage_ec2,ec2_incance_id=${id} used_memory=${812345.5 + k}`,
  `hyperflow_connection_received,ec2_incance_id=${id} received_bytes_per_s=${123456 + k}`,
  `hyperflow_connection_transferred,ec2_incance_id=${id} transferred_bytes_per_s=${65432 + k}`,
  `hyperflow_disc_read,ec2_incance_id=${id} read_bytes_per_s=${12.5 + k}`,
  `hyperflow_disc_write,ec2_incance_id=${id} write_bytes_per_s=${345.25 + k}`,
]);

describe("every panel is fed by what the stacks deploy (real writers, real InfluxDB 1.x)", () => {
  let influx: Influx;
  let rabbit: RabbitMq;
  let conn: amqp.ChannelModel | undefined;
  const stop: (() => Promise<void>)[] = [];
  const db = (feed: Feed) => `feed_${feed}`;
  let publisherLines: string[] = [];
  const logged: string[] = [];
  let ecsCalls: { sdk: Recorded[]; publisher: Recorded[] } = { sdk: [], publisher: [] };

  const rows = async (database: string, q: string) => {
    const r = await influx.query(database, q);
    expect(r.results[0].error).toBeUndefined();
    return (r.results[0].series ?? []).flatMap((s: { columns: string[]; values: unknown[][]; tags?: Record<string, string> }) =>
      s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })),
    );
  };

  beforeAll(async () => {
    [influx, rabbit] = await Promise.all([startInfluxdb(), startRabbitMq({ management: true })]);

    // Jobs in the queue as the engine leaves them: 5 published, 2 taken by a worker and not yet acknowledged.
    conn = await amqp.connect(rabbit.url);
    const ch = await conn.createChannel();
    await ch.assertQueue("hyperflow.jobs", { durable: true });
    for (let i = 0; i < 5; i++) ch.sendToQueue("hyperflow.jobs", Buffer.from(JSON.stringify({ executable: "/bin/true", i })));
    const worker = await conn.createChannel();
    await worker.prefetch(2);
    await worker.consume("hyperflow.jobs", () => undefined, { noAck: false });

    // The publisher with the environment the ecs stack gives it; only the endpoints point at loopback.
    const { json } = synthConfig({ ecs: { clusterName: CLUSTER, metricsUrl: "http://10.0.0.5:8086/hyperflow_tests" } });
    const master = resources(json.ecs, "aws_ecs_task_definition").find((t) => t.family === `${CLUSTER}-hyperflow-master`);
    const container = containers(master).find((c: any) => c.name === "queue-length-publisher");
    const stackEnv: Record<string, string> = Object.fromEntries(container.environment.map((e: any) => [e.name, e.value]));
    const [cloudwatch, ecs, creds] = await Promise.all([
      serve(cloudwatchStandIn),
      serve(ecsStandIn),
      serve((_req, res) =>
        res.writeHead(200).end(
          JSON.stringify({
            AccessKeyId: "AKIDEXAMPLE",
            SecretAccessKey: "secret",
            Token: "session",
            Expiration: new Date(Date.now() + 3600e3).toISOString(),
          }),
        ),
      ),
    ]);
    stop.push(cloudwatch.close, ecs.close, creds.close);
    const env = {
      ...stackEnv,
      INFLUXDB_URL: `${influx.url}/${db("publisher")}`,
      HF_RABBITMQ_API: rabbit.managementUrl,
      RABBITMQ_USER: "guest",
      RABBITMQ_PASS: "guest",
      HF_CLOUDWATCH_ENDPOINT: cloudwatch.url,
      HF_ECS_ENDPOINT: ecs.url,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${creds.url}/creds`,
    };
    const settings = publisher.settingsFromEnv(env);
    // The management API's statistics lag the broker by up to one collection interval.
    for (let i = 0; i < 100; i++) {
      const q = await publisher.queueStats(settings);
      if (q.messages === 5 && q.unacknowledged === 2 && q.consumers === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const getCreds = publisher.cachedCredentials(env);
    const log = (l: string) => logged.push(l);
    expect(await publisher.publishOnce(settings, getCreds, new Date(), log)).toBe(5);
    publisherLines = await publisher.monitorOnce(settings, getCreds, new Date(), log);

    // The same ECS calls through the real SDK: it must parse the stand-in's answers and send what the publisher sent.
    const publisherEcs = [...ecs.seen];
    const sdk = new ECSClient({
      region: "us-east-1",
      endpoint: ecs.url,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      maxAttempts: 1,
    });
    const listed = await sdk.send(new ListContainerInstancesCommand({ cluster: CLUSTER, status: "ACTIVE", maxResults: 100 }));
    const described = await sdk.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [WORKER_SERVICE] }));
    sdk.destroy();
    expect(listed).toMatchObject({ containerInstanceArns: [expect.stringContaining("/c1"), expect.stringContaining("/c2")], nextToken: "page-2" });
    expect(described.services?.[0]).toMatchObject({ serviceName: WORKER_SERVICE, runningCount: 4, desiredCount: 6, pendingCount: 2 });
    ecsCalls = { sdk: ecs.seen.slice(publisherEcs.length), publisher: publisherEcs };

    // The executor's points of one job, through the code the workers run.
    const job = new JobRecorder({ workerId: "worker-1", jobId: "job-1", executable: "mProject", wfid: "wf-1", hfId: "hf-1", procId: "3" });
    for (const stage of ["stage_in", "execution", "stage_out"] as const) job.enter(stage);
    job.finish();
    await new InfluxWriter(`${influx.url}/${db("executor")}`, (l) => logged.push(l)).write(job.points);

    await influx.query("", `CREATE DATABASE ${db("statusReporter")}`);
    await influx.write(db("statusReporter"), STATUS_REPORTER_LINES.join("\n"));
  }, 120_000);

  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await Promise.all(stop.map((f) => f()));
    await rabbit?.stop();
    influx?.stop();
  });

  test("the writers reported no error", () => {
    expect(logged).toEqual([]);
  });

  const panels = DASHBOARDS.flatMap((d) => d.panels.map((p) => [`${d.title} / ${p.title} (${p.feed})`, p] as const));
  test.each(panels)("%s: returns data from its writer alone", async (_name, panel) => {
    const r = await influx.query(db(panel.feed), asGrafanaSends(panelQuery(panel)));
    expect(r.results[0].error).toBeUndefined();
    const series = r.results[0].series ?? [];
    expect(series.reduce((n: number, s: any) => n + s.values.length, 0)).toBeGreaterThan(0);
  });

  test("the publisher writes the queue, the alarm states, the ECS counts and utilization it read", async () => {
    const p = db("publisher");
    expect(await rows(p, "SELECT * FROM hyperflow_rabbitmq_monitor")).toEqual([
      expect.objectContaining({ cluster: CLUSTER, queue: "hyperflow.jobs", QueueLength: 5, messagesReady: 3, messagesUnacknowledged: 2, consumerCount: 1 }),
    ]);
    const alarms = await rows(p, "SELECT * FROM hyperflow_alarms");
    expect(alarms.map((a: any) => [a.direction, a.name, a.alarm]).sort()).toEqual([
      ["high", `${CLUSTER}_queue_length_high`, 1],
      ["low", `${CLUSTER}_queue_length_low`, 0],
    ]);
    expect(await rows(p, "SELECT * FROM hyperflow_monitor")).toEqual([
      expect.objectContaining({ cluster: CLUSTER, ec2_count: 3, worker_count: 4, worker_desired: 6, worker_pending: 2 }),
    ]);
    for (const [measurement, key] of [
      ["hyperflow_cluster_cpu", "CPUUtilization/"],
      ["hyperflow_cluster_memory", "MemoryUtilization/"],
      ["hyperflow_master_cpu", `CPUUtilization/${MASTER_SERVICE}`],
      ["hyperflow_master_memory", `MemoryUtilization/${MASTER_SERVICE}`],
      ["hyperflow_worker_cpu", `CPUUtilization/${WORKER_SERVICE}`],
      ["hyperflow_worker_memory", `MemoryUtilization/${WORKER_SERVICE}`],
    ]) {
      const [point, ...more] = await rows(p, `SELECT * FROM ${measurement}`);
      expect({ measurement, more: more.length, utilization: point.utilization, service: point.service ?? "" }).toEqual({
        measurement,
        more: 0,
        utilization: UTILIZATION[key],
        service: key.split("/")[1],
      });
      // At the newest data point's own minute, not at the time of the read.
      expect(point.time % 60).toBe(0);
    }
    expect(publisherLines).toHaveLength(2 + 1 + 6);
  });

  test("the publisher's ECS requests are the SDK's requests (target, content type, body)", () => {
    const view = (r: Recorded) => ({ target: r.headers["x-amz-target"], type: r.headers["content-type"], body: JSON.parse(r.body) });
    const ours = ecsCalls.publisher.map(view);
    for (const call of ecsCalls.sdk.map(view)) expect(ours).toContainEqual(call);
    expect(ecsCalls.publisher.map((r) => String(r.headers.authorization))).toEqual(
      ecsCalls.publisher.map(() => expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/ecs\/aws4_request, /)),
    );
    // Both pages of container instances were read.
    expect(ours.filter((c) => c.target === "AmazonEC2ContainerServiceV20141113.ListContainerInstances").map((c) => c.body.nextToken)).toEqual([
      undefined,
      "page-2",
    ]);
  });

  test("the check catches a panel its writer does not feed, and a query that does not parse", async () => {
    const queue = DASHBOARDS.flatMap((d) => d.panels).find((p) => p.measurement === "hyperflow_rabbitmq_monitor")!;
    const empty = await influx.query(db("executor"), asGrafanaSends(panelQuery(queue)));
    expect(empty.results[0].series).toBeUndefined();
    const bad = await influx.query(db("publisher"), asGrafanaSends('SELECT mean(*) FROM "hyperflow_monitor" WHERE $timeFilter GROUP BY tim($__interval)'));
    expect(bad.results?.[0]?.error ?? bad.error).toBeDefined();
  });
});
