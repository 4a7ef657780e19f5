/**
 * The uploader against a real S3 server (Ceph RGW on loopback), with faults injected by a proxy.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { JobDirError, validateJobDir } from "../runner/job-dir";
import { HashCache } from "../runner/hash-cache";
import { createS3Client } from "../runner/s3-client";
import { listRemote, syncToS3, type SyncFile } from "../runner/s3-sync";
import { EndpointOutageError, type WaitingState } from "../runner/endpoint-health";
import { silentProgress, waitingText } from "../runner/progress";
import { credentialsEnv, withEnv } from "./support/aws-env";
import { runCli as runHflow } from "./support/cli";
import type { Io } from "../cli/context";
import { main } from "../cli/program";
import { terraformColor } from "../cli/terraform";
import { type ContainerTool, detectContainerTool } from "../images/build";
import type { RunResult } from "../images/run-result";
import { resultMarker } from "./support/run-result";
import { imageTag } from "../images/tag";
import { FaultProxy } from "./support/fault-proxy";
import { imageSources, removeImages } from "./support/image-sources";
import { fakeEcr, type Registry, startRegistry } from "./support/registry";
import { RGW_CREDENTIALS } from "./support/rgw";
import { useRgw } from "./support/rgw-fixture";

/** terraform gets `-no-color` unless this test's stdout and stderr are terminals (cli/terraform.ts). */
const NO_COLOR = terraformColor() ? "" : " -no-color";

const MiB = 1024 * 1024;
/** The S3 server of this file (one clear error in every test when radosgw is missing). */
const rgw = useRgw();
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
  await Promise.all(
    files.map((f) =>
      limit(async () => {
        const key = prefix + f.relative;
        try {
          const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          const body = Buffer.from(await r.Body!.transformToByteArray());
          if (sha256(body) !== sha256(fs.readFileSync(f.absolute))) bad.push(`${key} differs`);
        } catch {
          bad.push(`${key} missing`);
        }
      }),
    ),
  );
  return bad.sort();
}

beforeAll(async () => {
  client = s3(rgw().endpoint);
}, 120_000);

afterAll(() => {
  client?.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("upload to a real S3 server", () => {
  let bucket: string;
  let dir: string;
  let cache: HashCache;
  beforeAll(async () => {
    bucket = await newBucket();
    dir = makeJob("basic");
    cache = HashCache.open(path.join(tmp, "fingerprints.json"), 0);
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

  test("an endpoint from AWS_ENDPOINT_URL_S3 alone (as for MinIO or Ceph): single-part files go through the lean PUT, which RGW accepts", async () => {
    const proxy = new FaultProxy(rgw().endpoint);
    await proxy.start();
    try {
      await withEnv({ AWS_ENDPOINT_URL_S3: proxy.endpoint }, async () => {
        const fromEnv = createS3Client({ region: "us-east-1", credentials: RGW_CREDENTIALS });
        try {
          const b = await newBucket();
          const job = validateJobDir(makeJob("env-endpoint", { small: 12, large: [] }));
          const r = await syncToS3({ client: fromEnv, bucket: b, prefix: "runs/env", files: job.files });
          expect([r.failed, r.verified, r.uploaded]).toEqual([[], true, job.files.length]);
          expect(proxy.counts.leanPuts).toBe(job.files.length);
          expect(await compareAll(b, "runs/env/", job.files)).toEqual([]);
        } finally {
          fromEnv.destroy();
        }
      });
    } finally {
      await proxy.stop();
    }
  });

  test("unchanged re-run uploads nothing; with the fingerprint cache it reads no file either", async () => {
    const job = validateJobDir(dir);
    const r = await syncToS3({ client, bucket, prefix: "runs/1", files: job.files, cache });
    expect(r.uploaded).toBe(0);
    expect(r.skipped).toBe(job.files.length);
    expect(r.hashed).toBe(job.files.length); // first run with this cache: every file hashed once
    expect(r.verified).toBe(true);
    const again = await syncToS3({ client, bucket, prefix: "runs/1", files: job.files, cache: HashCache.open(cache.file, 0) });
    expect(again.uploaded).toBe(0);
    expect(again.hashed).toBe(0);
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
    const r = await syncToS3({ client, bucket, prefix: "runs/1", files: job.files, cache: HashCache.open(cache.file, 0) });
    expect(r.uploadedKeys).toEqual(changed.map((c) => `runs/1/${c}`).sort());
    expect(r.hashed).toBe(changed.length); // the ctime moved, so the cache did not vouch for them
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
    proxy = new FaultProxy(rgw().endpoint);
    await proxy.start();
  });
  afterEach(async () => proxy?.stop());

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

  test("permanent errors (AccessDenied) fail at once, without retries", async () => {
    const bucket = await newBucket();
    const job = validateJobDir(makeJob("denied", { small: 5, large: [] }));
    proxy.faults.denyPuts = true;
    const c = s3(proxy.endpoint);
    try {
      const r = await syncToS3({ client: c, bucket, prefix: "p", files: job.files, backoffMs: 50 });
      expect(r.failed).toHaveLength(job.files.length);
      expect(r.failed[0].error).toMatch(/AccessDenied/);
      expect(proxy.counts.denied).toBe(job.files.length); // one attempt per file
    } finally {
      c.destroy();
    }
  });

  test("stores whose ETag is no MD5 (SSE-KMS): verified and skipped through the MD5 kept in metadata", async () => {
    const bucket = await newBucket();
    const job = validateJobDir(makeJob("kms", { small: 6, large: [9 * MiB] }));
    proxy.faults.opaqueEtags = true;
    const c = s3(proxy.endpoint);
    try {
      const first = await syncToS3({ client: c, bucket, prefix: "p", files: job.files });
      expect(first.failed).toEqual([]);
      expect(first.verified).toBe(true);
      const heads = proxy.counts.heads;
      const again = await syncToS3({ client: c, bucket, prefix: "p", files: job.files });
      expect(again.uploaded).toBe(0);
      expect(again.skipped).toBe(job.files.length);
      expect(proxy.counts.heads - heads).toBe(job.files.length); // one HeadObject per file, no upload
    } finally {
      c.destroy();
    }
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

describe("an endpoint that goes away and stays away: the run-wide outage bound", () => {
  let proxy: FaultProxy;
  beforeEach(async () => {
    proxy = new FaultProxy(rgw().endpoint);
    await proxy.start();
  });
  afterEach(async () => proxy?.stop());

  /** Cuts the proxy once it has forwarded `after` requests; resolves with the time of the cut. */
  async function cutAfter(after: number): Promise<number> {
    while (proxy.counts.forwarded < after) await new Promise((r) => setTimeout(r, 5));
    await proxy.stop();
    return Date.now();
  }

  test("the run stops within the bound with one error (exit code 75), says it is waiting and why, and a re-run completes", async () => {
    const bucket = await newBucket();
    const job = validateJobDir(makeJob("outage-bound", { small: 200, large: [24 * MiB, 20 * MiB] }));
    const waits: string[] = [];
    const progress = {
      ...silentProgress,
      waiting: (state: WaitingState) => waits.push(state ? waitingText(state) : "answers again"),
    };
    // The SDK's own 5 attempts per request and the uploader's 6 per file stay as they are: the bound wins.
    const c1 = s3(proxy.endpoint);
    const cut = cutAfter(60);
    let error: unknown;
    try {
      await syncToS3({ client: c1, bucket, prefix: "p", files: job.files, outageSeconds: 2, progress });
    } catch (e) {
      error = e;
    } finally {
      c1.destroy();
    }
    const stoppedAfterMs = Date.now() - (await cut);
    expect(error).toBeInstanceOf(EndpointOutageError);
    expect((error as EndpointOutageError).exitCode).toBe(75);
    expect((error as Error).message).toMatch(/^the S3 endpoint did not answer for \d+ s \(last error: .+\); the upload stopped\. .*run the same command again/);
    expect(stoppedAfterMs).toBeLessThan(10_000); // 2 s bound, a quarter-second watchdog, aborts in flight
    expect(waits[0]).toMatch(/^waiting for the S3 endpoint for \d+ s \(.+\); the upload stops after 2 s without an answer$/);

    await proxy.restart();
    const c2 = s3(proxy.endpoint);
    try {
      const second = await syncToS3({ client: c2, bucket, prefix: "p", files: job.files });
      expect(second.failed).toEqual([]);
      expect(second.verified).toBe(true);
    } finally {
      c2.destroy();
    }
    expect(await compareAll(bucket, "p/", job.files)).toEqual([]);
    expect((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
  });

  test("upload --outage-timeout: exit 75 with one error line, the waiting line in plain output", async () => {
    const bucket = await newBucket();
    const dir = makeJob("outage-cli", { small: 200, large: [24 * MiB] });
    const cut = cutAfter(40);
    const r = await runHflow(["upload", "-j", dir, "-b", bucket, "--endpoint", proxy.endpoint, "--outage-timeout", "2", "--no-cache"], {
      ...credentialsEnv(RGW_CREDENTIALS),
      AWS_EC2_METADATA_DISABLED: "true",
    });
    await cut;
    expect(r.code).toBe(75);
    const lines = r.err.trim().split("\n");
    expect(
      lines.filter((l) => /^upload: waiting for the S3 endpoint for \d+ s \(.+\); the upload stops after 2 s without an answer$/.test(l)).length,
    ).toBeGreaterThan(0);
    expect(lines.filter((l) => l.startsWith("the S3 endpoint did not answer"))).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  });

  test("a short outage inside the bound: the run waits, says so, and finishes", async () => {
    const bucket = await newBucket();
    const job = validateJobDir(makeJob("outage-short", { small: 150, large: [] }));
    const waits: string[] = [];
    const progress = { ...silentProgress, waiting: (state: WaitingState) => waits.push(state ? "waiting" : "answers again") };
    const c = s3(proxy.endpoint);
    const outage = (async () => {
      await cutAfter(30);
      await new Promise((r) => setTimeout(r, 1500));
      await proxy.restart();
    })();
    try {
      const r = await syncToS3({ client: c, bucket, prefix: "p", files: job.files, outageSeconds: 30, backoffMs: 200, progress });
      await outage;
      expect(r.failed).toEqual([]);
      expect(r.verified).toBe(true);
    } finally {
      c.destroy();
    }
    expect(waits).toContain("waiting");
    expect(waits[waits.length - 1]).toBe("answers again");
  });
});

describe("bad input", () => {
  // The CLI takes credentials from the default chain, like for AWS; here the environment holds the test server's.
  beforeAll(() => {
    process.env.AWS_ACCESS_KEY_ID = RGW_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = RGW_CREDENTIALS.secretAccessKey;
    process.env.AWS_EC2_METADATA_DISABLED = "true";
    process.env.XDG_CACHE_HOME = path.join(tmp, "xdg-cache");
  });
  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const io: Io = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) };
    const code = await main(args, io);
    return { code, out, err };
  }

  test("upload command: --dry-run sends nothing, --json gives the result, a re-run skips everything", async () => {
    const bucket = await newBucket();
    const dir = makeJob("cli-job", { small: 10, large: [] });
    const dry = await cli(["upload", "-j", dir, "-b", bucket, "-p", "x", "--endpoint", rgw().endpoint, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/^dry run: would upload 13 of 13 files/);
    expect((await listRemote(client, bucket, "")).size).toBe(0);
    const real = await cli(["upload", "-j", dir, "-b", bucket, "-p", "x", "--endpoint", rgw().endpoint, "--json"]);
    expect(real.code).toBe(0);
    expect(JSON.parse(real.out)).toEqual(expect.objectContaining({ uploaded: 13, skipped: 0, verified: true, prefix: "x/" }));
    const again = await cli(["upload", "-j", dir, "-b", bucket, "-p", "x", "--endpoint", rgw().endpoint]);
    expect(again.out).toMatch(/uploaded 0 of 13 files .* skipped 13 unchanged/);
    expect(again.out).toMatch(/verified: every file is in the bucket with matching ETag and size/);
    expect(again.err).toMatch(/upload: 13\/13 files/); // plain progress lines when not on a terminal
  });

  test("missing workdir/ and input/: exit 2, every problem named", async () => {
    const dir = path.join(tmp, "empty-job");
    fs.mkdirSync(dir, { recursive: true });
    const r = await cli(["upload", "-j", dir, "-b", "some-bucket", "--endpoint", rgw().endpoint]);
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
    const r = await cli(["upload", "-j", dir, "-b", bucket, "--endpoint", rgw().endpoint]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/input\/dangling\.fits: cannot read: broken symbolic link/);
    expect(r.err).toMatch(/input\/f1\.fits: missing: the workflow takes it as an input/);
    expect((await listRemote(client, bucket, "")).size).toBe(0);
  });

  test("workflow that is not HyperFlow-shaped", () => {
    const dir = makeJob("shape", { small: 2, large: [] });
    fs.writeFileSync(path.join(dir, "workdir", "dag.json"), JSON.stringify({ processes: [{ ins: [7] }], signals: [{ name: "a" }], ins: ["zzz"] }));
    expect(() => validateJobDir(dir)).toThrow(
      /processes\[0\] has no name[\s\S]*processes\[0\]\.ins\[0\] refers to signal 7, but there are 1 signals[\s\S]*ins\[0\] refers to unknown signal "zzz"/,
    );
    fs.writeFileSync(path.join(dir, "workdir", "dag.json"), "{ not json");
    expect(() => validateJobDir(dir)).toThrow(/workdir\/dag\.json: is not valid JSON/);
  });

  test("bad bucket name and bad endpoint URL: exit 2 before any request", async () => {
    const dir = makeJob("args", { small: 1, large: [] });
    for (const b of ["Bad_Bucket", "ab", "192.168.1.1", "a..b"]) {
      const r = await cli(["upload", "-j", dir, "-b", b, "--endpoint", rgw().endpoint]);
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
    const missing = await cli(["upload", "-j", dir, "-b", "no-such-bucket-here", "--endpoint", rgw().endpoint]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/NoSuchBucket/);
  });
});

describe("hflow-infra run and status (S3, registry and podman real; terraform, ECS and ECR stand-ins)", () => {
  const bin = path.join(tmp, "run-bin");
  const state = path.join(tmp, "run-state");
  let bucket: string;
  let outputs: Record<string, Record<string, { value: string }>>;
  // Images: tiny stand-in sources (test/support/image-sources.ts), built with podman, pushed to a real registry.
  const imageRoot = path.join(tmp, "image-src");
  let registry: Registry;
  let tool: ContainerTool;
  let imageEnv: NodeJS.ProcessEnv;
  const createdImages: string[] = [];

  afterAll(async () => {
    try {
      if (tool) removeImages(tool, createdImages);
    } finally {
      await registry?.stop();
    }
  });

  /** The stand-in outputs as the stacks would give them after a deploy (network, ecs, runner). */
  function writeOutputs(extra: { ecs?: Record<string, string>; runner?: Record<string, string> } = {}) {
    const v = (o: Record<string, string> = {}) => Object.fromEntries(Object.entries(o).map(([k, x]) => [k, { value: x }]));
    const current = { ...outputs, ecs: { ...outputs.ecs, ...v(extra.ecs) }, runner: { ...outputs.runner, ...v(extra.runner) } };
    fs.writeFileSync(path.join(state, "outputs.json"), JSON.stringify(current));
  }

  beforeAll(async () => {
    bucket = await newBucket();
    registry = await startRegistry();
    imageEnv = { ...process.env, REGISTRY_AUTH_FILE: path.join(tmp, "registry-auth.json") };
    imageSources(imageRoot, crypto.randomBytes(6).toString("hex"));
    tool = detectContainerTool(imageEnv, imageRoot);
    fs.mkdirSync(bin, { recursive: true });
    fs.mkdirSync(state, { recursive: true });
    // A terraform stand-in: `output -json` is empty until `apply` ran in that stack folder. The ECR
    // repositories are the registry's; the task definitions name no image of them until a test says so.
    outputs = {
      network: { vpc_id: { value: "vpc-0123456789abcdef0" } },
      ecs: {
        cluster_name: { value: "lab" },
        worker_repository_url: { value: `${registry.host}/lab/worker` },
        engine_repository_url: { value: `${registry.host}/lab/engine` },
      },
      runner: {
        bucket_name: { value: bucket },
        job_prefix: { value: "montage/" },
        cluster_name: { value: "lab" },
        engine_task_definition: { value: "arn:aws:ecs:us-east-1:123456789012:task-definition/lab-hyperflow-engine:3" },
        engine_log_group: { value: "/hyperflow/lab/engine" },
      },
    };
    writeOutputs();
    fs.writeFileSync(
      path.join(bin, "tf"),
      `#!/bin/sh
stack=$(basename "$PWD")
echo "$stack $*" >> "${state}/calls"
case "$1" in
  apply) touch "${state}/deployed-$stack" ;;
  output) if [ -f "${state}/deployed-$stack" ]; then node -e 'process.stdout.write(JSON.stringify(require("${state}/outputs.json")[process.argv[1]]))' "$stack"; else echo '{}'; fi ;;
esac
exit 0
`,
      { mode: 0o755 },
    );
  });
  beforeEach(() => fs.rmSync(path.join(state, "calls"), { force: true }));

  const TASK_ID = "0123456789abcdef";
  const MARKER_KEY = `montage/runs/${TASK_ID}/result.json`;

  /**
   * An ECS stand-in: the task goes PROVISIONING → RUNNING → STOPPED with the given engine exit code; when
   * it stops, its "engine" leaves `result` (an object or raw text) at the run's marker key, as the engine
   * image does, and no marker when `result` is undefined.
   */
  function fakeEcs(exitCode: number | undefined, stoppedReason?: string, result?: RunResult | string) {
    const started: { cluster: string; taskDefinition: string; placementExpression: string; engineCommand?: readonly string[] }[] = [];
    /** ECR and ECS calls in the order they were made. */
    const events: string[] = [];
    const registryEcr = fakeEcr(registry);
    const ecr = {
      ...registryEcr,
      getAuthorizationToken: (i: Parameters<typeof registryEcr.getAuthorizationToken>[0]) => (
        events.push("GetAuthorizationToken"),
        registryEcr.getAuthorizationToken(i)
      ),
      describeImages: async (i: Parameters<typeof registryEcr.describeImages>[0]) => {
        const tag = i.imageIds?.[0]?.imageTag;
        try {
          const r = await registryEcr.describeImages(i);
          events.push(`DescribeImages ${i.repositoryName}:${tag} found`);
          return r;
        } catch (e) {
          events.push(`DescribeImages ${i.repositoryName}:${tag} not found`);
          throw e;
        }
      },
    };
    let polls = 0;
    const arn = `arn:aws:ecs:us-east-1:123456789012:task/lab/${TASK_ID}`;
    const ecs = {
      async runTask(i: (typeof started)[number]) {
        started.push(i);
        events.push("RunTask");
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: MARKER_KEY }));
        return arn;
      },
      async describeTask() {
        polls++;
        const lastStatus = polls === 1 ? "PROVISIONING" : polls < 4 ? "RUNNING" : "STOPPED";
        if (polls === 4 && result !== undefined) {
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: MARKER_KEY, Body: typeof result === "string" ? result : JSON.stringify(result) }));
        }
        return {
          taskArn: arn,
          lastStatus,
          stoppedReason,
          startedAt: new Date(1_000_000),
          stoppedAt: lastStatus === "STOPPED" ? new Date(1_000_000 + 95_000) : undefined,
          containers: [{ name: "hyperflow-engine", exitCode: lastStatus === "STOPPED" ? exitCode : undefined }],
        };
      },
      async listRunning() {
        return [{ taskArn: arn, lastStatus: "RUNNING", startedAt: new Date(Date.now() - 65_000), containers: [] }];
      },
    };
    const lines = ["hflow: workflow started", "mProjectPP finished", "workflow finished"];
    const logs = {
      async events(_g: string, stream: string, token?: string) {
        const i = token ? Number(token) : 0;
        expect(stream).toBe(`hyperflow-engine/hyperflow-engine/${TASK_ID}`);
        return i < lines.length ? { events: [{ timestamp: i, message: lines[i] }], nextToken: String(i + 1) } : { events: [], nextToken: String(i) };
      },
    };
    return {
      started,
      events,
      deps: {
        apis: () => ({ ecs, logs, destroy() {} }),
        s3: () => s3(rgw().endpoint),
        progress: () => silent,
        pollMs: 1,
        images: { root: imageRoot, env: imageEnv, base: "scratch", ecr: () => ecr },
      },
    };
  }
  const silent = { start() {}, fileDone() {}, bytesMoved() {}, settleInflight() {}, stop() {} };

  async function runCli(args: string[], deps: any) {
    let out = "";
    let err = "";
    const io: Io = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) };
    const saved = process.env.TERRAFORM_BINARY_NAME;
    process.env.TERRAFORM_BINARY_NAME = path.join(bin, "tf");
    try {
      return { code: await main(args, io, deps), out, err };
    } finally {
      process.env.TERRAFORM_BINARY_NAME = saved;
    }
  }

  test("first run: deploys the stacks, uploads, starts the engine on the master, follows logs, exit 0", async () => {
    const dir = makeJob("run-job", { small: 20, large: [] });
    const { started, deps } = fakeEcs(0);
    const r = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", dir, "--yes"], deps);
    expect(r.err).not.toMatch(/FAILED/);
    expect(r.code).toBe(0);
    // Before each apply: the cost estimate of that stack (--yes: printed, then applied).
    expect(r.err).toMatch(/==> ecs is not deployed yet: terraform apply\nESTIMATE of what the stacks cost in \S+[\s\S]*\nstack ecs\n[\s\S]*EC2: \S+-master/);
    expect(fs.readFileSync(path.join(state, "calls"), "utf8").trim().split("\n")).toEqual([
      `network init -input=false${NO_COLOR}`,
      "network output -json",
      `network apply -input=false -auto-approve${NO_COLOR}`,
      "network output -json",
      `ecs init -input=false${NO_COLOR}`,
      "ecs output -json",
      `ecs apply -input=false -auto-approve${NO_COLOR}`,
      "ecs output -json",
      `runner init -input=false${NO_COLOR}`,
      "runner output -json",
      `runner apply -input=false -auto-approve${NO_COLOR}`,
      "runner output -json",
    ]);
    const job = validateJobDir(dir);
    expect(await compareAll(bucket, "montage/", job.files)).toEqual([]);
    expect(started).toEqual([
      expect.objectContaining({
        cluster: "lab",
        taskDefinition: expect.stringContaining("lab-hyperflow-engine"),
        placementExpression: "attribute:hyperflow.role == master",
        engineCommand: ["/hyperflow/bin/hflow", "run", "/workdir/dag.json", "-s"],
      }),
    ]);
    expect(r.out).toMatch(/engine \| hflow: workflow started\nengine \| mProjectPP finished\nengine \| workflow finished/);
    expect(r.err).toMatch(/engine task PROVISIONING[\s\S]*engine task RUNNING[\s\S]*engine task STOPPED/);
    expect(r.out).toMatch(
      /workflow finished: exit code 0 in 1 min 35 s\nresult: {2}no marker at s3:\/\/\S+\/montage\/runs\/0123456789abcdef\/result\.json \(the engine wrote none\): the container's exit code counts\n/,
    );
    expect(r.out).toMatch(new RegExp(`outputs: s3://${bucket}/montage/input/`));
  });

  test("a config with Kubernetes too: run deploys only what the ECS run needs", async () => {
    const cfg = path.join(tmp, "with-k8s.json");
    fs.writeFileSync(cfg, JSON.stringify({ kubernetes: { cluster: "existing" } }));
    const { deps } = fakeEcs(0);
    const r = await runCli(["-c", cfg, "-o", path.join(tmp, "run-out-k8s"), "run", "--job-dir", path.join(tmp, "run-job"), "--yes"], deps);
    expect(r.code).toBe(0);
    const stacks = new Set(
      fs
        .readFileSync(path.join(state, "calls"), "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split(" ")[0]),
    );
    expect([...stacks].sort()).toEqual(["ecs", "network", "runner"]);
  });

  test("run --executor lambda: deploys only network and lambda, starts the engine on Fargate in the lambda stack's subnets, exit 0", async () => {
    const cfg = path.join(tmp, "with-lambda.json");
    fs.writeFileSync(cfg, JSON.stringify({ runner: { prefix: "montage/" }, lambda: { enabled: true, name: "lab-tasks" } }));
    outputs.lambda = {
      bucket_name: { value: bucket },
      job_prefix: { value: "montage/" },
      cluster_name: { value: "lab-tasks" },
      engine_task_definition: { value: "arn:aws:ecs:us-east-1:123456789012:task-definition/lab-tasks-hyperflow-engine:1" },
      engine_log_group: { value: "/hyperflow/lab-tasks/engine" },
      engine_subnets: { value: "subnet-0123456789abcdef0,subnet-0fedcba9876543210" },
      engine_security_group: { value: "sg-0123456789abcdef0" },
      engine_assign_public_ip: { value: "ENABLED" },
      worker_repository_url: { value: `${registry.host}/lab-tasks/worker` },
      engine_repository_url: { value: `${registry.host}/lab-tasks/engine` },
    };
    writeOutputs();
    const { started, deps } = fakeEcs(0);
    const r = await runCli(
      ["-c", cfg, "-o", path.join(tmp, "run-out-lambda"), "run", "--job-dir", path.join(tmp, "run-job"), "--executor", "lambda", "--yes"],
      deps,
    );
    expect({ code: r.code, err: r.code === 0 ? "" : r.err }).toEqual({ code: 0, err: "" });
    const calls = fs.readFileSync(path.join(state, "calls"), "utf8").trim().split("\n");
    expect([...new Set(calls.map((l) => l.split(" ")[0]))].sort()).toEqual(["lambda", "network"]);
    expect(calls).toContain(`lambda apply -input=false -auto-approve${NO_COLOR}`);
    expect(started).toEqual([
      {
        cluster: "lab-tasks",
        taskDefinition: expect.stringContaining("lab-tasks-hyperflow-engine"),
        fargate: { subnets: ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"], securityGroups: ["sg-0123456789abcdef0"], assignPublicIp: true },
        engineContainer: "hyperflow-engine",
        engineCommand: ["/hyperflow/bin/hflow", "run", "/workdir/dag.json", "-s"],
      },
    ]);
    expect(r.out).toMatch(/workflow finished: exit code 0/);
    expect(r.out).toMatch(/logs: {4}CloudWatch \/hyperflow\/lab-tasks\/engine/);
  });

  test("run --executor lambda without lambda.enabled, or an unknown executor: exit 2, terraform never called", async () => {
    const { deps } = fakeEcs(0);
    const off = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", path.join(tmp, "run-job"), "--executor", "lambda"], deps);
    expect([off.code, off.err.trim()]).toEqual([
      2,
      "--executor lambda needs the lambda stack: lambda.enabled is false in the configuration; allowed: set lambda.enabled to true (see docs/config.md, section lambda)",
    ]);
    const unknown = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", path.join(tmp, "run-job"), "--executor", "batch"], deps);
    expect([unknown.code, unknown.err.trim()]).toEqual([2, '--executor "batch" is not allowed; allowed: ecs, lambda']);
    expect(fs.existsSync(path.join(state, "calls"))).toBe(false);
  });

  test("second run: nothing to deploy, nothing to upload; a failing workflow exits 1 with the reason", async () => {
    const dir = path.join(tmp, "run-job");
    const { deps } = fakeEcs(3);
    const r = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", dir], deps);
    expect(r.code).toBe(1);
    expect(fs.readFileSync(path.join(state, "calls"), "utf8")).not.toMatch(/apply/);
    expect(r.err).toMatch(/uploaded 0 of \d+ files .* skipped \d+ unchanged/);
    expect(r.out).toMatch(/workflow FAILED: exit code 3 after 1 min 35 s/);
  });

  test("an engine that never ran reports the stop reason", async () => {
    const { deps } = fakeEcs(undefined, "CannotPullContainerError: pull access denied");
    const r = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", path.join(tmp, "run-job")], deps);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/workflow FAILED: CannotPullContainerError: pull access denied/);
  });

  test("a bad job directory: exit 2, terraform never called, nothing uploaded", async () => {
    const dir = path.join(tmp, "run-bad");
    fs.mkdirSync(path.join(dir, "input"), { recursive: true });
    const { started, deps } = fakeEcs(0);
    const r = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", dir], deps);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/workdir\/: missing/);
    expect(fs.existsSync(path.join(state, "calls"))).toBe(false);
    expect(started).toEqual([]);
  });

  test("images the deployment names and ECR lacks are built and pushed before the engine starts; a second run skips them", async () => {
    const dir = path.join(tmp, "run-job");
    const tags = { worker: imageTag("worker", { root: imageRoot, base: "scratch" }), engine: imageTag("engine", { root: imageRoot, base: "scratch" }) };
    const worker = `${registry.host}/lab/worker:${tags.worker}`;
    const engine = `${registry.host}/lab/engine:${tags.engine}`;
    createdImages.push(`localhost/hflow-worker:${tags.worker}`, `localhost/hflow-engine:${tags.engine}`, worker, engine);
    writeOutputs({ ecs: { worker_image: worker }, runner: { engine_image: engine } });
    try {
      const first = fakeEcs(0);
      const r = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", dir], first.deps);
      expect(r.err).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      // The worker's image once the ecs stack is there, the engine's once the runner stack is, then the engine.
      expect(first.events).toEqual([
        `DescribeImages lab/worker:${tags.worker} not found`,
        "GetAuthorizationToken",
        `DescribeImages lab/engine:${tags.engine} not found`,
        "GetAuthorizationToken",
        "RunTask",
      ]);
      expect(await registry.digest("lab/worker", tags.worker)).toMatch(/^sha256:/);
      expect(await registry.digest("lab/engine", tags.engine)).toMatch(/^sha256:/);
      expect(r.err).toMatch(
        new RegExp(
          `==> images: ${worker.replace(/\./g, "\\.")}\n(.*\n)*push worker: pushed ${worker.replace(/\./g, "\\.")} in \\d+ s\n(.*\n)*==> images: ${engine.replace(/\./g, "\\.")}\n`,
        ),
      );
      expect(r.err).toMatch(/build engine: building localhost\/hflow-engine:/);
      expect(r.err + r.out).not.toContain(registry.password);

      const second = fakeEcs(0);
      const again = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", dir], second.deps);
      expect(again.code).toBe(0);
      expect(second.events).toEqual([`DescribeImages lab/worker:${tags.worker} found`, `DescribeImages lab/engine:${tags.engine} found`, "RunTask"]);
      expect(again.err).toMatch(/push worker: .* is already in the repository: skipped/);
    } finally {
      writeOutputs();
    }
  });

  test("the deployment builds its own images but there is no podman or docker: exit 3 before anything is deployed", async () => {
    const { started, deps } = fakeEcs(0);
    const empty = path.join(tmp, "no-tools");
    fs.mkdirSync(empty, { recursive: true });
    const r = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", path.join(tmp, "run-job")], {
      ...deps,
      images: { ...deps.images, env: { ...imageEnv, PATH: empty } },
    });
    expect(r.code).toBe(3);
    expect(
      r.err
        .trim()
        .split("\n")
        .filter((l) => !l.startsWith("job ") && !l.startsWith("warning: ")),
    ).toEqual(["podman or docker not found on PATH: install podman (apt-get install podman runc) or docker to build images"]);
    expect(fs.existsSync(path.join(state, "calls"))).toBe(false);
    expect(started).toEqual([]);
  });

  test("images set in the config: nothing to build, no ECR call, no container engine needed", async () => {
    const cfg = path.join(tmp, "own-images.json");
    const own = { worker: "registry.example.com/me/worker@sha256:" + "a".repeat(64), engine: "registry.example.com/me/engine@sha256:" + "b".repeat(64) };
    fs.writeFileSync(cfg, JSON.stringify({ ecs: { images: { worker: own.worker } }, runner: { engineImage: own.engine } }));
    // What the stacks output for such a config: the configured images.
    writeOutputs({ ecs: { worker_image: own.worker }, runner: { engine_image: own.engine } });
    try {
      const { events, deps } = fakeEcs(0);
      const empty = path.join(tmp, "no-tools");
      fs.mkdirSync(empty, { recursive: true });
      const r = await runCli(["-c", cfg, "-o", path.join(tmp, "run-out-own"), "run", "--job-dir", path.join(tmp, "run-job")], {
        ...deps,
        images: { ...deps.images, env: { ...imageEnv, PATH: empty } },
      });
      expect(r.code).toBe(0);
      expect(events).toEqual(["RunTask"]);
      expect(r.err).not.toMatch(/==> images/);
    } finally {
      writeOutputs();
    }
  });

  test("a deployment naming a tag these sources do not build: exit 1 with what to do, the engine not started", async () => {
    const stale = `${registry.host}/lab/worker:0123456789ab`;
    writeOutputs({ ecs: { worker_image: stale } });
    try {
      const { events, started, deps } = fakeEcs(0);
      const r = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", path.join(tmp, "run-job")], deps);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(
        new RegExp(
          `${stale.replace(/\./g, "\\.")} is not in the repository, and these sources build worker with tag [0-9a-f]{12} .*: deploy the current images \\(hflow-infra deploy ecs runner\\)`,
        ),
      );
      expect(events).toEqual(["DescribeImages lab/worker:0123456789ab not found"]);
      expect(started).toEqual([]);
    } finally {
      writeOutputs();
    }
  });

  test("the result marker: status, task counts and duration printed; its exit code counts over the container's", async () => {
    const dir = path.join(tmp, "run-job");
    // ECS lost the container's exit code; the marker the engine left says it succeeded.
    const ok = fakeEcs(undefined, "Essential container in task exited", resultMarker(TASK_ID));
    const r = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", dir], ok.deps);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /workflow finished: exit code 0 in 2 min 3 s \(run 0123456789abcdef\)\ntasks: {3}27 started, 27 succeeded, 0 failed \(workflow montage \(dag\.json\), 27 processes\)\noutputs: /,
    );

    const failedRun = resultMarker(TASK_ID, {
      status: "failed",
      exitCode: 1,
      reason: 'task "mProject_003" failed: exit code 1',
      tasks: { started: 27, succeeded: 25, failed: 2 },
      durationMs: 61_000,
    });
    const bad = fakeEcs(1, undefined, failedRun);
    const f = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", dir], bad.deps);
    expect(f.code).toBe(1);
    expect(f.out).toMatch(
      /workflow FAILED: exit code 1 after 1 min 1 s in phase engine: task "mProject_003" failed: exit code 1 \(run 0123456789abcdef\)\ntasks: {3}27 started, 25 succeeded, 2 failed/,
    );

    // A marker that is not one: the container's exit code, and why the marker was not used.
    const garbled = fakeEcs(0, undefined, "{ not json");
    const g = await runCli(["-o", path.join(tmp, "run-out"), "run", "--job-dir", dir], garbled.deps);
    expect(g.code).toBe(0);
    expect(g.out).toMatch(
      /workflow finished: exit code 0 in 1 min 35 s\nresult: {2}no marker at \S+ \(run result is not JSON: [^)]*\): the container's exit code counts/,
    );
  });

  test("status lists engine runs in progress and the latest finished runs from their markers, newest first", async () => {
    const put = (key: string, body: string) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    await put("montage/runs/run-a/result.json", JSON.stringify(resultMarker("run-a", { finishedAt: "2026-11-30T11:00:00.000Z" })));
    await new Promise((r) => setTimeout(r, 1100)); // S3 times are whole seconds
    await put(
      "montage/runs/run-b/result.json",
      JSON.stringify(
        resultMarker("run-b", {
          status: "failed",
          exitCode: 1,
          phase: "fetch",
          reason: "s3://b/montage/workdir/ has no dag.json",
          tasks: { started: 0, succeeded: 0, failed: 0 },
          durationMs: 4_000,
          finishedAt: "2026-11-30T12:00:04.000Z",
        }),
      ),
    );
    await put("montage/runs/run-b/engine.log", "not a marker");
    await new Promise((r) => setTimeout(r, 1100));
    await put("montage/runs/run-c/result.json", JSON.stringify({ version: 1, runId: "run-c" }));

    const { deps } = fakeEcs(0);
    const r = await runCli(["status", "--last", "3"], deps);
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[0]).toMatch(/^task\s+status\s+started \(UTC\)\s+running for$/);
    expect(lines[1]).toMatch(/^0123456789abcdef\s+RUNNING\s+\S+ \S+\s+1 min \d+ s$/);
    expect(lines.slice(3, 8)).toEqual([
      `finished runs (latest 3, s3://${bucket}/montage/runs/):`,
      expect.stringMatching(/^run\s+status\s+tasks ok\/failed\/started\s+took\s+finished \(UTC\)\s+workflow\s+reason$/),
      expect.stringMatching(/^run-c\s+unreadable\s+-\s+-\s+-\s+-\s+run result: status is undefined; allowed: "succeeded" or "failed"$/),
      expect.stringMatching(/^run-b\s+failed\s+0\/0\/0\s+4 s\s+2026-11-30 12:00:04\s+montage\s+fetch: s3:\/\/b\/montage\/workdir\/ has no dag\.json$/),
      expect.stringMatching(/^run-a\s+succeeded\s+27\/0\/27\s+2 min 3 s\s+2026-11-30 11:00:00\s+montage$/),
    ]);
    expect(fs.readFileSync(path.join(state, "calls"), "utf8").trim().split("\n")).toEqual([`runner init -input=false${NO_COLOR}`, "runner output -json"]);

    const two = await runCli(["status", "-n", "2"], deps);
    expect(two.out).toMatch(/finished runs \(latest 2, /);
    expect(two.out).not.toMatch(/^run-a/m);
    const none = await runCli(["status", "--last", "0"], deps);
    expect(none.out).not.toMatch(/finished runs/);
    const bad = await runCli(["status", "--last", "many"], deps);
    expect([bad.code, bad.err.trim()]).toEqual([2, '--last "many" is not allowed; allowed: 0 to 1000']);
  });

  test("status before the runner stack is deployed: runs in progress only, and says so", async () => {
    fs.renameSync(path.join(state, "deployed-runner"), path.join(state, "was-deployed-runner"));
    try {
      const { deps } = fakeEcs(0);
      const r = await runCli(["status"], deps);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^0123456789abcdef\s+RUNNING/m);
      expect(r.out).toMatch(/finished runs: none \(the runner stack is not deployed: hflow-infra deploy runner\)/);
    } finally {
      fs.renameSync(path.join(state, "was-deployed-runner"), path.join(state, "deployed-runner"));
    }
  });
});
