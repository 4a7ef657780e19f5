/**
 * Uploads a job directory to the workflow bucket as part of `deploy runner`: a `terraform_data`
 * resource whose local-exec runs our uploader, replaced (so run again) whenever the job's content hash,
 * the bucket or the prefix changes. The uploader itself skips files that are already there.
 */
import * as path from "node:path";
import { DataResource } from "cdktf";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { terraformLiteral } from "../core/terraform-string";
import { KEY_PREFIX, OUTAGE_SECONDS } from "../core/rules";
import { PropsError, requireRule } from "../core/validation";

export interface JobUploadProps {
  /** Absolute path of the job directory. */
  readonly jobDir: string;
  /** Content hash of the job directory (path, size and bytes of every file). */
  readonly contentHash: string;
  /** Bucket name (usually a reference to the bucket resource). */
  readonly bucket: string;
  /** Key prefix of the job in the bucket: empty, or segments each ending in "/". */
  readonly prefix: string;
  /** The uploader command, e.g. `["node", "/path/to/dist/cli/index.js"]`; it talks to the stack's region. */
  readonly uploader: readonly string[];
  /**
   * Stop the upload (exit 75) when the S3 endpoint has not answered for this many seconds after a
   * failure; 0 waits for ever.
   * @default the uploader's own bound (90 seconds, runner/endpoint-health.ts)
   */
  readonly outageSeconds?: number;
}

/** POSIX shell single-quoting. */
function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export class JobUpload extends Construct {
  /** The terraform_data resource with the local-exec provisioner. */
  readonly resource: DataResource;
  constructor(scope: Construct, id: string, props: JobUploadProps) {
    super(scope, id);
    if (!path.isAbsolute(props.jobDir))
      throw new PropsError("JobUpload", "jobDir", props.jobDir, "an absolute path (Terraform runs the upload from its own directory)");
    requireRule("JobUpload", "prefix", props.prefix, KEY_PREFIX);
    if (props.outageSeconds !== undefined) requireRule("JobUpload", "outageSeconds", props.outageSeconds, OUTAGE_SECONDS);
    if (props.uploader.length === 0) throw new PropsError("JobUpload", "uploader", props.uploader, "a command: program and arguments");
    const args = [
      ...props.uploader.map(shQuote),
      "--region",
      shQuote(AwsEnvironment.of(this).region),
      "upload",
      "--job-dir",
      shQuote(props.jobDir),
      "--bucket",
      props.bucket, // a reference; bucket names need no quoting
      ...(props.prefix ? ["--prefix", shQuote(props.prefix)] : []),
      ...(props.outageSeconds !== undefined ? ["--outage-timeout", String(props.outageSeconds)] : []),
    ];
    this.resource = new DataResource(this, "Resource", {
      triggersReplace: { content: props.contentHash, bucket: props.bucket, prefix: props.prefix },
      provisioners: [{ type: "local-exec", command: terraformLiteral(args.join(" ")) }],
    });
  }
}
