/**
 * The workflow bucket: generated name, encryption, no public access, ACLs disabled (BucketOwnerEnforced),
 * TLS only, and incomplete multipart uploads cleaned up after a day.
 */
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { Construct } from "constructs";
import { WORKFLOW_BUCKET_DEFAULTS } from "../core/defaults";
import { BUCKET_NAME_PREFIX } from "../core/rules";
import { requireRule } from "../core/validation";
import { addRolePolicy, bucketStatements } from "../iam/policy";

export interface WorkflowBucketProps {
  /** Prefix of the generated name (AWS appends a unique suffix). @default "hyperflow-" */
  readonly namePrefix?: string;
  /** Delete the bucket with its objects on destroy. @default false */
  readonly forceDestroy?: boolean;
  /** Days after which incomplete multipart uploads are aborted. @default 1 */
  readonly abortIncompleteUploadsAfterDays?: number;
}

export class WorkflowBucket extends Construct {
  readonly bucket: S3Bucket;
  constructor(scope: Construct, id: string, props: WorkflowBucketProps = {}) {
    super(scope, id);
    const prefix = props.namePrefix ?? WORKFLOW_BUCKET_DEFAULTS.namePrefix;
    requireRule("WorkflowBucket", "namePrefix", prefix, BUCKET_NAME_PREFIX);
    this.bucket = new S3Bucket(this, "Resource", { bucketPrefix: prefix, forceDestroy: props.forceDestroy ?? WORKFLOW_BUCKET_DEFAULTS.forceDestroy });
    new S3BucketServerSideEncryptionConfigurationA(this, "Encryption", {
      bucket: this.bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
    });
    const publicBlock = new S3BucketPublicAccessBlock(this, "NoPublicAccess", {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "Ownership", { bucket: this.bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } });
    new S3BucketLifecycleConfiguration(this, "Lifecycle", {
      bucket: this.bucket.id,
      rule: [
        {
          id: "abort-incomplete-multipart-uploads",
          status: "Enabled",
          filter: [{ prefix: "" }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: props.abortIncompleteUploadsAfterDays ?? 1 }],
        },
      ],
    });
    new S3BucketPolicy(this, "TlsOnly", {
      bucket: this.bucket.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
      dependsOn: [publicBlock],
    });
  }

  /** Read-only access for a role (by name, also from another stack). */
  grantRead(scope: Construct, id: string, roleName: string) {
    return addRolePolicy(scope, id, roleName, bucketStatements(this.bucket.arn, "read"));
  }

  /** Read-write access for a role (by name, also from another stack). */
  grantReadWrite(scope: Construct, id: string, roleName: string) {
    return addRolePolicy(scope, id, roleName, bucketStatements(this.bucket.arn, "readwrite"));
  }
}
