/**
 * The uploader against a real S3 server (Ceph RGW on loopback), with faults injected by a proxy.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { JobDirError, validateJobDir } from "../runner/job-dir";
import { createS3Client } from "../runner/s3-client";
import { listRemote, syncToS3, type SyncFile } from "../runner/s3-sync";
import { main, type Io } from "../cli/program";
import { FaultProxy } from "./support/fault-proxy";
import { RGW_CREDENTIALS, type Rgw, startRgw } from "./support/rgw";

const MiB = 1024 * 1024;
let rgw: Rgw;
let client: S3Client;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-upload-"));
let bucketNo = 0;

function s3(endpoint: string, extra: { maxAttempts?: number } = {}): S3Client {
  return createS3Client({ region: "us-east-1", endpoint, credentials: RGW_CREDENTIALS, ...extra });
}

async function newBucket(): Promise<string> {
  const name = `test-${process.pid}-${++bucketNo}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/** A job directory with small files, multipart-sized files, an empty file and awkward names. */
function makeJob(name: string, opts: { small?: number; large?: number[] } = {}): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, "workdir"), { recursive: true });
  fs.mkdirSync(path.join(dir, "input", "sub dir"), { recursive: true });
  const small = opts.small ?? 120;
  const signals = [];
  for (let i = 0; i < small; i++) {
    const file = `f${i}.fits`;
    fs.writeFileSync(path.join(dir, "input", file), crypto.randomBytes(1000 + (i % 7) * 900));
    signals.push({ name: file });
  }
  fs.writeFileSync(path.join(dir, "input", "sub dir", "ünïcode & space.hdr"), "header");
  fs.writeFileSync(path.join(dir, "input", "empty.txt"), "");
  (opts.large ?? [17 * MiB + 123, 8 * MiB]).forEach((size, i) => fs.writeFileSync(path.join(dir, "input", `big${i}.bin`), crypto.randomBytes(size)));
  const workflow = {
    name: "test",
    processes: [{ name: "mProject", function: "{{function}}", ins: signals.map((_, i) => i), outs: [signals.length] }],
    signals: [...signals, { name: "out.fits" }],
    ins: signals.map((_, i) => i),
    outs: [signals.length],
  };
  fs.writeFileSync(path.join(dir, "workdir", "dag.json"), JSON.stringify(workflow));
  return dir;
}

const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

/** Downloads every object and compares it with the local file: returns the keys that differ or are missing. */
async function compareAll(bucket: string, prefix: string, files: readonly SyncFile[]): Promise<string[]> {
  const bad: string[] = [];
  const limit = pLimit(16);
  await Promise.all(files.map((f) => limit(async () => {
    const key = prefix + f.relative;
    try {
      const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const body = Buffer.from(await r.Body!.transformToByteArray());
      if (sha256(body) !== sha256(fs.readFileSync(f.absolute))) bad.push(`${key} differs`);
    } catch {
      bad.push(`${key} missing`);
    }
  })));
  return bad.sort();
}

beforeAll(async () => {
  rgw = await startRgw();
  client = s3(rgw.endpoint);
}, 120_000);

afterAll(() => {
  client?.destroy();
  rgw?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("upload to a real S3 server", () => {
  let bucket: string;
  let dir: string;
  beforeAll(async () => {
    bucket = await newBucket();
    dir = makeJob("basic");
  });

  test("first upload: every byte equals the source, multipart for large files", async () => {
    const job = validateJobDir(dir);
    const r = await syncToS3({ client, bucket, prefix: "runs/1", files: job.files });
    expect(r.failed).toEqual([]);
    expect(r.verified).toBe(true);
    expect(r.uploaded).toBe(job.files.length);
    expect(await compareAll(bucket, "runs/1/", job.files)).toEqual([]);
    const remote = await listRemote(client, bucket, "runs/1/");
    expect(remote.get("runs/1/input/big0.bin")!.etag).toMatch(/-3"?$/); // 17 MiB in 8 MiB parts
    expect(remote.get("runs/1/input/big1.bin")!.etag).toMatch(/^"?[0-9a-f]{32}"?$/); // exactly one part: one PutObject
    expect(remote.get("runs/1/input/empty.txt")!.size).toBe(0);
    expect(remote.has("runs/1/input/sub dir/ünïcode & space.hdr")).toBe(true);
    expect(remote.has("runs/1/workdir/dag.json")).toBe(true);
  });

  test("unchanged re-run uploads nothing", async () => {
    const job = validateJobDir(dir);
    const r = await syncToS3({ client, bucket, prefix: "runs/1", files: job.files });
    expect(r.uploaded).toBe(0);
    expect(r.skipped).toBe(job.files.length);
    expect(r.verified).toBe(true);
  });

  test("changed files are found by content, even with the mtime set back and the size unchanged", async () => {
    const changed = ["input/f3.fits", "input/f50.fits", "input/big0.bin"];
    for (const rel of changed) {
      const p = path.join(dir, rel);
      const st = fs.statSync(p);
      const data = fs.readFileSync(p);
      data[data.length >> 1] ^= 0xff; // same size, different content
      fs.writeFileSync(p, data);
      fs.utimesSync(p, st.atime, st.mtime); // mtime set back
    }
    const job = validateJobDir(dir);
    const r = await syncToS3({ client, bucket, prefix: "runs/1", files: job.files });
    expect(r.uploadedKeys).toEqual(changed.map((c) => `runs/1/${c}`).sort());
    expect(await compareAll(bucket, "runs/1/", job.files)).toEqual([]);
  });

  test("dry run changes nothing; --delete removes only objects without a local file", async () => {
    const extra = "runs/1/input/stale.fits";
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: extra, Body: "old" }));
    fs.writeFileSync(path.join(dir, "input", "new.fits"), "new");
    const job = validateJobDir(dir);
    const before = await listRemote(client, bucket, "runs/1/");
    const dry = await syncToS3({ client, bucket, prefix: "runs/1", files: job.files, delete: true, dryRun: true });
    expect(dry.uploadedKeys).toEqual(["runs/1/input/new.fits"]);
    expect(dry.deletedKeys).toEqual([extra]);
    expect(await listRemote(client, bucket, "runs/1/")).toEqual(before);
    const keep = await syncToS3({ client, bucket, prefix: "runs/1", files: job.files });
    expect(keep.deleted).toBe(0);
    expect((await listRemote(client, bucket, "runs/1/")).has(extra)).toBe(true);
    const del = await syncToS3({ client, bucket, prefix: "runs/1", files: job.files, delete: true });
    expect(del.deletedKeys).toEqual([extra]);
    const after = await listRemote(client, bucket, "runs/1/");
    expect(after.has(extra)).toBe(false);
    expect(after.size).toBe(job.files.length);
  });
});

describe("faults", () => {
  let proxy: FaultProxy;
  beforeEach(async () => {
    proxy = new FaultProxy(rgw.endpoint);
    await proxy.start();
  });
  afterEach(async () => proxy.stop());

  test("5xx and throttling answers: retried, 0 objects missing or corrupt", async () => {
    const bucket = await newBucket();
    const job = validateJobDir(makeJob("errors", { small: 80, large: [9 * MiB] }));
    proxy.faults.errorRate = 0.2;
    proxy.faults.errorStatus = 503;
    const c = s3(proxy.endpoint);
    try {
      const r = await syncToS3({ client: c, bucket, prefix: "p", files: job.files, backoffMs: 50 });
      expect(proxy.counts.errors).toBeGreaterThan(10);
      expect(r.failed).toEqual([]);
      expect(r.verified).toBe(true);
      proxy.faults.errorStatus = 500;
      fs.writeFileSync(path.join(job.jobDir, "input", "f1.fits"), crypto.randomBytes(2048));
      const again = await syncToS3({ client: c, bucket, prefix: "p", files: validateJobDir(job.jobDir).files, backoffMs: 50 });
      expect(again.failed).toEqual([]);
    } finally {
      c.destroy();
    }
    expect(await compareAll(bucket, "p/", validateJobDir(job.jobDir).files)).toEqual([]);
  });

  test("dropped connections: retried, 0 objects missing or corrupt", async () => {
    const bucket = await newBucket();
    const job = validateJobDir(makeJob("drops", { small: 80, large: [9 * MiB] }));
    proxy.faults.dropRate = 0.1;
    const c = s3(proxy.endpoint);
    try {
      const r = await syncToS3({ client: c, bucket, prefix: "p", files: job.files, backoffMs: 50 });
      expect(proxy.counts.drops).toBeGreaterThan(5);
      expect(r.failed).toEqual([]);
      expect(r.verified).toBe(true);
    } finally {
      c.destroy();
    }
    expect(await compareAll(bucket, "p/", job.files)).toEqual([]);
  });

  test("server stopped mid-upload and started again: a re-run completes, nothing missing or corrupt, no parts left", async () => {
    const bucket = await newBucket();
    const job = validateJobDir(makeJob("outage", { small: 200, large: [24 * MiB, 20 * MiB] }));
    // No retries in the first run, so the outage really interrupts it.
    const c1 = s3(proxy.endpoint, { maxAttempts: 1 });
    const outage = (async () => {
      while (proxy.counts.forwarded < 60) await new Promise((r) => setTimeout(r, 5));
      await proxy.stop();
      await new Promise((r) => setTimeout(r, 1500));
      await proxy.restart();
    })();
    let first;
    try {
      first = await syncToS3({ client: c1, bucket, prefix: "p", files: job.files, attempts: 1 });
    } finally {
      c1.destroy();
    }
    await outage;
    expect(first.failed.length).toBeGreaterThan(0);
    expect(first.verified).toBe(false);

    const leftovers = (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0;
    const c2 = s3(proxy.endpoint);
    try {
      const second = await syncToS3({ client: c2, bucket, prefix: "p", files: job.files });
      expect(second.failed).toEqual([]);
      expect(second.verified).toBe(true);
      expect(second.skipped).toBeGreaterThan(0); // what the first run finished is not sent again
      expect(second.uploaded).toBeLessThan(job.files.length);
      expect(second.abortedUploads).toBe(leftovers);
    } finally {
      c2.destroy();
    }
    expect(await compareAll(bucket, "p/", job.files)).toEqual([]);
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });
});

describe("bad input", () => {
  // The CLI takes credentials from the default chain, like for AWS; here the environment holds the test server's.
  beforeAll(() => {
    process.env.AWS_ACCESS_KEY_ID = RGW_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = RGW_CREDENTIALS.secretAccessKey;
    process.env.AWS_EC2_METADATA_DISABLED = "true";
  });
  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const io: Io = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) };
    const code = await main(args, io);
    return { code, out, err };
  }

  test("missing workdir/ and input/: exit 2, every problem named", async () => {
    const dir = path.join(tmp, "empty-job");
    fs.mkdirSync(dir, { recursive: true });
    const r = await cli(["upload", "-j", dir, "-b", "some-bucket", "--endpoint", rgw.endpoint]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/workdir\/: missing/);
    expect(r.err).toMatch(/input\/: missing/);
    expect(() => validateJobDir(path.join(tmp, "does-not-exist"))).toThrow(JobDirError);
  });

  test("unreadable file (a broken link) and a missing input: exit 2, nothing uploaded", async () => {
    const bucket = await newBucket();
    const dir = makeJob("broken", { small: 3, large: [] });
    fs.symlinkSync(path.join(tmp, "nowhere"), path.join(dir, "input", "dangling.fits"));
    fs.rmSync(path.join(dir, "input", "f1.fits"));
    const r = await cli(["upload", "-j", dir, "-b", bucket, "--endpoint", rgw.endpoint]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/input\/dangling\.fits: cannot read: broken symbolic link/);
    expect(r.err).toMatch(/input\/f1\.fits: missing: the workflow takes it as an input/);
    expect((await listRemote(client, bucket, "")).size).toBe(0);
  });

  test("workflow that is not HyperFlow-shaped", () => {
    const dir = makeJob("shape", { small: 2, large: [] });
    fs.writeFileSync(path.join(dir, "workdir", "dag.json"), JSON.stringify({ processes: [{ ins: [7] }], signals: [{ name: "a" }], ins: ["zzz"] }));
    expect(() => validateJobDir(dir)).toThrow(/processes\[0\] has no name[\s\S]*processes\[0\]\.ins\[0\] refers to signal 7, but there are 1 signals[\s\S]*ins\[0\] refers to unknown signal "zzz"/);
    fs.writeFileSync(path.join(dir, "workdir", "dag.json"), "{ not json");
    expect(() => validateJobDir(dir)).toThrow(/workdir\/dag\.json: is not valid JSON/);
  });

  test("bad bucket name and bad endpoint URL: exit 2 before any request", async () => {
    const dir = makeJob("args", { small: 1, large: [] });
    for (const b of ["Bad_Bucket", "ab", "192.168.1.1", "a..b"]) {
      const r = await cli(["upload", "-j", dir, "-b", b, "--endpoint", rgw.endpoint]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(new RegExp(`--bucket "${b.replace(/\./g, "\\.")}"`));
    }
    const r = await cli(["upload", "-j", dir, "-b", "fine-bucket", "--endpoint", "ftp://127.0.0.1:1"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--endpoint "ftp:\/\/127\.0\.0\.1:1" has protocol ftp:/);
  });

  test("unreachable endpoint and missing bucket fail with a clear message (exit 1)", async () => {
    const dir = makeJob("unreach", { small: 1, large: [] });
    const dead = await (await import("./support/rgw")).freePort();
    const r = await cli(["upload", "-j", dir, "-b", "fine-bucket", "--endpoint", `http://127.0.0.1:${dead}`]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/ECONNREFUSED/);
    const missing = await cli(["upload", "-j", dir, "-b", "no-such-bucket-here", "--endpoint", rgw.endpoint]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/NoSuchBucket/);
  });
});
