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
import type { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { WORKFLOW_BUCKET_DEFAULTS } from "../core/defaults";
import { BUCKET_NAME_PREFIX, S3_BUCKET_NAME } from "../core/rules";
import { requireIntInRange, requireRule } from "../core/validation";
import { bucketStatements, type Grantee } from "../iam/policy";

/** A bucket roles can be given access to: the workflow bucket made here, or one known by name. */
export interface BucketRef {
  readonly bucketName: string;
  readonly bucketArn: string;
  /**
   * List and read objects.
   * @param policyName name of the inline policy on the grantee @default "WorkflowBucketRead"
   */
  grantRead(grantee: Grantee, policyName?: string): IamRolePolicy;
  /**
   * List, read, write and delete objects, abort multipart uploads.
   * @param policyName name of the inline policy on the grantee @default "WorkflowBucket"
   */
  grantReadWrite(grantee: Grantee, policyName?: string): IamRolePolicy;
}

const READ_POLICY = "WorkflowBucketRead";
const READ_WRITE_POLICY = "WorkflowBucket";

/** A bucket that exists outside this code (e.g. the data bucket of an existing deployment). */
class NamedBucket implements BucketRef {
  constructor(
    readonly bucketName: string,
    readonly bucketArn: string,
  ) {}
  grantRead(grantee: Grantee, policyName = READ_POLICY): IamRolePolicy {
    return grantee.addPolicy(policyName, bucketStatements(this.bucketArn, "read"));
  }
  grantReadWrite(grantee: Grantee, policyName = READ_WRITE_POLICY): IamRolePolicy {
    return grantee.addPolicy(policyName, bucketStatements(this.bucketArn, "readwrite"));
  }
}

export interface WorkflowBucketProps {
  /** Prefix of the generated name (AWS appends a unique suffix). @default "hyperflow-" */
  readonly namePrefix?: string;
  /** Delete the bucket with its objects on destroy. @default false */
  readonly forceDestroy?: boolean;
  /** Days after which incomplete multipart uploads are aborted. @default 1 */
  readonly abortIncompleteUploadsAfterDays?: number;
}

export class WorkflowBucket extends Construct implements BucketRef {
  /** A bucket known by name, in the partition of `scope`'s stack. */
  static fromBucketName(scope: Construct, bucketName: string): BucketRef {
    requireRule("WorkflowBucket.fromBucketName", "bucketName", bucketName, S3_BUCKET_NAME, { allowTokens: true });
    return new NamedBucket(bucketName, `arn:${AwsEnvironment.of(scope).partition}:s3:::${bucketName}`);
  }

  readonly resource: S3Bucket;

  constructor(scope: Construct, id: string, props: WorkflowBucketProps = {}) {
    super(scope, id);
    const prefix = props.namePrefix ?? WORKFLOW_BUCKET_DEFAULTS.namePrefix;
    requireRule("WorkflowBucket", "namePrefix", prefix, BUCKET_NAME_PREFIX);
    const abortAfterDays = props.abortIncompleteUploadsAfterDays ?? 1;
    requireIntInRange("WorkflowBucket", "abortIncompleteUploadsAfterDays", abortAfterDays, 1, 365);
    this.resource = new S3Bucket(this, "Resource", { bucketPrefix: prefix, forceDestroy: props.forceDestroy ?? WORKFLOW_BUCKET_DEFAULTS.forceDestroy });
    new S3BucketServerSideEncryptionConfigurationA(this, "Encryption", {
      bucket: this.resource.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
    });
    const publicBlock = new S3BucketPublicAccessBlock(this, "NoPublicAccess", {
      bucket: this.resource.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "Ownership", { bucket: this.resource.id, rule: { objectOwnership: "BucketOwnerEnforced" } });
    new S3BucketLifecycleConfiguration(this, "Lifecycle", {
      bucket: this.resource.id,
      rule: [
        {
          id: "abort-incomplete-multipart-uploads",
          status: "Enabled",
          filter: [{ prefix: "" }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: abortAfterDays }],
        },
      ],
    });
    new S3BucketPolicy(this, "TlsOnly", {
      bucket: this.resource.id,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [this.resource.arn, `${this.resource.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
      dependsOn: [publicBlock],
    });
  }

  get bucketName(): string {
    return this.resource.bucket;
  }

  get bucketArn(): string {
    return this.resource.arn;
  }

  grantRead(grantee: Grantee, policyName = READ_POLICY): IamRolePolicy {
    return grantee.addPolicy(policyName, bucketStatements(this.bucketArn, "read"));
  }

  grantReadWrite(grantee: Grantee, policyName = READ_WRITE_POLICY): IamRolePolicy {
    return grantee.addPolicy(policyName, bucketStatements(this.bucketArn, "readwrite"));
  }
}
