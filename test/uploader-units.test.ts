import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HashCache } from "../runner/hash-cache";
import { isRetryable } from "../runner/errors";
import { FastPut, encodeKey } from "../runner/fast-put";
import { maxSocketsFor, partSizeFor, SYNC_DEFAULTS } from "../runner/s3-sync";

describe("uploader rules", () => {
  test("what is worth retrying", () => {
    expect(isRetryable(new Error("connect ECONNREFUSED"))).toBe(true);
    expect(isRetryable({ name: "SlowDown", $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isRetryable({ name: "InternalError", $metadata: { httpStatusCode: 500 } })).toBe(true);
    expect(isRetryable({ Code: "BadDigest", $metadata: { httpStatusCode: 400 } })).toBe(true);
    expect(isRetryable({ Code: "RequestTimeTooSkewed", $metadata: { httpStatusCode: 403 } })).toBe(true);
    expect(isRetryable({ Code: "AccessDenied", $metadata: { httpStatusCode: 403 } })).toBe(false);
    expect(isRetryable({ name: "NoSuchBucket", $metadata: { httpStatusCode: 404 } })).toBe(false);
    expect(isRetryable({ Code: "InvalidAccessKeyId", $metadata: { httpStatusCode: 403 } })).toBe(false);
  });

  test("sockets: two per file in flight plus one per multipart part in flight", () => {
    // The defaults: 16 files, 2 large files × 4 parts.
    expect(SYNC_DEFAULTS).toEqual(expect.objectContaining({ concurrency: 16, largeConcurrency: 2, queueSize: 4 }));
    expect(maxSocketsFor()).toBe(16 * 2 + 2 * 4);
    expect(maxSocketsFor({ concurrency: 1 })).toBe(1 * 2 + 2 * 4);
    expect(maxSocketsFor({ concurrency: 256 })).toBe(256 * 2 + 2 * 4);
    expect(maxSocketsFor({ concurrency: 8, largeConcurrency: 3, queueSize: 5 })).toBe(8 * 2 + 3 * 5);
  });

  test("part size keeps every file under S3's 10,000 parts", () => {
    const MiB = 1024 * 1024;
    expect(partSizeFor(20 * MiB, 8 * MiB)).toBe(8 * MiB);
    for (const size of [78 * 1024 * MiB, 100 * 1024 * MiB, 5 * 1024 * 1024 * MiB]) {
      const part = partSizeFor(size, 8 * MiB);
      expect(Math.ceil(size / part)).toBeLessThanOrEqual(10_000);
      expect(part % MiB).toBe(0);
    }
  });

  test("keys are encoded once, with / kept", () => {
    expect(encodeKey("input/sub dir/ünï (1)+x*.fits")).toBe("input/sub%20dir/%C3%BCn%C3%AF%20%281%29%2Bx%2A.fits");
  });

  test("the lean path steps aside where the SDK resolves endpoints from the environment", () => {
    expect(FastPut.supported({})).toBe(true);
    expect(FastPut.supported({ AWS_ENDPOINT_URL_S3: "http://minio:9000" })).toBe(false);
    expect(FastPut.supported({ AWS_USE_FIPS_ENDPOINT: "true" })).toBe(false);
  });
});

describe("fingerprint cache", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-cache-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fp = { md5: "0123456789abcdef0123456789abcdef" };

  test("vouches for a file only while inode, size, mtime and ctime are unchanged, for the same part size", () => {
    const f = path.join(dir, "a.fits");
    fs.writeFileSync(f, "hello");
    const c = HashCache.open(path.join(dir, "c.json"), 0);
    const st = HashCache.stat(f);
    c.set(f, st, 8, fp);
    expect(c.get(f, HashCache.stat(f), 8)).toEqual(fp);
    expect(c.get(f, HashCache.stat(f), 16)).toBeUndefined();
    const before = fs.statSync(f);
    fs.writeFileSync(f, "jello"); // same size
    fs.utimesSync(f, before.atime, before.mtime); // mtime set back: ctime still moves
    expect(c.get(f, HashCache.stat(f), 8)).toBeUndefined();
  });

  test("does not trust a file that changed just before it was hashed; survives a save and reload", () => {
    const f = path.join(dir, "b.fits");
    fs.writeFileSync(f, "x");
    const racy = HashCache.open(path.join(dir, "r.json"));
    racy.set(f, HashCache.stat(f), 8, fp);
    expect(racy.get(f, HashCache.stat(f), 8)).toBeUndefined();
    const c = HashCache.open(path.join(dir, "s.json"), 0);
    c.set(f, HashCache.stat(f), 8, fp);
    c.save();
    expect(HashCache.open(path.join(dir, "s.json"), 0).get(f, HashCache.stat(f), 8)).toEqual(fp);
  });
});
