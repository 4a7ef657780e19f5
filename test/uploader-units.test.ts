import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { FastPut } from "../runner/fast-put";
import { withEnv } from "./support/aws-env";
import { serve } from "./support/http-recorder";
import { HashCache } from "../runner/hash-cache";
import { isRetryable } from "../runner/errors";
import { createS3Client } from "../runner/s3-client";
import { encodeKey, onceUntilRejected, resolveS3Endpoint } from "../runner/s3-http";
import { maxSocketsFor, partSizeFor, SYNC_DEFAULTS } from "../runner/s3-sync";

const CREDS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };

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

  test("per-bucket resolution: made once while it stands, shared by concurrent callers, a rejection forgotten", async () => {
    const calls: string[] = [];
    let fail = true;
    const get = onceUntilRejected(async (b: string) => {
      calls.push(b);
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error(`no ${b}`);
      return b.toUpperCase();
    });
    const [x, y] = [get("a"), get("a")];
    expect(x).toBe(y);
    await expect(x).rejects.toThrow("no a");
    fail = false;
    // Asked again as soon as the caller learns of the failure: a new attempt, not the old rejection.
    expect(await get("a")).toBe("A");
    expect([await get("a"), await get("b")]).toEqual(["A", "B"]);
    expect(calls).toEqual(["a", "a", "b"]);
  });

  test("keys are encoded once, with / kept", () => {
    expect(encodeKey("input/sub dir/ünï (1)+x*.fits")).toBe("input/sub%20dir/%C3%BCn%C3%AF%20%281%29%2Bx%2A.fits");
  });

  test("the lean PUT goes where the SDK's own rules send it, AWS_ENDPOINT_URL_S3 included, signed for its region", async () => {
    const s3 = await serve((_req, res) => res.setHeader("etag", '"e"').end());
    // The SDK reads AWS_ENDPOINT_URL_S3 when it resolves an endpoint, not when the client is made.
    await withEnv({ AWS_ENDPOINT_URL_S3: s3.url }, async () => {
      const client = new S3Client({ region: "eu-west-1", credentials: CREDS });
      const put = FastPut.from(client);
      try {
        const md5 = crypto.createHash("md5").update("hello").digest("hex");
        expect(await put.put("bucket", "in/a b.txt", Buffer.from("hello"), 5, md5, { md5 })).toBe(true);
        expect(s3.seen.map((q) => `${q.method} ${q.url} ${q.body}`)).toEqual(["PUT /bucket/in/a%20b.txt hello"]);
        expect(s3.seen[0].headers).toMatchObject({ "content-md5": Buffer.from(md5, "hex").toString("base64"), "x-amz-meta-md5": md5 });
        expect(s3.seen[0].headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, /);
      } finally {
        put.destroy();
        client.destroy();
        await s3.close();
      }
    });
  });

  test("an IPv6 endpoint: the lean PUT connects to the bare address and signs the bracketed Host", async () => {
    const s3 = await serve((_req, res) => res.end(), "::1");
    const client = new S3Client({ region: "us-east-1", endpoint: s3.url, forcePathStyle: true, credentials: CREDS });
    const put = FastPut.from(client);
    try {
      expect(await put.put("bucket", "k", Buffer.from("x"), 1, "9dd4e461268c8034f5c8564e155c67a6")).toBe(true);
      expect(s3.seen.map((q) => q.headers.host)).toEqual([new URL(s3.url).host]);
      expect(s3.seen[0].headers.authorization).toMatch(/SignedHeaders=content-length;content-md5;host;/);
    } finally {
      put.destroy();
      client.destroy();
      await s3.close();
    }
  });

  test("an endpoint from the environment with a host name (MinIO): path style by default, as with --endpoint", async () => {
    for (const name of ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]) {
      await withEnv({ AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: undefined, [name]: "http://minio:9000" }, async () => {
        const client = createS3Client({ region: "us-east-1", credentials: CREDS });
        expect({ name, endpoint: await resolveS3Endpoint(client, "my-bucket") }).toMatchObject({ name, endpoint: { host: "minio:9000", base: "/my-bucket/" } });
        client.destroy();
      });
    }
    await withEnv({ AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: undefined }, async () => {
      const aws = createS3Client({ region: "us-east-1", credentials: CREDS });
      expect(await resolveS3Endpoint(aws, "my-bucket")).toMatchObject({ host: "my-bucket.s3.us-east-1.amazonaws.com", base: "/" });
      aws.destroy();
    });
  });

  test("a bucket whose endpoint needs more than SigV4 (S3 Express) is left to the SDK: nothing sent", async () => {
    const client = new S3Client({ region: "us-east-1", credentials: CREDS });
    const put = FastPut.from(client);
    try {
      expect(await put.put("my-bucket--use1-az4--x-s3", "k", Buffer.from("x"), 1, "9dd4e461268c8034f5c8564e155c67a6")).toBe(false);
    } finally {
      put.destroy();
      client.destroy();
    }
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
