/**
 * The executor's lean S3 client (executor/s3-objects.ts) without a real S3 server: its endpoints
 * against the SDK's endpoint rules, its requests, retries and errors against a loopback server that
 * fails on purpose. test/executor-s3.test.ts runs it against Ceph RGW, which checks its signatures.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../runner/s3-client";
import { S3Objects } from "../executor/s3-objects";
import { describeError } from "../runner/errors";
import { S3HttpError } from "../runner/s3-http";
import { serve } from "./support/http-recorder";

const CREDS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const agents = () => ({ http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) });

describe("endpoints come from the SDK's own rules", () => {
  const cases: { name: string; client: ConstructorParameters<typeof S3Client>[0]; bucket: string; url: string }[] = [
    { name: "AWS, virtual-hosted", client: { region: "eu-west-1" }, bucket: "my-bucket", url: "https://my-bucket.s3.eu-west-1.amazonaws.com/k" },
    {
      name: "AWS, a bucket with dots (path style)",
      client: { region: "eu-west-1" },
      bucket: "my.bucket",
      url: "https://s3.eu-west-1.amazonaws.com/my.bucket/k",
    },
    { name: "FIPS", client: { region: "us-east-1", useFipsEndpoint: true }, bucket: "my-bucket", url: "https://my-bucket.s3-fips.us-east-1.amazonaws.com/k" },
    { name: "China", client: { region: "cn-north-1" }, bucket: "my-bucket", url: "https://my-bucket.s3.cn-north-1.amazonaws.com.cn/k" },
    {
      name: "an S3-compatible endpoint, path style",
      client: { region: "us-east-1", endpoint: "http://127.0.0.1:7480", forcePathStyle: true },
      bucket: "my-bucket",
      url: "http://127.0.0.1:7480/my-bucket/k",
    },
  ];
  test.each(cases)("$name", async ({ client, bucket, url }) => {
    const c = new S3Client({ ...client, credentials: CREDS });
    const objects = await S3Objects.forBucket(c, bucket, agents());
    expect(objects).toBeDefined();
    expect((objects as unknown as { url(k: string): string }).url("k")).toBe(url);
    c.destroy();
  });

  test("an IPv6 endpoint: requests go to the bare address with the bracketed Host", async () => {
    const s3 = await serve((_req, res) => res.setHeader("etag", '"e"').end("v6"), "::1");
    const c = new S3Client({ region: "us-east-1", endpoint: s3.url, forcePathStyle: true, credentials: CREDS });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-s3-objects-v6-"));
    try {
      const objects = (await S3Objects.forBucket(c, "my-bucket", agents()))!;
      expect(await objects.get("k", path.join(dir, "k"))).toMatchObject({ notModified: false, size: 2 });
      expect(s3.seen.map((q) => `${q.method} ${q.url} ${q.headers.host}`)).toEqual([`GET /my-bucket/k ${new URL(s3.url).host}`]);
    } finally {
      c.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
      await s3.close();
    }
  });

  test("an S3 Express directory bucket (its own auth scheme) is left to the SDK", async () => {
    const c = new S3Client({ region: "us-east-1", credentials: CREDS });
    expect(await S3Objects.forBucket(c, "my-bucket--use1-az4--x-s3", agents())).toBeUndefined();
    c.destroy();
  });
});

/** A loopback "S3" that answers each request with the next scripted response and records what it got. */
async function scripted(responses: ((req: http.IncomingMessage, res: http.ServerResponse) => void)[]) {
  const seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      const next = responses.shift();
      if (next) next(req, res);
      else {
        res.statusCode = 500;
        res.end("<Error><Code>InternalError</Code><Message>no more scripted responses</Message></Error>");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const client = createS3Client({ region: "us-east-1", endpoint: `http://127.0.0.1:${port}`, credentials: CREDS, maxAttempts: 3 });
  const objects = (await S3Objects.forBucket(client, "bucket", agents()))!;
  return {
    seen,
    objects,
    close: () => {
      client.destroy();
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const error = (status: number, code: string, date?: string) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.statusCode = status;
  if (date) res.setHeader("date", date);
  res.end(`<?xml version="1.0"?><Error><Code>${code}</Code><Message>${code} on purpose</Message></Error>`);
};
const ok =
  (body: string, etag = '"e1"') =>
  (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.setHeader("etag", etag);
    res.setHeader("content-length", Buffer.byteLength(body));
    res.end(body);
  };

describe("requests, retries and errors", () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-s3-objects-"))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("GET writes the body and its MD5; throttling and 5xx are retried; the requests are signed and conditional", async () => {
    const s = await scripted([error(503, "SlowDown"), error(500, "InternalError"), ok("hello")]);
    try {
      const target = path.join(dir, "a");
      const r = await s.objects.get("in/a b.txt", target, { ifNoneMatch: '"old"', hash: true });
      expect(r).toEqual({ notModified: false, etag: '"e1"', size: 5, md5: crypto.createHash("md5").update("hello").digest("hex") });
      expect(fs.readFileSync(target, "utf8")).toBe("hello");
      expect(s.seen.map((q) => `${q.method} ${q.url}`)).toEqual(Array(3).fill("GET /bucket/in/a%20b.txt"));
      expect(s.seen[2].headers["if-none-match"]).toBe('"old"');
      expect(s.seen[2].headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=host;if-none-match;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
      );
    } finally {
      await s.close();
    }
  });

  test("304 is 'not modified' and writes nothing", async () => {
    const s = await scripted([
      (_q, res) => {
        res.statusCode = 304;
        res.end();
      },
    ]);
    try {
      expect(await s.objects.get("k", path.join(dir, "none"), { ifNoneMatch: '"e1"' })).toEqual({ notModified: true });
      expect(fs.existsSync(path.join(dir, "none"))).toBe(false);
    } finally {
      await s.close();
    }
  });

  test("a body cut short is retried, and the file holds the whole object afterwards", async () => {
    const s = await scripted([
      (_q, res) => {
        res.setHeader("content-length", 10);
        res.write("01234");
        setTimeout(() => res.destroy(), 20);
      },
      ok("0123456789"),
    ]);
    try {
      const r = await s.objects.get("k", path.join(dir, "cut"));
      expect(r).toMatchObject({ notModified: false, size: 10 });
      expect(fs.readFileSync(path.join(dir, "cut"), "utf8")).toBe("0123456789");
      expect(s.seen).toHaveLength(2);
    } finally {
      await s.close();
    }
  });

  test("errors that retrying cannot fix fail at once, shaped like the SDK's (name, HTTP status)", async () => {
    const s = await scripted([error(404, "NoSuchKey"), error(403, "AccessDenied"), error(400, "BadDigest"), error(400, "BadDigest"), error(400, "BadDigest")]);
    try {
      const missing = await s.objects.get("gone", path.join(dir, "x")).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(S3HttpError);
      expect(missing).toMatchObject({ name: "NoSuchKey", $metadata: { httpStatusCode: 404 } });
      expect((missing as Error).message).toMatch(/^NoSuchKey on purpose \(GET http:\/\/127\.0\.0\.1:\d+\/bucket\/gone\)$/);
      await expect(s.objects.put("k", Buffer.from("x"), crypto.createHash("md5").update("x").digest())).rejects.toMatchObject({ name: "AccessDenied" });
      expect(s.seen).toHaveLength(2);
      // BadDigest can be a body damaged on the way: retried, up to maxAttempts (3 here).
      await expect(s.objects.put("k", Buffer.from("x"), crypto.createHash("md5").update("x").digest())).rejects.toMatchObject({ name: "BadDigest" });
      expect(s.seen).toHaveLength(5);
      expect(s.seen[1].headers["content-md5"]).toBe(crypto.createHash("md5").update("x").digest("base64"));
    } finally {
      await s.close();
    }
  });

  test("a clock-skew error is retried at once with the server's clock", async () => {
    const ahead = new Date(Date.now() + 3 * 3600_000);
    const s = await scripted([error(403, "RequestTimeTooSkewed", ahead.toUTCString()), ok("x")]);
    try {
      await s.objects.get("k", path.join(dir, "skew"));
      const sent = (q: (typeof s.seen)[number]) =>
        Date.parse(String(q.headers["x-amz-date"]).replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z"));
      expect(Math.abs(sent(s.seen[0]) - Date.now())).toBeLessThan(60_000);
      expect(Math.abs(sent(s.seen[1]) - ahead.getTime())).toBeLessThan(60_000);
    } finally {
      await s.close();
    }
  });

  test("a refused connection is retried, then reported with its code", async () => {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const client = createS3Client({ region: "us-east-1", endpoint: `http://127.0.0.1:${port}`, credentials: CREDS, maxAttempts: 2 });
    const objects = (await S3Objects.forBucket(client, "bucket", agents()))!;
    const e = await objects.get("k", path.join(dir, "refused")).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "ECONNREFUSED" });
    expect(describeError(e)).toMatch(
      new RegExp(`^ECONNREFUSED: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(GET http://127\\.0\\.0\\.1:${port}/bucket/k, 2 attempts\\)$`),
    );
    client.destroy();
  });
});
