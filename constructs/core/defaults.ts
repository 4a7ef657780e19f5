/**
 * Defaults that both the configuration schema and a construct know, each written once.
 *
 * Grouped by the construct that applies them, keyed by its prop names. The schema puts them in
 * `.default(…)` (so docs/config.md and the JSON Schema show them); the constructs use them for an
 * omitted prop and name them in their `@default`. Defaults only the schema has (cluster name, region,
 * images, …) stay in config/schema; values only a construct has stay in the construct.
 */

/** Port of the InfluxDB 1.x HTTP API (the monitoring host serves it; metrics URLs name it). */
export const INFLUXDB_PORT = 8086;

/** Days Secrets Manager keeps a deleted secret recoverable (broker and Grafana admin secrets; config `ecs.brokerSecretRecoveryDays`, `monitoring.adminSecretRecoveryDays`). */
export const SECRET_RECOVERY_DAYS = 7;

/** HyperflowEcs, EcsLaunchTemplate, Broker, StatusReporter (config `ecs`). */
export const ECS_DEFAULTS = {
  /** Master and workers (`ecs.instanceType`); t2.micro (hyperflow-wms/hyperflow-terraform-ecs `variables.tf`) cannot fit the broker and two workers. */
  instanceType: "t3.medium",
  /** Encrypted gp3 root volume of each instance (`ecs.rootVolumeSizeGiB`). */
  rootVolumeSizeGiB: 30,
  /** Container log groups (`ecs.logRetentionDays`). */
  logRetentionDays: 30,
  /** Broker secret (`ecs.brokerSecretRecoveryDays`). */
  secretRecoveryDays: SECRET_RECOVERY_DAYS,
} as const;

/** StatusReporter (config `ecs.statusReporter`): Nitro instances on Amazon Linux 2023. */
export const STATUS_REPORTER_DEFAULTS = {
  diskDevice: "nvme0n1p1",
  networkInterface: "ens5",
} as const;

/** WorkerCapacity: the worker Auto Scaling group (config `ecs.asg`; `asg_*` in hyperflow-wms/hyperflow-terraform-ecs `variables.tf`). */
export const WORKER_CAPACITY_DEFAULTS = {
  /** `ecs.asg.min` */
  minSize: 0,
  /** `ecs.asg.max` */
  maxSize: 5,
  /** `ecs.asg.desired` */
  desiredCapacity: 0,
  /** `ecs.asg.cooldownSeconds` */
  cooldownSeconds: 600,
  /** `ecs.asg.instanceScalingStep` */
  maxScalingStep: 1,
  /** `ecs.asg.targetCapacityPercent` */
  targetCapacityPercent: 100,
  /** `ecs.asg.instanceWarmupSeconds` */
  instanceWarmupSeconds: 300,
} as const;

/** WorkerService: the AMQP executor workers (config `ecs.workers`). */
export const WORKER_SERVICE_DEFAULTS = {
  desiredCount: 2,
  memoryReservationMiB: 500,
  storage: "cloud",
  featureDownload: false,
  nfsMount: "",
  /** Tasks run inside the worker unless it is told otherwise: no privileges, no Docker socket. */
  dockerAccess: false,
} as const;

/** QueueScaling: worker tasks on the queue length (config `ecs.workers` and `ecs.alarms`). */
export const QUEUE_SCALING_DEFAULTS = {
  /** `ecs.workers.minCapacity` */
  minCapacity: 1,
  /** `ecs.workers.maxCapacity` */
  maxCapacity: 1000,
  /** `ecs.workers.scalingAdjustment` */
  scalingAdjustment: 1,
  /** `ecs.workers.cooldownSeconds` */
  cooldownSeconds: 300,
  /** `ecs.alarms.highThreshold` */
  highThreshold: 700,
  /** `ecs.alarms.lowThreshold` */
  lowThreshold: 0,
  /** `ecs.alarms.highPeriodSeconds` */
  highPeriodSeconds: 10,
  /** `ecs.alarms.lowPeriodSeconds` */
  lowPeriodSeconds: 10,
  /** `ecs.alarms.evaluationPeriods` */
  evaluationPeriods: 1,
} as const;

/** MonitoringHost: InfluxDB + Grafana (config `monitoring`). */
export const MONITORING_DEFAULTS = {
  /** mtsznowak/hyperflow-terraform-ecs `grafana/main.tf` used t2.micro. */
  instanceType: "t3.small",
  dataVolumeGiB: 20,
  /** InfluxDB database (as in hyperflow-wms/hyperflow-grafana `docker-compose.yml`). */
  database: "hyperflow_tests",
  /** Grafana admin secret (`monitoring.adminSecretRecoveryDays`). */
  secretRecoveryDays: SECRET_RECOVERY_DAYS,
} as const;

/** Network (config `network`). */
export const NETWORK_DEFAULTS = {
  /** `mode: "new"`: subnets are /24 blocks carved from the CIDR. */
  newVpc: { cidr: "10.0.0.0/16", azCount: 2, privateSubnets: false },
  /** `mode: "existing"`. */
  existingVpc: { assignPublicIp: true },
} as const;

/** WorkflowBucket (config `runner.bucketPrefix`, `runner.forceDestroy`). */
export const WORKFLOW_BUCKET_DEFAULTS = {
  namePrefix: "hyperflow-",
  forceDestroy: false,
} as const;

/** ImageRepository: the ECR repositories of this project's images (config `ecs.registry`). */
export const IMAGE_REPOSITORY_DEFAULTS = {
  encryption: "AES256",
  untaggedExpiryDays: 7,
  keepTaggedImages: 30,
  forceDelete: false,
} as const;

/** EngineTask (config `runner.engineMemoryMiB`, `runner.timeoutSeconds`). */
export const ENGINE_TASK_DEFAULTS = {
  engineMemoryMiB: 1024,
  /** A day: an engine whose broker never answers (amqpCommand waits forever) does not hold the master for longer. */
  timeoutSeconds: 86_400,
} as const;

/** HyperflowK8s (config `kubernetes`). */
export const K8S_DEFAULTS = {
  namespace: "hyperflow",
  /** The EKS or GKE cluster name (`kubernetes.clusterName`). */
  clusterName: "hyperflow",
  /** One label scheme for both pools (`nodeLabelKey`, `masterPool`, `workerPool`). */
  nodePools: { labelKey: "hyperflow-wms/nodepool", master: "hfmaster", worker: "hfworker" },
  workVolumeGiB: 50,
  jobCpuRequest: "0.5",
  jobMemRequest: "50Mi",
  retries: 1,
  /** Kubernetes re-runs a task pod that ends without reporting (OOM kill, eviction, node loss) once. */
  backoffLimit: 1,
  disruptionBudgets: false,
  /** The engine Job's activeDeadlineSeconds: a week (a workflow whose task Job never reports does not hold the cluster for longer). */
  engineDeadlineSeconds: 604_800,
  /** Marker a post-processing job waits for: the engine writes it when the workflow ends (`postJobs[].after`). */
  postJobAfter: "postprocStart",
} as const;

/** EksCluster (config `kubernetes.eks`; node labels from K8S_DEFAULTS.nodePools). */
export const EKS_CLUSTER_DEFAULTS = {
  /** `kubernetes.eks.masterInstanceType` */
  masterInstanceType: "m5.large",
  /** `kubernetes.eks.workerInstanceType` */
  workerInstanceType: "m5.xlarge",
  /** `kubernetes.eks.workerMax` */
  workerMaxSize: 5,
  /** `kubernetes.eks.creatorAdmin` */
  creatorAdmin: true,
  /** Control-plane logs: the eks stack passes `ecs.logRetentionDays`. */
  logRetentionDays: ECS_DEFAULTS.logRetentionDays,
} as const;

/** JuiceFsStore (config `kubernetes.juicefs`). */
export const JUICEFS_DEFAULTS = {
  /** `kubernetes.juicefs.redisNodeType`: the smallest Graviton node with a replica is enough for one workflow's metadata. */
  redisNodeType: "cache.t4g.small",
  /** `kubernetes.juicefs.bucketVersioning` */
  bucketVersioning: false,
  /** Days Secrets Manager keeps the deleted volume secret. */
  secretRecoveryDays: 7,
  /** Days of ElastiCache snapshots (the file system's metadata). */
  snapshotRetentionDays: 7,
} as const;

/** GkeCluster (config `kubernetes.gke`; node labels from K8S_DEFAULTS.nodePools). */
export const GKE_CLUSTER_DEFAULTS = {
  /** `kubernetes.gke.masterMachineType` and `workerMachineType` */
  machineType: "e2-standard-4",
  /** `kubernetes.gke.workerMax` */
  workerMaxNodes: 5,
  releaseChannel: "REGULAR",
  autopilot: false,
  /** The provider's default. */
  deletionProtection: true,
} as const;

/** The `lambda` stack: the task function and the engine's Fargate task. */
export const LAMBDA_DEFAULTS = {
  /** Names the function, its role, log group, ECR repositories and the engine's cluster. */
  name: "hyperflow-lambda",
  /** Montage tasks need little memory; Lambda gives CPU in proportion to memory (1,769 MB = one vCPU). */
  memoryMiB: 2048,
  /** The longest task a run may have; Lambda allows at most 900 s. */
  timeoutSeconds: 900,
  ephemeralStorageMiB: 2048,
  engineCpu: 1024,
  engineMemoryMiB: 2048,
  logRetentionDays: 30,
} as const;
