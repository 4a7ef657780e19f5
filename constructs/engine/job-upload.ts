/**
 * Uploads a job directory to the workflow bucket as part of `deploy runner`: a `terraform_data`
 * resource whose local-exec runs our uploader, replaced (so run again) whenever the job's content hash,
 * the bucket or the prefix changes. The uploader itself skips files that are already there.
 */
import { DataResource } from "cdktf";
import { Construct } from "constructs";
import { terraformLiteral } from "../core/terraform-string";

export interface JobUploadProps {
  /** Absolute path of the job directory. */
  readonly jobDir: string;
  /** Content hash of the job directory (path, size and bytes of every file). */
  readonly contentHash: string;
  /** Bucket name (usually a reference to the bucket resource). */
  readonly bucket: string;
  readonly prefix: string;
  readonly region: string;
  /** The uploader command, e.g. `["node", "/path/to/dist/cli/index.js"]`. */
  readonly uploader: readonly string[];
}

/** POSIX shell single-quoting. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export class JobUpload extends Construct {
  readonly resource: DataResource;
  constructor(scope: Construct, id: string, props: JobUploadProps) {
    super(scope, id);
    const args = [
      ...props.uploader.map(shQuote),
      "--region",
      shQuote(props.region),
      "upload",
      "--job-dir",
      shQuote(props.jobDir),
      "--bucket",
      props.bucket, // a reference; bucket names need no quoting
      ...(props.prefix ? ["--prefix", shQuote(props.prefix)] : []),
    ];
    this.resource = new DataResource(this, "Resource", {
      triggersReplace: { content: props.contentHash, bucket: props.bucket, prefix: props.prefix },
      provisioners: [{ type: "local-exec", command: terraformLiteral(args.join(" ")) }],
    });
  }
}
