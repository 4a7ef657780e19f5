/**
 * One container app on AWS Batch (and optionally Lambda): its image repository, log group, job role
 * scoped to the app's input and output prefixes, the job definition (a single-node container job, or a
 * multi-node parallel job whose one node range runs the same container on every node), and the S3
 * trigger (an upload to the input prefix → EventBridge → Batch SubmitJob, or → Lambda).
 *
 * The container runs this project's app entrypoint (images/app/entrypoint.ts) with
 * `--input Ref::input -- <command>`: Batch substitutes the job parameter `input` (the object key; "-"
 * when a run has none), which `hflow-infra app run --input` sets and the trigger sets from the event
 * (SCAR passes the event to its supervisor the same way, grycap/scar scar/providers/aws/batchfunction.py:
 * `echo $EVENT | supervisor`).
 */
import { terraformLiteral } from "../core/terraform-string";
import { BatchJobDefinition } from "@cdktf/provider-aws/lib/batch-job-definition";
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { IMAGE_TAG, KEY_PREFIX, LOG_RETENTION, PINNED_IMAGE } from "../core/rules";
import { PropsError, requireRule } from "../core/validation";
import { ImageRepository } from "../ecr/image-repository";
import { type PolicyStatement, ServiceRole } from "../iam/policy";
import type { BatchCompute } from "./compute";
import { appFunctionName, jobDefinitionName, type QueueKind, queueKindOf } from "./names";
import {
  APP_MEMORY_MIB,
  APP_NAME,
  APP_NODES,
  APP_TIMEOUT_SECONDS,
  APP_VCPUS,
  COMMAND_ARG,
  FARGATE_LIMITS,
  JOIN_TIMEOUT_SECONDS,
  LAMBDA_LIMITS,
  OUTPUT_FILE,
} from "./rules";

/** The job parameter that carries the input's object key ("-": none). */
export const INPUT_PARAMETER = "input";
export const NO_INPUT = "-";

export interface BatchAppProps {
  /** The stack's name prefix (BATCH_NAME). */
  readonly stackName: string;
  readonly appName: string;
  /** A pinned image; or none, and `imageTag` in this app's own ECR repository. */
  readonly image?: string;
  readonly imageTag?: string;
  readonly command: readonly string[];
  readonly outputs: readonly string[];
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly nodes: number;
  readonly inputPrefix: string;
  readonly outputPrefix: string;
  readonly timeoutSeconds: number;
  readonly joinTimeoutSeconds: number;
  readonly trigger: boolean;
  readonly lambda: boolean;
  readonly fargate: boolean;
  readonly bucketName: string;
  readonly bucketArn: string;
  readonly compute: BatchCompute;
  /** Role ECS uses to pull the image and write logs (Fargate needs it; EC2 jobs use it for the same). */
  readonly executionRoleArn: string;
  readonly assignPublicIp: boolean;
  readonly logRetentionDays: number;
}

export { jobDefinitionName, queueKindOf } from "./names";

/**
 * The container command: the entrypoint's arguments (the image's ENTRYPOINT is the app entrypoint), as
 * Terraform must write them: the app's arguments are the user's text, so `${`/`%{` in them is escaped.
 */
export function containerCommand(command: readonly string[]): string[] {
  return ["--input", `Ref::${INPUT_PARAMETER}`, "--", ...command.map(terraformLiteral)];
}

/**
 * Object access of an app: read below the input prefix, write below the output prefix, list only those.
 * (The workflow bucket's grants are whole-bucket; an app is scoped to its prefixes.)
 */
export function appBucketStatements(bucketArn: string, inputPrefix: string, outputPrefix: string): PolicyStatement[] {
  return [
    {
      sid: "ListAppPrefixes",
      actions: ["s3:ListBucket"],
      resources: [bucketArn],
      conditions: { StringLike: { "s3:prefix": [`${inputPrefix}*`, `${outputPrefix}*`] } },
    },
    { sid: "ReadInputs", actions: ["s3:GetObject"], resources: [`${bucketArn}/${inputPrefix}*`] },
    { sid: "WriteOutputs", actions: ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], resources: [`${bucketArn}/${outputPrefix}*`] },
  ];
}

export class BatchApp extends Construct {
  readonly repository?: ImageRepository;
  readonly image: string;
  readonly logGroup: CloudwatchLogGroup;
  readonly jobRole: ServiceRole;
  readonly jobDefinition: BatchJobDefinition;
  readonly queueKind: QueueKind;
  readonly rule?: CloudwatchEventRule;
  readonly function?: LambdaFunction;

  constructor(scope: Construct, id: string, props: BatchAppProps) {
    super(scope, id);
    BatchApp.validate(props);
    const env = AwsEnvironment.of(this);
    const name = jobDefinitionName(props.stackName, props.appName);

    if (props.image === undefined) {
      this.repository = new ImageRepository(this, "Repository", { name: `${props.stackName}/${props.appName}` });
      this.image = this.repository.imageRef(props.imageTag!);
    } else this.image = props.image;

    this.logGroup = new CloudwatchLogGroup(this, "Logs", { name: `/aws/batch/${name}`, retentionInDays: props.logRetentionDays });
    this.jobRole = new ServiceRole(this, "JobRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${name}-job-`,
      description: `Batch jobs of app ${props.appName}: read ${props.inputPrefix}, write ${props.outputPrefix}`,
      sourceAccount: env.accountId,
    });
    this.jobRole.addPolicy("AppPrefixes", appBucketStatements(props.bucketArn, props.inputPrefix, props.outputPrefix));

    const environment = [
      { name: "HFLOW_APP_NAME", value: props.appName },
      { name: "HFLOW_APP_BUCKET", value: props.bucketName },
      { name: "HFLOW_APP_INPUT_PREFIX", value: props.inputPrefix },
      { name: "HFLOW_APP_OUTPUT_PREFIX", value: props.outputPrefix },
      { name: "HFLOW_APP_OUTPUTS", value: props.outputs.join(",") },
      { name: "HFLOW_APP_JOIN_TIMEOUT_SECONDS", value: String(props.joinTimeoutSeconds) },
      // MPI ranks per node: one per vCPU of the container.
      { name: "HFLOW_APP_SLOTS_PER_NODE", value: String(props.vcpus) },
    ];
    const container = {
      image: this.image,
      command: containerCommand(props.command),
      jobRoleArn: this.jobRole.roleArn,
      executionRoleArn: props.executionRoleArn,
      resourceRequirements: [
        { type: "VCPU", value: String(props.vcpus) },
        { type: "MEMORY", value: String(props.memoryMiB) },
      ],
      environment,
      logConfiguration: {
        logDriver: "awslogs",
        options: { "awslogs-group": this.logGroup.name, "awslogs-region": env.region, "awslogs-stream-prefix": props.appName },
      },
      ...(props.fargate
        ? {
            networkConfiguration: { assignPublicIp: props.assignPublicIp ? "ENABLED" : "DISABLED" },
            fargatePlatformConfiguration: { platformVersion: "LATEST" },
          }
        : {}),
    };
    this.queueKind = queueKindOf(props);
    const multinode = props.nodes > 1;
    this.jobDefinition = new BatchJobDefinition(this, "JobDefinition", {
      name,
      type: multinode ? "multinode" : "container",
      platformCapabilities: [props.fargate ? "FARGATE" : "EC2"],
      parameters: { [INPUT_PARAMETER]: NO_INPUT },
      propagateTags: true,
      timeout: { attemptDurationSeconds: props.timeoutSeconds },
      // A Spot reclaim is retried; the app's own failure is not (its exit code is the answer).
      retryStrategy: {
        attempts: 2,
        evaluateOnExit: [
          { onStatusReason: "Host EC2*", action: "RETRY" },
          { onReason: "*", action: "EXIT" },
        ],
      },
      ...(multinode
        ? { nodeProperties: JSON.stringify({ numNodes: props.nodes, mainNode: 0, nodeRangeProperties: [{ targetNodes: "0:", container }] }) }
        : { containerProperties: JSON.stringify(container) }),
    });

    if (props.lambda) this.function = this.lambdaFunction(props, name, environment);

    if (props.trigger) {
      this.rule = new CloudwatchEventRule(this, "Upload", {
        name: `${name}-upload`,
        description: `Run app ${props.appName} on each object created below s3://${props.bucketName}/${props.inputPrefix}`,
        eventPattern: JSON.stringify({
          source: ["aws.s3"],
          "detail-type": ["Object Created"],
          detail: { bucket: { name: [props.bucketName] }, object: { key: [{ prefix: props.inputPrefix }] } },
        }),
      });
      if (this.function) {
        new CloudwatchEventTarget(this, "UploadToLambda", { rule: this.rule.name, arn: this.function.arn, targetId: "lambda" });
        new LambdaPermission(this, "EventsInvoke", {
          statementId: "AllowEventBridgeUpload",
          action: "lambda:InvokeFunction",
          functionName: this.function.functionName,
          principal: "events.amazonaws.com",
          sourceArn: this.rule.arn,
        });
      } else {
        const queue = props.compute.queue(this.queueKind);
        const eventsRole = new ServiceRole(this, "EventsRole", {
          service: "events.amazonaws.com",
          namePrefix: `${name}-events-`,
          description: `EventBridge submits jobs of app ${props.appName}`,
          sourceAccount: env.accountId,
        });
        eventsRole.addPolicy("SubmitJob", [
          {
            sid: "SubmitAppJob",
            actions: ["batch:SubmitJob"],
            // The job definition's ARN names one revision; a new revision must stay submittable.
            resources: [
              queue.arn,
              `arn:${env.partition}:batch:${env.region}:${env.accountId}:job-definition/${name}:*`,
              `arn:${env.partition}:batch:${env.region}:${env.accountId}:job-definition/${name}`,
            ],
          },
        ]);
        new CloudwatchEventTarget(this, "UploadToBatch", {
          rule: this.rule.name,
          targetId: "batch",
          arn: queue.arn,
          roleArn: eventsRole.roleArn,
          batchTarget: { jobDefinition: this.jobDefinition.arn, jobName: `${name}-upload` },
          // The object key becomes the job parameter `input` (EventBridge input transformer → SubmitJob Parameters).
          inputTransformer: { inputPaths: { key: "$.detail.object.key" }, inputTemplate: `{"Parameters": {"${INPUT_PARAMETER}": <key>}}` },
        });
      }
    }
  }

  private lambdaFunction(props: BatchAppProps, name: string, environment: { name: string; value: string }[]): LambdaFunction {
    const env = AwsEnvironment.of(this);
    const logs = new CloudwatchLogGroup(this, "FunctionLogs", { name: `/aws/lambda/${name}`, retentionInDays: props.logRetentionDays });
    const role = new ServiceRole(this, "FunctionRole", {
      service: "lambda.amazonaws.com",
      namePrefix: `${name}-fn-`,
      description: `Lambda function of app ${props.appName}: read ${props.inputPrefix}, write ${props.outputPrefix}, its log group`,
      sourceAccount: env.accountId,
    });
    role.addPolicy("AppPrefixes", appBucketStatements(props.bucketArn, props.inputPrefix, props.outputPrefix));
    const logPolicy = role.addPolicy("Logs", [{ sid: "WriteOwnLogs", actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [`${logs.arn}:*`] }]);
    return new LambdaFunction(this, "Function", {
      functionName: appFunctionName(props.stackName, props.appName),
      description: `App ${props.appName} (one node) on Lambda`,
      packageType: "Image",
      imageUri: this.image,
      // The same entrypoint as on Batch; it serves the Lambda Runtime API when AWS_LAMBDA_RUNTIME_API is set.
      imageConfig: { command: containerCommand(props.command).map((a) => (a === `Ref::${INPUT_PARAMETER}` ? NO_INPUT : a)) },
      role: role.roleArn,
      timeout: props.timeoutSeconds,
      memorySize: props.memoryMiB,
      // /tmp holds the input and the outputs.
      ephemeralStorage: { size: LAMBDA_LIMITS.ephemeralMiB },
      environment: { variables: Object.fromEntries([...environment, { name: "HFLOW_APP_WORKDIR", value: "/tmp/hflow-app" }].map((e) => [e.name, e.value])) },
      loggingConfig: { logFormat: "Text", logGroup: logs.name },
      dependsOn: [logs, logPolicy],
    });
  }

  private static validate(p: BatchAppProps): void {
    const c = "BatchApp";
    requireRule(c, "appName", p.appName, APP_NAME);
    if ((p.image === undefined) === (p.imageTag === undefined)) throw new PropsError(c, "image", p.image, "exactly one of image and imageTag");
    if (p.image !== undefined) requireRule(c, "image", p.image, PINNED_IMAGE);
    if (p.imageTag !== undefined) requireRule(c, "imageTag", p.imageTag, IMAGE_TAG);
    if (p.command.length === 0) throw new PropsError(c, "command", p.command, "at least the program");
    for (const a of p.command) requireRule(c, "command", a, COMMAND_ARG);
    if (p.outputs.length === 0) throw new PropsError(c, "outputs", p.outputs, "at least one file name");
    for (const o of p.outputs) requireRule(c, "outputs", o, OUTPUT_FILE);
    requireRule(c, "vcpus", p.vcpus, APP_VCPUS);
    requireRule(c, "memoryMiB", p.memoryMiB, APP_MEMORY_MIB);
    requireRule(c, "nodes", p.nodes, APP_NODES);
    requireRule(c, "timeoutSeconds", p.timeoutSeconds, APP_TIMEOUT_SECONDS);
    requireRule(c, "joinTimeoutSeconds", p.joinTimeoutSeconds, JOIN_TIMEOUT_SECONDS);
    requireRule(c, "logRetentionDays", p.logRetentionDays, LOG_RETENTION);
    requireRule(c, "inputPrefix", p.inputPrefix, KEY_PREFIX);
    requireRule(c, "outputPrefix", p.outputPrefix, KEY_PREFIX);
    const problem = prefixProblem(p.inputPrefix, p.outputPrefix, p.trigger);
    if (problem) throw new PropsError(c, problem.key, problem.value, problem.allowed);
    if (p.fargate && (p.nodes !== 1 || p.vcpus > FARGATE_LIMITS.vcpus || p.memoryMiB > FARGATE_LIMITS.memoryMiB))
      throw new PropsError(c, "fargate", true, `nodes 1, vcpus ≤ ${FARGATE_LIMITS.vcpus}, memoryMiB ≤ ${FARGATE_LIMITS.memoryMiB}`);
    if (p.lambda && (p.nodes !== 1 || p.timeoutSeconds > LAMBDA_LIMITS.timeoutSeconds || p.memoryMiB > LAMBDA_LIMITS.memoryMiB || p.image !== undefined))
      throw new PropsError(
        c,
        "lambda",
        true,
        `nodes 1, timeoutSeconds ≤ ${LAMBDA_LIMITS.timeoutSeconds}, memoryMiB ≤ ${LAMBDA_LIMITS.memoryMiB}, an imageTag in the app's repository`,
      );
  }
}

/**
 * Input and output prefixes must not overlap (an output below the input prefix would trigger the app
 * again, for ever), and a trigger needs a non-empty input prefix (else every upload runs the app).
 */
export function prefixProblem(inputPrefix: string, outputPrefix: string, trigger: boolean): { key: string; value: string; allowed: string } | undefined {
  if (trigger && inputPrefix === "")
    return {
      key: "inputPrefix",
      value: inputPrefix,
      allowed: "a non-empty prefix with trigger true (an empty one runs the app on every upload, its own outputs too)",
    };
  if (outputPrefix.startsWith(inputPrefix) || inputPrefix.startsWith(outputPrefix))
    return { key: "outputPrefix", value: outputPrefix, allowed: `a prefix that neither contains nor is inside inputPrefix ${JSON.stringify(inputPrefix)}` };
  return undefined;
}
