/** The `ecs` stack: HyperFlow on ECS in the configured network, with its outputs. */
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { type HyperflowConfig, workerDockerAccess } from "../config/schema";
import { ImageRepository, repositoryName } from "../constructs/ecr/image-repository";
import { HyperflowEcs } from "../constructs/ecs/hyperflow-ecs";
import { RABBITMQ_MANAGEMENT_PORT } from "../constructs/ecs/queue-metric";
import type { Network } from "../constructs/network/network";
import { imageTag, type ImageName } from "../images/tag";
import { AwsStack } from "./base";

/**
 * Seconds ECS waits between SIGTERM and SIGKILL for this project's worker: the executor then stops
 * taking jobs and lets running ones finish (executor/amqp.ts); 120 is the most ECS allows on EC2.
 */
const WORKER_DRAIN_SECONDS = 120;

export class EcsStack extends AwsStack {
  readonly hyperflow: HyperflowEcs;
  /** ECR repositories of this project's images; the CLI pushes `<url>:<imageTag(image)>` there. */
  readonly repositories: Readonly<Record<ImageName, ImageRepository>>;
  constructor(
    scope: Construct,
    id: string,
    config: HyperflowConfig,
    readonly network: Network,
    /** InfluxDB URL for the status reporter, master and workers ("" for none). */
    readonly metricsUrl: string,
  ) {
    super(scope, id, { region: config.region, backend: config.backend, tags: config.tags });
    const ecs = config.ecs;
    const repository = (id: string, image: ImageName) =>
      new ImageRepository(this, id, {
        name: repositoryName(ecs.clusterName, image),
        encryption: ecs.registry.encryption,
        kmsKeyArn: ecs.registry.kmsKeyArn,
        untaggedExpiryDays: ecs.registry.untaggedExpiryDays,
        keepTaggedImages: ecs.registry.keepTaggedImages,
        forceDelete: ecs.registry.forceDelete,
      });
    this.repositories = { engine: repository("EngineRepository", "engine"), worker: repository("WorkerRepository", "worker") };
    // A configured image wins; otherwise this project's worker image under its content tag.
    const workerImage = ecs.images.worker ?? this.repositories.worker.imageRef(imageTag("worker"));
    this.hyperflow = new HyperflowEcs(this, "Hyperflow", {
      clusterName: ecs.clusterName,
      network,
      images: { broker: ecs.images.master, worker: workerImage, publisher: ecs.images.publisher, statusReporter: ecs.images.statusReporter },
      instanceType: ecs.instanceType,
      masterInstanceType: ecs.masterInstanceType,
      amiId: ecs.amiId,
      keyPairName: ecs.keyPairName,
      rootVolumeSizeGiB: ecs.rootVolumeSizeGiB,
      adminCidrs: config.adminCidrs,
      metricsUrl: metricsUrl || undefined,
      logRetentionDays: ecs.logRetentionDays,
      brokerSecretRecoveryDays: ecs.brokerSecretRecoveryDays,
      capacity: {
        minSize: ecs.asg.min,
        maxSize: ecs.asg.max,
        desiredCapacity: ecs.asg.desired,
        cooldownSeconds: ecs.asg.cooldownSeconds,
        maxScalingStep: ecs.asg.instanceScalingStep,
        targetCapacityPercent: ecs.asg.targetCapacityPercent,
        instanceWarmupSeconds: ecs.asg.instanceWarmupSeconds,
      },
      workers: {
        desiredCount: ecs.workers.desiredCount,
        memoryReservationMiB: ecs.workers.memoryReservationMiB,
        storage: ecs.workers.storage,
        threads: ecs.workers.threads,
        featureDownload: ecs.workers.featureDownload,
        nfsMount: ecs.workers.nfsMount,
        dockerAccess: workerDockerAccess(config),
        stopTimeoutSeconds: ecs.images.worker === undefined ? WORKER_DRAIN_SECONDS : undefined,
        bucket: ecs.workers.bucket,
      },
      scaling: {
        minCapacity: ecs.workers.minCapacity,
        maxCapacity: ecs.workers.maxCapacity,
        scalingAdjustment: ecs.workers.scalingAdjustment,
        cooldownSeconds: ecs.workers.cooldownSeconds,
        highThreshold: ecs.alarms.highThreshold,
        lowThreshold: ecs.alarms.lowThreshold,
        highPeriodSeconds: ecs.alarms.highPeriodSeconds,
        lowPeriodSeconds: ecs.alarms.lowPeriodSeconds,
        evaluationPeriods: ecs.alarms.evaluationPeriods,
      },
      statusReporter: ecs.statusReporter,
      tags: this.tags,
    });

    const h = this.hyperflow;
    const master = h.master.resource;
    new TerraformOutput(this, "cluster_name", { value: h.resource.name, description: "ECS cluster name" });
    new TerraformOutput(this, "master_instance_id", { value: master.id, description: "EC2 instance id of the master (for SSM sessions)" });
    new TerraformOutput(this, "master_private_ip", { value: master.privateIp, description: "Private address of the master; workers reach the broker here" });
    new TerraformOutput(this, "master_public_ip", { value: master.publicIp, description: "Public address of the master (empty in private subnets)" });
    new TerraformOutput(this, "broker_secret_name", {
      value: h.master.broker.secret.name,
      description: "Secrets Manager secret with the broker user, password and AMQP URL",
    });
    for (const [image, repo] of Object.entries(this.repositories)) {
      new TerraformOutput(this, `${image}_repository_url`, {
        value: repo.repositoryUrl,
        description: `ECR repository of the ${image} image (push <url>:<imageTag("${image}")> there)`,
      });
    }
    new TerraformOutput(this, "worker_image", { value: workerImage, description: "Image the worker task definition runs" });
    new TerraformOutput(this, "worker_service_name", { value: h.workers.resource.name, description: "ECS service of the AMQP executor workers" });
    new TerraformOutput(this, "queue_length_metric", {
      value: `${h.metric.namespace}/${h.metric.metricName} ClusterName=${ecs.clusterName}`,
      description: "CloudWatch metric that drives worker scaling",
    });
    const ui =
      config.adminCidrs.length > 0
        ? `http://${master.publicIp}:${RABBITMQ_MANAGEMENT_PORT} (from ${config.adminCidrs.join(", ")})`
        : `aws ssm start-session --region ${config.region} --target ${master.id} --document-name AWS-StartPortForwardingSession --parameters portNumber=${RABBITMQ_MANAGEMENT_PORT},localPortNumber=${RABBITMQ_MANAGEMENT_PORT}  # then open http://localhost:${RABBITMQ_MANAGEMENT_PORT}`;
    new TerraformOutput(this, "rabbitmq_ui", { value: ui, description: "How to reach the RabbitMQ management UI (user in the broker secret)" });
  }
}
