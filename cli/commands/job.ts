/** validate / upload: the job directory and its transfer to S3. */
import { type JobSummary, validateJobDir } from "../../runner/job-dir";
import { HashCache } from "../../runner/hash-cache";
import { formatBytes, progressFor, silentProgress } from "../../runner/progress";
import { bucketNameProblem, createS3Client, endpointProblem } from "../../runner/s3-client";
import { type SyncResult, syncToS3 } from "../../runner/s3-sync";
import { type GlobalOptions, type Io, UsageError } from "../program";

export function validateCommand(opts: { jobDir: string; json?: boolean }, io: Io): number {
  const s = validateJobDir(opts.jobDir);
  if (opts.json) io.out(JSON.stringify(summaryJson(s), null, 2));
  else io.out(summaryText(s));
  return 0;
}

function summaryJson(s: JobSummary) {
  const { files: _files, ...rest } = s;
  return rest;
}

export function summaryText(s: JobSummary): string {
  return [
    `job directory ${s.jobDir}: ok`,
    `  workflow   ${s.workflowFile}: ${s.processes} processes, ${s.signals} signals, ${s.requiredInputs.length} input files`,
    `  workdir/   ${s.workdirFiles} files, ${formatBytes(s.workdirBytes)}`,
    `  input/     ${s.inputFiles} files, ${formatBytes(s.inputBytes)}`,
  ].join("\n");
}

export interface UploadOptions {
  readonly jobDir: string;
  readonly bucket: string;
  readonly prefix?: string;
  readonly endpoint?: string;
  readonly pathStyle?: boolean;
  readonly delete?: boolean;
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly concurrency?: string;
  /** commander's --no-cache sets false. */
  readonly cache?: boolean;
}

/** Checks the arguments of an upload; throws UsageError (exit 2) before anything is read remotely. */
export function checkUploadArgs(o: UploadOptions): number {
  const problems: string[] = [];
  const bucketProblem = bucketNameProblem(o.bucket);
  if (bucketProblem) problems.push(`--bucket ${JSON.stringify(o.bucket)} ${bucketProblem}`);
  if (o.endpoint) {
    const p = endpointProblem(o.endpoint);
    if (p) problems.push(`--endpoint ${JSON.stringify(o.endpoint)} ${p}`);
  }
  const concurrency = o.concurrency === undefined ? 16 : Number(o.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) problems.push(`--concurrency ${JSON.stringify(o.concurrency)} is not allowed; allowed: 1 to 256`);
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  return concurrency;
}

export async function uploadCommand(globals: GlobalOptions, o: UploadOptions, io: Io, stderr: NodeJS.WriteStream = process.stderr): Promise<number> {
  const concurrency = checkUploadArgs(o);
  const job = validateJobDir(o.jobDir);
  const region = globals.region ?? process.env.HFLOW_REGION ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
  const client = createS3Client({ region, endpoint: o.endpoint, forcePathStyle: o.pathStyle ?? (o.endpoint ? true : undefined), maxSockets: concurrency * 2 + 8 });
  try {
    const result = await syncToS3({
      client,
      bucket: o.bucket,
      prefix: o.prefix,
      files: job.files,
      concurrency,
      delete: o.delete,
      dryRun: o.dryRun,
      cache: o.cache === false ? undefined : HashCache.forJob(job.jobDir),
      progress: o.json ? silentProgress : progressFor(o.dryRun ? "dry run" : "upload", stderr, (l) => io.err(l)),
    });
    io.out(o.json ? JSON.stringify(result, null, 2) : resultText(result));
    return result.failed.length === 0 ? 0 : 1;
  } finally {
    client.destroy();
  }
}

export function resultText(r: SyncResult): string {
  const lines = [
    `${r.dryRun ? "dry run: would upload" : "uploaded"} ${r.uploaded} of ${r.files} files (${formatBytes(r.bytesUploaded)}), skipped ${r.skipped} unchanged (${formatBytes(r.bytesSkipped)})` +
      `${r.deletedKeys.length > 0 ? `, ${r.dryRun ? "would delete" : "deleted"} ${r.deletedKeys.length}` : ""} in ${r.seconds.toFixed(1)} s → s3://${r.bucket}/${r.prefix}`,
  ];
  if (r.dryRun) lines.push(...r.uploadedKeys.slice(0, 20).map((k) => `  + ${k}`), ...r.deletedKeys.slice(0, 20).map((k) => `  - ${k}`));
  if (!r.dryRun) lines.push(r.verified ? "verified: every file is in the bucket with matching ETag and size" : `FAILED: ${r.failed.length} file(s)`);
  lines.push(...r.failed.slice(0, 50).map((f) => `  ! ${f.key}: ${f.error}`));
  return lines.join("\n");
}
