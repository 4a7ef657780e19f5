/**
 * Upload a set of local files to an S3 prefix, fast and verifiably:
 * - bounded concurrency; files up to one part in one PUT with Content-MD5 (the server checks the bytes;
 *   small ones buffered, bigger ones streamed), larger files as streamed multipart uploads (memory bounded by part size × queue, not file size);
 * - skips files whose content is already there (ETag = MD5, or the multipart form for our part size);
 * - retries: the SDK retries each request (throttling, 5xx, dropped connections), and each file is
 *   tried again with backoff; a re-run after an interruption uploads only what is still missing;
 * - verifies at the end by listing the prefix and comparing every file's ETag and size;
 * - deletes remote objects only with `delete`; `dryRun` changes nothing;
 * - aborts multipart uploads of its files that an interrupted earlier run left behind (so parts do not
 *   keep costing storage), listed before it starts its own. One uploader per prefix at a time.
 */
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
import { ExitCode, HflowError } from "../common/errors";
import { etagMatches, type Fingerprint, fingerprintBuffer, fingerprintFile } from "./etag";
import { describeError, isRetryable } from "./errors";
import { FastPut } from "./fast-put";
import { type FileStat, HashCache } from "./hash-cache";
import { silentProgress, type SyncProgress } from "./progress";

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** Files below this are read into memory once (hash and body); larger ones are streamed twice. */
export const BUFFER_LIMIT = 1024 * 1024;
/** Object metadata with the content's MD5, for stores whose ETag is not one (SSE-KMS, SSE-C). */
export const MD5_METADATA = "hflow-md5";
/** S3 allows 10,000 parts; very large files get bigger parts (the same size on every run). */
export function partSizeFor(size: number, base: number): number {
  const MiB = 1024 * 1024;
  return Math.max(base, Math.ceil(size / 9_000 / MiB) * MiB);
}

export interface SyncFile {
  /** Key below the prefix, `/`-separated (e.g. `input/a.fits`). */
  readonly relative: string;
  readonly absolute: string;
  readonly size: number;
}

export interface SyncOptions {
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
  /** Delete remote objects under the prefix that have no local file. @default false */
  readonly delete?: boolean;
  /** Report what would happen; upload and delete nothing. @default false */
  readonly dryRun?: boolean;
  readonly progress?: SyncProgress;
  readonly signal?: AbortSignal;
  /** Fingerprints of unchanged files from earlier runs (see hash-cache.ts). @default - every file is hashed */
  readonly cache?: HashCache;
}

export interface SyncFailure {
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

export interface RemoteObject {
  readonly etag: string;
  readonly size: number;
}

export function normalizePrefix(prefix: string | undefined): string {
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

export interface PendingUpload {
  readonly key: string;
  readonly uploadId: string;
}

/**
 * In-progress multipart uploads for the given keys. Listed before this run starts any multipart upload,
 * so everything found is a leftover of an earlier, interrupted run (no clocks compared). Best effort:
 * stores without ListMultipartUploads yield none.
 */
export async function listPendingUploads(client: S3Client, bucket: string, prefix: string, keys: ReadonlySet<string>, signal?: AbortSignal): Promise<PendingUpload[]> {
  const out: PendingUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  try {
    do {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }), { abortSignal: signal });
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
export async function abortUploads(client: S3Client, bucket: string, uploads: readonly PendingUpload[], signal?: AbortSignal): Promise<number> {
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function syncToS3(o: SyncOptions): Promise<SyncResult> {
  const started = Date.now();
  const prefix = normalizePrefix(o.prefix);
  const partSize = o.partSize ?? DEFAULT_PART_SIZE;
  const attempts = o.attempts ?? 6;
  const backoff = o.backoffMs ?? 500;
  const progress = o.progress ?? silentProgress;
  const limit = pLimit(o.concurrency ?? 16);
  const largeLimit = pLimit(o.largeConcurrency ?? 2);
  const dryRun = o.dryRun ?? false;

  // The listing runs while the first files are read and hashed; a file waits for it only to compare.
  const listing = listRemote(o.client, o.bucket, prefix, o.signal).then(
    (m) => ({ m }),
    (e: unknown) => ({ e: new S3CallError(`cannot list s3://${o.bucket}/${prefix}`, e) }),
  );
  const remoteOf = async (key: string): Promise<RemoteObject | undefined> => {
    const r = await listing;
    if ("e" in r) throw r.e;
    return r.m.get(key);
  };
  const localKeys = new Set(o.files.map((f) => prefix + f.relative));
  // Leftover multipart uploads are listed before any of ours starts (uploadLarge waits for the list).
  const pending = dryRun ? Promise.resolve([]) : listPendingUploads(o.client, o.bucket, prefix, localKeys, o.signal);
  const stale = pending.then((list) => abortUploads(o.client, o.bucket, list, o.signal));
  const totalBytes = o.files.reduce((n, f) => n + f.size, 0);
  progress.start(o.files.length, totalBytes);

  const fingerprints = new Map<string, Fingerprint>();
  const fast = o.lean === false || dryRun || !FastPut.supported() ? undefined : await FastPut.from(o.client, (o.concurrency ?? 16) * 2 + 8);
  const put = async (key: string, body: Buffer | (() => fs.ReadStream), size: number, md5: string, file: string) => {
    if (fast) return fast.put(o.bucket, key, body, size, md5, { [MD5_METADATA]: md5 }, o.signal);
    // The SDK retries a request with the same body: give it bytes, not a stream it would drain once.
    const bytes = Buffer.isBuffer(body) ? body : await fs.promises.readFile(file);
    return o.client.send(
      new PutObjectCommand({ Bucket: o.bucket, Key: key, Body: bytes, ContentLength: size, ContentMD5: Buffer.from(md5, "hex").toString("base64"), Metadata: { [MD5_METADATA]: md5 } }),
      { abortSignal: o.signal },
    );
  };
  // Does the remote object hold this content? ETag first; the MD5 in its metadata when the ETag is no MD5.
  const sameContent = async (key: string, remote: RemoteObject | undefined, size: number, fp: Fingerprint): Promise<boolean> => {
    if (!remote || remote.size !== size) return false;
    if (etagMatches(remote.etag, fp)) return true;
    try {
      const head = await o.client.send(new HeadObjectCommand({ Bucket: o.bucket, Key: key }), { abortSignal: o.signal });
      return head.Metadata?.[MD5_METADATA] === fp.md5;
    } catch {
      return false;
    }
  };
  const uploadedKeys: string[] = [];
  const failed: SyncFailure[] = [];
  let bytesUploaded = 0;
  let bytesSkipped = 0;
  let skipped = 0;
  const hashes = { count: 0 };
  const ctx: RunContext = { o, dryRun, progress, remoteOf, sameContent, put, fingerprints, hashes };

  const handle = async (f: SyncFile) => {
    const key = prefix + f.relative;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error("aborted");
      try {
        const moved =
          f.size > partSize
            ? await largeLimit(async () => {
                await pending;
                return uploadLarge(ctx, key, f, partSizeFor(f.size, partSize));
              })
            : await uploadSingle(ctx, key, f, partSize);
        if (moved) {
          uploadedKeys.push(key);
          bytesUploaded += f.size;
        } else {
          skipped++;
          bytesSkipped += f.size;
        }
        progress.fileDone(f.size);
        return;
      } catch (e) {
        if (e instanceof S3CallError) throw e; // the listing failed: nothing can be compared
        lastError = e;
        if (o.signal?.aborted || !isRetryable(e)) break; // AccessDenied, NoSuchBucket…: trying again changes nothing
        if (attempt < attempts) await sleep(backoff * 2 ** (attempt - 1) * (0.5 + Math.random()));
      }
    }
    failed.push({ key, error: describeError(lastError) });
    progress.fileDone(0);
  };
  try {
    await Promise.all(o.files.map((f) => limit(() => handle(f))));
  } finally {
    fast?.destroy();
    o.cache?.save();
  }
  const listed = await listing;
  if ("e" in listed) throw listed.e;
  const remote = listed.m;
  const abortedUploads = await stale;

  const deletedKeys = o.delete ? [...remote.keys()].filter((k) => !localKeys.has(k)).sort() : [];
  if (deletedKeys.length > 0 && !dryRun) {
    for (let i = 0; i < deletedKeys.length; i += 1000) {
      const batch = deletedKeys.slice(i, i + 1000);
      const r = await o.client.send(new DeleteObjectsCommand({ Bucket: o.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }), { abortSignal: o.signal });
      for (const e of r.Errors ?? []) failed.push({ key: e.Key ?? "?", error: `delete failed: ${e.Code ?? ""} ${e.Message ?? ""}`.trim() });
    }
  }
  progress.stop();

  let verified = false;
  if (!dryRun && uploadedKeys.length === 0 && deletedKeys.length === 0 && failed.length === 0) {
    // Nothing changed since the listing at the start, where every file matched in size and ETag.
    verified = true;
  } else if (!dryRun) {
    const after = await listRemote(o.client, o.bucket, prefix, o.signal).catch((e) => {
      failed.push({ key: prefix, error: `verification listing failed: ${describeError(e)}` });
      return new Map<string, RemoteObject>();
    });
    const failedKeys = new Set(failed.map((x) => x.key));
    for (const f of o.files) {
      const key = prefix + f.relative;
      if (failedKeys.has(key)) continue;
      const r = after.get(key);
      const fp = fingerprints.get(key);
      if (!r) failed.push({ key, error: "missing after upload" });
      else if (r.size !== f.size) failed.push({ key, error: `size ${r.size} after upload, local ${f.size}` });
      else if (fp && !(await sameContent(key, r, f.size, fp))) failed.push({ key, error: `ETag ${r.etag} after upload does not match the local content` });
    }
    verified = failed.length === 0;
  }

  return {
    bucket: o.bucket,
    prefix,
    files: o.files.length,
    uploaded: uploadedKeys.length,
    skipped,
    deleted: dryRun ? 0 : deletedKeys.length,
    bytesUploaded,
    bytesSkipped,
    failed,
    verified,
    dryRun,
    seconds: (Date.now() - started) / 1000,
    hashed: hashes.count,
    abortedUploads,
    uploadedKeys: uploadedKeys.sort(),
    deletedKeys,
  };
}

type SameContent = (key: string, remote: RemoteObject | undefined, size: number, fp: Fingerprint) => Promise<boolean>;
type Put = (key: string, body: Buffer | (() => fs.ReadStream), size: number, md5: string, file: string) => Promise<unknown>;

/** What every file of one run shares. */
interface RunContext {
  readonly o: SyncOptions;
  readonly dryRun: boolean;
  readonly progress: SyncProgress;
  readonly remoteOf: (key: string) => Promise<RemoteObject | undefined>;
  readonly sameContent: SameContent;
  readonly put: Put;
  /** Fingerprint of every file handled (for the verification at the end). */
  readonly fingerprints: Map<string, Fingerprint>;
  readonly hashes: { count: number };
}

/**
 * The file's fingerprint (from the cache when it vouches for the file, else `compute`d and cached), and
 * whether the remote object already holds that content.
 */
async function compare(ctx: RunContext, key: string, f: SyncFile, partSize: number, compute: () => Promise<Fingerprint>): Promise<{ fp: Fingerprint; same: boolean }> {
  const cache = ctx.o.cache;
  const st: FileStat | undefined = cache ? HashCache.stat(f.absolute) : undefined;
  let fp = st ? cache!.get(f.absolute, st, partSize) : undefined;
  if (!fp) {
    ctx.hashes.count++;
    fp = await compute();
    if (st) cache!.set(f.absolute, st, partSize, fp);
  }
  ctx.fingerprints.set(key, fp);
  return { fp, same: await ctx.sameContent(key, await ctx.remoteOf(key), f.size, fp) };
}

/**
 * A file of at most one part: compare its MD5 with the remote ETag, then one PUT with Content-MD5.
 * Below BUFFER_LIMIT it is read once into memory; above it is hashed and sent as streams, so memory does
 * not grow with file size. Returns whether it was (or, on a dry run, would be) uploaded.
 */
async function uploadSingle(ctx: RunContext, key: string, f: SyncFile, partSize: number): Promise<boolean> {
  let data: Buffer | undefined;
  const { fp, same } = await compare(ctx, key, f, partSize, async () => {
    if (f.size >= BUFFER_LIMIT) return fingerprintFile(f.absolute, partSize);
    data = await readWhole(f);
    return fingerprintBuffer(data, partSize);
  });
  if (same) return false;
  if (ctx.dryRun) return true;
  const body = data ?? (f.size < BUFFER_LIMIT ? await readWhole(f) : () => fs.createReadStream(f.absolute, { highWaterMark: 256 * 1024 }));
  // If the file changes between hashing and sending, S3 rejects the body (BadDigest) and the file is retried.
  await ctx.put(key, body, f.size, fp.md5, f.absolute);
  return true;
}

async function readWhole(f: SyncFile): Promise<Buffer> {
  const data = await fs.promises.readFile(f.absolute);
  if (data.length !== f.size) throw new Error(`${f.relative} changed while uploading (size ${f.size} → ${data.length})`);
  return data;
}

/** Large file: fingerprint by streaming, then a streamed multipart upload with its part size. */
async function uploadLarge(ctx: RunContext, key: string, f: SyncFile, partSize: number): Promise<boolean> {
  const { o, progress } = ctx;
  const { fp, same } = await compare(ctx, key, f, partSize, () => fingerprintFile(f.absolute, partSize));
  if (same) return false;
  if (ctx.dryRun) return true;
  const upload = new Upload({
    client: o.client,
    params: { Bucket: o.bucket, Key: key, Body: fs.createReadStream(f.absolute, { highWaterMark: 1024 * 1024 }), ContentLength: f.size, Metadata: { [MD5_METADATA]: fp.md5 } },
    partSize,
    queueSize: o.queueSize ?? 4,
    leavePartsOnError: false,
    abortController: o.signal ? abortControllerFor(o.signal) : undefined,
  });
  let reported = 0;
  upload.on("httpUploadProgress", (p) => {
    const loaded = p.loaded ?? 0;
    if (loaded > reported) {
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
