/**
 * The `runner` stack: the workflow bucket, the engine task definition, the workers' access to the
 * bucket, and (with a job directory in config or HFLOW_JOB_DIR) the upload of that job on deploy.
 * It takes the cluster, the broker secret and the worker role from the `ecs` stack.
 */
import * as path from "node:path";
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { EngineTask } from "../constructs/engine/engine-task";
import { JobUpload } from "../constructs/engine/job-upload";
import { ImportedRole } from "../constructs/iam/policy";
import { WorkflowBucket } from "../constructs/storage/workflow-bucket";
import { imageTag } from "../images/tag";
import { jobContentHash, type JobSummary } from "../runner/job-dir";
import { AwsStack } from "./base";
import type { EcsStack } from "./ecs";

/** How the deploy-time upload calls our CLI: the same node and the compiled CLI next to this file. */
function uploaderCommand(): string[] {
  return ["node", path.resolve(__dirname, "..", "cli", "index.js")];
}

export class RunnerStack extends AwsStack {
  readonly bucket: WorkflowBucket;
  readonly engine: EngineTask;
  readonly upload?: JobUpload;

  /** `job`: the validated job directory to upload on deploy, if any (see buildApp). */
  constructor(scope: Construct, id: string, config: HyperflowConfig, ecs: EcsStack, job?: JobSummary) {
    super(scope, id, { region: config.region, backend: config.backend, tags: config.tags });
    const r = config.runner;
    const h = ecs.hyperflow;

    this.bucket = new WorkflowBucket(this, "Bucket", { namePrefix: r.bucketPrefix, forceDestroy: r.forceDestroy });
    // The workers' role is in the ecs stack; its policy on this bucket lives here, with the bucket.
    this.bucket.grantReadWrite(ImportedRole.fromRoleName(this, h.workers.taskRole.roleName), "WorkersUseBucket");
    this.engine = new EngineTask(this, "Engine", {
      clusterName: config.ecs.clusterName,
      bucket: this.bucket,
      prefix: r.prefix,
      broker: h.master.broker,
      // A configured image wins and runs the seed's way; otherwise this project's engine image under its content tag.
      engineImage: r.engineImage ?? ecs.repositories.engine.imageRef(imageTag("engine")),
      sidecars: r.engineImage !== undefined ? { redisImage: r.redisImage, fetchImage: r.fetchImage } : undefined,
      timeoutSeconds: r.engineImage === undefined ? r.timeoutSeconds : undefined,
      logRetentionDays: config.ecs.logRetentionDays,
      workflowFile: job ? path.posix.basename(job.workflowFile) : undefined,
      engineMemoryMiB: r.engineMemoryMiB,
      metricsUrl: ecs.metricsUrl || undefined,
      taskContainer: r.taskContainer || undefined,
    });
    if (job) {
      this.upload = new JobUpload(this, "JobUpload", {
        jobDir: job.jobDir,
        contentHash: jobContentHash(job.files),
        bucket: this.bucket.bucketName,
        prefix: r.prefix,
        uploader: uploaderCommand(),
        outageSeconds: r.uploadOutageSeconds,
      });
    }

    new TerraformOutput(this, "bucket_name", { value: this.bucket.bucketName, description: "Workflow bucket" });
    new TerraformOutput(this, "job_prefix", { value: r.prefix, description: "Key prefix of the job (workdir/ and input/ below it)" });
    new TerraformOutput(this, "engine_task_definition", { value: this.engine.resource.arn, description: "Task definition the CLI starts for a run" });
    new TerraformOutput(this, "engine_image", { value: this.engine.image, description: "Image the engine task definition runs" });
    new TerraformOutput(this, "engine_log_group", { value: this.engine.task.logGroup.name, description: "CloudWatch log group of engine runs" });
    new TerraformOutput(this, "cluster_name", { value: h.resource.name, description: "ECS cluster the engine runs in" });
  }
}
