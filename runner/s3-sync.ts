/**
 * Upload a set of local files to an S3 prefix, fast and verifiably:
 * - bounded concurrency; files up to one part in one PutObject with Content-MD5 (the server checks the
 *   bytes), larger files as streamed multipart uploads (memory bounded by part size × queue, not file size);
 * - skips files whose content is already there (ETag = MD5, or the multipart form for our part size);
 * - retries: the SDK retries each request (throttling, 5xx, dropped connections), and each file is
 *   tried again with backoff; a re-run after an interruption uploads only what is still missing;
 * - verifies at the end by listing the prefix and comparing every file's ETag and size;
 * - deletes remote objects only with `delete`; `dryRun` changes nothing;
 * - aborts multipart uploads of its files that an interrupted earlier run left behind (so parts do not
 *   keep costing storage). One uploader per prefix at a time.
 */
import * as fs from "node:fs";
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import pLimit from "p-limit";
import { etagMatches, type Fingerprint, fingerprintBuffer, fingerprintFile } from "./etag";
import { silentProgress, type SyncProgress } from "./progress";

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

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
  /** Attempts per file on top of the SDK's per-request retries. @default 4 */
  readonly attempts?: number;
  /** First backoff between file attempts, doubled each time (with jitter). @default 500 ms */
  readonly backoffMs?: number;
  /** Delete remote objects under the prefix that have no local file. @default false */
  readonly delete?: boolean;
  /** Report what would happen; upload and delete nothing. @default false */
  readonly dryRun?: boolean;
  readonly progress?: SyncProgress;
  readonly signal?: AbortSignal;
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

/**
 * Aborts in-progress multipart uploads for the given keys that started before `before`: leftovers of an
 * interrupted run. Best effort: stores without ListMultipartUploads are left alone.
 */
export async function abortStaleUploads(client: S3Client, bucket: string, prefix: string, keys: ReadonlySet<string>, before: Date, signal?: AbortSignal): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  try {
    do {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }), { abortSignal: signal });
      for (const u of page.Uploads ?? []) {
        if (u.Key && u.UploadId && keys.has(u.Key) && (!u.Initiated || u.Initiated < before)) {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }), { abortSignal: signal });
          aborted++;
        }
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
  } catch {
    /* listing multipart uploads is optional for S3-compatible stores */
  }
  return aborted;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function syncToS3(o: SyncOptions): Promise<SyncResult> {
  const started = Date.now();
  const prefix = normalizePrefix(o.prefix);
  const partSize = o.partSize ?? DEFAULT_PART_SIZE;
  const attempts = o.attempts ?? 4;
  const backoff = o.backoffMs ?? 500;
  const progress = o.progress ?? silentProgress;
  const limit = pLimit(o.concurrency ?? 16);
  const largeLimit = pLimit(o.largeConcurrency ?? 2);
  const dryRun = o.dryRun ?? false;

  const remote = await listRemote(o.client, o.bucket, prefix, o.signal).catch((e) => {
    throw new S3CallError(`cannot list s3://${o.bucket}/${prefix}`, e);
  });
  const localKeys = new Set(o.files.map((f) => prefix + f.relative));
  const abortedUploads = dryRun ? 0 : await abortStaleUploads(o.client, o.bucket, prefix, localKeys, new Date(started), o.signal);
  const totalBytes = o.files.reduce((n, f) => n + f.size, 0);
  progress.start(o.files.length, totalBytes);

  const fingerprints = new Map<string, Fingerprint>();
  const uploadedKeys: string[] = [];
  const failed: SyncFailure[] = [];
  let bytesUploaded = 0;
  let bytesSkipped = 0;

  const handle = async (f: SyncFile) => {
    const key = prefix + f.relative;
    const existing = remote.get(key);
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error("aborted");
      try {
        const moved = f.size > partSize ? await largeLimit(() => uploadLarge(o, key, f, existing, partSize, dryRun, progress, fingerprints)) : await uploadSmall(o, key, f, existing, partSize, dryRun, fingerprints);
        if (moved) {
          uploadedKeys.push(key);
          bytesUploaded += f.size;
        } else bytesSkipped += f.size;
        progress.fileDone(f.size);
        return;
      } catch (e) {
        lastError = e;
        if (o.signal?.aborted) break;
        if (attempt < attempts) await sleep(backoff * 2 ** (attempt - 1) * (0.5 + Math.random()));
      }
    }
    failed.push({ key, error: describeError(lastError) });
    progress.fileDone(0);
  };
  await Promise.all(o.files.map((f) => limit(() => handle(f))));

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
  if (!dryRun) {
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
      else if (fp && !etagMatches(r.etag, fp)) failed.push({ key, error: `ETag ${r.etag} after upload does not match the local content` });
    }
    verified = failed.length === 0;
  }

  return {
    bucket: o.bucket,
    prefix,
    files: o.files.length,
    uploaded: uploadedKeys.length,
    skipped: o.files.length - uploadedKeys.length - failed.filter((x) => localKeys.has(x.key)).length,
    deleted: dryRun ? 0 : deletedKeys.length,
    bytesUploaded,
    bytesSkipped,
    failed,
    verified,
    dryRun,
    seconds: (Date.now() - started) / 1000,
    abortedUploads,
    uploadedKeys: uploadedKeys.sort(),
    deletedKeys,
  };
}

/** Small file: read once, compare, PutObject with Content-MD5. Returns whether it was (or would be) uploaded. */
async function uploadSmall(
  o: SyncOptions,
  key: string,
  f: SyncFile,
  existing: RemoteObject | undefined,
  partSize: number,
  dryRun: boolean,
  fps: Map<string, Fingerprint>,
): Promise<boolean> {
  const body = await fs.promises.readFile(f.absolute);
  if (body.length !== f.size) throw new Error(`${f.relative} changed while uploading (size ${f.size} → ${body.length})`);
  const fp = fingerprintBuffer(body, partSize);
  fps.set(key, fp);
  if (existing && existing.size === f.size && etagMatches(existing.etag, fp)) return false;
  if (dryRun) return true;
  await o.client.send(
    new PutObjectCommand({ Bucket: o.bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: Buffer.from(fp.md5, "hex").toString("base64") }),
    { abortSignal: o.signal },
  );
  return true;
}

/** Large file: fingerprint by streaming, then a streamed multipart upload with our part size. */
async function uploadLarge(
  o: SyncOptions,
  key: string,
  f: SyncFile,
  existing: RemoteObject | undefined,
  partSize: number,
  dryRun: boolean,
  progress: SyncProgress,
  fps: Map<string, Fingerprint>,
): Promise<boolean> {
  const fp = await fingerprintFile(f.absolute, partSize);
  fps.set(key, fp);
  if (existing && existing.size === f.size && etagMatches(existing.etag, fp)) return false;
  if (dryRun) return true;
  const upload = new Upload({
    client: o.client,
    params: { Bucket: o.bucket, Key: key, Body: fs.createReadStream(f.absolute, { highWaterMark: 1024 * 1024 }), ContentLength: f.size },
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

/** One line for an SDK or network error: code, message (when it says more), HTTP status. */
export function describeError(e: unknown): string {
  if (!e) return "unknown error";
  const err = e as { name?: string; message?: string; code?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const code = err.Code ?? (err.name && err.name !== "Error" ? err.name : undefined) ?? err.code;
  const message = err.message && err.message !== "UnknownError" && err.message !== code ? err.message : "";
  const status = err.$metadata?.httpStatusCode ? ` (HTTP ${err.$metadata.httpStatusCode})` : "";
  return [code, message].filter(Boolean).join(": ") + status || String(e);
}

/** An S3 call that failed before any file was handled (listing, deleting): says which call. */
export class S3CallError extends Error {
  constructor(what: string, cause: unknown) {
    super(`${what}: ${describeError(cause)}`);
    this.name = "S3CallError";
  }
}
