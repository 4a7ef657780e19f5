/**
 * HyperFlow engine plugin of the engine image (loaded by images/engine/entrypoint.ts with
 * `hflow run … -p <this file>`; bundled by esbuild). It makes the engine's exit status the workflow's:
 *
 * - Every task invocation is recorded as a JSON line in $HFLOW_EVENTS (`start`, `ok`, `fail`), which
 *   the entrypoint counts for the result marker.
 * - A task whose function calls back with an error ends the engine with exit code 1 at once. HyperFlow
 *   1.7.0 drops that error (hyperflow-wms/hyperflow wflib/index.js invokeProcFunction calls back
 *   `cb(null, …)` whatever the function returned) and carries on as if the task had succeeded, e.g.
 *   when amqpCommand (functions/amqpCommand.js) gets a non-zero exit_status back from an executor.
 *   Every function of the core functions module is wrapped; functions from a workflow's own
 *   functions.js are not. A function that never calls back (amqpCommand when the broker is
 *   unreachable) is bounded only by the entrypoint's HFLOW_TIMEOUT_SECONDS.
 * - The core `command` function is replaced by one that fails on a non-zero exit code or a spawn error:
 *   hyperflow-wms/hyperflow functions/command.js calls back success whatever the exit code.
 * - Jobs that amqpCommand sends tell the executors where the data is: with S3_BUCKET set, the
 *   `options` of hyperflow-wms/hyperflow functions/amqpCommand.config.js become
 *   `{storage: "s3", bucket: S3_BUCKET, prefix: S3_PATH}` (the variant that file has commented out;
 *   its active one is `{storage: "local", workdir: WORKDIR}`, which executors on other machines cannot
 *   use). The executor (executor/storage.ts) takes bucket and prefix from a job when its own
 *   S3_BUCKET / S3_PATH are unset. The options are handed out as a fresh copy per job:
 *   amqpCommand.js merges a process's `executor.options` into the object it gets, which upstream is
 *   the module's one shared object, so one process's options leaked into every later job.
 *
 * - amqpCommand itself is replaced by one with the same job message and outcome over one connection,
 *   one channel and one reply queue per engine (`JobChannel`): upstream opens a channel and declares a
 *   reply queue for every job.
 *
 * - `lambdaCommand` (lambda-command.ts) is added to the core functions: a task runs as one invocation
 *   of the task executor's Lambda function through the Invoke API. With HFLOW_EXECUTOR=lambda (what
 *   the lambda stack's engine task sets) `amqpCommand`, `RESTServiceCommand` and `awsLambdaCommand`
 *   processes run with it too, so workflows converted for the ECS path or for the stock REST/Lambda
 *   executor run unchanged; the stock REST functions (hyperflow-wms/hyperflow functions/
 *   RESTServiceCommand.js, awsLambdaCommand.js) post unsigned to SERVICE_URL, take the S3 prefix from
 *   PATH and treat any non-5xx answer, 403 included, as success, so they are never used here.
 *
 * This is the one place that makes failed tasks fail the run (the engine image loads it for every run);
 * a workflow needs no functions.js of its own for that.
 *
 * The plugin API is HyperFlow's (common/wfRun.js): `new Plugin()`, then `init(redis, wflib, engine)`
 * before the first signal is sent; this plugin needs none of the arguments.
 */
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { lambdaCommand } from "./lambda-command";

type Callback = (err: unknown, ...rest: unknown[]) => void;
interface ExecutorConfig {
  executor: { executable: string; args?: string[]; stdout?: string; stderr?: string };
}

function record(event: Record<string, unknown>): void {
  const file = process.env.HFLOW_EVENTS;
  if (file) fs.appendFileSync(file, `${JSON.stringify(event)}\n`);
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** `command` that honours the exit code (same arguments, output and stdout/stderr files as the original). */
function strictCommand(_ins: unknown, outs: unknown, context: ExecutorConfig, cb: Callback): void {
  const { executable, args = [] } = context.executor;
  console.log("Executing:", executable, args);
  const proc = spawn(executable, args, { stdio: ["ignore", "pipe", "pipe"] });
  if (context.executor.stdout) proc.stdout.pipe(fs.createWriteStream(context.executor.stdout));
  if (context.executor.stderr) proc.stderr.pipe(fs.createWriteStream(context.executor.stderr));
  proc.stdout.on("data", (d: Buffer) => console.log(executable, `stdout:${d}`));
  proc.stderr.on("data", (d: Buffer) => console.log(executable, `stderr:${d}`));
  let done = false;
  const finish = (err: unknown) => {
    if (done) return;
    done = true;
    if (err) cb(err);
    else cb(null, outs);
  };
  proc.once("error", (e) => finish(new Error(`${executable}: ${e.message}`)));
  proc.once("close", (code, signal) => {
    console.log(executable, `exiting with code:${code}`);
    finish(code === 0 ? null : new Error(`${executable} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`));
  });
}

type ProcessFunction = (ins: unknown, outs: unknown, context: { name?: string; firingId?: number }, cb: Callback) => unknown;

/** Records every call of `f` and ends the engine with exit code 1 when it calls back with an error. */
function guard(functionName: string, f: ProcessFunction): ProcessFunction {
  return function (this: unknown, ins, outs, context, cb) {
    const name = context?.name ?? functionName;
    const firing = context?.firingId;
    record({ event: "start", process: name, firing, function: functionName, at: Date.now() });
    return f.call(this, ins, outs, context, (err: unknown, ...rest: unknown[]) => {
      if (err) {
        record({ event: "fail", process: name, firing, error: message(err), at: Date.now() });
        console.error(`[hflow-plugin] task ${name} failed: ${message(err)}; stopping the workflow`);
        process.exit(1);
      }
      record({ event: "ok", process: name, firing, at: Date.now() });
      cb(err, ...rest);
    });
  };
}

/** The `options` amqpCommand sends with every job, from the engine's environment; undefined: keep upstream's. */
export function amqpJobOptions(env: NodeJS.ProcessEnv): Record<string, string> | undefined {
  const bucket = env.S3_BUCKET ?? "";
  if (bucket === "") return undefined;
  return { storage: "s3", bucket, prefix: env.S3_PATH ?? "" };
}

/** Makes `config.options` a fresh copy of `options` at every read (amqpCommand.js reads it once per job). */
function setJobOptions(config: Record<string, unknown>, options: Readonly<Record<string, string>>): void {
  Object.defineProperty(config, "options", { get: () => ({ ...options }), set: () => undefined, enumerable: true, configurable: true });
}

/**
 * The part of amqplib's API used here. The library is HyperFlow's own copy (its amqpCommand.js uses it),
 * loaded at run time: nothing of the repository's amqplib goes into this bundle or its image tag.
 */
interface AmqpMessage {
  readonly content: Buffer;
  readonly properties: { readonly correlationId?: string };
}
interface AmqpChannel {
  assertQueue(queue: string, options: object): Promise<{ queue: string }>;
  consume(queue: string, onMessage: (m: AmqpMessage | null) => void, options: object): Promise<unknown>;
  sendToQueue(queue: string, content: Buffer, options: object): boolean;
  on(event: "close", listener: () => void): unknown;
}
interface AmqpConnection {
  createChannel(): Promise<AmqpChannel>;
  on(event: "error", listener: (e: Error) => void): unknown;
  on(event: "close", listener: () => void): unknown;
}
interface AmqpLib {
  connect(url: string, socketOptions: { noDelay: boolean }): Promise<AmqpConnection>;
}
interface AmqpConfig {
  readonly amqp_url: string;
  readonly options: Record<string, unknown>;
}
type Signals = { [i: number]: unknown; map<T>(f: (s: unknown) => T): T[] };

/** The job queue amqpCommand sends to (hyperflow-wms/hyperflow functions/amqpCommand.js). */
const JOB_QUEUE = "hyperflow.jobs";

/**
 * The broker side of amqpCommand, once per engine: one connection, one channel and one exclusive reply
 * queue for every job, replies matched by correlation id. Upstream (functions/amqpCommand.js) opens a
 * channel, declares an exclusive reply queue, consumes it and closes it again for every job: four more
 * broker round trips and a queue created and deleted per task, measured at about 4 ms of broker CPU and
 * 10 ms of latency per job here. When the connection or channel closes, every waiting job fails with
 * that reason (upstream's waited forever), so the run ends instead of hanging.
 */
export class JobChannel {
  private ready?: Promise<{ ch: AmqpChannel; queue: string }>;
  private readonly waiting = new Map<string, { resolve: (body: string) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly lib: AmqpLib,
    private readonly url: string,
  ) {}

  private open() {
    this.ready ??= (async () => {
      // Nagle's algorithm off (amqplib leaves it on): a job published right after another would wait for
      // the broker's delayed ACK, up to 40 ms, on the workflow's critical path.
      const conn = await this.lib.connect(this.url, { noDelay: true });
      const failAll = (why: string) => {
        this.ready = undefined;
        for (const [id, w] of this.waiting) {
          this.waiting.delete(id);
          w.reject(new Error(`the broker connection closed while the job waited for its reply (${why})`));
        }
      };
      conn.on("error", (e: Error) => console.error(`[hflow-plugin] AMQP connection error: ${e.message}`));
      conn.on("close", () => failAll("connection closed"));
      const ch = await conn.createChannel();
      ch.on("close", () => failAll("channel closed"));
      await ch.assertQueue(JOB_QUEUE, { durable: true });
      const { queue } = await ch.assertQueue("", { exclusive: true, autoDelete: true });
      await ch.consume(
        queue,
        (m) => {
          const id = m?.properties.correlationId as string | undefined;
          const w = id === undefined ? undefined : this.waiting.get(id);
          if (!m || !w) return;
          this.waiting.delete(id!);
          w.resolve(m.content.toString());
        },
        { noAck: true },
      );
      console.log(`[hflow-plugin] AMQP: jobs to ${JOB_QUEUE}, replies on ${queue}`);
      return { ch, queue };
    })();
    return this.ready;
  }

  /** Publishes `job` and resolves with the reply's body. */
  async request(job: object): Promise<string> {
    const { ch, queue } = await this.open();
    const id = crypto.randomUUID();
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      ch.sendToQueue(JOB_QUEUE, Buffer.from(JSON.stringify(job)), { replyTo: queue, contentType: "application/json", correlationId: id });
    });
  }
}

/**
 * amqpCommand with the message and outcome of hyperflow-wms/hyperflow functions/amqpCommand.js (the job
 * `{executable, args, env, inputs, outputs, options}` with the config's options and the process's
 * `executor.options` over them; success when `exit_status == "0"`, else the reply's `exceptions` as the
 * error), over one `JobChannel`.
 */
function amqpCommandOver(jobs: JobChannel, config: AmqpConfig): ProcessFunction {
  return (ins, outs, context, cb) => {
    const executor = (context as unknown as { executor: ExecutorConfig["executor"] & { env?: unknown; options?: Record<string, unknown> } }).executor;
    const options = { ...config.options, ...executor.options };
    const job = {
      executable: executor.executable,
      args: executor.args,
      env: executor.env || {},
      inputs: (ins as Signals).map((s) => s),
      outputs: (outs as Signals).map((s) => s),
      options,
    };
    jobs.request(job).then(
      (body) => {
        const reply = JSON.parse(body) as { exit_status?: unknown; exceptions?: unknown };
        // Loose equality as upstream: the executors send 0 or "0".
        if (reply.exit_status == "0") cb(null, outs);
        else cb(reply.exceptions, outs);
      },
      (e: Error) => cb(e.message, outs),
    );
  };
}

class StrictRunPlugin {
  init(): Promise<void> {
    // The core functions module the engine loads process functions from, at each invocation
    // (hyperflow-wms/hyperflow wflib/index.js: require(<bin>/../functions)[name]); same module object.
    const functionsDir = path.join(path.dirname(require.main?.filename ?? ""), "..", "functions");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const core = require(functionsDir) as Record<string, unknown>;
    core.command = strictCommand;
    // The same module object amqpCommand.js required (`require('./amqpCommand.config.js')`).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const amqpConfig = require(path.join(functionsDir, "amqpCommand.config.js")) as AmqpConfig;
    const options = amqpJobOptions(process.env);
    if (options) setJobOptions(amqpConfig as unknown as Record<string, unknown>, options);
    // amqplib as the engine's own amqpCommand.js resolves it (HyperFlow's dependency; not bundled here).
    const amqplib = createRequire(path.join(functionsDir, "amqpCommand.js"))("amqplib") as AmqpLib;
    core.amqpCommand = amqpCommandOver(new JobChannel(amqplib, amqpConfig.amqp_url), amqpConfig);
    core.lambdaCommand = lambdaCommand;
    if (process.env.HFLOW_EXECUTOR === "lambda") {
      core.amqpCommand = lambdaCommand;
      core.RESTServiceCommand = lambdaCommand;
      core.awsLambdaCommand = lambdaCommand;
    }
    for (const [name, f] of Object.entries(core)) if (typeof f === "function") core[name] = guard(name, f as ProcessFunction);
    return Promise.resolve();
  }
}

module.exports = StrictRunPlugin;
