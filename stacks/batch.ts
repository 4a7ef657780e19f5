/**
 * The `batch` stack: container apps (what SCAR does for grycap/scar examples/architrave) on AWS Batch,
 * single-node or multi-node parallel, optionally also on Lambda, with their own bucket (inputs and
 * outputs below each app's prefixes) and S3 triggers. It takes the VPC from the `network` stack and
 * nothing else, so a Batch-only deployment needs no ECS cluster.
 */
import { S3BucketNotification } from "@cdktf/provider-aws/lib/s3-bucket-notification";
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import type { AppConfig } from "../config/schema/batch";
import { BatchApp, jobDefinitionName } from "../constructs/batch/app";
import { BatchCompute } from "../constructs/batch/compute";
import { AwsEnvironment } from "../constructs/core/aws-environment";
import { ServiceRole } from "../constructs/iam/policy";
import type { Network } from "../constructs/network/network";
import { WorkflowBucket } from "../constructs/storage/workflow-bucket";
import { AwsStack } from "./base";

/** An app's prefixes with their defaults (`apps/<app>/input/`, `apps/<app>/output/`). */
export function appPrefixes(name: string, app: Pick<AppConfig, "inputPrefix" | "outputPrefix">): { inputPrefix: string; outputPrefix: string } {
  return { inputPrefix: app.inputPrefix ?? `apps/${name}/input/`, outputPrefix: app.outputPrefix ?? `apps/${name}/output/` };
}

export class BatchStack extends AwsStack {
  readonly bucket: WorkflowBucket;
  readonly compute: BatchCompute;
  readonly apps: Readonly<Record<string, BatchApp>>;

  constructor(scope: Construct, id: string, config: HyperflowConfig, network: Network) {
    super(scope, id, { region: config.region, backend: config.backend, tags: config.tags });
    const b = config.batch;
    const env = AwsEnvironment.of(this);
    const apps = Object.entries(b.apps);

    this.bucket = new WorkflowBucket(this, "Bucket", { namePrefix: b.bucketPrefix, forceDestroy: b.forceDestroy });
    if (apps.some(([, a]) => a.trigger)) {
      // Object-created events of this bucket go to EventBridge, where each app's rule picks its prefix.
      new S3BucketNotification(this, "ToEventBridge", { bucket: this.bucket.resource.id, eventbridge: true });
    }
    this.compute = new BatchCompute(this, "Compute", {
      name: b.name,
      vpcId: network.vpcId,
      subnetIds: network.subnetIds,
      assignPublicIp: network.assignPublicIp,
      instanceTypes: b.instanceTypes,
      maxVcpus: b.maxVcpus,
      spot: b.spot,
      fargate: apps.some(([, a]) => a.fargate),
      rootVolumeSizeGiB: b.rootVolumeSizeGiB,
    });
    const executionRole = new ServiceRole(this, "ExecutionRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${b.name}-exec-`,
      description: `Batch jobs of ${b.name}: pull images, write logs`,
      sourceAccount: env.accountId,
      managedPolicyArns: [`arn:${env.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`],
    });

    const built: Record<string, BatchApp> = {};
    for (const [name, a] of apps) {
      const app = new BatchApp(this, `App-${name}`, {
        stackName: b.name,
        appName: name,
        image: a.image,
        imageTag: a.imageTag,
        command: a.command,
        outputs: a.outputs,
        vcpus: a.vcpus,
        memoryMiB: a.memoryMiB,
        nodes: a.nodes,
        ...appPrefixes(name, a),
        timeoutSeconds: a.timeoutSeconds,
        joinTimeoutSeconds: a.joinTimeoutSeconds,
        trigger: a.trigger,
        lambda: a.lambda,
        fargate: a.fargate,
        bucketName: this.bucket.bucketName,
        bucketArn: this.bucket.bucketArn,
        compute: this.compute,
        executionRoleArn: executionRole.roleArn,
        assignPublicIp: network.assignPublicIp,
        logRetentionDays: b.logRetentionDays,
      });
      built[name] = app;
      new TerraformOutput(this, `app_${name.replace(/-/g, "_")}`, {
        value: {
          jobDefinition: jobDefinitionName(b.name, name),
          jobQueue: this.compute.queue(app.queueKind).name,
          logGroup: app.logGroup.name,
          image: app.image,
          ...(app.repository ? { repositoryUrl: app.repository.repositoryUrl } : {}),
          ...(app.function ? { function: app.function.functionName } : {}),
        },
        description: `App ${name}: job definition, queue, log group, image`,
      });
    }
    this.apps = built;
    new TerraformOutput(this, "bucket_name", { value: this.bucket.bucketName, description: "Bucket of the apps' inputs and outputs" });
  }
}
