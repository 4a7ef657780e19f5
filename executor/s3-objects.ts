/**
 * The executor's hot path to S3: GetObject (optionally conditional) and single-part PutObject, signed
 * with AWS Signature Version 4 and sent with Node's own http(s) client.
 *
 * Why not the SDK for these: a worker makes about five such requests per task, and the SDK's
 * per-request machinery (middleware stack, serializers, retry strategy) cost about 1.8 ms of CPU each
 * against RGW, a direct signed request well under half of that (docs/design.md, "Task executor"). On a
 * worker that CPU is taken from the tasks.
 *
 * What still comes from the SDK, so the behaviour users configure stays the SDK's:
 *   - credentials: the S3 client's provider (the default chain: environment, ECS task role, …), which
 *     caches and refreshes them;
 *   - the endpoint: resolved once per bucket by the client's own endpoint rules (region, FIPS,
 *     dual-stack, AWS_ENDPOINT_URL_S3, path-style) through a HeadObject that is stopped before it is
 *     sent; `forBucket` returns undefined when those rules ask for anything but plain SigV4 for "s3"
 *     (S3 Express, SigV4a for multi-region access points), and the caller uses the SDK instead;
 *   - multipart uploads (storage.ts keeps @aws-sdk/lib-storage for files over 8 MiB).
 *
 * Requests follow the SDK's standard retry mode: up to the client's `maxAttempts`, for what
 * runner/errors.ts `isRetryable` says (connection errors, HTTP 429 and 5xx, throttling), with
 * exponential backoff and full jitter (base 100 ms, at most 20 s), and once more at once after a
 * clock-skew error, with the server's clock.
 *
 * Requests are signed by the SDK's SigV4 signer as the uploader's lean PUT signs them (runner/fast-put.ts;
 * both take endpoint resolution, key encoding and the error type from runner/s3-http.ts): the path
 * encoded once, UNSIGNED-PAYLOAD, Content-MD5 guarding PUT bodies. test/s3-objects.test.ts covers
 * endpoints, retries and errors against a loopback server; test/executor-s3.test.ts runs every path
 * against Ceph RGW, which checks the signatures.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { S3Client } from "@aws-sdk/client-s3";
import { SignatureV4 } from "@smithy/signature-v4";
import { isRetryable } from "../runner/errors";
import { NodeHash, objectPath, objectUrl, resolveS3Endpoint, S3HttpError, s3ErrorOf, type S3Endpoint } from "../runner/s3-http";

/** What a GET brought: the object's bytes (written to the target file) or "not modified". */
export type GetResult = { readonly notModified: true } | { readonly notModified: false; readonly etag?: string; readonly size: number; readonly md5?: string };

const SKEW_CODES = new Set(["RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"]);
const NETWORK_CODES = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNREFUSED", "EAI_AGAIN", "ENOTFOUND", "ECONNABORTED", "EHOSTUNREACH", "ENETUNREACH"]);
const CONNECT_TIMEOUT_MS = 5_000;
const IDLE_TIMEOUT_MS = 120_000;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 20_000;

/** One request: what is sent, and what reads a successful (or 304) answer. */
interface Request<T> {
  readonly method: "GET" | "PUT";
  readonly key: string;
  /** Headers beyond host and the signature's, names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  readonly read: (res: http.IncomingMessage) => Promise<T>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET and PUT of single objects in one bucket (see the comment at the top of this file). */
export class S3Objects {
  private readonly signer: SignatureV4;
  /** Server time minus ours, learnt from a clock-skew error. */
  private clockOffset = 0;

  private constructor(
    client: S3Client,
    private readonly endpoint: S3Endpoint,
    private readonly agent: http.Agent,
    private readonly maxAttempts: number,
  ) {
    this.signer = new SignatureV4({
      credentials: client.config.credentials,
      region: endpoint.region,
      service: "s3",
      sha256: NodeHash,
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  /** The object client for `bucket`, or undefined when its endpoint needs the SDK (see the top of this file). */
  static async forBucket(client: S3Client, bucket: string, agents: { http: http.Agent; https: https.Agent }): Promise<S3Objects | undefined> {
    const endpoint = await resolveS3Endpoint(client, bucket);
    if (!endpoint) return undefined;
    const attempts = await client.config.maxAttempts();
    return new S3Objects(client, endpoint, endpoint.protocol === "https:" ? agents.https : agents.http, Math.max(1, attempts));
  }

  /** The request URL of a key, for messages. */
  private url(key: string): string {
    return objectUrl(this.endpoint, key);
  }

  /**
   * Downloads `key` into `target` (replacing it). With `ifNoneMatch`, S3's 304 comes back as
   * `{notModified: true}` and nothing is written. With `hash`, the MD5 of the bytes is returned.
   * A body shorter than its Content-Length fails (and is retried).
   */
  get(key: string, target: string, o: { readonly ifNoneMatch?: string; readonly hash?: boolean } = {}): Promise<GetResult> {
    const headers: Record<string, string> = {};
    if (o.ifNoneMatch) headers["if-none-match"] = o.ifNoneMatch;
    const read = async (res: http.IncomingMessage): Promise<GetResult> => {
      if (res.statusCode === 304) {
        res.resume();
        return { notModified: true };
      }
      const length = res.headers["content-length"] === undefined ? undefined : Number(res.headers["content-length"]);
      const md5 = o.hash ? crypto.createHash("md5") : undefined;
      const out = fs.createWriteStream(target);
      let size = 0;
      await new Promise<void>((resolve, reject) => {
        const fail = (e: Error) => {
          res.destroy();
          out.destroy();
          reject(e);
        };
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          md5?.update(chunk);
          if (!out.write(chunk)) {
            res.pause();
            out.once("drain", () => res.resume());
          }
        });
        res.once("error", fail);
        res.once("aborted", () => fail(Object.assign(new Error("connection closed before the body ended"), { code: "ECONNRESET" })));
        out.once("error", (e) => fail(Object.assign(e, { local: true })));
        res.once("end", () => out.end(() => resolve()));
      });
      if (length !== undefined && size !== length) throw Object.assign(new Error(`the body ended after ${size} of ${length} bytes`), { code: "ECONNRESET" });
      return { notModified: false, etag: res.headers.etag, size, md5: md5?.digest("hex") };
    };
    return this.withRetries({ method: "GET", key, headers, read });
  }

  /** Stores `data` at `key` in one request, checked by S3 against `md5` (Content-MD5); returns the ETag. */
  put(key: string, data: Buffer, md5: Buffer): Promise<{ readonly etag?: string }> {
    const headers = { "content-length": String(data.length), "content-md5": md5.toString("base64") };
    const read = async (res: http.IncomingMessage) => {
      res.resume();
      return { etag: res.headers.etag };
    };
    return this.withRetries({ method: "PUT", key, headers, body: data, read });
  }

  private async withRetries<T>(r: Request<T>): Promise<T> {
    const { method, key } = r;
    let skewRetried = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(r);
      } catch (e) {
        const err = e as Error & { code?: string; local?: boolean };
        if (err instanceof S3HttpError && SKEW_CODES.has(err.name) && err.serverTime !== undefined && !skewRetried) {
          skewRetried = true;
          this.clockOffset = err.serverTime - Date.now();
          attempt--;
          continue;
        }
        const retryable = err instanceof S3HttpError ? isRetryable(err) : !err.local && (NETWORK_CODES.has(err.code ?? "") || err.message === "socket hang up");
        if (!retryable || attempt >= this.maxAttempts) {
          // Connection errors keep their code (the error's name for describeError) and say where and how often.
          if (!(err instanceof S3HttpError)) err.message = `${err.message} (${method} ${this.url(key)}${attempt > 1 ? `, ${attempt} attempts` : ""})`;
          throw err;
        }
        await sleep(Math.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt));
      }
    }
  }

  private async once<T>({ method, key, headers: extra, body, read }: Request<T>): Promise<T> {
    const ep = this.endpoint;
    const path = objectPath(ep, key);
    const { headers } = await this.signer.sign(
      {
        method,
        protocol: ep.protocol,
        hostname: ep.hostname,
        port: ep.port,
        path,
        query: {},
        headers: { ...extra, host: ep.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
      },
      { signingDate: new Date(Date.now() + this.clockOffset) },
    );
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = (ep.protocol === "https:" ? https : http).request(
        { method, hostname: ep.hostname, port: ep.port, path, headers, agent: this.agent },
        resolve,
      );
      const connectTimer = setTimeout(
        () => req.destroy(Object.assign(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`), { code: "ETIMEDOUT" })),
        CONNECT_TIMEOUT_MS,
      );
      req.once("socket", (socket) => {
        if (!socket.connecting) clearTimeout(connectTimer);
        else socket.once("connect", () => clearTimeout(connectTimer));
      });
      req.once("response", () => clearTimeout(connectTimer));
      req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`), { code: "ETIMEDOUT" })));
      req.once("error", (e) => {
        clearTimeout(connectTimer);
        reject(e);
      });
      req.end(body);
    });
    const status = res.statusCode ?? 0;
    if (status >= 300 && status !== 304) {
      const text = await new Promise<string>((resolve) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.length < 64 && chunks.push(c));
        res.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        res.once("error", () => resolve(""));
      });
      throw s3ErrorOf(status, text, res.headers, `${method} ${this.url(key)}`);
    }
    return read(res);
  }
}
