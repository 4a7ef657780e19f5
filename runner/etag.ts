/**
 * Content fingerprints in the form S3 reports them as ETags: the MD5 of a single-part object, and for a
 * multipart object `md5(concat(md5(part)…))-N` for the part size it was uploaded with.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";

export interface Fingerprint {
  /** Hex MD5 of the whole content (the ETag of a single-part upload). */
  readonly md5: string;
  /** ETag of a multipart upload with `partSize` parts, when the file is at least one part long. */
  readonly multipart?: string;
}

/**
 * Streams the file once and returns both forms (memory independent of the file size). The multipart
 * form is given from one part on: tools such as `aws s3 sync` upload a file of exactly one part as
 * multipart (`…-1`).
 */
export async function fingerprintFile(file: string, partSize: number): Promise<Fingerprint> {
  const whole = crypto.createHash("md5");
  const partDigests: Buffer[] = [];
  let part = crypto.createHash("md5");
  let inPart = 0;
  let size = 0;
  const stream = fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    whole.update(chunk);
    size += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(partSize - inPart, chunk.length - offset);
      part.update(chunk.subarray(offset, offset + take));
      inPart += take;
      offset += take;
      if (inPart === partSize) {
        partDigests.push(part.digest());
        part = crypto.createHash("md5");
        inPart = 0;
      }
    }
  }
  if (inPart > 0) partDigests.push(part.digest());
  const md5 = whole.digest("hex");
  if (size < partSize) return { md5 };
  return { md5, multipart: multipartEtag(partDigests) };
}

/** Fingerprint of content held in memory (files of at most one part). */
export function fingerprintBuffer(data: Buffer, partSize: number): Fingerprint {
  const digest = crypto.createHash("md5").update(data).digest();
  return data.length >= partSize ? { md5: digest.toString("hex"), multipart: multipartEtag([digest]) } : { md5: digest.toString("hex") };
}

function multipartEtag(partDigests: readonly Buffer[]): string {
  return `${crypto.createHash("md5").update(Buffer.concat(partDigests)).digest("hex")}-${partDigests.length}`;
}

/** `"abc…"` → `abc…` (S3 quotes ETags). */
function normalizeEtag(etag: string | undefined): string {
  return (etag ?? "").replace(/^W\//, "").replace(/"/g, "").toLowerCase();
}

/** Whether a remote ETag matches the local content in either form. */
export function etagMatches(remote: string, fp: Fingerprint): boolean {
  const r = normalizeEtag(remote);
  return r === fp.md5 || (fp.multipart !== undefined && r === fp.multipart);
}
