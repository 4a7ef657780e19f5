/**
 * The worker's own configuration, read once from its environment. The deployment sets it (the ECS task
 * definition in constructs/ecs/workers.ts, a Kubernetes pod spec, a Lambda's configuration), so it is
 * what the deployment means and what the worker's role grants: see `resolveStorage` in storage.ts for
 * why job messages cannot override it.
 *
 * Names follow what the workers get today and what HyperFlow's own components read: AMQP_URL,
 * THREADS, STORAGE and AMQP_QUEUE as in hyperflow-wms/hyperflow-amqp-executor
 * (lib/hyperflow-amqp-executor.rb, example/settings.yml), S3_BUCKET / S3_PATH / WORKDIR as in
 * hyperflow-wms/hyperflow functions/amqpCommand.config.js, NFS_MOUNT / FEATURE_DOWNLOAD / INFLUXDB_URL as
 * the worker task definition sets them. docs/design.md ("Task executor") lists the whole contract.
 */
import * as os from "node:os";
import * as path from "node:path";
import { endpointFromEnv } from "../runner/s3-client";

export type StorageKind = "s3" | "nfs" | "local";

export interface Settings {
  /** Broker URL (AMQP adapter only). */
  readonly amqpUrl: string;
  /** Queue the jobs arrive on (AMQP adapter only). */
  readonly queue: string;
  /** Jobs run at once (and AMQP prefetch). */
  readonly threads: number;
  readonly storage: StorageKind;
  /** s3: the bucket set by the deployment; when unset a job's `options.bucket` is used (the task role decides what is reachable). */
  readonly bucket?: string;
  /** s3: key prefix set by the deployment; when unset a job's `options.prefix` is used. */
  readonly s3Path?: string;
  /** nfs: the shared directory. */
  readonly nfsMount?: string;
  /** local: the work directory. */
  readonly workdir?: string;
  /** Where per-job work directories are made (s3, nfs). */
  readonly scratchDir: string;
  /** Most bytes the stage cache (executor/cache.ts) holds; 0: no cache. */
  readonly stageCacheBytes: number;
  /** Where the stage cache makes its directory (one per worker process). */
  readonly stageCacheDir: string;
  /** Task timeout in milliseconds. */
  readonly taskTimeoutMs: number;
  /** Grace between SIGTERM and SIGKILL when a task times out, in milliseconds. */
  readonly killGraceMs: number;
  /** Bytes kept of a task's stdout and of its stderr. */
  readonly tailBytes: number;
  /** InfluxDB 1.x URL with the database as path, e.g. http://host:8086/hyperflow_tests. */
  readonly influxUrl?: string;
  /** Names this worker in logs, replies and metrics. */
  readonly executorId: string;
  /** Path style for S3 (needed by S3-compatible stores without virtual-host DNS). */
  readonly s3ForcePathStyle: boolean;
  /** Longest wait between reconnect attempts to the broker, in milliseconds. */
  readonly reconnectMaxMs: number;
  /** Accepted for compatibility with the worker task definition; not implemented (see docs). */
  readonly featureDownload: boolean;
}

/** A setting with a bad value: names the variable, the value and what is allowed. */
export class SettingsError extends Error {
  constructor(
    readonly variable: string,
    readonly value: string,
    readonly allowed: string,
  ) {
    super(`${variable}=${JSON.stringify(value)} is not valid; allowed: ${allowed}`);
    this.name = "SettingsError";
  }
}

const STORAGE_NAMES: Record<string, StorageKind> = { s3: "s3", cloud: "s3", nfs: "nfs", local: "local" };

/** Normalizes a storage name (`cloud` is the upstream executor's name for S3); undefined if unknown. */
export function storageKind(name: unknown): StorageKind | undefined {
  return typeof name === "string" ? STORAGE_NAMES[name.trim().toLowerCase()] : undefined;
}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return def;
  const n = Number(raw.trim());
  if (!Number.isInteger(n) || n < min || n > max) throw new SettingsError(name, raw, `an integer from ${min} to ${max}`);
  return n;
}

function seconds(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return def * 1000;
  const n = Number(raw.trim());
  if (!Number.isFinite(n) || n < min || n > max) throw new SettingsError(name, raw, `a number of seconds from ${min} to ${max}`);
  return Math.round(n * 1000);
}

function dir(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  if (!path.isAbsolute(raw)) throw new SettingsError(name, raw, "an absolute directory path");
  return path.resolve(raw);
}

function flag(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return def;
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "enabled", "on"].includes(v)) return true;
  if (["0", "false", "no", "disabled", "off"].includes(v)) return false;
  throw new SettingsError(name, raw, "true/false (also 1/0, yes/no, ENABLED/DISABLED)");
}

function cpuCount(): number {
  const available = (os as { availableParallelism?: () => number }).availableParallelism;
  return Math.max(1, available ? available() : os.cpus().length);
}

/** Reads and checks the environment; throws SettingsError on the first bad value. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const storageRaw = env.STORAGE?.trim() || "cloud";
  const storage = storageKind(storageRaw);
  if (!storage) throw new SettingsError("STORAGE", storageRaw, "cloud (or s3), nfs, local");

  const bucket = env.S3_BUCKET?.trim() || undefined;
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new SettingsError("S3_BUCKET", bucket, "an S3 bucket name");
  const s3PathRaw = env.S3_PATH;
  let s3Path: string | undefined;
  if (s3PathRaw !== undefined && s3PathRaw !== "") {
    const problem = keyPrefixProblem(s3PathRaw);
    if (problem) throw new SettingsError("S3_PATH", s3PathRaw, `a key prefix inside the bucket (${problem})`);
    s3Path = s3PathRaw;
  }

  const nfsMount = dir(env, "NFS_MOUNT");
  if (storage === "nfs" && !nfsMount) throw new SettingsError("NFS_MOUNT", env.NFS_MOUNT ?? "", "the shared directory (required with STORAGE=nfs)");
  const workdir = dir(env, "WORKDIR");
  if (storage === "local" && !workdir) throw new SettingsError("WORKDIR", env.WORKDIR ?? "", "the work directory (required with STORAGE=local)");

  const influxRaw = env.INFLUXDB_URL?.trim() || undefined;
  if (influxRaw !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(influxRaw);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== "http:" && u.protocol !== "https:") || u.pathname.replace(/\//g, "") === "") {
      throw new SettingsError("INFLUXDB_URL", influxRaw, "http(s)://host:port/database");
    }
  }

  const endpoint = endpointFromEnv(env);
  return {
    amqpUrl: env.AMQP_URL?.trim() || "amqp://localhost:5672",
    queue: env.AMQP_QUEUE?.trim() || "hyperflow.jobs",
    threads: int(env, "THREADS", cpuCount(), 1, 256),
    storage,
    bucket,
    s3Path,
    nfsMount,
    workdir,
    scratchDir: dir(env, "SCRATCH_DIR") ?? path.join(os.tmpdir(), "hflow-jobs"),
    stageCacheBytes: int(env, "STAGE_CACHE_MB", 1024, 0, 1 << 20) * 1024 * 1024,
    stageCacheDir: dir(env, "STAGE_CACHE_DIR") ?? path.join(os.tmpdir(), "hflow-stage-cache"),
    taskTimeoutMs: seconds(env, "TASK_TIMEOUT", 86_400, 0.1, 30 * 86_400),
    killGraceMs: seconds(env, "KILL_GRACE", 10, 0, 600),
    tailBytes: int(env, "OUTPUT_TAIL_BYTES", 8192, 0, 1 << 20),
    influxUrl: influxRaw,
    executorId: env.EXECUTOR_ID?.trim() || `${os.hostname()}-${process.pid}`,
    s3ForcePathStyle: flag(env, "S3_FORCE_PATH_STYLE", Boolean(endpoint)),
    featureDownload: flag(env, "FEATURE_DOWNLOAD", false),
    reconnectMaxMs: seconds(env, "AMQP_RECONNECT_MAX_DELAY", 30, 0.1, 600),
  };
}

/** Problem with an S3 key prefix taken from the environment or a message, or undefined when it is fine. */
export function keyPrefixProblem(prefix: string): string | undefined {
  if (prefix.length > 512) return "longer than 512 characters";
  if (prefix.startsWith("/")) return "starts with /";
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
  if (/[\u0000-\u001f\u007f]/.test(prefix)) return "contains control characters";
  if (prefix.split("/").some((seg) => seg === ".." || seg === ".")) return "contains a . or .. segment";
  return undefined;
}
