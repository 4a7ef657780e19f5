/**
 * S3 staging of the bundled executor against a real S3 server (Ceph RGW on loopback), with jobs sent
 * through a real RabbitMQ, and its metrics in a real InfluxDB 1.x.
 *
 * Credentials reach the worker only the way the task role does on ECS: through the AWS SDK's default
 * chain, here AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the worker process's environment. Keys in a
 * job message are never used: a worker with good keys ignores bad ones in the message, and a worker with
 * bad or no keys fails even when the message carries good ones.
 */
import * as fs from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { DASHBOARDS, panelQuery } from "../grafana/dashboards";
import { createS3Client } from "../runner/s3-client";
import { ensureExecutorBundle, JobClient, startWorker, type WorkerProcess } from "./support/executor";
import { type Influx, startInfluxdb } from "./support/influxdb";
import { type RabbitMq, startRabbitMq } from "./support/rabbitmq";
import { RGW_CREDENTIALS, type Rgw, startRgw } from "./support/rgw";
import { credentialsEnv } from "./support/aws-env";
import { StageCache } from "../executor/cache";
import { parseJob } from "../executor/job";
import { S3Objects } from "../executor/s3-objects";
import { loadSettings } from "../executor/settings";
import { resolveStorage } from "../executor/storage";

const BUCKET = "executor-jobs";
const DB = "hyperflow_tests";
let rgw: Rgw;
let rabbit: RabbitMq;
let influx: Influx;
let s3: S3Client;
let scratch: string;
const workers: WorkerProcess[] = [];
const clients: JobClient[] = [];

/** A worker on its own queue; S3 settings as the ECS task definition gives them, plus `env`. */
async function worker(queue: string, env: Record<string, string>): Promise<JobClient> {
  const w = startWorker({
    AMQP_URL: rabbit.url,
    AMQP_QUEUE: queue,
    STORAGE: "cloud",
    S3_BUCKET: BUCKET,
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL_S3: rgw.endpoint,
    // Never the machine's own AWS configuration.
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials",
    AWS_CONFIG_FILE: "/nonexistent/config",
    SCRATCH_DIR: path.join(scratch, queue),
    THREADS: "2",
    EXECUTOR_ID: queue,
    ...env,
  });
  workers.push(w);
  await w.waitFor(new RegExp(`consuming ${queue}`));
  const c = await JobClient.connect(rabbit.url, queue);
  clients.push(c);
  return c;
}

const put = (key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
const get = async (key: string) => await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
const workerOf = (queue: string) => workers.find((w) => w.output().includes(`executor ${queue},`))!;

let good: JobClient;

beforeAll(async () => {
  ensureExecutorBundle();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-s3-scratch-"));
  [rgw, rabbit, influx] = await Promise.all([startRgw(), startRabbitMq(), startInfluxdb()]);
  await influx.query("", `CREATE DATABASE ${DB}`);
  // The test itself talks to RGW with explicit keys; the workers never get these through code.
  s3 = createS3Client({ region: "us-east-1", endpoint: rgw.endpoint, credentials: RGW_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  good = await worker("good", {
    AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey,
    INFLUXDB_URL: `${influx.url}/${DB}`,
  });
}, 150_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  for (const w of workers) {
    w.kill("SIGKILL");
    await w.exited;
  }
  s3?.destroy();
  await rabbit?.stop();
  rgw?.stop();
  influx?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

test("inputs come from s3://S3_BUCKET/<prefix>, outputs go back there, the per-job directory is removed", async () => {
  await put("run1/input/a.txt", "hello ");
  await put("run1/input/sub/b.txt", "world");
  const r = await good.run({
    executable: "/bin/sh",
    args: ["-c", "mkdir -p out && cat a.txt sub/b.txt > out/ab.txt && wc -c < a.txt > count.txt"],
    inputs: [{ name: "a.txt", _id: 1 }, { name: "sub/b.txt" }, { name: "a.txt" }],
    outputs: [{ name: "out/ab.txt" }, { name: "count.txt" }],
    options: { storage: "s3", bucket: BUCKET, prefix: "run1/input/" },
  });
  expect(r).toMatchObject({ exit_status: 0, exceptions: [] });
  expect(r.metrics).toMatchObject({ storage: "s3", input_size: 11, output_size: 13 });
  expect(r.metrics.stage_in).toBeGreaterThan(0);
  expect(r.metrics.stage_out).toBeGreaterThan(0);
  expect(await get("run1/input/out/ab.txt")).toBe("hello world");
  expect((await get("run1/input/count.txt")).trim()).toBe("6");
  expect(fs.readdirSync(path.join(scratch, "good"))).toEqual([]);
  // The message named the worker's own storage: nothing to report as ignored.
  expect(workerOf("good").output()).not.toMatch(/ignoring message options/);
});

test("keys, bucket and storage in the job message are ignored: the worker's own credentials and bucket are used", async () => {
  await put("run2/input/in.txt", "data");
  const r = await good.run({
    executable: "/bin/sh",
    args: ["-c", "cp in.txt out.txt; env > env.txt"],
    env: { ...credentialsEnv({ accessKeyId: "AKIAFROMMESSAGE", secretAccessKey: "from-message" }) },
    inputs: [{ name: "in.txt" }],
    outputs: [{ name: "out.txt" }, { name: "env.txt" }],
    options: {
      storage: "local",
      bucket: "someone-elses-bucket",
      prefix: "run2/input/",
      cloud_storage: { provider: "AWS", aws_access_key_id: "AKIAFROMMESSAGE", aws_secret_access_key: "from-message" },
      credentials: { accessKeyId: "AKIAFROMMESSAGE", secretAccessKey: "from-message" },
    },
  });
  expect(r).toMatchObject({ exit_status: 0, exceptions: [] });
  expect(await get("run2/input/out.txt")).toBe("data");
  const taskEnv = await get("run2/input/env.txt");
  expect(taskEnv).not.toMatch(/AWS_|FROMMESSAGE|TESTKEY|TESTSECRET/);
  const line = workerOf("good")
    .output()
    .split("\n")
    .find((l) => l.includes("ignoring message options"))!;
  expect(line).toContain("options.cloud_storage.aws_access_key_id (credentials are never taken from job messages)");
  expect(line).toContain("options.credentials (credentials are never taken from job messages)");
  expect(line).toContain("env.AWS_ACCESS_KEY_ID (credentials are never taken from job messages)");
  expect(line).toContain(`bucket="someone-elses-bucket" (S3_BUCKET is ${BUCKET})`);
  expect(line).toContain('storage="local" (this worker\'s STORAGE is s3)');
  expect(line).not.toMatch(/from-message/);
});

test("without S3_BUCKET (as the ECS stack deploys workers today) the job's bucket is used, with the worker's own credentials", async () => {
  const nobucket = await worker("nobucket", {
    S3_BUCKET: "",
    AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey,
  });
  expect(workerOf("nobucket").output()).toMatch(/storage s3 s3:\/\/<bucket from job>\/<prefix from job>/);
  await put("run5/input/in.txt", "five");
  const r = await nobucket.run({
    executable: "/bin/cp",
    args: ["in.txt", "out.txt"],
    inputs: [{ name: "in.txt" }],
    outputs: [{ name: "out.txt" }],
    options: { storage: "s3", bucket: BUCKET, prefix: "run5/input/" },
  });
  expect(r).toMatchObject({ exit_status: 0, exceptions: [] });
  expect(await get("run5/input/out.txt")).toBe("five");
  // What the credentials cannot reach stays out of reach (on AWS the task role answers AccessDenied).
  const other = await nobucket.run({
    executable: "/bin/true",
    inputs: [{ name: "in.txt" }],
    options: { bucket: "someone-elses-bucket", prefix: "run5/input/" },
  });
  expect(other).toMatchObject({ exit_status: -2, error: "stage_in", exceptions: [expect.stringMatching(/s3:\/\/someone-elses-bucket\/run5\/input\/in\.txt/)] });
  const none = await nobucket.run({ executable: "/bin/true", options: { storage: "s3" } });
  expect(none).toMatchObject({
    exit_status: -2,
    error: "config",
    exceptions: ["no bucket: the worker has no S3_BUCKET and the job message has no options.bucket"],
  });
});

/** A message that carries the right keys in every place the upstream executors looked for them. */
const jobWithGoodKeysInMessage = {
  executable: "/bin/cat",
  args: ["in.txt"],
  env: { AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey },
  inputs: [{ name: "in.txt" }],
  options: {
    storage: "s3",
    bucket: BUCKET,
    prefix: "run2/input/",
    cloud_storage: { provider: "AWS", aws_access_key_id: RGW_CREDENTIALS.accessKeyId, aws_secret_access_key: RGW_CREDENTIALS.secretAccessKey },
    credentials: RGW_CREDENTIALS,
    accessKeyId: RGW_CREDENTIALS.accessKeyId,
    secretAccessKey: RGW_CREDENTIALS.secretAccessKey,
  },
};

test("a worker with wrong keys fails even when the message carries the right ones", async () => {
  const wrong = await worker("wrongkeys", credentialsEnv({ accessKeyId: "WRONGKEY", secretAccessKey: "WRONGSECRET" }));
  const r = await wrong.run(jobWithGoodKeysInMessage);
  expect(r).toMatchObject({ exit_status: -2, error: "stage_in" });
  expect(r.exceptions[0]).toMatch(/stage-in of in\.txt from s3:\/\/executor-jobs\/run2\/input\/in\.txt failed: InvalidAccessKeyId/);
});

test("a worker without credentials fails even when the message carries the right ones", async () => {
  const none = await worker("nokeys", {});
  const r = await none.run(jobWithGoodKeysInMessage);
  expect(r).toMatchObject({ exit_status: -2, error: "stage_in" });
  expect(r.exceptions[0]).toMatch(/Could not load credentials from any providers/);
});

test("a missing S3 input and an output the task did not write are error replies", async () => {
  const missing = await good.run({ executable: "/bin/true", inputs: [{ name: "nope.dat" }], options: { prefix: "run3/" } });
  expect(missing).toMatchObject({
    exit_status: -2,
    error: "stage_in",
    exceptions: ["missing input nope.dat: s3://executor-jobs/run3/nope.dat does not exist"],
  });
  const noOutput = await good.run({ executable: "/bin/true", outputs: [{ name: "result.dat" }], options: { prefix: "run3/" } });
  expect(noOutput).toMatchObject({ exit_status: -2, error: "stage_out", exceptions: ["output result.dat was not produced by the task"] });
  const badPrefix = await good.run({ executable: "/bin/true", options: { prefix: "../other/" } });
  expect(badPrefix).toMatchObject({ exit_status: -2, error: "malformed" });
});

describe("the stage cache: inputs this worker downloaded or uploaded before, never stale", () => {
  let cached: JobClient;
  let cacheDir: string;
  /** A job that copies `in` to `out`, on the cache worker, under prefix run6/. */
  const copyJob = (input: string, output: string) =>
    cached.run({ executable: "/bin/cp", args: [input, output], inputs: [{ name: input }], outputs: [{ name: output }], options: { prefix: "run6/" } });

  beforeAll(async () => {
    cacheDir = path.join(scratch, "stage-cache");
    cached = await worker("cached", {
      AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey,
      STAGE_CACHE_DIR: cacheDir,
      THREADS: "1",
    });
  }, 60_000);

  test("a second job reading the same object gets the cached copy after S3 confirms its ETag", async () => {
    await put("run6/a.txt", "first version");
    const one = await copyJob("a.txt", "b.txt");
    expect(one).toMatchObject({ exit_status: 0 });
    expect(one.metrics.cached_inputs).toBe(0);
    const two = await copyJob("a.txt", "c.txt");
    expect(two).toMatchObject({ exit_status: 0 });
    expect(two.metrics).toMatchObject({ cached_inputs: 1, input_size: 13 });
    expect(await get("run6/c.txt")).toBe("first version");
    expect(workerOf("cached").output()).toMatch(/in 13 B, 1 of them from the stage cache/);
  });

  test("an object overwritten since (same size, new ETag) is downloaded again", async () => {
    await put("run6/a.txt", "other version");
    const r = await copyJob("a.txt", "d.txt");
    expect(r.metrics.cached_inputs).toBe(0);
    expect(await get("run6/d.txt")).toBe("other version");
  });

  test("an output this worker uploaded is a cached input of its next job", async () => {
    await put("run6/e.txt", "made upstream");
    expect((await copyJob("e.txt", "f.txt")).exit_status).toBe(0);
    const r = await copyJob("f.txt", "g.txt");
    expect(r.metrics.cached_inputs).toBe(1);
    expect(await get("run6/g.txt")).toBe("made upstream");
  });

  test("a deleted object is a missing input even though a copy is cached", async () => {
    await put("run6/h.txt", "soon gone");
    expect((await copyJob("h.txt", "i.txt")).exit_status).toBe(0);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "run6/h.txt" }));
    const r = await copyJob("h.txt", "j.txt");
    expect(r).toMatchObject({ exit_status: -2, error: "stage_in", exceptions: ["missing input h.txt: s3://executor-jobs/run6/h.txt does not exist"] });
  });

  test("a cache entry changed on disk is never served: the object is downloaded again", async () => {
    await put("run6/k.txt", "genuine bytes");
    expect((await copyJob("k.txt", "l.txt")).exit_status).toBe(0);
    // Tamper with every entry (read-only files of the worker's own cache directory): same size, other bytes.
    const entries = fs.readdirSync(cacheDir).flatMap((d) => fs.readdirSync(path.join(cacheDir, d)).map((f) => path.join(cacheDir, d, f)));
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(fs.statSync(e).mode & 0o222).toBe(0);
      fs.chmodSync(e, 0o644);
      fs.writeFileSync(e, "X".repeat(fs.statSync(e).size));
    }
    const r = await copyJob("k.txt", "m.txt");
    expect(r.metrics.cached_inputs).toBe(0);
    expect(await get("run6/m.txt")).toBe("genuine bytes");
  });

  test("STAGE_CACHE_MB=0: no cache, every input downloaded", async () => {
    const off = await worker("nocache", {
      AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey,
      STAGE_CACHE_DIR: path.join(scratch, "stage-cache-off"),
      STAGE_CACHE_MB: "0",
    });
    await put("run6/n.txt", "no cache");
    for (const out of ["o.txt", "p.txt"]) {
      const r = await off.run({
        executable: "/bin/cp",
        args: ["n.txt", out],
        inputs: [{ name: "n.txt" }],
        outputs: [{ name: out }],
        options: { prefix: "run6/" },
      });
      expect(r).toMatchObject({ exit_status: 0 });
      expect(r.metrics.cached_inputs).toBe(0);
    }
    expect(fs.existsSync(path.join(scratch, "stage-cache-off"))).toBe(false);
  });
});

describe("stage-in and stage-out, in-process: the lean client (executor/s3-objects.ts) and the SDK fallback alike", () => {
  const ways = ["lean client", "SDK"] as const;
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

  test.each(ways)("%s: download, cached copy after 304, upload, missing input, stale entry", async (way) => {
    const prefix = `inproc-${way === "SDK" ? "sdk" : "lean"}/`;
    const settings = loadSettings({ STORAGE: "s3", S3_BUCKET: BUCKET, S3_PATH: prefix, SCRATCH_DIR: path.join(scratch, `inproc-${prefix}`) });
    const cache = StageCache.create(path.join(scratch, `inproc-cache-${prefix}`), 64 * 1024 * 1024);
    const objects = way === "SDK" ? undefined : (b: string) => S3Objects.forBucket(s3, b, agents);
    if (objects) expect(await objects(BUCKET)).toBeDefined();
    const storage = () => resolveStorage(settings, parseJob({ executable: "x" }), () => s3, cache, objects).storage;
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}in.bin`, Body: big }));

    const first = storage();
    const dir1 = await first.prepare("one");
    expect(await first.stageIn([{ name: "in.bin" }], dir1)).toBe(big.length);
    expect(fs.readFileSync(path.join(dir1, "in.bin")).equals(big)).toBe(true);
    expect(first.cachedInputs).toBe(0);
    fs.writeFileSync(path.join(dir1, "out.txt"), "made by one");
    expect(await first.stageOut([{ name: "out.txt" }], dir1)).toBe(11);
    expect(await get(`${prefix}out.txt`)).toBe("made by one");

    // The next job: both inputs are in the cache (one downloaded, one uploaded); S3 confirms them with 304.
    const second = storage();
    const dir2 = await second.prepare("two");
    expect(await second.stageIn([{ name: "in.bin" }, { name: "out.txt" }], dir2)).toBe(big.length + 11);
    expect(second.cachedInputs).toBe(2);
    expect(fs.readFileSync(path.join(dir2, "out.txt"), "utf8")).toBe("made by one");

    // Overwritten in S3: downloaded again, not served from the cache.
    await put(`${prefix}out.txt`, "made by two");
    const third = storage();
    const dir3 = await third.prepare("three");
    await third.stageIn([{ name: "out.txt" }], dir3);
    expect(third.cachedInputs).toBe(0);
    expect(fs.readFileSync(path.join(dir3, "out.txt"), "utf8")).toBe("made by two");

    await expect(third.stageIn([{ name: "nothing-here" }], dir3)).rejects.toMatchObject({
      errorClass: "stage_in",
      message: `missing input nothing-here: s3://${BUCKET}/${prefix}nothing-here does not exist`,
    });
    for (const d of [dir1, dir2, dir3]) await first.cleanup(d);
  });

  test("the lean client's signatures are checked by RGW: a wrong secret is refused", async () => {
    const wrong = createS3Client({ region: "us-east-1", endpoint: rgw.endpoint, credentials: { ...RGW_CREDENTIALS, secretAccessKey: "not-the-secret" } });
    const objects = (await S3Objects.forBucket(wrong, BUCKET, agents))!;
    await expect(objects.get("inproc-lean/in.bin", path.join(scratch, "refused"))).rejects.toMatchObject({
      name: "SignatureDoesNotMatch",
      $metadata: { httpStatusCode: 403 },
    });
    wrong.destroy();
  });
});

describe("metrics in InfluxDB", () => {
  /** What Grafana puts in for its macros when it runs a panel (as in test/grafana.test.ts). */
  const asGrafanaSends = (q: string) => q.replace(/\$timeFilter/g, "time > now() - 1h").replace(/\$__interval/g, "1m");
  const ours = ["execution_times", "execution_log", "execution_log_sub_stage"];
  const panels = DASHBOARDS.flatMap((d) => d.panels.filter((p) => ours.includes(p.measurement)).map((p) => [`${d.title} / ${p.title}`, p] as const));

  const rows = async (q: string) => {
    const r = await influx.query(DB, q);
    expect(r.results[0].error).toBeUndefined();
    return (r.results[0].series ?? []).flatMap((s: { columns: string[]; values: unknown[][]; tags?: Record<string, string> }) =>
      s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })),
    );
  };

  beforeAll(async () => {
    await put("run4/in.txt", "x".repeat(1000));
    const r = await good.run({
      executable: "/bin/cp",
      args: ["in.txt", "out.txt"],
      inputs: [{ name: "in.txt" }],
      outputs: [{ name: "out.txt" }],
      options: { prefix: "run4/", procId: 7, hfId: "hf-1", wfid: "wf-9" },
    });
    expect(r.exit_status).toBe(0);
    // Written after the reply: wait until the job's last point is in.
    for (let i = 0; i < 100 && (await rows(`SELECT * FROM execution_times WHERE procId = '7'`)).length === 0; i++) await new Promise((x) => setTimeout(x, 100));
  }, 30_000);

  test("every dashboard panel over the executor's measurements returns data", async () => {
    expect(panels.map(([, p]) => p.measurement).sort()).toEqual([...ours].sort());
    for (const [name, panel] of panels) {
      const r = await influx.query(DB, asGrafanaSends(panelQuery(panel)));
      expect({ name, error: r.results[0].error }).toEqual({ name, error: undefined });
      const n = (r.results[0].series ?? []).reduce((k: number, s: { values: unknown[] }) => k + s.values.length, 0);
      expect({ name, hasRows: n > 0 }).toEqual({ name, hasRows: true });
    }
  });

  test("field and tag names are those of the executor the dashboards were made for", async () => {
    const [times] = await rows(`SELECT * FROM execution_times WHERE procId = '7'`);
    expect(times).toMatchObject({ hfId: "hf-1", wfid: "wf-9", procId: "7", workerId: "good" });
    for (const f of ["runing_time", "downloading_time", "execution_time", "uploading_time"]) expect({ f, t: typeof times[f] }).toEqual({ f, t: "number" });
    expect(times.runing_time).toBeGreaterThanOrEqual(times.downloading_time + times.execution_time + times.uploading_time - 1e-6);

    const log = await rows(`SELECT * FROM execution_log WHERE procId = '7'`);
    expect(log.map((p: any) => [p.stage, p.stage_name, p.workflow_stage])).toEqual([
      ["running", "start", "/bin/cp"],
      ["running", "finish", "/bin/cp"],
    ]);
    const sub = await rows(`SELECT * FROM execution_log_sub_stage WHERE procId = '7'`);
    expect(sub.map((p: any) => `${p.stage}:${p.stage_name}`)).toEqual([
      "init:start",
      "init:finish",
      "stage_in:start",
      "stage_in:finish",
      "execution:start",
      "execution:finish",
      "stage_out:start",
      "stage_out:finish",
    ]);
  });
});
