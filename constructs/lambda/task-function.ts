/**
 * The task executor as a container-image Lambda function: this project's worker image (images/worker),
 * whose executor serves the Lambda Runtime API when Lambda starts it (executor/lambda/), with
 *
 * - a role that may read and write only the workflow bucket's job prefix (and list only below it, so
 *   a missing input is a "no such key" rather than "access denied") and write only its own log group;
 * - its own log group with a retention (Lambda's default group would keep logs forever);
 * - environment variables encrypted with a KMS key of the config's choosing (else Lambda's AWS managed
 *   key); the bucket is encrypted by WorkflowBucket;
 * - a repository policy that lets only this function's Lambda service pull the image;
 * - optionally a Function URL, always with AWS_IAM auth (never an open endpoint), for HyperFlow's
 *   REST-style callers; the engine role gets lambda:InvokeFunctionUrl on it (grantInvoke).
 *
 * Limits are checked here (AWS Lambda Developer Guide, "Lambda quotas"): memory 128 to 10,240 MB,
 * timeout up to 900 s, /tmp 512 to 10,240 MB.
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { EcrRepositoryPolicy } from "@cdktf/provider-aws/lib/ecr-repository-policy";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaFunctionUrl } from "@cdktf/provider-aws/lib/lambda-function-url";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import {
  emptyOr,
  KEY_PREFIX,
  KMS_KEY_ARN,
  LAMBDA_EPHEMERAL_STORAGE_MIB,
  LAMBDA_FUNCTION_NAME,
  LAMBDA_MEMORY_MIB,
  LAMBDA_RESERVED_CONCURRENCY,
  LAMBDA_TIMEOUT_SECONDS,
  LOG_RETENTION,
} from "../core/rules";
import { requireRule } from "../core/validation";
import { type Grantee, ServiceRole } from "../iam/policy";
import type { BucketRef } from "../storage/workflow-bucket";

export interface TaskFunctionProps {
  readonly functionName: string;
  /** The worker image in ECR, `<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`. */
  readonly imageUri: string;
  /** Name of the ECR repository of `imageUri` (its policy lets this function pull). */
  readonly repositoryName: string;
  readonly bucket: BucketRef;
  /** Key prefix of the jobs in the bucket ("" or segments ending in "/"): the role is scoped to it. */
  readonly prefix: string;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  readonly ephemeralStorageMiB: number;
  /** @default - none reserved */
  readonly reservedConcurrency?: number;
  /** @default "x86_64" */
  readonly architecture?: "x86_64" | "arm64";
  /** @default - Lambda's AWS managed key */
  readonly kmsKeyArn?: string;
  readonly logRetentionDays: number;
  /** @default false */
  readonly functionUrl?: boolean;
}

export class TaskFunction extends Construct {
  readonly resource: LambdaFunction;
  readonly role: ServiceRole;
  readonly logGroup: CloudwatchLogGroup;
  readonly url?: LambdaFunctionUrl;

  constructor(scope: Construct, id: string, props: TaskFunctionProps) {
    super(scope, id);
    const c = "TaskFunction";
    requireRule(c, "functionName", props.functionName, LAMBDA_FUNCTION_NAME);
    requireRule(c, "prefix", props.prefix, KEY_PREFIX);
    requireRule(c, "memoryMiB", props.memoryMiB, LAMBDA_MEMORY_MIB);
    requireRule(c, "timeoutSeconds", props.timeoutSeconds, LAMBDA_TIMEOUT_SECONDS);
    requireRule(c, "ephemeralStorageMiB", props.ephemeralStorageMiB, LAMBDA_EPHEMERAL_STORAGE_MIB);
    if (props.reservedConcurrency !== undefined) requireRule(c, "reservedConcurrency", props.reservedConcurrency, LAMBDA_RESERVED_CONCURRENCY);
    requireRule(c, "kmsKeyArn", props.kmsKeyArn ?? "", emptyOr(KMS_KEY_ARN));
    requireRule(c, "logRetentionDays", props.logRetentionDays, LOG_RETENTION);
    const env = AwsEnvironment.of(this);
    const functionArn = `arn:${env.partition}:lambda:${env.region}:${env.accountId}:function:${props.functionName}`;

    this.logGroup = new CloudwatchLogGroup(this, "Logs", { name: `/aws/lambda/${props.functionName}`, retentionInDays: props.logRetentionDays });
    this.role = new ServiceRole(this, "Role", {
      service: "lambda.amazonaws.com",
      namePrefix: `${props.functionName}-`,
      description: `HyperFlow task function ${props.functionName}: stage files of the workflow bucket's jobs, write its logs`,
      sourceAccount: env.accountId,
    });
    const objects = `${props.bucket.bucketArn}/${props.prefix}*`;
    const logPolicy = this.role.addPolicy("TaskFunction", [
      { sid: "StageJobFiles", actions: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], resources: [objects] },
      // Listing below the prefix only: GetObject of a missing key then says NoSuchKey, not AccessDenied.
      {
        sid: "ListJobFiles",
        actions: ["s3:ListBucket"],
        resources: [props.bucket.bucketArn],
        ...(props.prefix ? { conditions: { StringLike: { "s3:prefix": [`${props.prefix}*`] } } } : {}),
      },
      { sid: "WriteOwnLogs", actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [`${this.logGroup.arn}:*`] },
    ]);

    // Lambda pulls the image with its service principal, for this function only.
    const pull = new EcrRepositoryPolicy(this, "ImagePull", {
      repository: props.repositoryName,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "LambdaPullsTaskImage",
            Effect: "Allow",
            Principal: { Service: "lambda.amazonaws.com" },
            Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            Condition: { StringLike: { "aws:sourceArn": functionArn } },
          },
        ],
      }),
    });

    this.resource = new LambdaFunction(this, "Resource", {
      functionName: props.functionName,
      description: "HyperFlow tasks: stage in from S3 to /tmp, run, stage out (this project's worker image, executor/lambda)",
      role: this.role.roleArn,
      packageType: "Image",
      imageUri: props.imageUri,
      architectures: [props.architecture ?? "x86_64"],
      memorySize: props.memoryMiB,
      timeout: props.timeoutSeconds,
      ephemeralStorage: { size: props.ephemeralStorageMiB },
      ...(props.reservedConcurrency !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrency } : {}),
      ...(props.kmsKeyArn ? { kmsKeyArn: props.kmsKeyArn } : {}),
      // Names executor/settings.ts reads. The job's prefix comes with each job; the role allows only this one.
      environment: { variables: { STORAGE: "s3", S3_BUCKET: props.bucket.bucketName, SCRATCH_DIR: "/tmp/hflow-jobs" } },
      loggingConfig: { logFormat: "Text", logGroup: this.logGroup.name },
      dependsOn: [logPolicy, pull, this.logGroup],
    });

    if (props.functionUrl) {
      this.url = new LambdaFunctionUrl(this, "Url", { functionName: this.resource.functionName, authorizationType: "AWS_IAM" });
    }
  }

  /** Lets `grantee` invoke this function (and its AWS_IAM Function URL, if any), nothing else. */
  grantInvoke(grantee: Grantee): void {
    grantee.addPolicy("InvokeTaskFunction", [
      {
        sid: "InvokeTaskFunction",
        actions: this.url ? ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"] : ["lambda:InvokeFunction"],
        resources: [this.resource.arn],
      },
    ]);
  }
}
