/**
 * The bundled executor with the real HyperFlow engine (@hyperflow/hyperflow 1.7.0, `hflow run`), a real
 * RabbitMQ and Redis: workflows whose processes use `"function": "amqpCommand"` run on executor worker
 * processes; with the engine image's plugin (images/engine/hflow-plugin.ts) a failing task fails the
 * run and jobs carry the S3 bucket and prefix; a worker killed with SIGKILL mid-task loses nothing.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as amqp from "amqplib";
import { bundle } from "../images/build";
import { ensureExecutorBundle, eventually, startWorker, type WorkerProcess } from "./support/executor";
import { type RabbitMq, startRabbitMq } from "./support/rabbitmq";
import { type Redis, startRedis } from "./support/redis";
import { type Proc, workflowDocument } from "./support/workflow";

const HFLOW = path.resolve(__dirname, "..", "node_modules", ".bin", "hflow");

let rabbit: RabbitMq;
let redis: Redis;
const workers: WorkerProcess[] = [];
const dirs: string[] = [];

let plugin: string;

beforeAll(async () => {
  ensureExecutorBundle();
  // The engine image's plugin, bundled as images/build.ts bundles it for the image.
  const pluginDir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-plugin-"));
  dirs.push(pluginDir);
  plugin = path.join(pluginDir, "hflow-plugin.js");
  bundle(path.resolve(__dirname, "..", "images", "engine", "hflow-plugin.ts"), plugin);
  [rabbit, redis] = await Promise.all([startRabbitMq(), startRedis()]);
}, 90_000);

afterEach(async () => {
  for (const w of workers.splice(0)) {
    w.kill("SIGKILL");
    await w.exited;
  }
});

afterAll(async () => {
  await Promise.all([rabbit?.stop(), redis?.stop()]);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A workflow directory: workflow.json with amqpCommand processes, plus the given input files. */
function workflowDir(procs: Proc[], files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-wf-"));
  dirs.push(dir);
  const wf = workflowDocument("executor-test", "amqpCommand", procs);
  fs.writeFileSync(path.join(dir, "workflow.json"), JSON.stringify(wf, null, 2));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

interface EngineRun {
  readonly child: ChildProcess;
  output(): string;
  /** Exit code, or "timeout" when the engine was still running after `ms` (it is then killed). */
  result(ms: number): Promise<number | string>;
}

/**
 * `hflow run <dir> -s` with the stock amqpCommand config (WORKDIR → options.workdir, storage local), or
 * with the engine image's plugin (`-p`) and extra environment.
 */
function runEngine(dir: string, o: { plugin?: boolean; env?: Record<string, string> } = {}): EngineRun {
  const child = spawn(HFLOW, ["run", dir, "-s", ...(o.plugin ? ["-p", plugin] : [])], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir, REDIS_URL: redis.url, AMQP_URL: rabbit.url, WORKDIR: dir, ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b) => (out += b));
  child.stderr!.on("data", (b) => (out += b));
  const exited = new Promise<number | string>((r) => child.once("exit", (code, signal) => r(code ?? signal ?? -1)));
  return {
    child,
    output: () => out,
    async result(ms) {
      const t = new Promise<string>((r) => setTimeout(() => r("timeout"), ms).unref());
      const r = await Promise.race([exited, t]);
      if (r === "timeout") {
        child.kill("SIGKILL");
        await exited;
      }
      return r;
    },
  };
}

function worker(dir: string, extra: Record<string, string> = {}): WorkerProcess {
  const w = startWorker({
    AMQP_URL: rabbit.url,
    STORAGE: "local",
    WORKDIR: dir,
    THREADS: "2",
    EXECUTOR_ID: `w${workers.length + 1}`,
    AMQP_RECONNECT_MAX_DELAY: "1",
    ...extra,
  });
  workers.push(w);
  return w;
}

test("a three-task workflow runs on two executor workers and hflow exits 0", async () => {
  const dir = workflowDir(
    [
      { name: "copy", executable: "/bin/cp", args: ["in.txt", "copy.txt"], ins: ["in.txt"], outs: ["copy.txt"] },
      { name: "upper", executable: "/bin/sh", args: ["-c", "tr a-z A-Z < copy.txt > upper.txt"], ins: ["copy.txt"], outs: ["upper.txt"] },
      { name: "join", executable: "/bin/sh", args: ["-c", "cat copy.txt upper.txt > both.txt"], ins: ["copy.txt", "upper.txt"], outs: ["both.txt"] },
    ],
    { "in.txt": "hello workflow\n" },
  );
  const [w1, w2] = [worker(dir), worker(dir)];
  await Promise.all([w1.waitFor(/consuming hyperflow\.jobs/), w2.waitFor(/consuming hyperflow\.jobs/)]);
  const engine = runEngine(dir);
  const code = await engine.result(60_000);
  expect({ code, output: code === 0 ? "" : engine.output() }).toEqual({ code: 0, output: "" });
  expect(fs.readFileSync(path.join(dir, "both.txt"), "utf8")).toBe("hello workflow\nHELLO WORKFLOW\n");
  const done = (w1.output() + w2.output()).match(/ ok in /g) ?? [];
  expect(done).toHaveLength(3);
}, 90_000);

const failingWorkflow = () =>
  workflowDir(
    [
      { name: "fails", executable: "/bin/sh", args: ["-c", "echo broken >&2; exit 3"], ins: ["in.txt"], outs: ["never.txt"] },
      { name: "after", executable: "/bin/cp", args: ["never.txt", "after.txt"], ins: ["never.txt"], outs: ["after.txt"] },
    ],
    { "in.txt": "x\n" },
  );

test("stock engine: the error reply reaches amqpCommand, but HyperFlow 1.7.0 drops it and runs on (why the engine image's plugin exists)", async () => {
  const dir = failingWorkflow();
  const w = worker(dir);
  await w.waitFor(/consuming hyperflow\.jobs/);
  const engine = runEngine(dir);
  await w.waitFor(/failed \(exit\): \/bin\/sh exited with status 3/);
  // wflib ignores the callback's error: the next task is sent although its input was never made.
  await w.waitFor(/failed \(stage_in\): missing input never\.txt/);
  expect(await engine.result(30_000)).toBe(0);
  expect(w.child.exitCode).toBeNull();
}, 60_000);

test("with the engine image's plugin, a failing task ends hflow with exit code 1 and nothing runs after it", async () => {
  const dir = failingWorkflow();
  const w = worker(dir);
  await w.waitFor(/consuming hyperflow\.jobs/);
  const engine = runEngine(dir, { plugin: true });
  const code = await engine.result(30_000);
  expect(code).toBe(1);
  expect(engine.output()).toContain('[hflow-plugin] task fails failed: ["/bin/sh exited with status 3"]; stopping the workflow');
  await w.waitFor(/failed \(exit\): \/bin\/sh exited with status 3/);
  expect(w.output()).not.toMatch(/never\.txt/);
  expect(fs.existsSync(path.join(dir, "after.txt"))).toBe(false);
  // The worker acknowledged the job and stays available.
  expect(w.child.exitCode).toBeNull();
}, 60_000);

test("with the plugin and S3_BUCKET, every job says where the data is (bucket, S3_PATH), and one process's options do not leak into the next job", async () => {
  const dir = workflowDir(
    [
      { name: "first", executable: "/bin/cp", args: ["in.txt", "a.txt"], ins: ["in.txt"], outs: ["a.txt"] },
      { name: "second", executable: "/bin/cp", args: ["a.txt", "b.txt"], ins: ["a.txt"], outs: ["b.txt"] },
    ],
    { "in.txt": "x\n" },
  );
  // A process-level option, which upstream merges into the one shared options object.
  const wfFile = path.join(dir, "workflow.json");
  const wf = JSON.parse(fs.readFileSync(wfFile, "utf8"));
  wf.processes[0].config.executor.options = { label: "first-only" };
  fs.writeFileSync(wfFile, JSON.stringify(wf));
  // This test answers the jobs itself, as an executor would, and keeps what they said.
  const conn = await amqp.connect(rabbit.url);
  const ch = await conn.createChannel();
  await ch.assertQueue("hyperflow.jobs", { durable: true });
  const jobs: any[] = [];
  const replyQueues: string[] = [];
  await ch.consume("hyperflow.jobs", (msg) => {
    if (!msg) return;
    jobs.push(JSON.parse(msg.content.toString()));
    replyQueues.push(msg.properties.replyTo);
    ch.sendToQueue(msg.properties.replyTo, Buffer.from(JSON.stringify({ exit_status: "0" })), { correlationId: msg.properties.correlationId });
    ch.ack(msg);
  });
  try {
    const engine = runEngine(dir, { plugin: true, env: { S3_BUCKET: "wf-bucket", S3_PATH: "montage/input/" } });
    const code = await engine.result(30_000);
    expect({ code, output: code === 0 ? "" : engine.output() }).toEqual({ code: 0, output: "" });
    expect(jobs.map((j) => j.options)).toEqual([
      { storage: "s3", bucket: "wf-bucket", prefix: "montage/input/", label: "first-only" },
      { storage: "s3", bucket: "wf-bucket", prefix: "montage/input/" },
    ]);
    // One reply queue for the whole run (upstream's amqpCommand declares one per job).
    expect(new Set(replyQueues).size).toBe(1);
    expect(engine.output()).toContain(`[hflow-plugin] AMQP: jobs to hyperflow.jobs, replies on ${replyQueues[0]}`);
  } finally {
    await conn.close();
  }
}, 60_000);

test("with the plugin, a broker connection lost while a job waits for its reply ends the run with exit code 1 (upstream waits forever)", async () => {
  const dir = workflowDir([{ name: "waits", executable: "/bin/true", args: [], ins: ["in.txt"], outs: [] }], { "in.txt": "x\n" });
  // A consumer that takes the job (acknowledged, so it does not come back for later tests) and never answers.
  const conn = await amqp.connect(rabbit.url);
  const ch = await conn.createChannel();
  await ch.assertQueue("hyperflow.jobs", { durable: true });
  let taken = false;
  await ch.consume("hyperflow.jobs", (msg) => {
    if (!msg) return;
    taken = true;
    ch.ack(msg);
  });
  // The broker's connection processes (close_connection takes one).
  const connections = () =>
    new Set(
      rabbit
        .ctl(["list_connections", "pid", "--no-table-headers", "--quiet"])
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean),
    );
  const before = connections();
  try {
    const engine = runEngine(dir, { plugin: true });
    await eventually(() => taken, 30_000, "the job reached the consumer");
    const engineConnections = [...connections()].filter((n) => !before.has(n));
    expect(engineConnections).toHaveLength(1);
    rabbit.ctl(["close_connection", engineConnections[0], "test: broker connection lost"]);
    const code = await engine.result(30_000);
    expect(code).toBe(1);
    expect(engine.output()).toContain("[hflow-plugin] task waits failed: the broker connection closed while the job waited for its reply");
  } finally {
    await conn.close();
  }
}, 60_000);

test("a worker killed with SIGKILL mid-task: the job is redelivered to another worker and the workflow completes", async () => {
  const dir = workflowDir(
    [
      // Writes its pid, then works for a while: long enough to kill the worker that runs it.
      { name: "slow", executable: "/bin/sh", args: ["-c", "echo $$ >> started.pids; sleep 3; cp in.txt slow.txt"], ins: ["in.txt"], outs: ["slow.txt"] },
      { name: "next", executable: "/bin/cp", args: ["slow.txt", "next.txt"], ins: ["slow.txt"], outs: ["next.txt"] },
    ],
    { "in.txt": "survives\n" },
  );
  const first = worker(dir, { THREADS: "1" });
  await first.waitFor(/consuming hyperflow\.jobs/);
  const engine = runEngine(dir);
  const pids = path.join(dir, "started.pids");
  await eventually(() => fs.existsSync(pids) && fs.readFileSync(pids, "utf8").trim() !== "", 30_000, "the slow task started");
  first.kill("SIGKILL");
  expect(await first.exited).toBe("SIGKILL");
  // The task process outlives a SIGKILLed worker here (in ECS the container goes with it): stop it.
  for (const pid of fs.readFileSync(pids, "utf8").trim().split("\n")) {
    try {
      process.kill(-Number(pid), "SIGKILL");
    } catch {
      /* gone */
    }
  }
  expect(fs.existsSync(path.join(dir, "slow.txt"))).toBe(false);

  const second = worker(dir, { THREADS: "1" });
  await second.waitFor(/redelivered/, 30_000);
  const code = await engine.result(60_000);
  expect({ code, output: code === 0 ? "" : engine.output() }).toEqual({ code: 0, output: "" });
  expect(fs.readFileSync(path.join(dir, "next.txt"), "utf8")).toBe("survives\n");
  expect(fs.readFileSync(pids, "utf8").trim().split("\n")).toHaveLength(2);
}, 120_000);
