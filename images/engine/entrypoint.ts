/**
 * Entrypoint of the engine image (images/engine/Containerfile), bundled into one file by esbuild
 * (images/build.ts). One workflow run per container:
 *
 *   0. with HF_VAR_function amqpCommand (the default), wait until the broker in AMQP_URL accepts TCP
 *      connections, at most HFLOW_BROKER_TIMEOUT_SECONDS: HyperFlow's amqpCommand (hyperflow-wms/hyperflow
 *      functions/amqpCommand.js) connects once, logs a refused connection and then waits forever;
 *   1. fetch `s3://$S3_BUCKET/<prefix>workdir/` into the workdir (default /workdir), and with
 *      HFLOW_FETCH_INPUT=1 also `<prefix>input/` (for `"function": "command"` runs inside this container);
 *   2. start redis-server on a free loopback port (HFLOW_REDIS=external: use $REDIS_URL as given);
 *   3. run `hflow run <workdir>/<workflow> -s` with the environment this container was given (AMQP_URL,
 *      HF_VAR_* …; HF_VAR_function defaults to amqpCommand so `{{function}}` workflows run on ECS;
 *      S3_PATH set to `<prefix>input/`) and the plugin images/engine/hflow-plugin.ts, which fails the
 *      run on the first failed task and sends jobs with `{storage: "s3", bucket: S3_BUCKET, prefix: S3_PATH}`;
 *   4. write the result marker (images/run-result.ts) to `<prefix>runs/<run-id>/result.json` and exit
 *      with the workflow's status: 0 succeeded, 1 a task failed or the engine exited non-zero, 3 the
 *      broker was not reachable, the workdir could not be fetched or Redis not started, 124
 *      HFLOW_TIMEOUT_SECONDS passed.
 *
 * Environment (names the engine task definition sets, constructs/engine/engine-task.ts):
 *   S3_BUCKET (required), S3_PATH (`<prefix>input/`: the prefix is derived from it unless HFLOW_PREFIX
 *   is set), AWS_REGION, AMQP_URL, HF_VAR_function, HFLOW_TIMEOUT_SECONDS, INFLUXDB_URL (passed on;
 *   HyperFlow 1.7.0 reads none of it), REDIS_URL (only with HFLOW_REDIS=external).
 *   Own: HFLOW_PREFIX, HFLOW_RUN_ID (default: the ECS task id from the task metadata endpoint, else a
 *   generated id), HFLOW_WORKDIR, HFLOW_WORKFLOW_FILE, HFLOW_S3_ENDPOINT (S3-compatible endpoint, path
 *   style, for tests), HFLOW_TIMEOUT_SECONDS (workflow time limit, default none),
 *   HFLOW_FETCH_TIMEOUT_SECONDS (default 600), HFLOW_REDIS_TIMEOUT_SECONDS (default 20),
 *   HFLOW_BROKER_TIMEOUT_SECONDS (default 300: the broker may still be starting on a new master).
 * Credentials come from the AWS SDK v3 default chain (the ECS task role); this file holds no keys.
 *
 * Arguments: none (the workflow file is HFLOW_WORKFLOW_FILE, or workflow.json / dag.json in the
 * workdir), or the task definition's command `…/hflow run /workdir/<file>.json [-s]`, whose file and
 * directory are then used.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { RUN_RESULT_VERSION, runResultKey, type RunPhase, type RunResult } from "../run-result";

/** Where the image installs things (images/engine/Containerfile). */
const HYPERFLOW_DIR = process.env.HFLOW_HYPERFLOW_DIR ?? "/opt/hyperflow/node_modules/@hyperflow/hyperflow";
const PLUGIN = process.env.HFLOW_PLUGIN ?? path.join(__dirname, "hflow-plugin.js");
const WORKFLOW_FILES = ["workflow.json", "dag.json"];

const EXIT = { ok: 0, failed: 1, setup: 3, timeout: 124 } as const;

class SetupError extends Error {
  constructor(
    readonly phase: RunPhase,
    message: string,
  ) {
    super(message);
  }
}

function log(message: string): void {
  process.stdout.write(`[hflow-entrypoint] ${message}\n`);
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new SetupError("fetch", `${name}=${JSON.stringify(raw)}: allowed: a number of seconds ≥ 0`);
  return n;
}

export interface EntrypointConfig {
  readonly bucket: string;
  readonly prefix: string;
  readonly workdir: string;
  readonly workflowFile?: string;
  readonly endpoint?: string;
  readonly region: string;
  readonly fetchInput: boolean;
  readonly externalRedis: boolean;
  readonly timeoutMs: number;
  readonly fetchTimeoutMs: number;
  readonly redisTimeoutMs: number;
  readonly brokerTimeoutMs: number;
}

/** Reads the environment and the arguments; throws SetupError naming the bad value. */
export function readConfig(env: NodeJS.ProcessEnv, args: readonly string[]): EntrypointConfig {
  const bucket = env.S3_BUCKET ?? "";
  if (bucket === "") throw new SetupError("fetch", "S3_BUCKET is not set: the engine task definition passes the workflow bucket's name in it");
  let prefix: string;
  if (env.HFLOW_PREFIX !== undefined) prefix = env.HFLOW_PREFIX;
  else if (env.S3_PATH !== undefined && env.S3_PATH !== "") {
    if (!/(^|\/)input\/$/.test(env.S3_PATH))
      throw new SetupError("fetch", `S3_PATH=${JSON.stringify(env.S3_PATH)}: expected "<prefix>input/" (or set HFLOW_PREFIX)`);
    prefix = env.S3_PATH.slice(0, -"input/".length);
  } else prefix = "";
  if (prefix !== "" && !prefix.endsWith("/")) throw new SetupError("fetch", `HFLOW_PREFIX=${JSON.stringify(prefix)}: allowed: empty or ending in "/"`);

  let workdir = env.HFLOW_WORKDIR ?? "/workdir";
  let workflowFile = env.HFLOW_WORKFLOW_FILE;
  if (args.length > 0) {
    const run = args.indexOf("run");
    const target = run >= 0 ? args[run + 1] : undefined;
    if (run < 0 || !/(^|\/)hflow(\.js)?$/.test(args[0]) || target === undefined) {
      throw new SetupError("engine", `arguments ${JSON.stringify(args)}: allowed: none, or "hflow run <workdir>/<workflow>.json [-s]"`);
    }
    if (target.endsWith(".json")) {
      workdir = path.dirname(target);
      workflowFile = path.basename(target);
    } else workdir = target;
  }
  if (workflowFile !== undefined && !/^[\w.-]+\.json$/.test(workflowFile))
    throw new SetupError("engine", `workflow file ${JSON.stringify(workflowFile)}: allowed: a .json file name in the workdir`);
  const endpoint = env.HFLOW_S3_ENDPOINT || undefined;
  return {
    bucket,
    prefix,
    workdir,
    workflowFile,
    endpoint,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? "us-east-1" : ""),
    fetchInput: env.HFLOW_FETCH_INPUT === "1",
    externalRedis: env.HFLOW_REDIS === "external",
    timeoutMs: seconds(env, "HFLOW_TIMEOUT_SECONDS", 0) * 1000,
    fetchTimeoutMs: seconds(env, "HFLOW_FETCH_TIMEOUT_SECONDS", 600) * 1000,
    redisTimeoutMs: seconds(env, "HFLOW_REDIS_TIMEOUT_SECONDS", 20) * 1000,
    brokerTimeoutMs: seconds(env, "HFLOW_BROKER_TIMEOUT_SECONDS", 300) * 1000,
  };
}

/** HyperFlow's broker when AMQP_URL is not set (hyperflow-wms/hyperflow functions/amqpCommand.config.js). */
const DEFAULT_AMQP_URL = "amqp://localhost:5672";

/** Host and port of the broker in an AMQP URL (never its credentials, which must not reach the log). */
export function brokerAddress(amqpUrl: string | undefined): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(amqpUrl || DEFAULT_AMQP_URL);
  } catch {
    throw new SetupError(
      "broker",
      "AMQP_URL is not a URL: allowed: amqp://user:password@host:port (the engine task definition takes it from the broker secret)",
    );
  }
  if (url.protocol !== "amqp:" && url.protocol !== "amqps:")
    throw new SetupError("broker", `AMQP_URL has the scheme ${JSON.stringify(url.protocol)}: allowed: amqp: or amqps:`);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { host, port: url.port ? Number(url.port) : url.protocol === "amqps:" ? 5671 : 5672 };
}

/** One TCP connection attempt; resolves undefined when it connects, else the error code. */
function tryConnect(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (problem: string | undefined) => {
      sock.destroy();
      resolve(problem);
    };
    sock.setTimeout(timeoutMs, () => done("no answer"));
    sock.once("error", (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    sock.once("connect", () => done(undefined));
  });
}

/**
 * Waits until the broker accepts TCP connections: at once when it does, else one line saying so and
 * another attempt every `intervalMs`. Resolves with the milliseconds waited; throws a SetupError
 * (phase "broker") naming host, port, the last error and the limit when `timeoutMs` passes.
 */
export async function waitForBroker(
  broker: { host: string; port: number },
  timeoutMs: number,
  opts: { intervalMs?: number; log?: (message: string) => void } = {},
): Promise<number> {
  const started = Date.now();
  const where = `${broker.host}:${broker.port}`;
  let warned = false;
  for (;;) {
    const left = started + timeoutMs - Date.now();
    const problem = await tryConnect(broker.host, broker.port, Math.max(100, Math.min(2000, left)));
    if (problem === undefined) return Date.now() - started;
    if (Date.now() - started >= timeoutMs) {
      throw new SetupError(
        "broker",
        `the broker at ${where} did not accept connections within ${timeoutMs / 1000} s (last: ${problem}); is the broker service running on the master? (limit: HFLOW_BROKER_TIMEOUT_SECONDS)`,
      );
    }
    if (!warned) {
      opts.log?.(`the broker at ${where} is not reachable yet (${problem}): waiting up to ${timeoutMs / 1000} s`);
      warned = true;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(opts.intervalMs ?? 1000, started + timeoutMs - Date.now()))));
  }
}

function s3Client(cfg: EntrypointConfig): S3Client {
  if (cfg.region === "") throw new SetupError("fetch", "AWS_REGION is not set: the engine task definition sets it to the stack's region");
  return new S3Client({
    region: cfg.region,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint, forcePathStyle: true } : {}),
    maxAttempts: 4,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 60_000 }),
  });
}

/** Copies every object below `keyPrefix` into `dir` (keys escaping `dir` are refused). */
async function fetchPrefix(s3: S3Client, bucket: string, keyPrefix: string, dir: string, signal: AbortSignal): Promise<{ files: number; bytes: number }> {
  const keys: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix, ContinuationToken: token }), { abortSignal: signal });
    for (const o of page.Contents ?? []) if (o.Key && !o.Key.endsWith("/")) keys.push({ key: o.Key, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const root = path.resolve(dir);
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const { key } = keys[next++];
      const dest = path.resolve(root, key.slice(keyPrefix.length));
      if (!dest.startsWith(root + path.sep)) throw new SetupError("fetch", `s3://${bucket}/${key}: refusing a key that leads outside ${root}`);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
      await pipeline(res.Body as Readable, fs.createWriteStream(dest), { signal });
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, keys.length) }, worker));
  return { files: keys.length, bytes: keys.reduce((n, k) => n + k.size, 0) };
}

async function withTimeout<T>(ms: number, phase: RunPhase, what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    return await run(ac.signal);
  } catch (e) {
    if (ac.signal.aborted) throw new SetupError(phase, `${what}: no result within ${ms / 1000} s`);
    if (e instanceof SetupError) throw e;
    const err = e as Error & { Code?: string; name: string };
    throw new SetupError(phase, `${what}: ${err.Code ?? err.name}: ${err.message}`);
  } finally {
    clearTimeout(timer);
  }
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => s.once("error", reject).listen(0, "127.0.0.1", () => resolve()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** One PING over RESP; resolves true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once("error", () => done(false));
    sock.once("connect", () => sock.write("PING\r\n"));
    sock.once("data", (d) => done(d.toString().startsWith("+PONG")));
  });
}

async function startRedis(timeoutMs: number): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--loglevel", "warning"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  let exited: string | undefined;
  proc.once("error", (e) => (exited = e.message));
  proc.once("exit", (code, sig) => (exited = `exited with ${sig ?? code}`));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new SetupError("redis", `redis-server ${exited} before it answered PING`);
    if (await ping(port)) return { url: `redis://127.0.0.1:${port}`, proc };
    await new Promise((r) => setTimeout(r, 20));
  }
  proc.kill("SIGKILL");
  throw new SetupError("redis", `redis-server did not answer PING on 127.0.0.1:${port} within ${timeoutMs / 1000} s`);
}

/** The ECS task id from the task metadata endpoint (v4), or undefined outside ECS. */
function ecsTaskId(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const base = env.ECS_CONTAINER_METADATA_URI_V4;
  if (!base) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const req = http.get(`${base}/task`, { timeout: 2000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        try {
          const arn = String((JSON.parse(body) as { TaskARN?: string }).TaskARN ?? "");
          resolve(arn.split("/").pop() || undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

function generatedRunId(now: Date): string {
  return `run-${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${crypto.randomBytes(3).toString("hex")}`;
}

interface TaskCounts {
  started: number;
  succeeded: number;
  failed: number;
  firstFailure?: string;
}

/** Counts the plugin's events (one JSON object a line, images/engine/hflow-plugin.ts). */
function readEvents(file: string): TaskCounts {
  const counts: TaskCounts = { started: 0, succeeded: 0, failed: 0 };
  if (!fs.existsSync(file)) return counts;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line === "") continue;
    const e = JSON.parse(line) as { event: string; process?: string; error?: string };
    if (e.event === "start") counts.started++;
    else if (e.event === "ok") counts.succeeded++;
    else if (e.event === "fail") {
      counts.failed++;
      counts.firstFailure ??= `task ${e.process} failed: ${e.error}`;
    }
  }
  return counts;
}

function runEngine(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number; timedOut: boolean; signal?: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"], env });
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            log(`time limit of ${timeoutMs / 1000} s reached: stopping the engine`);
            proc.kill("SIGTERM");
            setTimeout(() => proc.kill("SIGKILL"), 5000).unref();
          }, timeoutMs)
        : undefined;
    const forward = (sig: NodeJS.Signals) => proc.kill(sig);
    process.on("SIGTERM", forward);
    process.on("SIGINT", forward);
    proc.once("error", reject);
    proc.once("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      process.off("SIGTERM", forward);
      process.off("SIGINT", forward);
      resolve({ code: code ?? 1, timedOut, signal: signal ?? undefined });
    });
  });
}

function workflowShape(file: string): { name?: string; processes: number; signals: number } {
  try {
    const w = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: unknown; processes?: unknown[]; tasks?: unknown[]; signals?: unknown[]; data?: unknown[] };
    return {
      name: typeof w.name === "string" ? w.name : undefined,
      processes: (w.processes ?? w.tasks ?? []).length,
      signals: (w.signals ?? w.data ?? []).length,
    };
  } catch {
    return { processes: 0, signals: 0 };
  }
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = new Date();
  let cfg: EntrypointConfig;
  try {
    cfg = readConfig(env, argv);
  } catch (e) {
    log(`error: ${(e as Error).message}`);
    return EXIT.setup;
  }
  const runId = env.HFLOW_RUN_ID || (await ecsTaskId(env)) || generatedRunId(started);
  const functionName = env.HF_VAR_function || "amqpCommand";
  const hyperflowVersion = (JSON.parse(fs.readFileSync(path.join(HYPERFLOW_DIR, "package.json"), "utf8")) as { version: string }).version;
  let s3: S3Client | undefined;
  let fetched = { files: 0, bytes: 0 };
  let workflowFile = cfg.workflowFile ?? WORKFLOW_FILES[0];
  let phase: RunPhase = "fetch";
  let counts: TaskCounts = { started: 0, succeeded: 0, failed: 0 };
  let exitCode: number = EXIT.ok;
  let reason: string | undefined;
  let redis: ChildProcess | undefined;
  let redisStart: Promise<{ url: string; proc: ChildProcess }> | undefined;
  log(`run ${runId}: s3://${cfg.bucket}/${cfg.prefix} → ${cfg.workdir}, function ${functionName}, HyperFlow ${hyperflowVersion}`);
  try {
    s3 = s3Client(cfg);
    // With HFLOW_EXECUTOR=lambda the plugin runs amqpCommand processes on Lambda: no broker to wait for.
    if (functionName === "amqpCommand" && env.HFLOW_EXECUTOR !== "lambda") {
      phase = "broker";
      const broker = brokerAddress(env.AMQP_URL);
      const waited = await waitForBroker(broker, cfg.brokerTimeoutMs, { log });
      log(`the broker at ${broker.host}:${broker.port} accepts connections${waited >= 1000 ? ` (after ${Math.round(waited / 1000)} s)` : ""}`);
      phase = "fetch";
    }
    fs.mkdirSync(cfg.workdir, { recursive: true });
    // Redis starts while the workdir is fetched: neither needs the other (its failure is reported after the fetch's).
    if (!cfg.externalRedis) {
      redisStart = startRedis(cfg.redisTimeoutMs);
      redisStart.catch(() => undefined);
    }
    const setupStarted = Date.now();
    fetched = await withTimeout(cfg.fetchTimeoutMs, "fetch", `fetching s3://${cfg.bucket}/${cfg.prefix}workdir/`, (signal) =>
      fetchPrefix(s3!, cfg.bucket, `${cfg.prefix}workdir/`, cfg.workdir, signal),
    );
    if (cfg.fetchInput) {
      const inputs = await withTimeout(cfg.fetchTimeoutMs, "fetch", `fetching s3://${cfg.bucket}/${cfg.prefix}input/`, (signal) =>
        fetchPrefix(s3!, cfg.bucket, `${cfg.prefix}input/`, cfg.workdir, signal),
      );
      fetched = { files: fetched.files + inputs.files, bytes: fetched.bytes + inputs.bytes };
    }
    log(`fetched ${fetched.files} files, ${fetched.bytes} bytes in ${Date.now() - setupStarted} ms`);
    if (cfg.workflowFile === undefined) {
      const found = WORKFLOW_FILES.find((f) => fs.existsSync(path.join(cfg.workdir, f)));
      if (!found)
        throw new SetupError("fetch", `s3://${cfg.bucket}/${cfg.prefix}workdir/ has no ${WORKFLOW_FILES.join(" or ")} (is the job uploaded to this prefix?)`);
      workflowFile = found;
    } else if (!fs.existsSync(path.join(cfg.workdir, workflowFile))) {
      throw new SetupError("fetch", `s3://${cfg.bucket}/${cfg.prefix}workdir/${workflowFile} does not exist`);
    }

    phase = "redis";
    let redisUrl = env.REDIS_URL ?? "";
    if (redisStart) {
      const r = await redisStart;
      redis = r.proc;
      redisUrl = r.url;
      log(`redis-server ready at ${redisUrl} (${Date.now() - setupStarted} ms after the fetch began)`);
    } else if (redisUrl === "") throw new SetupError("redis", "HFLOW_REDIS=external needs REDIS_URL");

    phase = "engine";
    const events = path.join(os.tmpdir(), `hflow-events-${process.pid}.jsonl`);
    fs.rmSync(events, { force: true });
    // S3_PATH as the plugin hands it to the executors (job options): where the job's data is, below the prefix.
    const engineEnv = { ...env, REDIS_URL: redisUrl, HF_VAR_function: functionName, HFLOW_EVENTS: events, S3_PATH: `${cfg.prefix}input/` };
    const hflowArgs = [path.join(HYPERFLOW_DIR, "bin", "hflow.js"), "run", path.join(cfg.workdir, workflowFile), "-s", "-p", PLUGIN];
    log(`starting: node ${hflowArgs.join(" ")} (setup done ${Math.round(process.uptime() * 1000)} ms after the entrypoint process started)`);
    const result = await runEngine(hflowArgs, engineEnv, cfg.timeoutMs);
    counts = readEvents(events);
    if (result.timedOut) {
      exitCode = EXIT.timeout;
      reason = `time limit of ${cfg.timeoutMs / 1000} s (HFLOW_TIMEOUT_SECONDS) reached`;
    } else if (result.code !== 0 || counts.failed > 0) {
      exitCode = EXIT.failed;
      reason = counts.firstFailure ?? `the engine exited with ${result.signal ?? `code ${result.code}`}`;
    }
  } catch (e) {
    exitCode = e instanceof SetupError && e.phase !== "engine" ? EXIT.setup : EXIT.failed;
    reason = (e as Error).message;
    if (e instanceof SetupError) phase = e.phase;
  } finally {
    // A Redis still starting when an earlier step failed is stopped too.
    redis ??= await redisStart?.then(
      (r) => r.proc,
      () => undefined,
    );
    redis?.kill("SIGKILL");
  }

  const finished = new Date();
  const shape = workflowShape(path.join(cfg.workdir, workflowFile));
  const marker: RunResult = {
    version: RUN_RESULT_VERSION,
    runId,
    status: exitCode === 0 ? "succeeded" : "failed",
    exitCode,
    phase,
    ...(reason ? { reason: reason.split("\n")[0].slice(0, 1000) } : {}),
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    workflow: { file: workflowFile, ...shape },
    tasks: { started: counts.started, succeeded: counts.succeeded, failed: counts.failed },
    fetched,
    engine: { hyperflow: hyperflowVersion, function: functionName },
  };
  log(`${marker.status}${reason ? `: ${reason}` : ""} (exit ${exitCode}, ${counts.succeeded}/${counts.started} tasks ok)`);
  try {
    const key = runResultKey(cfg.prefix, runId);
    if (!s3) throw new Error("no S3 client");
    await withTimeout(60_000, phase, `writing s3://${cfg.bucket}/${key}`, (signal) =>
      s3!.send(new PutObjectCommand({ Bucket: cfg.bucket, Key: key, Body: `${JSON.stringify(marker, null, 2)}\n`, ContentType: "application/json" }), {
        abortSignal: signal,
      }),
    );
    log(`result: s3://${cfg.bucket}/${key}`);
  } catch (e) {
    log(`error: could not write the result marker: ${(e as Error).message}`);
    if (exitCode === 0) exitCode = EXIT.failed;
  }
  return exitCode;
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (e) => {
      log(`error: ${(e as Error).stack ?? e}`);
      process.exit(EXIT.failed);
    },
  );
}
