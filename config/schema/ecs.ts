/** `ecs`: ECS cluster, master with the RabbitMQ broker, worker instances and tasks, queue-driven scaling. */
import { z } from "zod";
import {
  ECS_DEFAULTS,
  IMAGE_REPOSITORY_DEFAULTS,
  INFLUXDB_PORT,
  QUEUE_SCALING_DEFAULTS,
  STATUS_REPORTER_DEFAULTS,
  WORKER_CAPACITY_DEFAULTS,
  WORKER_SERVICE_DEFAULTS,
} from "../../constructs/core/defaults";
import {
  ALARM_PERIOD,
  AMI_ID,
  BLOCK_DEVICE,
  ECS_CLUSTER_NAME,
  emptyOr,
  EXECUTOR_THREADS,
  INFLUXDB_URL,
  INSTANCE_SCALING_STEP,
  KEEP_TAGGED_IMAGES,
  KMS_KEY_ARN,
  LOG_RETENTION,
  NETWORK_INTERFACE,
  ROOT_VOLUME_GIB,
  S3_BUCKET_NAME,
  TARGET_CAPACITY_PERCENT,
  TASK_COUNT,
  TASK_SCALING_ADJUSTMENT,
  UNTAGGED_EXPIRY_DAYS,
} from "../../constructs/core/rules";
import { checked, imageRef, instanceType, intIn, ordered, recoveryDays, requiredImageRef, SEED_IMAGES, withCrossKeyChecks } from "./common";

const count = (description: string, def: number, max = 10_000) => z.number().int().min(0).max(max).default(def).describe(description);

const taskCount = (description: string, def: number) => intIn(TASK_COUNT).default(def).describe(description);

const seconds = (description: string, def: number, min = 0, max = 86_400) => z.number().int().min(min).max(max).default(def).describe(description);

const alarmPeriod = (description: string, def: number) => checked(z.number().int().default(def), ALARM_PERIOD).describe(description);

const asgShape = z.strictObject({
  min: count("Minimum number of worker instances (seed `asg_min`). The master runs outside the group, so 0 is fine.", WORKER_CAPACITY_DEFAULTS.minSize, 1000),
  max: count("Maximum number of worker instances (seed `asg_max`).", WORKER_CAPACITY_DEFAULTS.maxSize, 1000),
  desired: count(
    "Initial number of worker instances (seed `asg_desired`); afterwards the ECS capacity provider owns it.",
    WORKER_CAPACITY_DEFAULTS.desiredCapacity,
    1000,
  ),
  cooldownSeconds: seconds("Default cooldown of the Auto Scaling group (seed `aws_autoscaling_cooldown`).", WORKER_CAPACITY_DEFAULTS.cooldownSeconds),
  instanceScalingStep: intIn(INSTANCE_SCALING_STEP)
    .default(WORKER_CAPACITY_DEFAULTS.maxScalingStep)
    .describe("Most instances the capacity provider adds or removes in one step (seed `ec2_instance_scaling_adjustment`)."),
  targetCapacityPercent: intIn(TARGET_CAPACITY_PERCENT)
    .default(WORKER_CAPACITY_DEFAULTS.targetCapacityPercent)
    .describe("ECS managed scaling target: how full the instances should be. 100 means no idle spare instance."),
  instanceWarmupSeconds: seconds("Seconds a new instance needs before its metrics count for managed scaling.", WORKER_CAPACITY_DEFAULTS.instanceWarmupSeconds),
});
const asg = withCrossKeyChecks(asgShape, [
  ordered("ecs.asg", "min", "max", "min <= max"),
  ordered("ecs.asg", "min", "desired", "min <= desired <= max"),
  ordered("ecs.asg", "desired", "max", "min <= desired <= max"),
])
  .prefault({})
  .describe("The Auto Scaling group of worker instances, scaled by an ECS capacity provider.");

const workersShape = z.strictObject({
  desiredCount: taskCount("Initial number of worker tasks (seed `aws_ecs_service_worker_desired_count`).", WORKER_SERVICE_DEFAULTS.desiredCount),
  minCapacity: taskCount("Fewest worker tasks autoscaling keeps (seed `worker_min_capacity`).", QUEUE_SCALING_DEFAULTS.minCapacity),
  maxCapacity: taskCount("Most worker tasks autoscaling starts (seed `worker_max_capacity`).", QUEUE_SCALING_DEFAULTS.maxCapacity),
  scalingAdjustment: intIn(TASK_SCALING_ADJUSTMENT)
    .default(QUEUE_SCALING_DEFAULTS.scalingAdjustment)
    .describe("Worker tasks added on a high-queue alarm and removed on a low-queue alarm (seed `worker_scaling_adjustment`)."),
  cooldownSeconds: seconds("Cooldown of the worker step-scaling policies (seed `aws_appautoscaling_cooldown`).", QUEUE_SCALING_DEFAULTS.cooldownSeconds),
  memoryReservationMiB: z
    .number()
    .int()
    .min(64)
    .max(1_048_576)
    .default(WORKER_SERVICE_DEFAULTS.memoryReservationMiB)
    .describe("Soft memory limit of a worker container (seed: 500)."),
  storage: z
    .enum(["cloud", "nfs", "local"])
    .default(WORKER_SERVICE_DEFAULTS.storage)
    .describe("AMQP executor STORAGE: `cloud` (S3), `nfs` (copy to/from a shared file system) or `local` (run in a shared directory)."),
  threads: intIn(EXECUTOR_THREADS).optional().describe("AMQP executor THREADS. Default: the executor uses the number of cores."),
  featureDownload: z
    .boolean()
    .default(WORKER_SERVICE_DEFAULTS.featureDownload)
    .describe("FEATURE_DOWNLOAD=ENABLED: keep downloaded files per workflow and skip downloading them again (seed `feature_download`)."),
  nfsMount: z.string().default(WORKER_SERVICE_DEFAULTS.nfsMount).describe("NFS_MOUNT passed to the executor (seed `nfs_mount`); empty for none."),
  dockerAccess: z
    .boolean()
    .optional()
    .describe(
      "Mount the Docker socket into privileged workers so tasks can run in their own containers (the seed's behaviour; the worker is then root-equivalent on its host). Default: true exactly when `runner.taskContainer` is set (the worker then starts each task in that container); otherwise tasks run inside the worker, which needs neither.",
    ),
  bucket: checked(z.string(), S3_BUCKET_NAME)
    .optional()
    .describe("Workflow bucket the workers read inputs from and write outputs to; the worker role may use only this bucket. Default: no S3 access."),
});
const workers = withCrossKeyChecks(workersShape, [
  ordered("ecs.workers", "minCapacity", "maxCapacity", "minCapacity <= maxCapacity"),
  ordered("ecs.workers", "minCapacity", "desiredCount", "minCapacity <= desiredCount <= maxCapacity"),
  ordered("ecs.workers", "desiredCount", "maxCapacity", "minCapacity <= desiredCount <= maxCapacity"),
])
  .prefault({})
  .describe("The AMQP executor worker service and its autoscaling.");

const alarmsShape = z.strictObject({
  evaluationPeriods: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(QUEUE_SCALING_DEFAULTS.evaluationPeriods)
    .describe("Periods an alarm condition must hold (seed `alarm_evaluation_periods`)."),
  highPeriodSeconds: alarmPeriod(
    "Period of the queue-high alarm (seed `alarm_high_period`). Below 60 the queue length is published as a high-resolution metric.",
    QUEUE_SCALING_DEFAULTS.highPeriodSeconds,
  ),
  lowPeriodSeconds: alarmPeriod("Period of the queue-low alarm (seed `alarm_low_period`).", QUEUE_SCALING_DEFAULTS.lowPeriodSeconds),
  highThreshold: z
    .number()
    .min(0)
    .default(QUEUE_SCALING_DEFAULTS.highThreshold)
    .describe("Scale out when the queue holds more than this many jobs (seed `alarm_threshold_high`)."),
  lowThreshold: z
    .number()
    .min(0)
    .default(QUEUE_SCALING_DEFAULTS.lowThreshold)
    .describe(
      "Scale in when the queue holds at most this many jobs (seed `alarm_threshold_low`; the seed compared `< 0`, which never fires, we compare `<=`).",
    ),
});
const alarms = withCrossKeyChecks(alarmsShape, [
  ordered("ecs.alarms", "lowThreshold", "highThreshold", "lowThreshold < highThreshold"),
  {
    reads: [["lowThreshold"], ["highThreshold"]],
    check: ({ lowThreshold: low, highThreshold: high }, report) => {
      if (low === high) report(["lowThreshold"], `equals ecs.alarms.highThreshold (${high}); allowed: lowThreshold < highThreshold`, low);
    },
  },
])
  .prefault({})
  .describe("CloudWatch alarms on the queue length of `hyperflow.jobs` that drive worker scaling.");

const images = z
  .strictObject({
    master: imageRef(
      "Broker image with the RabbitMQ management plugin (seed `hyperflow_master_container` = krysp89/hyperflow-master-plugin:latest, replaced by the official image because the queue-length publisher is now deployed by the stack).",
      "public.ecr.aws/docker/library/rabbitmq:3.13.7-management-alpine",
    ),
    worker: requiredImageRef(
      `AMQP executor worker image. Default: this project's worker image (images/worker: Debian's Node.js, Montage and the executor in executor/), pushed by the CLI to the cluster's ECR repository \`<cluster>/worker\` under its content tag. The seed's image (\`hyperflow_worker_container\` = ${SEED_IMAGES.worker}, only published as \`latest\`) is an opt-in: name it here, preferably pinned by digest.`,
    ).optional(),
    statusReporter: imageRef("Host metrics reporter run on every instance when `metricsUrl` is set (seed `ec2_status_reporter`).", SEED_IMAGES.statusReporter),
    publisher: imageRef("Node.js image that runs the queue-length publisher beside the broker.", "public.ecr.aws/docker/library/node:22.12.0-alpine3.21"),
  })
  .prefault({})
  .describe("Container images. Tags must be pinned (no `latest`, no untagged references).");

const registryShape = z.strictObject({
  encryption: z
    .enum(["AES256", "KMS"])
    .default(IMAGE_REPOSITORY_DEFAULTS.encryption)
    .describe("Encryption at rest of the images: `AES256` (S3-managed keys) or `KMS`."),
  kmsKeyArn: checked(z.string(), KMS_KEY_ARN).optional().describe("KMS key for `encryption: KMS`. Default: the AWS managed key aws/ecr."),
  untaggedExpiryDays: intIn(UNTAGGED_EXPIRY_DAYS)
    .default(IMAGE_REPOSITORY_DEFAULTS.untaggedExpiryDays)
    .describe("Days after which an untagged image (a failed or replaced push) expires."),
  keepTaggedImages: intIn(KEEP_TAGGED_IMAGES)
    .default(IMAGE_REPOSITORY_DEFAULTS.keepTaggedImages)
    .describe("Tagged images each repository keeps (the most recently pushed); older ones expire. Keep at least the ones your task definitions name."),
  forceDelete: z
    .boolean()
    .default(IMAGE_REPOSITORY_DEFAULTS.forceDelete)
    .describe("Let `destroy ecs` delete the repositories with their images. Default false: destroy fails while a repository holds images."),
});
const registry = withCrossKeyChecks(registryShape, [
  {
    reads: [["encryption"], ["kmsKeyArn"]],
    check: ({ encryption, kmsKeyArn }, report) => {
      if (kmsKeyArn !== undefined && encryption !== "KMS")
        report(["kmsKeyArn"], `is set but ecs.registry.encryption is ${encryption}; allowed: set encryption to KMS, or leave kmsKeyArn out`, kmsKeyArn);
    },
  },
])
  .prefault({})
  .describe(
    "ECR repositories `<cluster>/engine` and `<cluster>/worker` for this project's images (immutable tags, scan on push, encrypted, lifecycle policy). The task definitions name `<repository>:<content tag>` unless an image is configured.",
  );

const statusReporter = z
  .strictObject({
    diskDevice: checked(z.string(), BLOCK_DEVICE)
      .default(STATUS_REPORTER_DEFAULTS.diskDevice)
      .describe("DISK_DEVICE to report (seed `xvda1`, which does not exist on Nitro instances)."),
    networkInterface: checked(z.string(), NETWORK_INTERFACE)
      .default(STATUS_REPORTER_DEFAULTS.networkInterface)
      .describe("INTERFACE to report (seed `eth0`; Nitro instances on Amazon Linux 2023 use `ens5`)."),
  })
  .prefault({})
  .describe("Settings of the host metrics reporter (deployed only when `metricsUrl` is set).");

const ecsShape = z.strictObject({
  clusterName: checked(z.string(), ECS_CLUSTER_NAME)
    .default("ecs_test_cluster_hyperflow")
    .describe("ECS cluster name (seed `ecs_cluster_name`); also names the group, alarms, policies and the metric dimension."),
  instanceType: instanceType()
    .default(ECS_DEFAULTS.instanceType)
    .describe("Instance type of the master and the workers (seed `launch_config_instance_type` = t2.micro, which cannot fit the broker and two workers)."),
  masterInstanceType: instanceType().optional().describe("Instance type of the master. Default: `instanceType`."),
  amiId: checked(z.string(), AMI_ID)
    .optional()
    .describe(
      'Pinned AMI of the master and the workers (seed `ecs_ami_id`); changing it replaces the master. Default: the current ECS-optimized Amazon Linux 2023 AMI from the public SSM parameter: new worker instances follow it, the master keeps the AMI it was created with (roll it deliberately: README, "Rolling the master").',
    ),
  keyPairName: z
    .string()
    .max(255)
    .default("")
    .describe("EC2 key pair for SSH (seed `key_pair_name`); empty for none. Shell access works without it through SSM Session Manager."),
  rootVolumeSizeGiB: intIn(ROOT_VOLUME_GIB).default(ECS_DEFAULTS.rootVolumeSizeGiB).describe("Size of the encrypted gp3 root volume of each instance."),
  metricsUrl: checked(z.string().default(""), emptyOr(INFLUXDB_URL)).describe(
    `InfluxDB URL \`http://<host>:${INFLUXDB_PORT}/<database>\` for the status reporter, master and workers (seed \`influx_url\`). Empty: no metrics.`,
  ),
  logRetentionDays: checked(z.number().int().default(ECS_DEFAULTS.logRetentionDays), LOG_RETENTION).describe(
    "Retention of the container log groups, in days (a value CloudWatch Logs accepts).",
  ),
  brokerSecretRecoveryDays: recoveryDays("Days Secrets Manager keeps the deleted broker secret recoverable.", ECS_DEFAULTS.secretRecoveryDays),
  asg,
  workers,
  alarms,
  images,
  registry,
  statusReporter,
});
export const ecs = withCrossKeyChecks(ecsShape, [
  {
    reads: [
      ["asg", "max"],
      ["workers", "maxCapacity"],
    ],
    check: ({ asg, workers }, report) => {
      if (asg.max === 0 && workers.maxCapacity > 0)
        report(["asg", "max"], "is 0, so no worker task can ever be placed; allowed: >= 1 when ecs.workers.maxCapacity > 0", 0);
    },
  },
])
  .prefault({})
  .describe("The `ecs` stack: ECS cluster, master with the RabbitMQ broker, worker instances and tasks, queue-driven scaling.");
