/**
 * HyperFlow tasks on Lambda with real parts: the real engine (@hyperflow/hyperflow 1.7.0, `hflow run`,
 * Redis) with the engine image's plugin, whose lambdaCommand (images/engine/lambda-command.ts) calls the
 * Invoke API with the AWS SDK; the bundled executor (dist/executor/hflow-executor.js) in Lambda mode as
 * the function's sandboxes, running real executables (Montage, coreutils) and staging through a real
 * S3 server (Ceph RGW). Only AWS's control plane (Invoke + Runtime APIs) is the local stand-in
 * (test/support/lambda-control-plane.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { bundle } from "../images/build";
import { createS3Client } from "../runner/s3-client";
import { credentialsEnv } from "./support/aws-env";
import { ensureExecutorBundle, startWorker, type WorkerProcess } from "./support/executor";
import { LambdaControlPlane } from "./support/lambda-control-plane";
import { type Redis, startRedis } from "./support/redis";
import { RGW_CREDENTIALS, type Rgw, startRgw } from "./support/rgw";
import { type Proc, workflowDocument } from "./support/workflow";

const ROOT = path.resolve(__dirname, "..");
const HFLOW = path.join(ROOT, "node_modules", ".bin", "hflow");
const MONTAGE = path.join(ROOT, "test", "fixtures", "montage-mini");
const BUCKET = "lambda-tasks";
const FUNCTION = "hflow-tasks";
const SHORT = "hflow-short";

let rgw: Rgw;
let redis: Redis;
let plane: LambdaControlPlane;
let s3: S3Client;
let plugin: string;
const dirs: string[] = [];
const sandboxes: WorkerProcess[] = [];

const AWS = () => ({
  AWS_REGION: "us-east-1",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials",
  AWS_CONFIG_FILE: "/nonexistent/config",
  ...credentialsEnv(RGW_CREDENTIALS),
});

/** One sandbox of a function: the worker bundle with AWS_LAMBDA_RUNTIME_API, as Lambda starts a container image. */
function sandbox(runtimeApi: string, env: Record<string, string> = {}): WorkerProcess {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-lambda-tmp-"));
  dirs.push(scratch);
  const w = startWorker({
    ...AWS(),
    AWS_LAMBDA_RUNTIME_API: runtimeApi,
    S3_BUCKET: BUCKET,
    AWS_ENDPOINT_URL_S3: rgw.endpoint,
    SCRATCH_DIR: scratch,
    // hflow-concat-fit lives in the worker image's /usr/local/bin.
    PATH: `${path.join(ROOT, "images", "worker", "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    ...env,
  });
  sandboxes.push(w);
  return w;
}

beforeAll(async () => {
  ensureExecutorBundle();
  const pluginDir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-plugin-"));
  dirs.push(pluginDir);
  plugin = path.join(pluginDir, "hflow-plugin.js");
  bundle(path.join(ROOT, "images", "engine", "hflow-plugin.ts"), plugin);
  [rgw, redis, plane] = await Promise.all([startRgw(), startRedis(), LambdaControlPlane.start()]);
  s3 = createS3Client({ region: "us-east-1", endpoint: rgw.endpoint, forcePathStyle: true, credentials: RGW_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const api = await plane.addFunction(FUNCTION, { timeoutSeconds: 60 });
  const short = await plane.addFunction(SHORT, { timeoutSeconds: 4 });
  const ready = [sandbox(api), sandbox(api), sandbox(api), sandbox(short, { LAMBDA_DEADLINE_MARGIN: "1", KILL_GRACE: "0.2" })];
  await Promise.all(ready.map((w) => w.waitFor(/lambda runtime: storage s3 s3:\/\/lambda-tasks/)));
}, 180_000);

afterAll(async () => {
  for (const w of sandboxes) w.kill("SIGKILL");
  await Promise.all(sandboxes.map((w) => w.exited));
  s3?.destroy();
  await Promise.all([redis?.stop(), plane?.close()]);
  rgw?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function keys(prefix: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
}

interface EngineResult {
  code: number | string;
  output: string;
}

/** `hflow run <dir> -s -p <plugin>` as the engine image runs it on Fargate for the lambda stack. */
function runEngine(dir: string, prefix: string, fn = FUNCTION, timeoutMs = 120_000): Promise<EngineResult> {
  const child: ChildProcess = spawn(HFLOW, ["run", dir, "-s", "-p", plugin], {
    cwd: path.extname(dir) === ".json" ? path.dirname(dir) : dir,
    env: {
      PATH: process.env.PATH,
      HOME: os.tmpdir(),
      REDIS_URL: redis.url,
      HF_VAR_function: "amqpCommand",
      HFLOW_EXECUTOR: "lambda",
      HFLOW_LAMBDA_FUNCTION: fn,
      S3_BUCKET: BUCKET,
      S3_PATH: prefix,
      AWS_ENDPOINT_URL_LAMBDA: plane.endpoint,
      ...AWS(),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (b) => (output += b));
  child.stderr!.on("data", (b) => (output += b));
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(t);
      resolve({ code: code ?? signal ?? -1, output });
    });
  });
}

/** A workflow of amqpCommand processes (as converted for the ECS path); inputs go to s3://BUCKET/<prefix>. */
async function workflow(prefix: string, procs: Proc[], inputs: Record<string, string>): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-lambda-wf-"));
  dirs.push(dir);
  const wf = workflowDocument("lambda-test", "{{function}}", procs);
  fs.writeFileSync(path.join(dir, "workflow.json"), JSON.stringify(wf));
  for (const [name, body] of Object.entries(inputs)) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: prefix + name, Body: body }));
  return dir;
}

const invocationsSince = (n: number) => plane.invocations.slice(n);

test("Montage (27 tasks: mProjectPP … mViewer) runs on the function's sandboxes through the Invoke API and hflow exits 0", async () => {
  const prefix = "montage/input/";
  for (const f of fs.readdirSync(path.join(MONTAGE, "input")))
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: prefix + f, Body: fs.readFileSync(path.join(MONTAGE, "input", f)) }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-lambda-montage-"));
  dirs.push(dir);
  fs.copyFileSync(path.join(MONTAGE, "workdir", "dag.json"), path.join(dir, "dag.json"));
  const before = plane.invocations.length;
  const r = await runEngine(path.join(dir, "dag.json"), prefix, FUNCTION, 240_000);
  expect({ code: r.code, output: r.code === 0 ? "" : r.output.slice(-3000) }).toEqual({ code: 0, output: "" });
  const calls = invocationsSince(before);
  expect(calls).toHaveLength(27);
  expect(calls.map((c) => c.outcome)).toEqual(Array(27).fill("success"));
  // Signed by the SDK for the lambda service with the engine's credentials; each job names the bucket and S3_PATH (never PATH).
  for (const c of calls) {
    expect(c.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=TESTKEY\/\d{8}\/us-east-1\/lambda\/aws4_request/);
    expect(JSON.parse(c.request.toString()).options).toEqual({ storage: "s3", bucket: BUCKET, prefix });
  }
  const replies = calls.map((c) => JSON.parse(c.response!.toString()));
  expect(replies.every((x) => x.exit_status === 0 && x.exceptions.length === 0)).toBe(true);
  const stored = await keys(prefix);
  expect(stored).toEqual(expect.arrayContaining(["p_tile_001.fits", "mosaic.fits", "mosaic.png"]));
  // More than one sandbox served the run (HyperFlow fires independent tasks at once).
  const served = sandboxes.slice(0, 3).filter((w) => / ok in /.test(w.output()));
  expect(served.length).toBeGreaterThan(1);
}, 300_000);

async function failingRun(prefix: string, procs: Proc[], inputs: Record<string, string>, fn = FUNCTION) {
  const dir = await workflow(prefix, procs, inputs);
  const before = plane.invocations.length;
  const r = await runEngine(dir, prefix, fn);
  return { ...r, calls: invocationsSince(before), stored: await keys(prefix) };
}

const after = (input: string): Proc => ({ name: "after", executable: "/bin/cp", args: [input, "after.txt"], ins: [input], outs: ["after.txt"] });

test("a task exiting non-zero fails the invocation (HyperFlow.exit) and the workflow (exit 1); nothing runs after it", async () => {
  const r = await failingRun(
    "exit/",
    [
      { name: "fails", executable: "/bin/sh", args: ["-c", "echo half > out.txt; echo broken >&2; exit 3"], ins: ["in.txt"], outs: ["out.txt"] },
      after("out.txt"),
    ],
    { "in.txt": "x" },
  );
  expect(r.code).toBe(1);
  expect(r.output).toContain("[hflow-plugin] task fails failed: HyperFlow.exit: /bin/sh exited with status 3; stopping the workflow");
  expect(r.calls.map((c) => [c.outcome, c.errorType])).toEqual([["error", "HyperFlow.exit"]]);
  expect(JSON.parse(r.calls[0].response!.toString()).reply).toMatchObject({ exit_status: 3, stderr: "broken\n", error: "exit" });
  expect(r.stored).toEqual(["in.txt"]);
}, 120_000);

test("a missing input object is a failed invocation (HyperFlow.stage_in) naming the key", async () => {
  const r = await failingRun(
    "missing/",
    [{ name: "reads", executable: "/bin/cp", args: ["absent.txt", "out.txt"], ins: ["absent.txt"], outs: ["out.txt"] }],
    {},
  );
  expect(r.code).toBe(1);
  expect(r.output).toContain("HyperFlow.stage_in: missing input absent.txt: s3://lambda-tasks/missing/absent.txt does not exist");
  expect(r.calls.map((c) => c.errorType)).toEqual(["HyperFlow.stage_in"]);
  expect(r.stored).toEqual([]);
}, 120_000);

test("an executable that is not there is a failed invocation (HyperFlow.spawn)", async () => {
  const r = await failingRun("spawn/", [{ name: "nothere", executable: "mNoSuchTool", args: [], ins: ["in.txt"], outs: ["out.txt"] }], { "in.txt": "x" });
  expect(r.code).toBe(1);
  expect(r.output).toMatch(/task nothere failed: HyperFlow\.spawn: cannot run mNoSuchTool: not found/);
  expect(r.stored).toEqual(["in.txt"]);
}, 120_000);

test("an output not produced fails the invocation (HyperFlow.stage_out) and the outputs it did make are not stored", async () => {
  const r = await failingRun(
    "noout/",
    [{ name: "half", executable: "/bin/sh", args: ["-c", "cp in.txt made.txt"], ins: ["in.txt"], outs: ["made.txt", "never.txt"] }, after("made.txt")],
    { "in.txt": "x" },
  );
  expect(r.code).toBe(1);
  expect(r.output).toContain("HyperFlow.stage_out: output never.txt was not produced by the task");
  expect(r.stored).toEqual(["in.txt"]);
  expect(r.calls).toHaveLength(1);
}, 120_000);

test("a task running into the invocation's deadline is killed and reported as HyperFlow.timeout before Lambda's own timeout", async () => {
  const r = await failingRun(
    "slow/",
    [{ name: "slow", executable: "/bin/sh", args: ["-c", "sleep 30; echo late > out.txt"], ins: ["in.txt"], outs: ["out.txt"] }],
    { "in.txt": "x" },
    SHORT,
  );
  expect(r.code).toBe(1);
  expect(r.output).toMatch(/HyperFlow\.timeout: task timed out after \d\.\d s \(the invocation's deadline less 1\.2 s to report\) and was killed/);
  expect(r.calls.map((c) => c.outcome)).toEqual(["error"]);
  expect(r.stored).toEqual(["in.txt"]);
}, 120_000);

test("a job over Invoke's 6 MB request limit is refused (RequestTooLargeException) and fails the workflow without running anything", async () => {
  const before = sandboxes.map((w) => w.output().length);
  const r = await failingRun("big/", [{ name: "huge", executable: "/bin/echo", args: ["x".repeat(6.5 * 1024 * 1024)], ins: ["in.txt"], outs: ["out.txt"] }], {
    "in.txt": "x",
  });
  expect(r.code).toBe(1);
  expect(r.output).toMatch(/task huge failed: Invoke hflow-tasks failed \(HTTP 413\): Request must be smaller than 6291456 bytes/);
  expect(r.calls).toEqual([]);
  expect(sandboxes.map((w) => w.output().length)).toEqual(before);
}, 120_000);
