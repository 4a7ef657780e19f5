/**
 * HyperFlow engine plugin of the engine image (loaded by images/engine/entrypoint.ts with
 * `hflow run … -p <this file>`; bundled by esbuild). It makes the engine's exit status the workflow's:
 *
 * - Every task invocation is recorded as a JSON line in $HFLOW_EVENTS (`start`, `ok`, `fail`), which
 *   the entrypoint counts for the result marker.
 * - A task whose function calls back with an error ends the engine with exit code 1 at once. HyperFlow
 *   1.7.0 otherwise stops that process's firing and waits forever (hyperflow-wms/hyperflow
 *   engine2/ProcDataflowFSM.js runs invoke/post-invoke in an async.waterfall that an error just
 *   abandons), e.g. when amqpCommand (functions/amqpCommand.js) gets a non-zero exit_status back.
 * - The core `command` function is replaced by one that fails on a non-zero exit code or a spawn error:
 *   hyperflow-wms/hyperflow functions/command.js calls back success whatever the exit code.
 *
 * The plugin API is HyperFlow's (common/wfRun.js): `new Plugin()`, then `init(redis, wflib, engine)`
 * before the first signal is sent.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

type Callback = (err: unknown, ...rest: unknown[]) => void;
interface ExecutorConfig {
  executor: { executable: string; args?: string[]; stdout?: string; stderr?: string };
}
interface Wflib {
  invokeProcFunction: (...args: unknown[]) => unknown;
}
interface Engine {
  tasks: { logic?: { name?: string } }[];
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

class StrictRunPlugin {
  init(_redis: unknown, wflib: Wflib, engine: Engine): Promise<void> {
    // The core functions module the engine loads functions from (wflib/index.js: <bin>/../functions).
    const functionsDir = path.join(path.dirname(require.main?.filename ?? ""), "..", "functions");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const core = require(functionsDir) as Record<string, unknown>;
    core.command = strictCommand;

    const invoke = wflib.invokeProcFunction;
    wflib.invokeProcFunction = function (this: unknown, ...args: unknown[]) {
      const procId = Number(args[1]);
      const firing = Number(args[2]);
      const name = engine.tasks[procId]?.logic?.name ?? `process ${procId}`;
      const cb = args[args.length - 1] as Callback;
      record({ event: "start", process: name, firing, at: Date.now() });
      args[args.length - 1] = (err: unknown, ...rest: unknown[]) => {
        if (err) {
          record({ event: "fail", process: name, firing, error: message(err), at: Date.now() });
          console.error(`[hflow-plugin] task ${name} failed: ${message(err)}; stopping the workflow`);
          process.exit(1);
        }
        record({ event: "ok", process: name, firing, at: Date.now() });
        cb(err, ...rest);
      };
      return invoke.apply(this, args);
    };
    return Promise.resolve();
  }
}

module.exports = StrictRunPlugin;
