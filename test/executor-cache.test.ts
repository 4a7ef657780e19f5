/**
 * The worker's stage cache (executor/cache.ts) on its own: what it accepts, what it hands out, what it
 * evicts. The conditional GET that decides when an entry may be used is tested against a real S3
 * server in test/executor-s3.test.ts.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { md5OfEtag, STORED_MTIME, StageCache } from "../executor/cache";

let tmp: string;
beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-cache-test-"))));
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const etagOf = (data: Buffer | string) => `"${crypto.createHash("md5").update(data).digest("hex")}"`;
const read = (f: string) => fs.readFileSync(f, "utf8");

test("md5OfEtag: a plain MD5 ETag gives its digest; multipart and other ETags give none", () => {
  expect(md5OfEtag('"0123456789ABCDEF0123456789abcdef"')).toBe("0123456789abcdef0123456789abcdef");
  expect(md5OfEtag("0123456789abcdef0123456789abcdef")).toBe("0123456789abcdef0123456789abcdef");
  expect(md5OfEtag('"0123456789abcdef0123456789abcdef-3"')).toBeUndefined();
  expect(md5OfEtag('W/"x"')).toBeUndefined();
});

test("an entry is handed out only for its ETag, as a writable copy that cannot change the entry", async () => {
  const cache = StageCache.create(tmp, 1 << 20);
  const data = Buffer.from("tile bytes");
  await cache.putBuffer("b", "k", etagOf(data), data);
  expect(cache.etag("b", "k")).toBe(etagOf(data));
  expect(cache.etag("b", "other")).toBeUndefined();
  expect(cache.etag("other-bucket", "k")).toBeUndefined();

  const target = path.join(tmp, "job-input");
  expect(await cache.copyTo("b", "k", '"ffffffffffffffffffffffffffffffff"', target)).toBeUndefined();
  expect(fs.existsSync(target)).toBe(false);
  expect(await cache.copyTo("b", "k", etagOf(data), target)).toBe(data.length);
  expect(read(target)).toBe("tile bytes");
  // The task may write to its copy; the next job still gets the original bytes.
  fs.writeFileSync(target, "changed by the task");
  const again = path.join(tmp, "job-input-2");
  expect(await cache.copyTo("b", "k", etagOf(data), again)).toBe(data.length);
  expect(read(again)).toBe("tile bytes");
  expect(cache.hits).toBe(2);
});

test("bytes that do not match a plain MD5 ETag are not cached; other ETags are taken with the size checked", async () => {
  const cache = StageCache.create(tmp, 1 << 20);
  await cache.putBuffer("b", "wrong", etagOf("something else"), Buffer.from("these bytes"));
  expect(cache.etag("b", "wrong")).toBeUndefined();

  const file = path.join(tmp, "downloaded");
  fs.writeFileSync(file, "multipart object");
  await cache.putFile("b", "bad-md5", etagOf("not this"), file, 16);
  expect(cache.etag("b", "bad-md5")).toBeUndefined();
  await cache.putFile("b", "wrong-size", '"abc-2"', file, 15);
  expect(cache.etag("b", "wrong-size")).toBeUndefined();
  await cache.putFile("b", "multi", '"abc-2"', file, 16);
  expect(cache.etag("b", "multi")).toBe('"abc-2"');
  // Without a digest from the caller, a plain MD5 ETag is checked by hashing the file.
  await cache.putFile("b", "hashed", etagOf("multipart object"), file, 16);
  expect(cache.etag("b", "hashed")).toBe(etagOf("multipart object"));
});

test("a newer version replaces the entry; an entry changed on disk is dropped, not served", async () => {
  const cache = StageCache.create(tmp, 1 << 20);
  const v1 = Buffer.from("version 1");
  const v2 = Buffer.from("version 2");
  await cache.putBuffer("b", "k", etagOf(v1), v1);
  await cache.putBuffer("b", "k", etagOf(v2), v2);
  expect(cache.etag("b", "k")).toBe(etagOf(v2));
  expect(cache.size).toBe(v2.length);
  expect(await cache.copyTo("b", "k", etagOf(v1), path.join(tmp, "old"))).toBeUndefined();

  const [entry] = fs.readdirSync(cache.dir).map((f) => path.join(cache.dir, f));
  fs.chmodSync(entry, 0o644);
  fs.writeFileSync(entry, "version X");
  const target = path.join(tmp, "t");
  expect(await cache.copyTo("b", "k", etagOf(v2), target)).toBeUndefined();
  expect(fs.existsSync(target)).toBe(false);
  expect(cache.etag("b", "k")).toBeUndefined();
  expect(cache.size).toBe(0);
});

test("an entry written in place with its mode put back, or replaced by another file, is dropped, not served", async () => {
  const cache = StageCache.create(tmp, 1 << 20);
  const data = Buffer.from("0123456789");
  await cache.putBuffer("b", "w", etagOf(data), data);
  await cache.putBuffer("b", "r", etagOf(data), data);
  const [wEntry, rEntry] = fs.readdirSync(cache.dir).map((f) => path.join(cache.dir, f));
  // Same size, other bytes, the read-only mode restored: the write moved mtime and ctime.
  fs.chmodSync(wEntry, 0o644);
  fs.writeFileSync(wEntry, "9876543210");
  fs.chmodSync(wEntry, 0o444);
  expect(await cache.copyTo("b", "w", etagOf(data), path.join(tmp, "w"))).toBeUndefined();
  expect(fs.existsSync(path.join(tmp, "w"))).toBe(false);
  // Another file with the same bytes and mode renamed over the entry: another inode.
  const other = path.join(tmp, "other");
  fs.writeFileSync(other, data, { mode: 0o444 });
  fs.renameSync(other, rEntry);
  expect(await cache.copyTo("b", "r", etagOf(data), path.join(tmp, "r"))).toBeUndefined();
  expect([cache.etag("b", "w"), cache.etag("b", "r"), cache.size]).toEqual([undefined, undefined, 0]);
});

test("putBuffer: a digest from the caller stands for the bytes and must match a plain MD5 ETag", async () => {
  const cache = StageCache.create(tmp, 1 << 20);
  const data = Buffer.from("uploaded");
  const md5 = crypto.createHash("md5").update(data).digest("hex");
  await cache.putBuffer("b", "ok", `"${md5}"`, data, md5);
  await cache.putBuffer("b", "bad", `"${md5}"`, data, "0".repeat(32));
  expect([cache.etag("b", "ok"), cache.etag("b", "bad")]).toEqual([`"${md5}"`, undefined]);
  const target = path.join(tmp, "t");
  expect(await cache.copyTo("b", "ok", `"${md5}"`, target)).toBe(data.length);
  expect(fs.statSync(target).mode & 0o777).toBe(0o644);
});

test("a write right after the entry was stored, size and mode kept, is seen: entries carry a fixed mtime long past", async () => {
  const cache = StageCache.create(tmp, 1 << 20);
  const data = Buffer.from("fresh output");
  await cache.putBuffer("b", "k", etagOf(data), data);
  const [entry] = fs.readdirSync(cache.dir).map((f) => path.join(cache.dir, f));
  expect(fs.statSync(entry).mtime.getTime()).toBe(STORED_MTIME.getTime());
  // At once, so on a kernel with per-tick timestamps this write could fall in the tick of the store.
  fs.chmodSync(entry, 0o644);
  fs.writeFileSync(entry, "stale output");
  fs.chmodSync(entry, 0o444);
  expect(await cache.copyTo("b", "k", etagOf(data), path.join(tmp, "k"))).toBeUndefined();
  expect(fs.existsSync(path.join(tmp, "k"))).toBe(false);
  expect(cache.etag("b", "k")).toBeUndefined();
});

test("bounded: the least recently used entries go first; an object larger than the bound is not cached", async () => {
  const cache = StageCache.create(tmp, 30);
  const blob = (c: string) => Buffer.from(c.repeat(10));
  await cache.putBuffer("b", "a", etagOf(blob("a")), blob("a"));
  await cache.putBuffer("b", "b", etagOf(blob("b")), blob("b"));
  await cache.putBuffer("b", "c", etagOf(blob("c")), blob("c"));
  // Using "a" makes "b" the least recently used.
  expect(await cache.copyTo("b", "a", etagOf(blob("a")), path.join(tmp, "use-a"))).toBe(10);
  await cache.putBuffer("b", "d", etagOf(blob("d")), blob("d"));
  expect(["a", "b", "c", "d"].map((k) => cache.etag("b", k) !== undefined)).toEqual([true, false, true, true]);
  expect(cache.size).toBe(30);
  const big = Buffer.from("x".repeat(31));
  await cache.putBuffer("b", "big", etagOf(big), big);
  expect(cache.etag("b", "big")).toBeUndefined();
  expect(fs.readdirSync(cache.dir)).toHaveLength(3);
});
