/**
 * The `lambda` stack (config `lambda.enabled`): HyperFlow tasks as AWS Lambda invocations, the engine
 * as a Fargate task; no instances. Its own workflow bucket (runner.bucketPrefix, runner.prefix), ECR
 * repositories `<lambda.name>/worker` and `<lambda.name>/engine` (the CLI pushes this project's images
 * there under their content tags, immutable), the task function (constructs/lambda/task-function.ts)
 * and the engine task (constructs/lambda/fargate-engine.ts) in the network stack's subnets.
 */
import { Fn, TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { ImageRepository, repositoryName } from "../constructs/ecr/image-repository";
import { FargateEngine } from "../constructs/lambda/fargate-engine";
import { TaskFunction } from "../constructs/lambda/task-function";
import type { Network } from "../constructs/network/network";
import { WorkflowBucket } from "../constructs/storage/workflow-bucket";
import { imageTag, type ImageName } from "../images/tag";
import { AwsStack } from "./base";

export class LambdaStack extends AwsStack {
  readonly bucket: WorkflowBucket;
  readonly repositories: Readonly<Record<ImageName, ImageRepository>>;
  readonly taskFunction: TaskFunction;
  readonly engine: FargateEngine;

  constructor(scope: Construct, id: string, config: HyperflowConfig, network: Network) {
    super(scope, id, { region: config.region, backend: config.backend, tags: config.tags });
    const l = config.lambda;
    const r = config.runner;
    const registry = config.ecs.registry;
    const repository = (rid: string, image: ImageName) =>
      new ImageRepository(this, rid, {
        name: repositoryName(l.name, image),
        encryption: registry.encryption,
        kmsKeyArn: registry.kmsKeyArn,
        untaggedExpiryDays: registry.untaggedExpiryDays,
        keepTaggedImages: registry.keepTaggedImages,
        forceDelete: registry.forceDelete,
      });
    this.repositories = { engine: repository("EngineRepository", "engine"), worker: repository("WorkerRepository", "worker") };
    this.bucket = new WorkflowBucket(this, "Bucket", { namePrefix: r.bucketPrefix, forceDestroy: r.forceDestroy });

    const workerImage = this.repositories.worker.imageRef(imageTag("worker"));
    this.taskFunction = new TaskFunction(this, "Tasks", {
      functionName: l.name,
      imageUri: workerImage,
      repositoryName: this.repositories.worker.resource.name,
      bucket: this.bucket,
      prefix: r.prefix,
      memoryMiB: l.memoryMiB,
      timeoutSeconds: l.timeoutSeconds,
      ephemeralStorageMiB: l.ephemeralStorageMiB,
      reservedConcurrency: l.reservedConcurrency,
      architecture: l.architecture,
      kmsKeyArn: l.kmsKeyArn || undefined,
      logRetentionDays: l.logRetentionDays,
      functionUrl: l.functionUrl,
    });
    this.engine = new FargateEngine(this, "Engine", {
      name: l.name,
      network,
      bucket: this.bucket,
      prefix: r.prefix,
      engineImage: this.repositories.engine.imageRef(imageTag("engine")),
      taskFunction: this.taskFunction,
      cpu: l.engineCpu,
      memoryMiB: l.engineMemoryMiB,
      timeoutSeconds: r.timeoutSeconds,
      logRetentionDays: l.logRetentionDays,
    });

    const out = (name: string, value: unknown, description: string) => new TerraformOutput(this, name, { value, description });
    out("bucket_name", this.bucket.bucketName, "Workflow bucket");
    out("job_prefix", r.prefix, "Key prefix of the job (workdir/ and input/ below it)");
    out("function_name", this.taskFunction.resource.functionName, "Lambda function that runs the tasks");
    out("function_log_group", this.taskFunction.logGroup.name, "CloudWatch log group of the task function");
    if (this.taskFunction.url) out("function_url", this.taskFunction.url.functionUrl, "Function URL (AWS_IAM auth: signed requests only)");
    for (const [image, repo] of Object.entries(this.repositories)) {
      out(`${image}_repository_url`, repo.repositoryUrl, `ECR repository of the ${image} image (push <url>:<imageTag("${image}")> there)`);
    }
    out("worker_image", workerImage, "Image the task function runs");
    out("engine_image", this.engine.image, "Image the engine task definition runs");
    out("engine_task_definition", this.engine.task.resource.arn, "Task definition the CLI starts for a run (Fargate)");
    out("engine_log_group", this.engine.task.logGroup.name, "CloudWatch log group of engine runs");
    out("cluster_name", this.engine.cluster.name, "ECS cluster (Fargate only) the engine runs in");
    out("engine_subnets", Fn.join(",", network.subnetIds), "Subnets of the engine task (comma-separated)");
    out("engine_security_group", this.engine.securityGroup.id, "Security group of the engine task (no inbound rules)");
    out(
      "engine_assign_public_ip",
      network.assignPublicIp ? "ENABLED" : "DISABLED",
      "Whether the engine task gets a public address (to reach AWS APIs without a NAT)",
    );
  }
}
