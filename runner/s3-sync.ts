/**
 * Upload a set of local files to an S3 prefix, fast and verifiably. One run (SyncRun) goes:
 * 1. abort leftovers: multipart uploads of its files that an interrupted earlier run left behind are
 *    aborted (so parts do not keep costing storage); they are listed before the run starts its own.
 *    One uploader per prefix at a time.
 * 2. transfer, with bounded concurrency: a file whose content is already there is skipped (ETag = MD5,
 *    or the multipart form for our part size); files up to one part go in one PUT with Content-MD5 (the
 *    server checks the bytes; small ones buffered, bigger ones streamed), larger files as streamed
 *    multipart uploads (memory bounded by part size × queue, not file size). The SDK retries each
 *    request (throttling, 5xx, dropped connections), and each file is tried again with backoff; a re-run
 *    after an interruption uploads only what is still missing.
 * 3. delete orphans: remote objects under the prefix without a local file, only with `delete`.
 * 4. verify: list the prefix again and compare every file's ETag and size.
 * `dryRun` changes nothing (no aborts, uploads or deletes).
 *
 * Outage bound: every request attempt reports to one EndpointHealth (endpoint-health.ts). When the
 * endpoint has not answered for `outageSeconds` since a failure, the run aborts everything in flight and
 * throws EndpointOutageError (exit 75). Multipart uploads cut off then are aborted by the next run (step 1),
 * which uploads only what is missing. While it waits, the progress display says so and why.
 */
import { setMaxListeners } from "node:events";
import * as fs from "node:fs";
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import pLimit from "p-limit";
import { ExitCode, HflowError, UsageError } from "../common/errors";
import { KEY_PREFIX, ruleMessage } from "../constructs/core/rules";
import { etagMatches, type Fingerprint, fingerprintBuffer, fingerprintFile } from "./etag";
import { DEFAULT_OUTAGE_SECONDS, EndpointHealth, type EndpointOutageError } from "./endpoint-health";
import { describeError, isRetryable } from "./errors";
import { FastPut } from "./fast-put";
import { type FileStat, HashCache } from "./hash-cache";
import { silentProgress, type SyncProgress } from "./progress";

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** Defaults of SyncOptions (each is documented there). */
export const SYNC_DEFAULTS = {
  concurrency: 16,
  partSize: DEFAULT_PART_SIZE,
  queueSize: 4,
  largeConcurrency: 2,
  attempts: 6,
  lean: true,
  backoffMs: 500,
  outageSeconds: DEFAULT_OUTAGE_SECONDS,
} as const;
/** Files below this are read into memory once (hash and body); larger ones are streamed twice. */
const BUFFER_LIMIT = 1024 * 1024;
/** Object metadata with the content's MD5, for stores whose ETag is not one (SSE-KMS, SSE-C). */
const MD5_METADATA = "hflow-md5";
/** S3 allows 10,000 parts; very large files get bigger parts (the same size on every run). */
export function partSizeFor(size: number, base: number): number {
  const MiB = 1024 * 1024;
  return Math.max(base, Math.ceil(size / 9_000 / MiB) * MiB);
}

/**
 * HTTP sockets an upload may keep open, for the SDK client's agent and the lean PUT path alike (the CLI
 * sizes its client with this, the run its lean path): two per file in flight (headroom for a HEAD or a
 * retry next to its PUT) plus one per multipart part in flight (large files at once × parts per file).
 */
export function maxSocketsFor(o: Pick<SyncOptions, "concurrency" | "largeConcurrency" | "queueSize"> = {}): number {
  const d = SYNC_DEFAULTS;
  return (o.concurrency ?? d.concurrency) * 2 + (o.largeConcurrency ?? d.largeConcurrency) * (o.queueSize ?? d.queueSize);
}

export interface SyncFile {
  /** Key below the prefix, `/`-separated (e.g. `input/a.fits`). */
  readonly relative: string;
  readonly absolute: string;
  readonly size: number;
}

interface SyncOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix; a trailing `/` is added when missing. @default "" (bucket root) */
  readonly prefix?: string;
  readonly files: readonly SyncFile[];
  /** Files handled at once. @default 16 */
  readonly concurrency?: number;
  /** Multipart part size (also the threshold for multipart). @default 8 MiB */
  readonly partSize?: number;
  /** Parts of one file in flight. @default 4 */
  readonly queueSize?: number;
  /** Large files in flight at once (bounds memory: this × queueSize × partSize). @default 2 */
  readonly largeConcurrency?: number;
  /** Attempts per file (on top of the SDK's own retries for listing and multipart). @default 6 */
  readonly attempts?: number;
  /**
   * Single-part uploads through the lean signed-HTTP path (FastPut) instead of the SDK's PutObject:
   * same endpoint, identity and integrity check, a fraction of the CPU per request. @default true
   */
  readonly lean?: boolean;
  /** First backoff between file attempts, doubled each time (with jitter). @default 500 ms */
  readonly backoffMs?: number;
  /**
   * Stop the whole run when the endpoint has not answered for this long after a failure (0: never).
   * @default 90 (DEFAULT_OUTAGE_SECONDS)
   */
  readonly outageSeconds?: number;
  /** Delete remote objects under the prefix that have no local file. @default false */
  readonly delete?: boolean;
  /** Report what would happen; upload and delete nothing. @default false */
  readonly dryRun?: boolean;
  readonly progress?: SyncProgress;
  readonly signal?: AbortSignal;
  /** Fingerprints of unchanged files from earlier runs (see hash-cache.ts). @default - every file is hashed */
  readonly cache?: HashCache;
}

interface SyncFailure {
  readonly key: string;
  readonly error: string;
}

export interface SyncResult {
  readonly bucket: string;
  readonly prefix: string;
  readonly files: number;
  readonly uploaded: number;
  readonly skipped: number;
  readonly deleted: number;
  readonly bytesUploaded: number;
  readonly bytesSkipped: number;
  readonly failed: readonly SyncFailure[];
  /** Every local file present remotely with matching ETag and size after the run (false on dry runs). */
  readonly verified: boolean;
  readonly dryRun: boolean;
  readonly seconds: number;
  /** Files read and hashed in this run (the others had a valid cached fingerprint). */
  readonly hashed: number;
  /** Multipart uploads left by an earlier, interrupted run that were aborted. */
  readonly abortedUploads: number;
  /** Keys that would be uploaded / deleted (dry run) or were. */
  readonly uploadedKeys: readonly string[];
  readonly deletedKeys: readonly string[];
}

interface RemoteObject {
  readonly etag: string;
  readonly size: number;
}

function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? "").replace(/^\/+/, "");
  return p === "" || p.endsWith("/") ? p : `${p}/`;
}

/** Every object under a prefix: key → ETag and size. */
export async function listRemote(client: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<Map<string, RemoteObject>> {
  const out = new Map<string, RemoteObject>();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
    for (const o of page.Contents ?? []) if (o.Key) out.set(o.Key, { etag: o.ETag ?? "", size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

interface PendingUpload {
  readonly key: string;
  readonly uploadId: string;
}

/**
 * In-progress multipart uploads for the given keys. Listed before this run starts any multipart upload,
 * so everything found is a leftover of an earlier, interrupted run (no clocks compared). Best effort:
 * stores without ListMultipartUploads yield none.
 */
async function listPendingUploads(client: S3Client, bucket: string, prefix: string, keys: ReadonlySet<string>, signal?: AbortSignal): Promise<PendingUpload[]> {
  const out: PendingUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  try {
    do {
      const page = await client.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        { abortSignal: signal },
      );
      for (const u of page.Uploads ?? []) if (u.Key && u.UploadId && keys.has(u.Key)) out.push({ key: u.Key, uploadId: u.UploadId });
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
  } catch {
    /* listing multipart uploads is optional for S3-compatible stores */
  }
  return out;
}

/** Aborts the given uploads; one that is already gone does not stop the others. Returns how many went. */
async function abortUploads(client: S3Client, bucket: string, uploads: readonly PendingUpload[], signal?: AbortSignal): Promise<number> {
  let aborted = 0;
  for (const u of uploads) {
    try {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId }), { abortSignal: signal });
      aborted++;
    } catch {
      /* already gone (lifecycle rule, another run) */
    }
  }
  return aborted;
}

/** Waits `ms`, or less when the signal aborts (the loop that sleeps then sees the abort). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** What is wrong with a key prefix as given (before normalizing: a missing trailing `/` is added), or undefined. */
export function prefixProblem(prefix: string | undefined): string | undefined {
  return ruleMessage(KEY_PREFIX, normalizePrefix(prefix));
}

let runs = 0;

export async function syncToS3(o: SyncOptions): Promise<SyncResult> {
  // Checked before the run starts its listings: a bad prefix never reaches the bucket.
  const problem = prefixProblem(o.prefix);
  if (problem) throw new UsageError(`prefix ${JSON.stringify(o.prefix)} ${problem}`);
  return new SyncRun(o).run();
}

/** SyncOptions with every default applied. */
interface Settings {
  readonly client: S3Client;
  readonly bucket: string;
  /** Normalized: "" or ending in "/". */
  readonly prefix: string;
  readonly files: readonly SyncFile[];
  readonly concurrency: number;
  readonly partSize: number;
  readonly queueSize: number;
  readonly largeConcurrency: number;
  readonly attempts: number;
  readonly lean: boolean;
  readonly backoffMs: number;
  readonly outageMs: number;
  readonly delete: boolean;
  readonly dryRun: boolean;
  readonly progress: SyncProgress;
  readonly signal?: AbortSignal;
  readonly cache?: HashCache;
}

function settings(o: SyncOptions, stop: AbortSignal): Settings {
  const d = SYNC_DEFAULTS;
  // The caller's signal, and the run's own (the outage bound). Every request in flight listens to it: no
  // listener limit (Node warns above 10 listeners on one EventTarget).
  const signal = o.signal ? AbortSignal.any([o.signal, stop]) : stop;
  setMaxListeners(0, signal);
  return {
    ...o,
    signal,
    outageMs: (o.outageSeconds ?? d.outageSeconds) * 1000,
    prefix: normalizePrefix(o.prefix),
    concurrency: o.concurrency ?? d.concurrency,
    partSize: o.partSize ?? d.partSize,
    queueSize: o.queueSize ?? d.queueSize,
    largeConcurrency: o.largeConcurrency ?? d.largeConcurrency,
    attempts: o.attempts ?? d.attempts,
    lean: o.lean ?? d.lean,
    backoffMs: o.backoffMs ?? d.backoffMs,
    delete: o.delete ?? false,
    dryRun: o.dryRun ?? false,
    progress: o.progress ?? silentProgress,
  };
}

/** One local file in this run: its key and the part size its fingerprint (and multipart upload) use. */
interface FileTask {
  readonly file: SyncFile;
  readonly key: string;
  /** More than one part: a streamed multipart upload, at most `largeConcurrency` at a time. */
  readonly large: boolean;
  readonly partSize: number;
}

/**
 * One upload run, in the steps of this file's header: abort leftovers → transfer → delete orphans →
 * verify (`run()` takes them in that order). Creating the run starts its two listings: the prefix's
 * objects (compared while the first files are still being read and hashed) and the multipart uploads
 * an interrupted earlier run left behind (listed before any multipart upload of ours starts).
 */
class SyncRun {
  private readonly s: Settings;
  private readonly started = Date.now();
  private readonly localKeys: ReadonlySet<string>;
  /** Every object under the prefix at the start, or why it could not be listed. */
  private readonly listing: Promise<Map<string, RemoteObject> | S3CallError>;
  /** Multipart uploads of our keys left by an earlier run; large files wait for this list. */
  private readonly leftovers: Promise<PendingUpload[]>;
  private readonly largeLimit: ReturnType<typeof pLimit>;
  /** Fingerprint of every file compared, for the verification at the end. */
  private readonly fingerprints = new Map<string, Fingerprint>();
  /** Single-part uploads through the lean signed-HTTP path, while transferring. */
  private fast?: FastPut;
  // What happened so far; becomes the result.
  private readonly uploadedKeys: string[] = [];
  private readonly failed: SyncFailure[] = [];
  private bytesUploaded = 0;
  private bytesSkipped = 0;
  private skipped = 0;
  private hashed = 0;
  /** Aborted when the endpoint has been down for the bound. */
  private readonly stop = new AbortController();
  private readonly health: EndpointHealth;
  private outage?: EndpointOutageError;
  private progressStopped = false;
  /** Name of this run's middleware on the client (it reports every SDK request attempt to `health`). */
  private readonly middleware = `hflowEndpointHealth${++runs}`;

  constructor(o: SyncOptions) {
    const s = (this.s = settings(o, this.stop.signal));
    this.health = new EndpointHealth(s.outageMs, (state) => s.progress.waiting?.(state));
    // Per attempt: the deserialize step runs inside the SDK's retry loop.
    s.client.middlewareStack.add(
      (next) => async (args) => {
        try {
          const out = await next(args);
          this.health.ok();
          return out;
        } catch (e) {
          this.health.report(e);
          throw e;
        }
      },
      { step: "deserialize", name: this.middleware },
    );
    this.localKeys = new Set(s.files.map((f) => s.prefix + f.relative));
    this.listing = listRemote(s.client, s.bucket, s.prefix, s.signal).catch((e: unknown) => new S3CallError(`cannot list s3://${s.bucket}/${s.prefix}`, e));
    this.leftovers = s.dryRun ? Promise.resolve([]) : listPendingUploads(s.client, s.bucket, s.prefix, this.localKeys, s.signal);
    this.largeLimit = pLimit(s.largeConcurrency);
  }

  async run(): Promise<SyncResult> {
    // The bound: checked a few times a second; the waiting line is refreshed with it.
    const watchdog = setInterval(() => {
      const state = this.health.state();
      if (state) this.s.progress.waiting?.(state);
      const outage = this.s.outageMs > 0 ? this.health.outage() : undefined;
      if (outage && !this.outage) {
        this.outage = outage;
        this.stop.abort(outage);
      }
    }, 250);
    watchdog.unref();
    try {
      return await this.steps();
    } catch (e) {
      throw this.outage ?? e;
    } finally {
      clearInterval(watchdog);
      this.s.client.middlewareStack.remove(this.middleware);
      if (this.outage && !this.progressStopped) this.s.progress.stop();
    }
  }

  private async steps(): Promise<SyncResult> {
    const { files, progress, dryRun } = this.s;
    progress.start(
      files.length,
      files.reduce((n, f) => n + f.size, 0),
    );
    const aborting = this.abortLeftovers();
    await this.transfer();
    if (this.outage) throw this.outage;
    const remote = await this.remoteObjects();
    const abortedUploads = await aborting;
    const deletedKeys = await this.deleteOrphans(remote);
    progress.stop();
    this.progressStopped = true;
    const verified = await this.verify(deletedKeys);
    if (this.outage) throw this.outage;
    return {
      bucket: this.s.bucket,
      prefix: this.s.prefix,
      files: files.length,
      uploaded: this.uploadedKeys.length,
      skipped: this.skipped,
      deleted: dryRun ? 0 : deletedKeys.length,
      bytesUploaded: this.bytesUploaded,
      bytesSkipped: this.bytesSkipped,
      failed: this.failed,
      verified,
      dryRun,
      seconds: (Date.now() - this.started) / 1000,
      hashed: this.hashed,
      abortedUploads,
      uploadedKeys: this.uploadedKeys.sort(),
      deletedKeys,
    };
  }

  /**
   * Aborts the multipart uploads an interrupted earlier run left behind for our keys (so their parts stop
   * costing storage), alongside the transfer. Resolves with how many went.
   */
  abortLeftovers(): Promise<number> {
    return this.leftovers.then((list) => abortUploads(this.s.client, this.s.bucket, list, this.s.signal));
  }

  /**
   * Every file, `concurrency` at a time: compared with the remote object by content, uploaded when it
   * differs, tried again with backoff on retryable errors. A failed listing stops the transfer (nothing
   * can be compared); a file that fails every attempt is recorded and the others go on.
   */
  async transfer(): Promise<void> {
    const { client, concurrency, files, lean, dryRun, cache } = this.s;
    this.fast = !lean || dryRun ? undefined : FastPut.from(client, maxSocketsFor(this.s));
    const limit = pLimit(concurrency);
    try {
      await Promise.all(files.map((f) => limit(() => this.transferFile(f))));
    } finally {
      this.fast?.destroy();
      this.fast = undefined;
      cache?.save();
    }
  }

  /** With `delete`: removes (or, on a dry run, only lists) remote objects under the prefix that have no local file. */
  async deleteOrphans(remote: ReadonlyMap<string, RemoteObject>): Promise<string[]> {
    const { client, bucket, signal, dryRun } = this.s;
    const orphans = this.s.delete ? [...remote.keys()].filter((k) => !this.localKeys.has(k)).sort() : [];
    if (orphans.length > 0 && !dryRun) {
      for (let i = 0; i < orphans.length; i += 1000) {
        const batch = orphans.slice(i, i + 1000);
        const r = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }), {
          abortSignal: signal,
        });
        for (const e of r.Errors ?? []) this.failed.push({ key: e.Key ?? "?", error: `delete failed: ${e.Code ?? ""} ${e.Message ?? ""}`.trim() });
      }
    }
    return orphans;
  }

  /**
   * Whether every local file is now in the bucket with matching size and content (false on dry runs):
   * a fresh listing compared file by file; every mismatch is recorded as a failure.
   */
  async verify(deletedKeys: readonly string[]): Promise<boolean> {
    const { client, bucket, prefix, signal, files, dryRun } = this.s;
    if (dryRun) return false;
    // Nothing changed since the listing at the start, where every file matched in size and ETag.
    if (this.uploadedKeys.length === 0 && deletedKeys.length === 0 && this.failed.length === 0) return true;
    const after = await listRemote(client, bucket, prefix, signal).catch((e) => {
      this.failed.push({ key: prefix, error: `verification listing failed: ${describeError(e)}` });
      return new Map<string, RemoteObject>();
    });
    const failedKeys = new Set(this.failed.map((x) => x.key));
    for (const f of files) {
      const key = prefix + f.relative;
      if (failedKeys.has(key)) continue;
      const r = after.get(key);
      const fp = this.fingerprints.get(key);
      if (!r) this.failed.push({ key, error: "missing after upload" });
      else if (r.size !== f.size) this.failed.push({ key, error: `size ${r.size} after upload, local ${f.size}` });
      else if (fp && !(await this.sameContent(key, r, f.size, fp)))
        this.failed.push({ key, error: `ETag ${r.etag} after upload does not match the local content` });
    }
    return this.failed.length === 0;
  }

  private async remoteObjects(): Promise<Map<string, RemoteObject>> {
    const r = await this.listing;
    if (r instanceof S3CallError) throw r;
    return r;
  }

  private taskFor(file: SyncFile): FileTask {
    const large = file.size > this.s.partSize;
    return { file, key: this.s.prefix + file.relative, large, partSize: large ? partSizeFor(file.size, this.s.partSize) : this.s.partSize };
  }

  /** One file with its attempts; counts it as uploaded, skipped or failed. */
  private async transferFile(f: SyncFile): Promise<void> {
    const { attempts, backoffMs, signal, progress } = this.s;
    const t = this.taskFor(f);
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (signal?.aborted) throw signal.reason ?? new Error("aborted");
      try {
        const moved = t.large
          ? await this.largeLimit(async () => {
              await this.leftovers;
              return this.uploadLarge(t);
            })
          : await this.uploadSingle(t);
        if (moved) {
          this.uploadedKeys.push(t.key);
          this.bytesUploaded += f.size;
        } else {
          this.skipped++;
          this.bytesSkipped += f.size;
        }
        progress.fileDone(f.size);
        return;
      } catch (e) {
        if (e instanceof S3CallError) throw e; // the listing failed: nothing can be compared
        lastError = e;
        if (signal?.aborted || !isRetryable(e)) break; // AccessDenied, NoSuchBucket…: trying again changes nothing
        if (attempt < attempts) await sleep(backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random()), signal);
      }
    }
    this.failed.push({ key: t.key, error: describeError(lastError) });
    progress.fileDone(0);
  }

  /**
   * The file's fingerprint (from the cache when it vouches for the file, else `compute`d and cached), and
   * whether the remote object already holds that content.
   */
  private async compare(t: FileTask, compute: () => Promise<Fingerprint>): Promise<{ fp: Fingerprint; same: boolean }> {
    const { cache } = this.s;
    const st: FileStat | undefined = cache ? HashCache.stat(t.file.absolute) : undefined;
    let fp = st ? cache!.get(t.file.absolute, st, t.partSize) : undefined;
    if (!fp) {
      this.hashed++;
      fp = await compute();
      if (st) cache!.set(t.file.absolute, st, t.partSize, fp);
    }
    this.fingerprints.set(t.key, fp);
    const remote = (await this.remoteObjects()).get(t.key);
    return { fp, same: await this.sameContent(t.key, remote, t.file.size, fp) };
  }

  /** Does the remote object hold this content? ETag first; the MD5 in its metadata when the ETag is no MD5. */
  private async sameContent(key: string, remote: RemoteObject | undefined, size: number, fp: Fingerprint): Promise<boolean> {
    if (!remote || remote.size !== size) return false;
    if (etagMatches(remote.etag, fp)) return true;
    try {
      const head = await this.s.client.send(new HeadObjectCommand({ Bucket: this.s.bucket, Key: key }), { abortSignal: this.s.signal });
      return head.Metadata?.[MD5_METADATA] === fp.md5;
    } catch {
      return false;
    }
  }

  /**
   * A file of at most one part: compare its MD5 with the remote ETag, then one PUT with Content-MD5.
   * Below BUFFER_LIMIT it is read once into memory; above it is hashed and sent as streams, so memory does
   * not grow with file size. Returns whether it was (or, on a dry run, would be) uploaded.
   */
  private async uploadSingle(t: FileTask): Promise<boolean> {
    const f = t.file;
    let data: Buffer | undefined;
    const { fp, same } = await this.compare(t, async () => {
      if (f.size >= BUFFER_LIMIT) return fingerprintFile(f.absolute, t.partSize);
      data = await readWhole(f);
      return fingerprintBuffer(data, t.partSize);
    });
    if (same) return false;
    if (this.s.dryRun) return true;
    const body = data ?? (f.size < BUFFER_LIMIT ? await readWhole(f) : () => fs.createReadStream(f.absolute, { highWaterMark: 256 * 1024 }));
    // If the file changes between hashing and sending, S3 rejects the body (BadDigest) and the file is retried.
    await this.put(t, body, fp.md5);
    return true;
  }

  /** One PUT with Content-MD5: the lean path when there is one, else the SDK. */
  private async put(t: FileTask, body: Buffer | (() => fs.ReadStream), md5: string): Promise<void> {
    const { client, bucket, signal } = this.s;
    if (this.fast) {
      let sent: boolean;
      try {
        sent = await this.fast.put(bucket, t.key, body, t.file.size, md5, { [MD5_METADATA]: md5 }, signal);
        if (sent) this.health.ok();
      } catch (e) {
        this.health.report(e);
        throw e;
      }
      if (sent) return;
    }
    // The SDK retries a request with the same body: give it bytes, not a stream it would drain once.
    const bytes = Buffer.isBuffer(body) ? body : await fs.promises.readFile(t.file.absolute);
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: t.key,
        Body: bytes,
        ContentLength: t.file.size,
        ContentMD5: Buffer.from(md5, "hex").toString("base64"),
        Metadata: { [MD5_METADATA]: md5 },
      }),
      { abortSignal: signal },
    );
  }

  /** Large file: fingerprint by streaming, then a streamed multipart upload with its part size. */
  private async uploadLarge(t: FileTask): Promise<boolean> {
    const { client, bucket, queueSize, signal, progress } = this.s;
    const f = t.file;
    const { fp, same } = await this.compare(t, () => fingerprintFile(f.absolute, t.partSize));
    if (same) return false;
    if (this.s.dryRun) return true;
    const upload = new Upload({
      client,
      params: {
        Bucket: bucket,
        Key: t.key,
        Body: fs.createReadStream(f.absolute, { highWaterMark: 1024 * 1024 }),
        ContentLength: f.size,
        Metadata: { [MD5_METADATA]: fp.md5 },
      },
      partSize: t.partSize,
      queueSize,
      leavePartsOnError: false,
      abortController: signal ? abortControllerFor(signal) : undefined,
    });
    let reported = 0;
    upload.on("httpUploadProgress", (p) => {
      const loaded = p.loaded ?? 0;
      if (loaded > reported) {
        this.health.ok(); // parts are arriving
        progress.bytesMoved(loaded - reported);
        reported = loaded;
      }
    });
    try {
      await upload.done();
    } finally {
      progress.settleInflight(reported);
    }
    return true;
  }
}

async function readWhole(f: SyncFile): Promise<Buffer> {
  const data = await fs.promises.readFile(f.absolute);
  if (data.length !== f.size) throw new Error(`${f.relative} changed while uploading (size ${f.size} → ${data.length})`);
  return data;
}

function abortControllerFor(signal: AbortSignal): AbortController {
  const c = new AbortController();
  if (signal.aborted) c.abort(signal.reason);
  else signal.addEventListener("abort", () => c.abort(signal.reason), { once: true });
  return c;
}

/** An S3 call that failed before any file was handled (listing, deleting): says which call. */
export class S3CallError extends HflowError {
  readonly exitCode = ExitCode.failed;
  constructor(what: string, cause: unknown) {
    super(`${what}: ${describeError(cause)}`);
    this.name = "S3CallError";
  }
}
