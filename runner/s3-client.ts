/** An S3 client set up for bulk transfers, for AWS S3 and S3-compatible stores alike. */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";

interface S3ClientOptions {
  readonly region: string;
  /** S3-compatible endpoint, e.g. http://127.0.0.1:7480. @default - AWS S3 */
  readonly endpoint?: string;
  /** Path-style addressing (needed without virtual-host DNS). @default true when an endpoint is set, here or in the environment (`endpointFromEnv`) */
  readonly forcePathStyle?: boolean;
  /** Sockets to keep open; size it to the upload concurrency. @default 64 */
  readonly maxSockets?: number;
  /** Attempts per request by the SDK's retry strategy (throttling, 5xx, connection errors). @default 5 */
  readonly maxAttempts?: number;
  /** Only for tests against a local server; otherwise the default credential chain (roles, SSO, profiles). */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * The S3-compatible endpoint the SDK takes from the environment by itself (AWS_ENDPOINT_URL_S3, else
 * AWS_ENDPOINT_URL), if any. Such stores (MinIO, Ceph RGW, LocalStack) are reached path style by
 * default, by the CLI's clients and the executor alike: a host name such as `minio` has no per-bucket
 * DNS names.
 */
export function endpointFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.AWS_ENDPOINT_URL_S3?.trim() || env.AWS_ENDPOINT_URL?.trim() || undefined;
}

export function createS3Client(o: S3ClientOptions): S3Client {
  const maxSockets = o.maxSockets ?? 64;
  return new S3Client({
    region: o.region,
    endpoint: o.endpoint,
    forcePathStyle: o.forcePathStyle ?? (o.endpoint !== undefined || endpointFromEnv() !== undefined),
    credentials: o.credentials,
    maxAttempts: o.maxAttempts ?? 5,
    retryMode: "standard",
    // Checksums only where S3 requires them: streamed bodies with the newer default (CRC32, aws-chunked)
    // are rejected by S3-compatible stores such as Ceph RGW 16 (411 MissingContentLength). Integrity is
    // covered by Content-MD5 on single-part uploads and by comparing ETags after the upload.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
      connectionTimeout: 5_000,
      requestTimeout: 120_000,
    }),
  });
}

/** Problem with an S3 bucket name, or undefined when it is valid (general-purpose bucket rules). */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return "must be 3 to 63 characters long";
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name))
    return "may contain only lowercase letters, digits, dots and hyphens, and must start and end with a letter or digit";
  if (name.includes("..") || name.includes(".-") || name.includes("-.")) return "must not contain two adjacent dots or a dot next to a hyphen";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return "must not look like an IP address";
  if (name.startsWith("xn--") || name.startsWith("sthree-") || name.endsWith("-s3alias") || name.endsWith("--ol-s3")) return "uses a reserved prefix or suffix";
  return undefined;
}

/** Problem with an endpoint URL, or undefined when it is usable. */
export function endpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return "is not a URL (e.g. http://127.0.0.1:7480)";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `has protocol ${url.protocol}; allowed: http or https`;
  if (url.pathname !== "/" && url.pathname !== "") return "must not have a path";
  return undefined;
}
