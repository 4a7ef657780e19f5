/** validate / upload: the job directory and its transfer to S3. */
import type { Command } from "commander";
import { UsageError } from "../../common/errors";
import { JOB_TARGETS, type JobSummary, type JobTarget, validateJobDir } from "../../runner/job-dir";
import { DEFAULT_OUTAGE_SECONDS } from "../../runner/endpoint-health";
import { HashCache } from "../../runner/hash-cache";
import { formatBytes, progressFor, silentProgress } from "../../runner/progress";
import type { SyncResult } from "../../runner/s3-sync";
import { type CommandContext, type GlobalOptions, globalsOf, type Io } from "../context";

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("validate")
    .description("check a job directory: workdir/ with dag.json or workflow.json, input/ with every input the workflow needs")
    .requiredOption("-j, --job-dir <dir>", "job directory (env HFLOW_JOB_DIR)", process.env.HFLOW_JOB_DIR)
    .option("-t, --target <target>", `where the workflow will run: ${JOB_TARGETS.join(" or ")} (the functions each engine can run differ)`, "ecs")
    .option("--json", "print the summary as JSON")
    .addHelpText("after", "\nExamples:\n  $ hflow-infra validate --job-dir ./montage-0.25\n  $ hflow-infra validate --job-dir ./montage-0.25 --target k8s")
    .action(ctx.action((opts: ValidateOptions) => validateCommand(opts, ctx.io)));

  program
    .command("upload")
    .description("validate a job directory and upload workdir/ and input/ to S3, skipping what is already there")
    .requiredOption("-j, --job-dir <dir>", "job directory (env HFLOW_JOB_DIR)", process.env.HFLOW_JOB_DIR)
    .requiredOption("-b, --bucket <name>", "target bucket (env HFLOW_BUCKET)", process.env.HFLOW_BUCKET)
    .option("-p, --prefix <prefix>", "key prefix (default: bucket root)")
    .option("--endpoint <url>", "S3-compatible endpoint, e.g. http://127.0.0.1:7480 (implies --path-style, as AWS_ENDPOINT_URL_S3 does)")
    .option("--path-style", "path-style addressing")
    .option("--delete", "delete remote objects under the prefix that have no local file")
    .option("--dry-run", "show what would be uploaded or deleted; change nothing")
    .option("--concurrency <n>", "files in flight", "16")
    .option(
      "--outage-timeout <seconds>",
      "stop (exit 75) when the endpoint has not answered for this long after a failure; a re-run uploads what is missing (0: never)",
      String(DEFAULT_OUTAGE_SECONDS),
    )
    .option("--no-cache", "hash every file again instead of trusting fingerprints of unchanged files (same inode, size, mtime and ctime)")
    .option("--json", "print the result as JSON (no progress output)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ hflow-infra upload -j ./montage-0.25 -b my-bucket\n  $ hflow-infra upload -j ./job -b test --endpoint http://127.0.0.1:7480 --dry-run",
    )
    .action(ctx.action((opts: UploadOptions, cmd: Command) => uploadCommand(globalsOf(cmd), opts, ctx.io)));
}

interface ValidateOptions {
  readonly jobDir: string;
  readonly target?: string;
  readonly json?: boolean;
}

export function validateCommand(opts: ValidateOptions, io: Io): number {
  const target = opts.target ?? "ecs";
  if (!(JOB_TARGETS as readonly string[]).includes(target))
    throw new UsageError(`--target ${JSON.stringify(target)} is not allowed; allowed: ${JOB_TARGETS.join(", ")}`);
  const s = validateJobDir(opts.jobDir, { target: target as JobTarget });
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
    `job directory ${s.jobDir}: ok for ${s.target}`,
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
  readonly outageTimeout?: string;
  /** commander's --no-cache sets false. */
  readonly cache?: boolean;
}

/** Checks the arguments of an upload; throws UsageError (exit 2) before anything is read remotely. */
export async function checkUploadArgs(o: UploadOptions, region?: string): Promise<{ concurrency: number; outageSeconds: number }> {
  const [{ bucketNameProblem, endpointProblem }, { prefixProblem }, { AWS_REGION, OUTAGE_SECONDS, ruleMessage }] = await Promise.all([
    import("../../runner/s3-client"), // the AWS SDK
    import("../../runner/s3-sync"),
    import("../../constructs/core/rules"),
  ]);
  const problems: string[] = [];
  const badPrefix = prefixProblem(o.prefix);
  if (badPrefix) problems.push(`--prefix ${JSON.stringify(o.prefix)} ${badPrefix}`);
  if (region !== undefined) {
    const badRegion = ruleMessage(AWS_REGION, region);
    if (badRegion) problems.push(`--region ${JSON.stringify(region)} ${badRegion}`);
  }
  const bucketProblem = bucketNameProblem(o.bucket);
  if (bucketProblem) problems.push(`--bucket ${JSON.stringify(o.bucket)} ${bucketProblem}`);
  if (o.endpoint) {
    const p = endpointProblem(o.endpoint);
    if (p) problems.push(`--endpoint ${JSON.stringify(o.endpoint)} ${p}`);
  }
  const concurrency = o.concurrency === undefined ? 16 : Number(o.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
    problems.push(`--concurrency ${JSON.stringify(o.concurrency)} is not allowed; allowed: 1 to 256`);
  const outageSeconds = o.outageTimeout === undefined ? DEFAULT_OUTAGE_SECONDS : Number(o.outageTimeout);
  if (!OUTAGE_SECONDS.test(outageSeconds))
    problems.push(`--outage-timeout ${JSON.stringify(o.outageTimeout)} is not allowed; allowed: ${OUTAGE_SECONDS.allowed} (seconds)`);
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  return { concurrency, outageSeconds };
}

export async function uploadCommand(globals: GlobalOptions, o: UploadOptions, io: Io, stderr: NodeJS.WriteStream = process.stderr): Promise<number> {
  const { concurrency, outageSeconds } = await checkUploadArgs(o, globals.region);
  const job = validateJobDir(o.jobDir);
  const region = globals.region ?? process.env.HFLOW_REGION ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
  const [{ createS3Client }, { maxSocketsFor, syncToS3 }] = await Promise.all([import("../../runner/s3-client"), import("../../runner/s3-sync")]);
  const client = createS3Client({
    region,
    endpoint: o.endpoint,
    // Path style with --endpoint or an endpoint from the environment (createS3Client's default).
    forcePathStyle: o.pathStyle || undefined,
    maxSockets: maxSocketsFor({ concurrency }),
  });
  try {
    const result = await syncToS3({
      client,
      bucket: o.bucket,
      prefix: o.prefix,
      files: job.files,
      concurrency,
      outageSeconds,
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
