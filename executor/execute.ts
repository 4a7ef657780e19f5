/**
 * The task executor's core: one job message in, one reply out, whatever carried the message (AMQP
 * today; a Lambda event or a Kubernetes job later). It never throws: every failure becomes a reply
 * with a non-zero exit_status and at least one exception, so the engine hears about it.
 *
 * Steps: parse → resolve storage (storage.ts: the worker's environment decides) → per-job directory →
 * stage in → run (run.ts) → stage out → reply; metrics points are handed back for the transport to
 * send after the reply.
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../runner/s3-client";
import { onceUntilRejected } from "../runner/s3-http";
import { EXIT_FAILED, EXIT_SPAWN, EXIT_TIMEOUT, type ErrorClass, type Job, JobError, type JobMetrics, type JobReply, parseJob } from "./job";
import { StageCache } from "./cache";
import { JobRecorder, type Log, type Point } from "./metrics";
import { S3Objects } from "./s3-objects";
import { baseEnv, runProcess } from "./run";
import type { Settings } from "./settings";
import { AWS_CREDENTIAL_ENV, resolveStorage, STAGE_CONCURRENCY, type Storage } from "./storage";

interface ExecuteResult {
  readonly reply: JobReply;
  /** Metrics points of this job (empty when the message could not even be parsed). */
  readonly points: readonly Point[];
}

export interface ExecutorContext {
  readonly settings: Settings;
  readonly log: Log;
  /** The S3 client (made on first use; credentials from the SDK's default chain). */
  s3(): S3Client;
  /** The lean GET/PUT client for a bucket (s3-objects.ts), made once per bucket; undefined when the bucket's endpoint needs the SDK. */
  objects(bucket: string): Promise<S3Objects | undefined>;
  /** The worker's stage cache (made on first use; undefined when STAGE_CACHE_MB is 0). */
  cache(): StageCache | undefined;
}

export function createContext(settings: Settings, log: Log): ExecutorContext {
  let client: S3Client | undefined;
  let cache: StageCache | undefined;
  let agents: { http: HttpAgent; https: HttpsAgent } | undefined;
  const maxSockets = Math.max(16, settings.threads * STAGE_CONCURRENCY);
  // One object client per bucket; a failure is not kept: the next job tries again.
  const objects = onceUntilRejected((bucket) => {
    agents ??= { http: new HttpAgent({ keepAlive: true, maxSockets }), https: new HttpsAgent({ keepAlive: true, maxSockets }) };
    return S3Objects.forBucket(ctx.s3(), bucket, agents);
  });
  const ctx: ExecutorContext = {
    settings,
    log,
    objects,
    s3() {
      // No `credentials`: the SDK's default chain (environment, then the ECS task role's endpoint, …).
      // The region and an S3-compatible endpoint come from AWS_REGION and AWS_ENDPOINT_URL[_S3].
      client ??= createS3Client({
        region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || "us-east-1",
        forcePathStyle: settings.s3ForcePathStyle,
        // One client per worker process: its keep-alive sockets serve every job; enough for each running
        // job's transfers at once.
        maxSockets,
      });
      return client;
    },
    cache() {
      if (settings.stageCacheBytes > 0) cache ??= StageCache.create(settings.stageCacheDir, settings.stageCacheBytes);
      return cache;
    },
  };
  return ctx;
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGABRT: 6,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

const seconds = (ns: bigint) => Number(ns) / 1e9;
const label = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : undefined);

/** Runs one job. `jobId` names it in logs, metrics and directories (the AMQP correlation id). */
export async function executeJob(body: Buffer | string | unknown, jobId: string, ctx: ExecutorContext): Promise<ExecuteResult> {
  const { settings, log } = ctx;
  const t0 = process.hrtime.bigint();
  const metrics: JobMetrics = {
    executor: settings.executorId,
    jobId,
    storage: settings.storage,
    timestamps: { "job.started": Date.now() / 1000 },
    input_size: 0,
    output_size: 0,
  };
  const stamp = (name: string) => (metrics.timestamps[name] = Date.now() / 1000);
  const reply = (exit_status: number, exceptions: string[], error?: ErrorClass, out = { stdout: "", stderr: "" }): JobReply => {
    metrics.duration = seconds(process.hrtime.bigint() - t0);
    stamp("job.finished");
    return { exit_status, stdout: out.stdout, stderr: out.stderr, exceptions, metrics, ...(error ? { error } : {}) };
  };

  let job: Job;
  try {
    job = parseJob(body);
  } catch (e) {
    const message = e instanceof JobError ? e.message : `malformed job message: ${(e as Error).message}`;
    log(`job ${jobId}: ${message}`);
    return { reply: reply(EXIT_FAILED, [message], "malformed"), points: [] };
  }

  const recorder = new JobRecorder({
    workerId: settings.executorId,
    jobId,
    executable: job.executable,
    wfid: label(job.options.wfid),
    hfId: label(job.options.hfId),
    procId: label(job.options.procId),
  });
  let storage: Storage | undefined;
  let dir: string | undefined;
  let out = { stdout: "", stderr: "" };
  const cleanup = async () => {
    if (storage && dir) await storage.cleanup(dir).catch((e: Error) => log(`job ${jobId}: could not remove ${dir}: ${e.message}`));
    storage = undefined;
  };
  try {
    const resolved = resolveStorage(settings, job, ctx.s3, settings.storage === "s3" ? ctx.cache() : undefined, (b) => ctx.objects(b));
    storage = resolved.storage;
    if (resolved.ignored.length > 0) log(`job ${jobId}: ignoring message options: ${resolved.ignored.join("; ")}`);

    dir = await storage.prepare(jobId);

    recorder.enter("stage_in");
    stamp("stage_in.started");
    let t = process.hrtime.bigint();
    metrics.input_size = await storage.stageIn(job.inputs, dir);
    metrics.stage_in = seconds(process.hrtime.bigint() - t);
    if (storage.cachedInputs !== undefined) metrics.cached_inputs = storage.cachedInputs;
    stamp("stage_in.finished");

    recorder.enter("execution");
    stamp("execution.started");
    const env: Record<string, string> = { ...baseEnv(dir) };
    for (const [k, v] of Object.entries(job.env)) if (!AWS_CREDENTIAL_ENV.has(k)) env[k] = v;
    const run = await runProcess({
      executable: job.executable,
      args: job.args,
      cwd: dir,
      env,
      timeoutMs: settings.taskTimeoutMs,
      killGraceMs: settings.killGraceMs,
      tailBytes: settings.tailBytes,
    });
    metrics.execution = run.ms / 1000;
    metrics.exit_code = run.code;
    metrics.signal = run.signal;
    stamp("execution.finished");
    out = { stdout: run.stdout, stderr: run.stderr };

    if (run.spawnError) {
      const e = run.spawnError;
      const why = e.code === "ENOENT" ? "not found (or the work directory is missing)" : e.code === "EACCES" ? "not executable (permission denied)" : e.message;
      throw Object.assign(new JobError("spawn", `cannot run ${job.executable}: ${why}`), { exit: EXIT_SPAWN });
    }
    if (run.timedOut) {
      throw Object.assign(new JobError("timeout", `task timed out after ${settings.taskTimeoutMs / 1000} s (TASK_TIMEOUT) and was killed`), {
        exit: EXIT_TIMEOUT,
      });
    }
    if (run.signal) {
      throw Object.assign(new JobError("signal", `${job.executable} was killed by ${run.signal}`), { exit: 128 + (SIGNALS[run.signal] ?? 0) });
    }
    if (run.code !== 0) {
      throw Object.assign(new JobError("exit", `${job.executable} exited with status ${run.code}`), { exit: run.code ?? EXIT_FAILED });
    }

    recorder.enter("stage_out");
    stamp("stage_out.started");
    t = process.hrtime.bigint();
    metrics.output_size = await storage.stageOut(job.outputs, dir);
    metrics.stage_out = seconds(process.hrtime.bigint() - t);
    stamp("stage_out.finished");

    recorder.finish();
    await cleanup();
    const r = reply(0, [], undefined, out);
    const cached = metrics.cached_inputs ? `, ${metrics.cached_inputs} of them from the stage cache` : "";
    log(
      `job ${jobId}: ${job.executable} ok in ${r.metrics.duration!.toFixed(3)} s (run ${r.metrics.execution!.toFixed(3)} s, stage in ${metrics.stage_in!.toFixed(3)} s, stage out ${metrics.stage_out!.toFixed(3)} s; in ${metrics.input_size} B${cached}, out ${metrics.output_size} B)`,
    );
    return { reply: r, points: recorder.points };
  } catch (e) {
    recorder.finish();
    await cleanup();
    const err = e instanceof JobError ? e : new JobError("internal", `executor error: ${(e as Error)?.message ?? String(e)}`);
    const exit = (e as { exit?: number }).exit ?? EXIT_FAILED;
    log(`job ${jobId}: failed (${err.errorClass}): ${err.message}`);
    return { reply: reply(exit === 0 ? EXIT_FAILED : exit, [err.message], err.errorClass, out), points: recorder.points };
  }
}
