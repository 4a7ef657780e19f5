/**
 * What the lean signed-HTTP paths to S3 share: the uploader's PUT (runner/fast-put.ts) and the
 * executor's GET and PUT (executor/s3-objects.ts). The SDK still decides where a bucket is (its endpoint
 * rules, read by `resolveS3Endpoint`), holds the credentials and signs (its SigV4 signer with `NodeHash`);
 * these paths only skip its per-request middleware.
 */
import * as crypto from "node:crypto";
import * as http from "node:http";
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ExitCode, HflowError } from "../common/errors";

/** The hash interface the SDK's signer takes, on Node's crypto (what @smithy/hash-node does). */
export class NodeHash {
  private readonly h: crypto.Hash | crypto.Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret ? crypto.createHmac("sha256", toBytes(secret)) : crypto.createHash("sha256");
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

function toBytes(d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === "string") return d;
  return d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** S3 key → URL path segments, encoded once (S3 does not double-encode). */
export function encodeKey(key: string): string {
  return key
    .split("/")
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join("/");
}

/** An S3 error answer: status, code and message, like the SDK's errors. */
export class S3HttpError extends HflowError {
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly status: number,
    readonly Code: string,
    message: string,
    /** The server's clock (the answer's Date header), for clock-skew errors. */
    readonly serverTime?: number,
  ) {
    super(message || Code);
    this.name = Code || `HTTP${status}`;
  }
  get $metadata() {
    return { httpStatusCode: this.status };
  }
}

/** Where a bucket's objects are, as the SDK's endpoint rules say, and the region to sign for. */
export interface S3Endpoint {
  readonly protocol: "http:" | "https:";
  /** The host to connect to, an IPv6 address without its brackets (as Node's http takes it). */
  readonly hostname: string;
  readonly port?: number;
  /** The Host header (with the port when it is not the protocol's default). */
  readonly host: string;
  /** Path up to the key: "/" (virtual-hosted style) or "/bucket/" (path style). */
  readonly base: string;
  readonly region: string;
}

/** The endpoint the client's own rules give `bucket`, or undefined when they ask for more than SigV4 for "s3". */
export async function resolveS3Endpoint(client: S3Client, bucket: string): Promise<S3Endpoint | undefined> {
  const probe = "hflow-endpoint-probe";
  const command = new HeadObjectCommand({ Bucket: bucket, Key: probe });
  let captured: { request: http.ClientRequestArgs & { path: string; protocol: string; hostname: string; port?: number }; schemes: unknown } | undefined;
  const stop = new Error("endpoint captured");
  command.middlewareStack.add(
    (_next, context) => async (args) => {
      const ctx = context as { endpointV2?: { properties?: { authSchemes?: unknown } } };
      captured = { request: args.request as never, schemes: ctx.endpointV2?.properties?.authSchemes };
      throw stop;
    },
    { step: "serialize", priority: "low", name: "hflowEndpointCapture" },
  );
  try {
    await client.send(command);
  } catch (e) {
    if (e !== stop) throw e;
  }
  if (!captured) return undefined;
  const schemes = Array.isArray(captured.schemes) ? (captured.schemes as { name?: string; signingName?: string; signingRegion?: string }[]) : [];
  const scheme = schemes[0];
  if (!scheme || scheme.name !== "sigv4" || scheme.signingName !== "s3" || !scheme.signingRegion) return undefined;
  const { request } = captured;
  const suffix = `/${probe}`;
  if (!request.path.endsWith(suffix) || (request.protocol !== "http:" && request.protocol !== "https:")) return undefined;
  const defaultPort = request.protocol === "https:" ? 443 : 80;
  const port = request.port ? Number(request.port) : undefined;
  return {
    protocol: request.protocol,
    // The SDK keeps an IPv6 literal in brackets ("[::1]"): Node's http wants the bare address, the Host
    // header (and so the signature) the bracketed form, as @smithy/node-http-handler does it.
    hostname: request.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    host: port && port !== defaultPort ? `${request.hostname}:${port}` : request.hostname,
    base: request.path.slice(0, -probe.length),
    region: scheme.signingRegion,
  };
}

/** The key's path on `endpoint` (encoded once). */
export function objectPath(endpoint: S3Endpoint, key: string): string {
  return `${endpoint.base}${encodeKey(key)}`;
}

/** The key's URL on `endpoint`, for messages. */
export function objectUrl(endpoint: S3Endpoint, key: string): string {
  return `${endpoint.protocol}//${endpoint.host}${objectPath(endpoint, key)}`;
}

/** The error an S3 answer with status ≥ 300 stands for: its XML Code and Message, and the server's clock. */
export function s3ErrorOf(status: number, body: string, headers: http.IncomingHttpHeaders, what: string): S3HttpError {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? (status === 404 ? "NotFound" : `HTTP${status}`);
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? http.STATUS_CODES[status] ?? "";
  const date = headers.date ? Date.parse(headers.date) : NaN;
  return new S3HttpError(status, code, `${message} (${what})`, Number.isNaN(date) ? undefined : date);
}

/**
 * `make(key)` at most once per key while its promise stands; a rejected one is forgotten, so the next
 * call tries again (per-bucket endpoint resolution and clients: a transient failure is not kept).
 */
export function onceUntilRejected<T>(make: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const made = new Map<string, Promise<T>>();
  return (key) => {
    let p = made.get(key);
    if (!p) {
      p = make(key);
      made.set(key, p);
      // Attached first, so it runs before any caller learns of the rejection and could ask again.
      p.catch(() => made.delete(key));
    }
    return p;
  };
}
