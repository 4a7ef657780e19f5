/**
 * The worker's stage cache: local copies of S3 objects this worker process downloaded or uploaded,
 * so that a later job on the same worker that needs the same object does not download it again.
 *
 * Never stale: an entry is keyed by bucket and key and remembers the object's ETag. Using it always
 * takes one conditional request, `GetObject` with `If-None-Match: <ETag>` (S3 and RGW answer 304 Not
 * Modified while the object is that version, and the object's bytes otherwise, in the same request).
 * So a changed or overwritten object is downloaded again; a deleted one is reported missing as
 * without a cache. Only the bytes saved are those of the body.
 *
 * Content-verified when it goes in: downloads are hashed (MD5) while they stream; when the ETag is a
 * plain MD5 (single-part uploads without SSE-KMS, the S3 rule) it must match, else nothing is cached;
 * the size must always match Content-Length. Uploads are cached with the ETag S3 returned for them,
 * from the same buffer that was sent with its Content-MD5 (or, for multipart uploads, the file that was
 * uploaded, size checked).
 *
 * Unchanged when it comes out: entries are read-only files in a directory of this process (mode 0700,
 * removed when it exits), and each remembers the file's identity as stat(2) gives it: inode, size,
 * mode, mtime and ctime. A write to the file moves its mtime and ctime, a chmod its mode and ctime, a
 * replacement its inode, and no process can set ctime back. A copy for a job is made by the kernel
 * (copy_file_range; no bytes pass through this process) between two checks of that identity; unless
 * both match, the copy is deleted, the entry dropped and the object downloaded instead. Re-hashing every
 * copy (what this cache did first) cost about 1.5 ms of CPU per MB, as much as the download it saves.
 *
 * Writes in the same clock tick: before Linux 6.13, file timestamps come from a clock that moves once
 * per tick (1 to 10 ms), so a write right after the entry was stored could leave mtime and ctime as they
 * were (git's index calls such entries racy). So, once written, an entry's mtime is set to a fixed time
 * long past (STORED_MTIME): any later write sets it to the present, whatever the tick, and the identity
 * sees that. Only a process that sets out to change the cache (tasks run as the worker's user and could
 * as well change the worker itself) could get past this; it is a check against accidents.
 *
 * Bounded: at most `maxBytes` (STAGE_CACHE_MB); the least recently used entries go first. Jobs get a
 * copy, never the entry itself, so a task that writes to its input cannot change what a later job gets.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

interface Entry {
  readonly file: string;
  readonly etag: string;
  readonly size: number;
  /** The file's identity when it was stored (see `identity`). */
  readonly identity: string;
  lastUsed: number;
}

/** The mtime every entry gets once written (2000-01-01T00:00:00Z): no write can leave it so. */
export const STORED_MTIME = new Date(Date.UTC(2000, 0, 1));

/** What changes whenever a file's bytes or mode change, or it is replaced: inode, size, mode, mtime, ctime (ns). */
function identity(st: fs.BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mode}:${st.mtimeNs}:${st.ctimeNs}`;
}

async function identityOf(file: string): Promise<string> {
  return identity(await fs.promises.stat(file, { bigint: true }));
}

/** A plain MD5 ETag (`"<32 hex>"`): the MD5 of the object's bytes. */
export function md5OfEtag(etag: string): string | undefined {
  const m = /^"?([0-9a-f]{32})"?$/i.exec(etag);
  return m ? m[1].toLowerCase() : undefined;
}

export class StageCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private seq = 0;
  private tick = 0;
  /** Lookups that were served from the cache, for logs and tests. */
  hits = 0;

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** Makes a fresh cache directory below `parent`, removed when the process exits. */
  static create(parent: string, maxBytes: number): StageCache {
    fs.mkdirSync(parent, { recursive: true });
    const dir = fs.mkdtempSync(path.join(parent, `cache-${process.pid}-`));
    process.once("exit", () => {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    });
    return new StageCache(dir, maxBytes);
  }

  private static id(bucket: string, key: string): string {
    return `${bucket}\0${key}`;
  }

  /** The ETag of the cached copy of s3://bucket/key, if there is one. */
  etag(bucket: string, key: string): string | undefined {
    return this.entries.get(StageCache.id(bucket, key))?.etag;
  }

  /** Bytes held now. */
  get size(): number {
    return this.bytes;
  }

  /**
   * Copies the entry of s3://bucket/key with `etag` to `target` (the caller got 304 for that ETag).
   * Returns its size, or undefined when there is no such entry or it was changed on disk (then dropped).
   */
  async copyTo(bucket: string, key: string, etag: string, target: string): Promise<number | undefined> {
    const id = StageCache.id(bucket, key);
    const e = this.entries.get(id);
    if (!e || e.etag !== etag) return undefined;
    try {
      if ((await identityOf(e.file)) !== e.identity) throw new Error("changed on disk");
      await fs.promises.copyFile(e.file, target, fs.constants.COPYFILE_FICLONE);
      // The job's copy is its own, writable like a download (copyFile gives it the entry's 0444).
      await fs.promises.chmod(target, 0o644);
      if ((await identityOf(e.file)) !== e.identity) throw new Error("changed on disk");
      if ((await fs.promises.stat(target)).size !== e.size) throw new Error("copy cut short");
    } catch {
      if (this.entries.get(id) === e) await this.drop(id);
      await fs.promises.rm(target, { force: true }).catch(() => undefined);
      return undefined;
    }
    e.lastUsed = ++this.tick;
    this.hits++;
    return e.size;
  }

  /**
   * Caches `data` (the exact bytes of the object version `etag`); `md5` is their hex MD5 when the caller
   * has it already (it sent it as Content-MD5), else they are hashed here.
   */
  async putBuffer(bucket: string, key: string, etag: string, data: Buffer, md5?: string): Promise<void> {
    const expected = md5OfEtag(etag);
    const actual = md5 ?? crypto.createHash("md5").update(data).digest("hex");
    if (expected !== undefined && actual !== expected) return;
    await this.store(bucket, key, etag, data.length, (tmp) => fs.promises.writeFile(tmp, data, { mode: 0o444 }));
  }

  /**
   * Caches the file `source`, which holds the object version `etag` of `size` bytes; `md5` is the hex
   * MD5 of the bytes when the caller computed it while they streamed. It must match a plain MD5 ETag
   * (without one from the caller, the file is hashed for that).
   */
  async putFile(bucket: string, key: string, etag: string, source: string, size: number, md5?: string): Promise<void> {
    const expected = md5OfEtag(etag);
    if (expected !== undefined && (md5 ?? (await hashFile(source))) !== expected) return;
    await this.store(bucket, key, etag, size, async (tmp) => {
      await fs.promises.copyFile(source, tmp, fs.constants.COPYFILE_FICLONE);
      await fs.promises.chmod(tmp, 0o444);
    });
  }

  private async store(bucket: string, key: string, etag: string, size: number, write: (tmp: string) => Promise<void>): Promise<void> {
    if (size > this.maxBytes) return;
    const id = StageCache.id(bucket, key);
    const file = path.join(this.dir, `${++this.seq}`);
    try {
      await write(file);
      await fs.promises.utimes(file, STORED_MTIME, STORED_MTIME);
      const st = await fs.promises.stat(file, { bigint: true });
      if (st.size !== BigInt(size)) throw new Error("size differs");
      if (this.entries.has(id)) await this.drop(id);
      this.entries.set(id, { file, etag, size, identity: identity(st), lastUsed: ++this.tick });
      this.bytes += size;
      await this.evict();
    } catch {
      await fs.promises.rm(file, { force: true }).catch(() => undefined);
    }
  }

  /** Forgets s3://bucket/key (e.g. it was not found any more). */
  async forget(bucket: string, key: string): Promise<void> {
    const id = StageCache.id(bucket, key);
    if (this.entries.has(id)) await this.drop(id);
  }

  private async drop(id: string): Promise<void> {
    const e = this.entries.get(id)!;
    this.entries.delete(id);
    this.bytes -= e.size;
    // A job copying from it now finds it gone at its second identity check and downloads instead.
    await fs.promises.rm(e.file, { force: true }).catch(() => undefined);
  }

  private async evict(): Promise<void> {
    if (this.bytes <= this.maxBytes) return;
    const byAge = [...this.entries].sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [id] of byAge) {
      if (this.bytes <= this.maxBytes) break;
      await this.drop(id);
    }
  }
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash("md5");
    fs.createReadStream(file)
      .on("error", reject)
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")));
  });
}
