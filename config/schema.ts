/**
 * The one configuration schema of hyperflow-infra.
 *
 * Types are inferred from it, defaults live in it, and every key carries the documentation that the
 * generated JSON Schema (`hyperflow.config.schema.json`) shows in editors. Defaults follow the
 * Terraform ECS deployment we replace (anchors §1.1.2) except where its default is a known bug; those
 * places say so in their description and in docs/config.md.
 */
import * as ipaddr from "ipaddr.js";
import { z } from "zod";

/** AWS region names such as `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-5`. */
export const AWS_REGION_PATTERN = /^(us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov|us-iso|us-isob)-(north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9]$/;

/** Alarm periods CloudWatch accepts: 10 s and 30 s (high resolution) or any multiple of 60 s. */
export function isValidAlarmPeriod(seconds: number): boolean {
  return seconds === 10 || seconds === 30 || (seconds >= 60 && seconds % 60 === 0);
}

/** True for an IPv4 or IPv6 CIDR whose address is the network address (`10.0.0.0/16`, not `10.0.0.1/16`). */
export function isCanonicalCidr(value: string): boolean {
  if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(value)) return false;
  try {
    const [addr, bits] = ipaddr.parseCIDR(value);
    const network = addr.kind() === "ipv4"
      ? ipaddr.IPv4.networkAddressFromCIDR(value)
      : ipaddr.IPv6.networkAddressFromCIDR(value);
    return network.toString() === addr.toString() && bits >= 0;
  } catch {
    return false;
  }
}

/**
 * Container image references must name a tag or digest other than `latest`
 * (`repo:1.2.3`, `registry/repo@sha256:…`).
 */
export function imageProblem(ref: string): string | undefined {
  if (/\s/.test(ref) || ref.length === 0) return "is not an image reference";
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return undefined;
  const lastSlash = ref.lastIndexOf("/");
  const colon = ref.indexOf(":", lastSlash + 1);
  if (colon < 0) return "has no tag (Docker would pull `latest`)";
  const tag = ref.slice(colon + 1);
  if (tag === "latest") return "uses the mutable tag `latest`";
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) return `has an invalid tag "${tag}"`;
  return undefined;
}

/**
 * Images of the seed deployment that were only ever published as `latest`; they cannot be pinned by tag.
 * They stay the defaults (they are what the HyperFlow ECS images are), are allowed by the policy rules,
 * and `hflow-infra synth` prints a warning for them. Pin them by digest in your config.
 */
export const UNPINNABLE_SEED_IMAGES: readonly string[] = [
  "krysp89/hyperflow-worker-nfs:latest",
  "krysp89/hyperflow-ec2-status-reporter:latest",
  "krysp89/hyperflow-hflow:latest",
];

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

function checkPinned(ref: string, ctx: z.RefinementCtx): void {
  if (UNPINNABLE_SEED_IMAGES.includes(ref)) return;
  const problem = imageProblem(ref);
  if (problem) ctx.addIssue({ code: "custom", message: `image ${problem}; allowed: a pinned tag (repo:1.2.3) or a digest (repo@sha256:…)` });
}

const imageRef = (description: string, def: string) => z.string().default(def).superRefine(checkPinned).describe(description);
/** A pinned image without a default. */
const requiredImageRef = (description: string) => z.string().superRefine(checkPinned).describe(description);

const cidr = z
  .string()
  .refine(isCanonicalCidr, { message: "is not a CIDR block; allowed: a network address with prefix length, e.g. 203.0.113.0/24 or 2001:db8::/32" });

const count = (description: string, def: number, max = 10_000) =>
  z.number().int().min(0).max(max).default(def).describe(description);

const seconds = (description: string, def: number, min = 0, max = 86_400) =>
  z.number().int().min(min).max(max).default(def).describe(description);

const alarmPeriod = (description: string, def: number) =>
  z
    .number()
    .int()
    .default(def)
    .refine(isValidAlarmPeriod, { message: "is not a CloudWatch alarm period; allowed: 10, 30 or a multiple of 60 (seconds)" })
    .describe(description);

const tagMap = z
  .record(
    z.string().min(1).max(128).regex(/^(?!aws:)[\p{L}\p{N}\s_.:/=+\-@]+$/u, "is not a valid tag key (1–128 characters, no `aws:` prefix)"),
    z.string().max(256).regex(/^[\p{L}\p{N}\s_.:/=+\-@]*$/u, "is not a valid tag value (0–256 characters)"),
  )
  .default({})
  .describe("Tags put on every resource, propagated to ASG instances, their volumes and network interfaces, and ECS tasks.");

// ---------------------------------------------------------------------------------------------------
// Backend

const localBackend = z.strictObject({
  type: z.literal("local"),
});
const s3Backend = z.strictObject({
  type: z.literal("s3"),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "is not an S3 bucket name").describe("Existing bucket for Terraform state."),
  keyPrefix: z.string().default("hyperflow-infra").describe("State objects are written to `<keyPrefix>/<stack>.tfstate`."),
  region: z.string().regex(AWS_REGION_PATTERN, "is not an AWS region").optional().describe("Region of the state bucket. Default: the deployment region."),
});
const backend = z
  .discriminatedUnion("type", [localBackend, s3Backend])
  .default({ type: "local" })
  .describe("Where Terraform keeps state. `local` writes `terraform.<stack>.tfstate` beside the output folder (cdktf.out); `s3` uses S3 with native lock files (`use_lockfile`, Terraform ≥ 1.10 / OpenTofu ≥ 1.10), no DynamoDB table.");

// ---------------------------------------------------------------------------------------------------
// Network

const defaultVpc = z.strictObject({
  mode: z.literal("default"),
});
const newVpc = z.strictObject({
  mode: z.literal("new"),
  cidr: cidr
    .refine((c) => /^\d+\.\d+\.\d+\.\d+\/(1[6-9]|20)$/.test(c), { message: "is not usable for a new VPC; allowed: an IPv4 CIDR with a prefix from /16 to /20" })
    .default("10.0.0.0/16")
    .describe("CIDR of the new VPC; subnets are /24 blocks carved from it."),
  azCount: z.number().int().min(2).max(6).default(2).describe("How many availability zones (taken from the region's available zones) get a subnet of each kind."),
  privateSubnets: z
    .boolean()
    .default(false)
    .describe("Put instances in private subnets behind one NAT gateway (about 35 USD a month plus traffic). Default: public subnets with public IPs and no inbound rules, which costs nothing extra."),
});
const existingVpc = z.strictObject({
  mode: z.literal("existing"),
  vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, "is not a VPC id (vpc-…)").describe("Id of the VPC to deploy into."),
  subnetIds: z
    .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "is not a subnet id (subnet-…)"))
    .min(1)
    .optional()
    .describe("Subnets for the instances. Default: every subnet of the VPC."),
  assignPublicIp: z
    .boolean()
    .default(true)
    .describe("Give instances a public IP (needed when the subnets have no NAT gateway or VPC endpoints)."),
});
const network = z
  .discriminatedUnion("mode", [defaultVpc, newVpc, existingVpc])
  .default({ mode: "default" })
  .describe("Where instances run: the account's default VPC, a new VPC, or an existing VPC.");

// ---------------------------------------------------------------------------------------------------
// ECS

const asg = z
  .strictObject({
    min: count("Minimum number of worker instances (seed `asg_min`). The master runs outside the group, so 0 is fine.", 0, 1000),
    max: count("Maximum number of worker instances (seed `asg_max`).", 5, 1000),
    desired: count("Initial number of worker instances (seed `asg_desired`); afterwards the ECS capacity provider owns it.", 0, 1000),
    cooldownSeconds: seconds("Default cooldown of the Auto Scaling group (seed `aws_autoscaling_cooldown`).", 600),
    instanceScalingStep: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(1)
      .describe("Most instances the capacity provider adds or removes in one step (seed `ec2_instance_scaling_adjustment`)."),
    targetCapacityPercent: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(100)
      .describe("ECS managed scaling target: how full the instances should be. 100 means no idle spare instance."),
    instanceWarmupSeconds: seconds("Seconds a new instance needs before its metrics count for managed scaling.", 300),
  })
  .prefault({})
  .describe("The Auto Scaling group of worker instances, scaled by an ECS capacity provider.");

const workers = z
  .strictObject({
    desiredCount: count("Initial number of worker tasks (seed `aws_ecs_service_worker_desired_count`).", 2),
    minCapacity: count("Fewest worker tasks autoscaling keeps (seed `worker_min_capacity`).", 1),
    maxCapacity: count("Most worker tasks autoscaling starts (seed `worker_max_capacity`).", 1000),
    scalingAdjustment: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(1)
      .describe("Worker tasks added on a high-queue alarm and removed on a low-queue alarm (seed `worker_scaling_adjustment`)."),
    cooldownSeconds: seconds("Cooldown of the worker step-scaling policies (seed `aws_appautoscaling_cooldown`).", 300),
    memoryReservationMiB: z.number().int().min(64).max(1_048_576).default(500).describe("Soft memory limit of a worker container (seed: 500)."),
    storage: z
      .enum(["cloud", "nfs", "local"])
      .default("cloud")
      .describe("AMQP executor STORAGE: `cloud` (S3), `nfs` (copy to/from a shared file system) or `local` (run in a shared directory)."),
    threads: z.number().int().min(1).max(256).optional().describe("AMQP executor THREADS. Default: the executor uses the number of cores."),
    featureDownload: z
      .boolean()
      .default(false)
      .describe("FEATURE_DOWNLOAD=ENABLED: keep downloaded files per workflow and skip downloading them again (seed `feature_download`)."),
    nfsMount: z.string().default("").describe("NFS_MOUNT passed to the executor (seed `nfs_mount`); empty for none."),
    dockerAccess: z
      .boolean()
      .default(true)
      .describe("Mount the Docker socket into privileged workers so tasks can run in their own containers (the seed's behaviour; the worker is then root-equivalent on its host). Set false when tasks run inside the worker image."),
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "is not an S3 bucket name")
      .optional()
      .describe("Workflow bucket the workers read inputs from and write outputs to; the worker role may use only this bucket. Default: no S3 access."),
  })
  .prefault({})
  .describe("The AMQP executor worker service and its autoscaling.");

const alarms = z
  .strictObject({
    evaluationPeriods: z.number().int().min(1).max(100).default(1).describe("Periods an alarm condition must hold (seed `alarm_evaluation_periods`)."),
    highPeriodSeconds: alarmPeriod("Period of the queue-high alarm (seed `alarm_high_period`). Below 60 the queue length is published as a high-resolution metric.", 10),
    lowPeriodSeconds: alarmPeriod("Period of the queue-low alarm (seed `alarm_low_period`).", 10),
    highThreshold: z.number().min(0).default(700).describe("Scale out when the queue holds more than this many jobs (seed `alarm_threshold_high`)."),
    lowThreshold: z
      .number()
      .min(0)
      .default(0)
      .describe("Scale in when the queue holds at most this many jobs (seed `alarm_threshold_low`; the seed compared `< 0`, which never fires, we compare `<=`)."),
  })
  .prefault({})
  .describe("CloudWatch alarms on the queue length of `hyperflow.jobs` that drive worker scaling.");

const images = z
  .strictObject({
    master: imageRef(
      "Broker image with the RabbitMQ management plugin (seed `hyperflow_master_container` = krysp89/hyperflow-master-plugin:latest, replaced by the official image because the queue-length publisher is now deployed by the stack).",
      "public.ecr.aws/docker/library/rabbitmq:3.13.7-management-alpine",
    ),
    worker: imageRef("AMQP executor worker image (seed `hyperflow_worker_container`).", "krysp89/hyperflow-worker-nfs:latest"),
    statusReporter: imageRef("Host metrics reporter run on every instance when `metricsUrl` is set (seed `ec2_status_reporter`).", "krysp89/hyperflow-ec2-status-reporter:latest"),
    publisher: imageRef("Node.js image that runs the queue-length publisher beside the broker.", "public.ecr.aws/docker/library/node:22.12.0-alpine3.21"),
  })
  .prefault({})
  .describe("Container images. Tags must be pinned (no `latest`, no untagged references).");

const statusReporter = z
  .strictObject({
    diskDevice: z.string().regex(/^[a-z0-9]+$/, "is not a block device name").default("nvme0n1p1").describe("DISK_DEVICE to report (seed `xvda1`, which does not exist on Nitro instances)."),
    networkInterface: z.string().regex(/^[a-z0-9]+$/, "is not an interface name").default("ens5").describe("INTERFACE to report (seed `eth0`; Nitro instances on Amazon Linux 2023 use `ens5`)."),
  })
  .prefault({})
  .describe("Settings of the host metrics reporter (deployed only when `metricsUrl` is set).");

const ecs = z
  .strictObject({
    clusterName: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/, "is not a valid ECS cluster name (letters, digits, `-`, `_`; at most 200)")
      .default("ecs_test_cluster_hyperflow")
      .describe("ECS cluster name (seed `ecs_cluster_name`); also names the group, alarms, policies and the metric dimension."),
    instanceType: z
      .string()
      .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "is not an EC2 instance type (family.size)")
      .default("t3.medium")
      .describe("Instance type of the master and the workers (seed `launch_config_instance_type` = t2.micro, which cannot fit the broker and two workers)."),
    masterInstanceType: z
      .string()
      .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "is not an EC2 instance type (family.size)")
      .optional()
      .describe("Instance type of the master. Default: `instanceType`."),
    amiId: z
      .string()
      .regex(/^ami-[0-9a-f]{8,17}$/, "is not an AMI id (ami-…)")
      .optional()
      .describe("Pinned AMI (seed `ecs_ami_id`). Default: the current ECS-optimized Amazon Linux 2023 AMI from the public SSM parameter."),
    keyPairName: z
      .string()
      .max(255)
      .default("")
      .describe("EC2 key pair for SSH (seed `key_pair_name`); empty for none. Shell access works without it through SSM Session Manager."),
    rootVolumeSizeGiB: z.number().int().min(30).max(16_384).default(30).describe("Size of the encrypted gp3 root volume of each instance."),
    metricsUrl: z
      .string()
      .default("")
      .refine((v) => v === "" || /^https?:\/\/[^\s/]+(:\d+)?\/[A-Za-z0-9_-]+$/.test(v), {
        message: "is not an InfluxDB URL; allowed: empty, or http(s)://<host>:<port>/<database> such as http://10.0.0.5:8086/hyperflow_tests",
      })
      .describe("InfluxDB URL `http://<host>:8086/<database>` for the status reporter, master and workers (seed `influx_url`). Empty: no metrics."),
    logRetentionDays: z
      .number()
      .int()
      .default(30)
      .refine((n) => LOG_RETENTION_DAYS.includes(n), { message: `is not a CloudWatch Logs retention; allowed: ${LOG_RETENTION_DAYS.join(", ")}` })
      .describe("Retention of the container log groups, in days (a value CloudWatch Logs accepts)."),
    brokerSecretRecoveryDays: z
      .number()
      .int()
      .refine((n) => n === 0 || (n >= 7 && n <= 30), { message: "is not a recovery window; allowed: 0 (delete at once) or 7 to 30 days" })
      .default(7)
      .describe("Days Secrets Manager keeps the deleted broker secret recoverable."),
    asg,
    workers,
    alarms,
    images,
    statusReporter,
  })
  .prefault({})
  .describe("The `ecs` stack: ECS cluster, master with the RabbitMQ broker, worker instances and tasks, queue-driven scaling.");

const monitoring = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe("Deploy the `grafana` stack (InfluxDB + Grafana) and give its InfluxDB URL to the cluster, its workers and the engine (unless ecs.metricsUrl names another InfluxDB)."),
    instanceType: z
      .string()
      .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "is not an EC2 instance type (family.size)")
      .default("t3.small")
      .describe("Instance type of the monitoring host (seed: t2.micro)."),
    dataVolumeGiB: z.number().int().min(1).max(16_384).default(20).describe("Size of the encrypted data volume (InfluxDB and Grafana data); it survives instance replacement."),
    influxdbImage: imageRef("InfluxDB 1.x image (the API HyperFlow's executors and reporters write to).", "public.ecr.aws/docker/library/influxdb:1.8.10"),
    grafanaImage: imageRef("Grafana image.", "grafana/grafana:11.3.1"),
    database: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, "is not a database name").default("hyperflow_tests").describe("InfluxDB database (seed: hyperflow_tests)."),
    adminSecretRecoveryDays: z
      .number()
      .int()
      .refine((n) => n === 0 || (n >= 7 && n <= 30), { message: "is not a recovery window; allowed: 0 (delete at once) or 7 to 30 days" })
      .default(7)
      .describe("Days Secrets Manager keeps the deleted Grafana admin secret recoverable."),
  })
  .prefault({})
  .describe("The `grafana` stack: InfluxDB 1.x and Grafana with HyperFlow dashboards on one instance. Grafana is reachable only from adminCidrs, InfluxDB only from the VPC.");

const runner = z
  .strictObject({
    bucketPrefix: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{0,36}$/, "is not a bucket name prefix (lowercase letters, digits, dots, hyphens; at most 37)")
      .default("hyperflow-")
      .describe("Prefix of the generated workflow bucket name (seed `BUCKET_NAME` = hyperflow-1111, a fixed global name that collides)."),
    forceDestroy: z
      .boolean()
      .default(false)
      .describe("Let `destroy runner` delete the bucket with everything in it (the seed: true). Default false: results survive a destroy; empty the bucket first."),
    prefix: z
      .string()
      .regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/, "is not a key prefix (segments of letters, digits and !_.*'()- each ending in /)")
      .default("")
      .describe("Key prefix of the job in the bucket; `workdir/` and `input/` go below it. Default: the bucket root, as in the seed."),
    jobDir: z
      .string()
      .optional()
      .describe("Job directory (with workdir/ and input/) that `deploy runner` uploads, re-uploading only what changed. Env HFLOW_JOB_DIR overrides it."),
    engineImage: imageRef("HyperFlow engine image with amqpCommand and S3 storage (seed `krysp89/hyperflow-hflow`).", "krysp89/hyperflow-hflow:latest"),
    redisImage: imageRef("Redis for the engine.", "public.ecr.aws/docker/library/redis:7.4.1-alpine"),
    fetchImage: imageRef("AWS CLI image that copies workdir/ from the bucket before the engine starts.", "public.ecr.aws/aws-cli/aws-cli:2.22.4"),
    engineMemoryMiB: z.number().int().min(128).max(1_048_576).default(1024).describe("Memory reservation of the engine container."),
    taskContainer: z
      .string()
      .default("")
      .superRefine((ref, ctx) => {
        const problem = ref === "" ? undefined : imageProblem(ref);
        if (problem) ctx.addIssue({ code: "custom", message: `image ${problem}; allowed: empty, a pinned tag or a digest` });
      })
      .describe("CONTAINER: image the executor runs each task in (seed default krysp89/hyperflow-amqp-executor, unpinned). Empty: tasks run inside the worker."),
  })
  .prefault({})
  .describe("The `runner` stack: workflow bucket, engine task (HyperFlow + Redis), and the upload of a job directory.");

const quantity = (description: string, def: string) =>
  z
    .string()
    .regex(/^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, "is not a Kubernetes quantity (e.g. 0.5, 500m, 50Mi, 2Gi)")
    .default(def)
    .describe(description);
const labelPart = z.string().regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, "is not a Kubernetes label key or value");

const eks = z
  .strictObject({
    version: z.string().regex(/^1\.\d{2}$/, "is not a Kubernetes minor version (e.g. 1.33)").default("1.33").describe("EKS Kubernetes version."),
    masterInstanceType: z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "is not an EC2 instance type").default("m5.large").describe("Instance type of the master pool (1 node: engine, Redis, NFS)."),
    workerInstanceType: z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "is not an EC2 instance type").default("m5.xlarge").describe("Instance type of the worker pool (task jobs)."),
    workerMax: z.number().int().min(1).max(1000).default(5).describe("Most worker nodes (the pool scales from 0)."),
    creatorAdmin: z.boolean().default(true).describe("Give the identity that creates the cluster admin access through an access entry (API authentication mode)."),
  })
  .prefault({})
  .describe("The `eks` cluster stack (when kubernetes.cluster is eks).");

const gke = z
  .strictObject({
    project: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "is not a GCP project id").optional().describe("GCP project (required for the gke cluster)."),
    location: z.string().regex(/^[a-z]+-[a-z]+\d(-[a-z])?$/, "is not a GCP region or zone").default("europe-west4-a").describe("Zone (zonal cluster) or region."),
    releaseChannel: z.enum(["RAPID", "REGULAR", "STABLE"]).default("REGULAR").describe("GKE release channel (versions follow it)."),
    autopilot: z.boolean().default(false).describe("Autopilot cluster (no node pools to manage; node labels come from the workloads' selectors)."),
    masterMachineType: z.string().default("e2-standard-4").describe("Machine type of the master pool (1 node)."),
    workerMachineType: z.string().default("e2-standard-4").describe("Machine type of the worker pool."),
    workerMax: z.number().int().min(1).max(1000).default(5).describe("Most worker nodes (the pool scales from 0)."),
    deletionProtection: z
      .boolean()
      .default(true)
      .describe("GKE deletion protection (the provider's default). Set false before `destroy gke`; it guards a cluster against an accidental destroy."),
  })
  .prefault({})
  .describe("The `gke` cluster stack (when kubernetes.cluster is gke).");

const kubernetes = z
  .strictObject({
    cluster: z
      .enum(["none", "existing", "eks", "gke"])
      .default("none")
      .describe("Where HyperFlow runs on Kubernetes: none, an existing cluster (kubeconfig), or a new EKS / GKE cluster (stacks `eks` / `gke`), with the `k8s` workload stack."),
    clusterName: z.string().regex(/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/, "is not a cluster name both EKS and GKE accept; allowed: 1–40 lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit").default("hyperflow").describe("Name of the EKS or GKE cluster the `eks` / `gke` stack creates and the `k8s` stack deploys to."),
    kubeconfigPath: z.string().default("~/.kube/config").describe("kubeconfig of an existing cluster."),
    context: z.string().optional().describe("kubeconfig context of an existing cluster (e.g. kind-hyperflow, minikube). Default: the current context."),
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "is not a namespace name").default("hyperflow").describe("Namespace of everything HyperFlow creates."),
    nodeLabelKey: labelPart.default("hyperflow-wms/nodepool").describe("Node label key of the two pools (one scheme for all)."),
    masterPool: labelPart.default("hfmaster").describe("Label value of the master pool (engine, Redis, NFS server)."),
    workerPool: labelPart.default("hfworker").describe("Label value of the worker pool (task jobs)."),
    storageClass: z.string().optional().describe("RWX storage class for /work_dir. Default: an NFS server provisioner (helm) on the master pool."),
    workVolumeGiB: z.number().int().min(1).max(65_536).default(50).describe("Size of /work_dir."),
    engineImage: imageRef("HyperFlow engine image.", "hyperflowwms/hyperflow:v1.9.1"),
    workerImage: imageRef("Default task image with the job executor (HF_VAR_WORKER_CONTAINER).", "hyperflowwms/montage-worker:6.0-je1.4.0"),
    dataImage: z
      .string()
      .optional()
      .superRefine((ref, ctx) => {
        const problem = ref === undefined ? undefined : imageProblem(ref);
        if (problem) ctx.addIssue({ code: "custom", message: `image ${problem}; allowed: a pinned tag or a digest` });
      })
      .describe("Image whose /data holds the workflow (workflow.json + inputs), copied into /work_dir by a job. Default: none (put the data there yourself)."),
    redisImage: imageRef("Redis for the engine.", "public.ecr.aws/docker/library/redis:7.4.1-alpine"),
    jobCpuRequest: quantity("Default CPU request of a task job (HF_VAR_CPU_REQUEST; per task: cpuRequest).", "0.5"),
    jobMemRequest: quantity("Default memory request of a task job (HF_VAR_MEM_REQUEST; per task: memRequest).", "50Mi"),
    retries: z.number().int().min(0).max(20).default(1).describe("Retries of a failed task command (HF_VAR_NUMBER_OF_RETRIES, the name the executor reads; the seed's HF_VAR_NUM_RETRIES was never read)."),
    backoffLimit: z.number().int().min(0).max(20).default(0).describe("Re-submissions of a failed job by the engine (HF_VAR_BACKOFF_LIMIT)."),
    disruptionBudgets: z.boolean().default(false).describe("PodDisruptionBudgets for Redis and the NFS server (never matching task pods)."),
    postJobs: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/, "is not a job name (DNS label)").describe("Job name."),
          image: requiredImageRef("Image of the job (pinned)."),
          command: z.string().min(1).describe("Shell command, run in /work_dir."),
          after: z.string().regex(/^[\w.-]+$/, "is not a file name").default("postprocStart").describe("Marker file in /work_dir to wait for (the engine writes postprocStart when the workflow ends)."),
        }),
      )
      .default([])
      .describe("Post-processing jobs (e.g. the log parser, then viz-trace waiting for parsingFinished) that start when the workflow has ended."),
    eks,
    gke,
  })
  .prefault({})
  .describe("HyperFlow on Kubernetes: the `k8s` workload stack, on an existing cluster or on the `eks` / `gke` cluster stack.");

export const configSchema = z
  .strictObject({
    $schema: z.string().optional().describe("Path or URL of this file's JSON Schema (for editors)."),
    region: z.string().regex(AWS_REGION_PATTERN, "is not an AWS region (e.g. us-east-1, eu-central-1)").default("us-east-1").describe("AWS region of every AWS stack (seed `ecs_region`)."),
    tags: tagMap,
    adminCidrs: z
      .array(cidr)
      .default([])
      .describe("CIDR blocks allowed to reach admin endpoints (RabbitMQ management UI). Default: none; use SSM port forwarding."),
    backend,
    network,
    monitoring,
    ecs,
    runner,
    kubernetes,
  })
  .describe("hyperflow-infra configuration. Every key is optional; see docs/config.md.");

/** The configuration as written by a user (every key optional). */
export type ConfigInput = z.input<typeof configSchema>;
/** The resolved configuration: every default applied. */
export type HyperflowConfig = z.output<typeof configSchema>;
export type BackendConfig = HyperflowConfig["backend"];

/** The JSON Schema that editors use to complete and check `hyperflow.config.json`. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...schema, title: "hyperflow-infra configuration", $id: "https://hyperflow-infra.dev/hyperflow.config.schema.json" };
}
