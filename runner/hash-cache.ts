/**
 * Remembers the content fingerprint (MD5 / multipart ETag) of files already hashed, so an unchanged
 * re-run does not read and hash the whole job again. An entry is used only while the file's inode,
 * size, mtime and **ctime** (nanoseconds) are unchanged. ctime cannot be set back: any write to the
 * file, and setting its mtime back, moves it. So a same-size edit with the mtime restored is still
 * hashed again (the case `aws s3 sync` misses). The skip decision itself still compares the remote
 * ETag with this fingerprint; the cache only saves reading the local file.
 *
 * Like git's index, an entry is not trusted when the file changed less than RACY_MS before it was
 * hashed (a write within the same clock tick could otherwise go unnoticed).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Fingerprint } from "./etag";

const RACY_NS = 2_000_000_000n;
const VERSION = 1;

interface Entry {
  readonly ino: string;
  readonly size: string;
  readonly mtimeNs: string;
  readonly ctimeNs: string;
  readonly partSize: number;
  readonly md5: string;
  readonly multipart?: string;
}

export type FileStat = fs.BigIntStats;

export class HashCache {
  private entries: Record<string, Entry> = {};
  private dirty = false;

  private constructor(
    readonly file: string,
    private readonly racyNs: bigint,
  ) {}

  /** The cache of one job directory, under $XDG_CACHE_HOME (or ~/.cache)/hyperflow-infra. */
  static forJob(jobDir: string, env: NodeJS.ProcessEnv = process.env): HashCache {
    const base = env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    const id = crypto.createHash("sha256").update(path.resolve(jobDir)).digest("hex").slice(0, 24);
    return HashCache.open(path.join(base, "hyperflow-infra", "fingerprints", `${id}.json`));
  }

  /** `racyMs`: how recently a file may have changed and still be cached (tests use 0). */
  static open(file: string, racyMs = Number(RACY_NS / 1_000_000n)): HashCache {
    const c = new HashCache(file, BigInt(racyMs) * 1_000_000n);
    try {
      const data = JSON.parse(fs.readFileSync(file, "utf8")) as { version: number; entries: Record<string, Entry> };
      if (data.version === VERSION && data.entries && typeof data.entries === "object") c.entries = data.entries;
    } catch {
      /* no cache yet, or an unreadable one: start empty */
    }
    return c;
  }

  static stat(file: string): FileStat {
    return fs.statSync(file, { bigint: true });
  }

  get(file: string, st: FileStat, partSize: number): Fingerprint | undefined {
    const e = this.entries[file];
    if (!e || e.partSize !== partSize) return undefined;
    if (e.ino !== String(st.ino) || e.size !== String(st.size) || e.mtimeNs !== String(st.mtimeNs) || e.ctimeNs !== String(st.ctimeNs)) return undefined;
    return e.multipart ? { md5: e.md5, multipart: e.multipart } : { md5: e.md5 };
  }

  /** Records a fingerprint computed from the file as it was at `st` (taken before reading it). */
  set(file: string, st: FileStat, partSize: number, fp: Fingerprint, nowNs: bigint = BigInt(Date.now()) * 1_000_000n): void {
    // Changed too recently to trust. With no window (racyMs 0) nothing is refused: the ms clock can read
    // earlier than a timestamp the file system just wrote in ns, which would make 0 refuse at random.
    if (this.racyNs > 0n && (nowNs - st.ctimeNs < this.racyNs || nowNs - st.mtimeNs < this.racyNs)) return;
    this.entries[file] = {
      ino: String(st.ino),
      size: String(st.size),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
      partSize,
      md5: fp.md5,
      multipart: fp.multipart,
    };
    this.dirty = true;
  }

  /** Writes the cache (atomically); failures are ignored: the cache only saves time. */
  save(): void {
    if (!this.dirty) return;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify({ version: VERSION, entries: this.entries }));
      fs.renameSync(tmp, this.file);
      this.dirty = false;
    } catch {
      /* read-only home, full disk: next run hashes again */
    }
  }
}
