/**
 * The job message and the reply, as HyperFlow's engine builds and reads them
 * (hyperflow-wms/hyperflow functions/amqpCommand.js):
 *
 *   { executable, args, env, inputs, outputs, options }
 *
 * - `executable`, `args`: from the process's `config.executor`; `args` is an array or, in many
 *   published workflows (e.g. examples/Montage143), one string;
 * - `env`: `config.executor.env` or `{}`;
 * - `inputs`, `outputs`: the task's signals as the engine holds them, objects with at least `name`
 *   (the file name) and engine bookkeeping such as `_id`, `sigIdx`, `data`;
 * - `options`: amqpCommand.config.js's `options` (stock: `{storage: "local", workdir}`) merged with
 *   `config.executor.options`.
 *
 * The engine treats a reply as success when `exit_status == "0"` (loose equality, so the number 0 is
 * fine) and otherwise passes `exceptions` to the task's callback as the error; an empty or missing
 * `exceptions` would read as success there, so every failed reply carries at least one.
 */
import * as path from "node:path";

export interface Signal {
  readonly name: string;
  readonly [key: string]: unknown;
}

export interface Job {
  readonly executable: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly inputs: readonly Signal[];
  readonly outputs: readonly Signal[];
  readonly options: Readonly<Record<string, unknown>>;
}

/** What went wrong, in the reply's `error` field (absent on success). */
export type ErrorClass = "malformed" | "config" | "spawn" | "stage_in" | "timeout" | "exit" | "signal" | "stage_out" | "internal";

export interface JobMetrics {
  readonly executor: string;
  readonly jobId: string;
  readonly storage: string;
  /** Epoch seconds of each step (`job.started`, `stage_in.started`, …), as the upstream executor reports. */
  readonly timestamps: Record<string, number>;
  /** Seconds spent in each step. */
  stage_in?: number;
  execution?: number;
  stage_out?: number;
  /** Seconds from receiving the job to having the reply ready. */
  duration?: number;
  /** Bytes staged in and out. */
  input_size: number;
  output_size: number;
  /** Inputs copied from the worker's stage cache after S3 said they were current (s3 storage). */
  cached_inputs?: number;
  /** The process's own exit code and signal, when it ran. */
  exit_code?: number | null;
  signal?: string | null;
}

export interface JobReply {
  /** 0 on success; the process's exit code; 128+n when a signal n ended it; 124 on timeout; -1 when it could not start; -2 for other failures. */
  readonly exit_status: number;
  /** Last bytes of the process's output (bounded, see OUTPUT_TAIL_BYTES). */
  readonly stdout: string;
  readonly stderr: string;
  /** Empty on success; otherwise at least one human-readable reason. */
  readonly exceptions: string[];
  readonly metrics: JobMetrics;
  readonly error?: ErrorClass;
}

export const EXIT_TIMEOUT = 124;
export const EXIT_SPAWN = -1;
export const EXIT_FAILED = -2;

/** A job that cannot be run: the message, the worker's configuration or the storage says why. */
export class JobError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
  ) {
    super(message);
    this.name = "JobError";
  }
}

const malformed = (m: string) => new JobError("malformed", `malformed job message: ${m}`);

/** Parses the message body; throws JobError("malformed") naming the first problem. */
export function parseJob(body: Buffer | string | unknown): Job {
  let raw: unknown = body;
  if (Buffer.isBuffer(body) || typeof body === "string") {
    try {
      raw = JSON.parse(body.toString());
    } catch (e) {
      throw malformed(`not JSON (${(e as Error).message})`);
    }
  }
  if (!isObject(raw)) throw malformed("not a JSON object");
  const { executable, args, env, inputs, outputs, options } = raw;
  if (typeof executable !== "string" || executable.trim() === "") throw malformed("executable must be a non-empty string");
  if (executable.includes("\0")) throw malformed("executable contains a NUL character");
  return {
    executable,
    args: parseArgs(args),
    env: parseEnv(env),
    inputs: parseSignals("inputs", inputs),
    outputs: parseSignals("outputs", outputs),
    options: options === undefined || options === null ? {} : isObject(options) ? options : fail("options must be an object"),
  };
}

function fail(m: string): never {
  throw malformed(m);
}

/**
 * Arguments go to the process as they are, with no shell: an array is taken element by element
 * (numbers and booleans as text); a string is split on white space, with no quoting, globbing or
 * variables (what published workflows with string args such as Montage rely on).
 */
function parseArgs(args: unknown): string[] {
  if (args === undefined || args === null) return [];
  if (typeof args === "string") return args.split(/\s+/).filter((a) => a !== "");
  if (!Array.isArray(args)) fail("args must be an array or a string");
  return args.map((a, i) => {
    if (typeof a === "string" || typeof a === "number" || typeof a === "boolean") {
      const s = String(a);
      if (s.includes("\0")) fail(`args[${i}] contains a NUL character`);
      return s;
    }
    return fail(`args[${i}] must be a string or a number, not ${a === null ? "null" : typeof a}`);
  });
}

function parseEnv(env: unknown): Record<string, string> {
  if (env === undefined || env === null) return {};
  if (!isObject(env)) fail("env must be an object of names to values");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) fail(`env name ${JSON.stringify(k)} is not a variable name`);
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") fail(`env.${k} must be a string or a number`);
    const s = String(v);
    if (s.includes("\0")) fail(`env.${k} contains a NUL character`);
    out[k] = s;
  }
  return out;
}

function parseSignals(field: string, list: unknown): Signal[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) fail(`${field} must be an array`);
  return list.map((s, i) => {
    const sig: Record<string, unknown> = typeof s === "string" ? { name: s } : isObject(s) ? s : fail(`${field}[${i}] must be an object with a name`);
    if (typeof sig.name !== "string") fail(`${field}[${i}] has no name`);
    const problem = fileNameProblem(sig.name);
    if (problem) fail(`${field}[${i}].name ${JSON.stringify(sig.name)} ${problem}`);
    return sig as Signal;
  });
}

/** Signal names are file names relative to the storage root: no absolute paths, no way out of it. */
function fileNameProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  if (name.length > 1024) return "is longer than 1024 characters";
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
  if (/[\u0000-\u001f]/.test(name)) return "contains control characters";
  if (path.posix.isAbsolute(name)) return "is an absolute path; allowed: a path relative to the storage";
  const segments = name.split("/");
  if (segments.some((s) => s === "..")) return "leaves the storage (..)";
  if (segments.every((s) => s === "" || s === ".")) return "names no file";
  return undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
