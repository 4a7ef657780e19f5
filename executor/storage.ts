/**
 * Where a job's files come from and go to, and the directory its process runs in.
 *
 * THE STORAGE DECISION (docs/design.md, "Task executor"): the worker's environment is authoritative.
 * The deployment set STORAGE, S3_BUCKET, S3_PATH, NFS_MOUNT and WORKDIR, and the worker's role (the ECS
 * task role) grants exactly that storage; a job message is data that went through the broker and could
 * come from any engine configuration. So a message's `options.storage`, `options.bucket` and any
 * credentials in it are ignored (one log line per job says what was ignored). What a message may still
 * say, because it cannot widen what the worker touches (its credentials are the task role's, which
 * allows only the buckets the deployment granted):
 *   - `options.bucket` and `options.prefix` (s3), each used only when the deployment did not set it
 *     (S3_BUCKET, S3_PATH): the runner stack grants the worker role its bucket but the worker task
 *     definition does not name it, and the per-run prefix is known only to the engine;
 *   - `options.workdir` (nfs, local): used only when it is the configured directory or inside it;
 *   - `options.procId`, `options.hfId`, `options.wfid`: labels for metrics.
 *
 * Upstream (hyperflow-wms/hyperflow-amqp-executor lib/hyperflow-amqp-executor/job.rb) did the opposite:
 * `@job.options.storage or settings.storage`, and cloud_storage.rb took bucket, prefix and even the
 * Fog credentials (`options.cloud_storage`) from the message.
 *
 * Kinds:
 *   - s3: per-job directory under SCRATCH_DIR; inputs downloaded from s3://S3_BUCKET/<prefix><name>,
 *     outputs uploaded to the same place; credentials from the AWS SDK's default chain only (the task
 *     role on ECS), never from the message;
 *   - nfs: per-job directory; inputs copied from the shared directory, outputs copied back (upstream
 *     nfs_storage.rb);
 *   - local: the process runs in the work directory itself, where the engine and the worker share the
 *     files (upstream local_storage.rb, and `storage: local` in config/schema.ts: "run in a shared
 *     directory"); inputs must be there, outputs must be there afterwards; nothing is copied.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { describeError } from "../runner/errors";
import type { StageCache } from "./cache";
import type { S3Objects } from "./s3-objects";
import { type Job, JobError, isObject, type Signal } from "./job";
import { keyPrefixProblem, type Settings, type StorageKind, storageKind } from "./settings";

export interface Storage {
  readonly kind: StorageKind;
  /** Where the files are, for logs and errors (s3://bucket/prefix, a directory). */
  readonly where: string;
  /** The directory the process runs in (made for per-job kinds). */
  prepare(jobId: string): Promise<string>;
  /** Brings every input into `dir`; returns the bytes. Throws JobError("stage_in"). */
  stageIn(inputs: readonly Signal[], dir: string): Promise<number>;
  /** Stores every output found in `dir`; returns the bytes. Throws JobError("stage_out"). */
  stageOut(outputs: readonly Signal[], dir: string): Promise<number>;
  /** Removes what `prepare` made. */
  cleanup(dir: string): Promise<void>;
  /** Inputs the last stageIn copied from the worker's stage cache instead of downloading (s3). */
  readonly cachedInputs?: number;
}

interface Resolved {
  readonly storage: Storage;
  /** Message options that were ignored, for the one log line. */
  readonly ignored: string[];
}

/** Options a message may carry that only label metrics. */
const LABEL_OPTIONS = new Set(["procId", "hfId", "wfid"]);

const CREDENTIAL_KEY = /(access.?key|secret|session.?token|security.?token|credential|password|passwd)/i;

/** Credentials in the message that are being ignored: option paths and env names. */
function credentialsIn(job: Pick<Job, "options" | "env">): string[] {
  const found: string[] = [];
  const walk = (v: unknown, at: string, depth: number) => {
    if (depth > 4 || !isObject(v)) return;
    for (const [k, x] of Object.entries(v)) {
      const here = at ? `${at}.${k}` : k;
      if (CREDENTIAL_KEY.test(k) && x !== undefined && x !== null && x !== "") found.push(`options.${here}`);
      else walk(x, here, depth + 1);
    }
  };
  walk(job.options, "", 0);
  for (const k of Object.keys(job.env)) if (AWS_CREDENTIAL_ENV.has(k)) found.push(`env.${k}`);
  return found;
}

/** AWS credential variables a message may not hand to a task (they would bypass the task role). */
export const AWS_CREDENTIAL_ENV = new Set(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"]);

/**
 * Applies the storage decision to one job (see the comment at the top of this file). `cache` is the
 * worker's stage cache (cache.ts) and `objects` the lean GET/PUT client for a bucket (s3-objects.ts;
 * undefined: the SDK for everything), both used by `s3` storage only.
 */
export function resolveStorage(
  settings: Settings,
  job: Job,
  s3: () => S3Client,
  cache?: StageCache,
  objects?: (bucket: string) => Promise<S3Objects | undefined>,
): Resolved {
  const o = job.options;
  const ignored: string[] = [];
  const safe = new Set<string>(LABEL_OPTIONS);
  const creds = credentialsIn(job);
  for (const c of creds) ignored.push(`${c} (credentials are never taken from job messages)`);

  if (o.container !== undefined && o.container !== null && o.container !== "") {
    throw new JobError(
      "config",
      `options.container=${JSON.stringify(o.container)}: running tasks in their own containers is not supported by this executor; run them inside the worker image`,
    );
  }
  if (o.storage !== undefined) {
    safe.add("storage");
    if (storageKind(o.storage) !== settings.storage) ignored.push(`storage=${JSON.stringify(o.storage)} (this worker's STORAGE is ${settings.storage})`);
  }

  let storage: Storage;
  if (settings.storage === "s3") {
    safe.add("bucket").add("prefix");
    let bucket = settings.bucket;
    if (bucket !== undefined) {
      if (o.bucket !== undefined && o.bucket !== bucket) ignored.push(`bucket=${JSON.stringify(o.bucket)} (S3_BUCKET is ${bucket})`);
    } else if (typeof o.bucket === "string" && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(o.bucket)) {
      bucket = o.bucket;
    } else if (o.bucket !== undefined && o.bucket !== null && o.bucket !== "") {
      throw new JobError("malformed", `malformed job message: options.bucket ${JSON.stringify(o.bucket)} is not an S3 bucket name`);
    } else {
      throw new JobError("config", "no bucket: the worker has no S3_BUCKET and the job message has no options.bucket");
    }
    let prefix = settings.s3Path ?? "";
    if (settings.s3Path !== undefined) {
      if (o.prefix !== undefined && o.prefix !== settings.s3Path)
        ignored.push(`prefix=${JSON.stringify(o.prefix)} (S3_PATH is ${JSON.stringify(settings.s3Path)})`);
    } else if (o.prefix !== undefined && o.prefix !== null && o.prefix !== "") {
      const problem = typeof o.prefix === "string" ? keyPrefixProblem(o.prefix) : "is not a string";
      if (problem) throw new JobError("malformed", `malformed job message: options.prefix ${JSON.stringify(o.prefix)} ${problem}`);
      prefix = o.prefix as string;
    }
    storage = new S3Storage(s3(), bucket, prefix, settings.scratchDir, cache, objects?.(bucket));
  } else {
    safe.add("workdir");
    const root = settings.storage === "nfs" ? settings.nfsMount! : settings.workdir!;
    const variable = settings.storage === "nfs" ? "NFS_MOUNT" : "WORKDIR";
    let dir = root;
    if (o.workdir !== undefined && o.workdir !== null && o.workdir !== "") {
      const wanted = typeof o.workdir === "string" && path.isAbsolute(o.workdir) ? path.resolve(o.workdir) : undefined;
      if (wanted !== undefined && (wanted === root || wanted.startsWith(root.endsWith("/") ? root : `${root}/`))) dir = wanted;
      else ignored.push(`workdir=${JSON.stringify(o.workdir)} (not inside ${variable}=${root})`);
    }
    storage = settings.storage === "nfs" ? new CopyStorage(dir, settings.scratchDir) : new InPlaceStorage(dir);
  }
  for (const k of Object.keys(o)) {
    if (!safe.has(k) && !creds.includes(`options.${k}`) && !creds.some((c) => c.startsWith(`options.${k}.`)))
      ignored.push(`${k} (not an option this executor reads)`);
  }
  return { storage, ignored };
}

async function makeJobDir(scratch: string, jobId: string): Promise<string> {
  await fs.promises.mkdir(scratch, { recursive: true });
  const safeId = jobId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64) || "job";
  return fs.promises.mkdtemp(path.join(scratch, `${safeId}-`));
}

/** Runs `fn` over `items` with at most `n` at once; the first failure wins after the others settle. */
async function eachLimit<T, R>(items: readonly T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length && firstError === undefined) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (e) {
        if (firstError === undefined) firstError = e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
  return results;
}

/** Distinct names: an input listed twice is fetched once. */
function names(signals: readonly Signal[]): string[] {
  return [...new Set(signals.map((s) => s.name))];
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const st = await fs.promises.stat(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** Files at most this large go up in one PutObject from memory (with Content-MD5); larger ones in parts. */
const SINGLE_PUT_BYTES = 8 * 1024 * 1024;
/** Transfers at once per job, each way (the S3 client keeps sockets open across jobs). */
export const STAGE_CONCURRENCY = 8;

/** HTTP status of an SDK error (304 Not Modified comes back as an error without a name of its own). */
function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/**
 * Per-job directory, files fetched from and stored to S3 with the default credential chain. With the
 * worker's stage cache (cache.ts), an input that this worker downloaded or uploaded before is
 * requested with If-None-Match and copied from the cache on 304; downloads and uploads are added to it.
 * GETs and single-part PUTs go through `objects` (s3-objects.ts) when it is given and supports the
 * bucket's endpoint, through the SDK otherwise; multipart uploads always through the SDK.
 */
class S3Storage implements Storage {
  readonly kind = "s3" as const;
  readonly where: string;
  /** Inputs of the last stageIn served from the cache. */
  cachedInputs = 0;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly scratch: string,
    private readonly cache?: StageCache,
    private readonly objects?: Promise<S3Objects | undefined>,
  ) {
    this.where = `s3://${bucket}/${prefix}`;
  }

  prepare(jobId: string): Promise<string> {
    return makeJobDir(this.scratch, jobId);
  }

  async stageIn(inputs: readonly Signal[], dir: string): Promise<number> {
    const sizes = await eachLimit(names(inputs), STAGE_CONCURRENCY, async (name) => {
      const key = this.prefix + name;
      const target = path.join(dir, name);
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      try {
        return await this.fetch(key, target, this.cache?.etag(this.bucket, key));
      } catch (e) {
        if (e instanceof JobError) throw e;
        const code = (e as { name?: string }).name;
        if (code === "NoSuchKey" || code === "NotFound" || statusOf(e) === 404) {
          await this.cache?.forget(this.bucket, key);
          throw new JobError("stage_in", `missing input ${name}: s3://${this.bucket}/${key} does not exist`);
        }
        throw new JobError("stage_in", `stage-in of ${name} from s3://${this.bucket}/${key} failed: ${describeError(e)}`);
      }
    });
    return sizes.reduce((a, b) => a + b, 0);
  }

  /** Downloads `key` to `target` (or copies the cached version `cachedEtag` when S3 says it is current); returns the size. */
  private async fetch(key: string, target: string, cachedEtag: string | undefined): Promise<number> {
    const objects = await this.objects;
    let got: { etag?: string; size: number; md5?: string } | undefined;
    if (objects) {
      const r = await objects.get(key, target, { ifNoneMatch: cachedEtag, hash: this.cache !== undefined });
      if (!r.notModified) got = r;
    } else {
      got = await this.fetchWithSdk(key, target, cachedEtag);
    }
    if (got === undefined) {
      const size = await this.cache!.copyTo(this.bucket, key, cachedEtag!, target);
      if (size !== undefined) {
        this.cachedInputs++;
        return size;
      }
      // The entry went away (evicted, or changed on disk): download unconditionally.
      return this.fetch(key, target, undefined);
    }
    if (this.cache && got.etag && got.md5) await this.cache.putFile(this.bucket, key, got.etag, target, got.size, got.md5);
    return got.size;
  }

  /** `fetch` through the SDK: undefined when S3 answered 304 to If-None-Match `cachedEtag`. */
  private async fetchWithSdk(key: string, target: string, cachedEtag: string | undefined): Promise<{ etag?: string; size: number; md5?: string } | undefined> {
    let res;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(cachedEtag ? { IfNoneMatch: cachedEtag } : {}) }));
    } catch (e) {
      if (cachedEtag !== undefined && statusOf(e) === 304) return undefined;
      throw e;
    }
    const hash = this.cache && res.ETag ? crypto.createHash("md5") : undefined;
    const body = res.Body as NodeJS.ReadableStream;
    if (hash) {
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(body, hashing, fs.createWriteStream(target));
    } else await pipeline(body, fs.createWriteStream(target));
    const size = (await sizeOf(target)) ?? 0;
    if (res.ContentLength !== undefined && size !== res.ContentLength)
      throw new JobError("stage_in", `stage-in of s3://${this.bucket}/${key} was cut short: ${size} of ${res.ContentLength} bytes`);
    return { etag: res.ETag, size, md5: hash?.digest("hex") };
  }

  async stageOut(outputs: readonly Signal[], dir: string): Promise<number> {
    // Every output must exist before the first upload, so a task that left one out writes nothing.
    const found = await Promise.all(names(outputs).map(async (name) => ({ name, size: await sizeOf(path.join(dir, name)) })));
    const missing = found.find((f) => f.size === undefined);
    if (missing) throw new JobError("stage_out", `output ${missing.name} was not produced by the task`);
    const sizes = await eachLimit(found, STAGE_CONCURRENCY, async ({ name, size = 0 }) => {
      const file = path.join(dir, name);
      const key = this.prefix + name;
      try {
        if (size <= SINGLE_PUT_BYTES) {
          // One request from memory, checked by S3 against Content-MD5; the same bytes go into the cache.
          const data = await fs.promises.readFile(file);
          const md5 = crypto.createHash("md5").update(data).digest();
          const objects = await this.objects;
          const etag = objects
            ? (await objects.put(key, data, md5)).etag
            : (
                await this.client.send(
                  new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentLength: data.length, ContentMD5: md5.toString("base64") }),
                )
              ).ETag;
          if (this.cache && etag) await this.cache.putBuffer(this.bucket, key, etag, data, md5.toString("hex"));
        } else {
          const done = await new Upload({
            client: this.client,
            params: { Bucket: this.bucket, Key: key, Body: fs.createReadStream(file, { highWaterMark: 1024 * 1024 }), ContentLength: size },
            partSize: SINGLE_PUT_BYTES,
            queueSize: 4,
            leavePartsOnError: false,
          }).done();
          if (this.cache && done.ETag) await this.cache.putFile(this.bucket, key, done.ETag, file, size);
        }
      } catch (e) {
        await this.cache?.forget(this.bucket, key);
        throw new JobError("stage_out", `stage-out of ${name} to s3://${this.bucket}/${key} failed: ${describeError(e)}`);
      }
      return size;
    });
    return sizes.reduce((a, b) => a + b, 0);
  }

  cleanup(dir: string): Promise<void> {
    return fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** Per-job directory, files copied from and to a shared directory (NFS). */
class CopyStorage implements Storage {
  readonly kind = "nfs" as const;

  constructor(
    readonly where: string,
    private readonly scratch: string,
  ) {}

  prepare(jobId: string): Promise<string> {
    return makeJobDir(this.scratch, jobId);
  }

  async stageIn(inputs: readonly Signal[], dir: string): Promise<number> {
    const sizes = await eachLimit(names(inputs), 4, async (name) => {
      const from = path.join(this.where, name);
      const size = await sizeOf(from);
      if (size === undefined) throw new JobError("stage_in", `missing input ${name}: ${from} does not exist`);
      const target = path.join(dir, name);
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      await copy(from, target, "stage_in");
      return size;
    });
    return sizes.reduce((a, b) => a + b, 0);
  }

  async stageOut(outputs: readonly Signal[], dir: string): Promise<number> {
    const sizes = await eachLimit(names(outputs), 4, async (name) => {
      const file = path.join(dir, name);
      const size = await sizeOf(file);
      if (size === undefined) throw new JobError("stage_out", `output ${name} was not produced by the task`);
      const target = path.join(this.where, name);
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      // Copy next to the target, then rename: readers of the shared directory never see half a file.
      const tmp = `${target}.hflow-${crypto.randomBytes(4).toString("hex")}`;
      await copy(file, tmp, "stage_out");
      await fs.promises.rename(tmp, target);
      return size;
    });
    return sizes.reduce((a, b) => a + b, 0);
  }

  cleanup(dir: string): Promise<void> {
    return fs.promises.rm(dir, { recursive: true, force: true });
  }
}

async function copy(from: string, to: string, stage: "stage_in" | "stage_out"): Promise<void> {
  try {
    await fs.promises.copyFile(from, to, fs.constants.COPYFILE_FICLONE);
  } catch (e) {
    throw new JobError(stage, `copying ${from} to ${to} failed: ${(e as Error).message}`);
  }
}

/** The process runs in the work directory itself; staging only checks that the files are there. */
class InPlaceStorage implements Storage {
  readonly kind = "local" as const;

  constructor(readonly where: string) {}

  async prepare(): Promise<string> {
    const st = await fs.promises.stat(this.where).catch(() => undefined);
    if (!st?.isDirectory()) throw new JobError("stage_in", `work directory ${this.where} does not exist`);
    return this.where;
  }

  async stageIn(inputs: readonly Signal[], dir: string): Promise<number> {
    let total = 0;
    for (const name of names(inputs)) {
      const size = await sizeOf(path.join(dir, name));
      if (size === undefined) throw new JobError("stage_in", `missing input ${name}: ${path.join(dir, name)} does not exist`);
      total += size;
    }
    return total;
  }

  async stageOut(outputs: readonly Signal[], dir: string): Promise<number> {
    let total = 0;
    for (const name of names(outputs)) {
      const size = await sizeOf(path.join(dir, name));
      if (size === undefined) throw new JobError("stage_out", `output ${name} was not produced by the task`);
      total += size;
    }
    return total;
  }

  async cleanup(): Promise<void> {
    /* the work directory is shared: nothing to remove */
  }
}
