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
import * as fs from "node:fs";
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

class StrictRunPlugin {
  init(): Promise<void> {
    // The core functions module the engine loads process functions from, at each invocation
    // (hyperflow-wms/hyperflow wflib/index.js: require(<bin>/../functions)[name]); same module object.
    const functionsDir = path.join(path.dirname(require.main?.filename ?? ""), "..", "functions");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const core = require(functionsDir) as Record<string, unknown>;
    core.command = strictCommand;
    core.lambdaCommand = lambdaCommand;
    if (process.env.HFLOW_EXECUTOR === "lambda") {
      core.amqpCommand = lambdaCommand;
      core.RESTServiceCommand = lambdaCommand;
      core.awsLambdaCommand = lambdaCommand;
    }
    for (const [name, f] of Object.entries(core)) if (typeof f === "function") core[name] = guard(name, f as ProcessFunction);
    const options = amqpJobOptions(process.env);
    if (options) {
      // The same module object amqpCommand.js required (`require('./amqpCommand.config.js')`).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      setJobOptions(require(path.join(functionsDir, "amqpCommand.config.js")) as Record<string, unknown>, options);
    }
    return Promise.resolve();
  }
}

module.exports = StrictRunPlugin;
