/**
 * The AMQP executor workers: task definition and service on the worker capacity provider. Workers get
 * the broker URL as a secret and S3 access only to the workflow bucket, through their task role.
 */
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { WORKER_SERVICE_DEFAULTS } from "../core/defaults";
import { EXECUTOR_THREADS, TASK_COUNT } from "../core/rules";
import { requireRule } from "../core/validation";
import { ServiceRole } from "../iam/policy";
import { WorkflowBucket } from "../storage/workflow-bucket";
import type { ClusterContext } from "./cluster-context";
import { placementFor } from "./instances";
import { Task } from "./task";

/** Worker service name (anchor: `hyperflow-service-worker`). */
export const WORKER_SERVICE_NAME = "hyperflow-service-worker";

export type ExecutorStorage = "cloud" | "nfs" | "local";

/** What the workers do and how many run (what a deployment chooses; the wiring is in WorkerServiceProps). */
export interface WorkerServiceOptions {
  /** Initial number of worker tasks, 0 to 10000; queue scaling owns it afterwards. @default 2 */
  readonly desiredCount?: number;
  /** @default 500 */
  readonly memoryReservationMiB?: number;
  /** Where the executor keeps task files (STORAGE). @default "cloud" */
  readonly storage?: ExecutorStorage;
  /** Executor threads, 1 to 256 (THREADS). @default - the executor uses the number of cores */
  readonly threads?: number;
  /** FEATURE_DOWNLOAD of the executor. @default false */
  readonly featureDownload?: boolean;
  /** NFS_MOUNT of the executor. @default - empty */
  readonly nfsMount?: string;
  /** Privileged container with the Docker socket, for tasks that run in their own containers. @default false */
  readonly dockerAccess?: boolean;
  /** Name of the bucket the workers may read and write (S3_BUCKET). @default - no S3 access */
  readonly bucket?: string;
  /**
   * Seconds between SIGTERM and SIGKILL when a worker task stops (scale-in, deployment), 2 to 120:
   * this project's executor finishes its running jobs in that time. @default - the ECS agent's (30 s)
   */
  readonly stopTimeoutSeconds?: number;
}

export interface WorkerServiceProps extends WorkerServiceOptions {
  readonly cluster: ClusterContext;
  /** Capacity provider the service places its tasks with. */
  readonly capacityProviderName: string;
  /** Secrets Manager reference to the AMQP URL (becomes AMQP_URL). */
  readonly amqpUrlSecretRef: string;
  readonly image: string;
  /** InfluxDB URL (INFLUXDB_URL). @default - none */
  readonly metricsUrl?: string;
  /** @default - none */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * What the service must wait for, written as its `depends_on`: the cluster's capacity-provider
   * association (ECS rejects a service whose strategy names a provider the cluster does not have yet,
   * and destroy must remove the service first). @default - none
   */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export class WorkerService extends Construct {
  /** The ECS service. */
  readonly resource: EcsService;
  readonly task: Task;
  readonly taskRole: ServiceRole;
  /** Environment given to the worker container (for inspection and tests). */
  readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: WorkerServiceProps) {
    super(scope, id);
    const desired = props.desiredCount ?? WORKER_SERVICE_DEFAULTS.desiredCount;
    requireRule("WorkerService", "desiredCount", desired, TASK_COUNT);
    if (props.threads !== undefined) requireRule("WorkerService", "threads", props.threads, EXECUTOR_THREADS);
    const docker = props.dockerAccess ?? WORKER_SERVICE_DEFAULTS.dockerAccess;
    const { clusterName, executionRole, clusterArn, logRetentionDays } = props.cluster;
    const env = AwsEnvironment.of(this);

    this.taskRole = new ServiceRole(this, "TaskRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${clusterName}-worker-task-`,
      description: `HyperFlow workers of ${clusterName}`,
      sourceAccount: env.accountId,
    });
    if (props.bucket) WorkflowBucket.fromBucketName(this, props.bucket).grantReadWrite(this.taskRole);

    this.environment = {
      STORAGE: props.storage ?? WORKER_SERVICE_DEFAULTS.storage,
      FEATURE_DOWNLOAD: (props.featureDownload ?? WORKER_SERVICE_DEFAULTS.featureDownload) ? "ENABLED" : "DISABLED",
      NFS_MOUNT: props.nfsMount ?? WORKER_SERVICE_DEFAULTS.nfsMount,
      AWS_REGION: env.region,
      ...(props.threads ? { THREADS: String(props.threads) } : {}),
      ...(props.metricsUrl ? { INFLUXDB_URL: props.metricsUrl } : {}),
      ...(props.bucket ? { S3_BUCKET: props.bucket } : {}),
    };
    this.task = new Task(this, "Task", {
      family: `${clusterName}-hyperflow-worker`,
      networkMode: "bridge",
      executionRoleArn: executionRole.roleArn,
      taskRoleArn: this.taskRole.roleArn,
      logGroupName: `/hyperflow/${clusterName}/worker`,
      logRetentionDays,
      // /tmp holds the executor's job directories and stage cache (executor/settings.ts). Without Docker
      // access it is a task-scoped volume (the ECS agent backs a volume without a host path with a
      // task-scoped local Docker volume: aws/amazon-ecs-agent agent/api/task/task.go,
      // initializeDockerLocalVolumes; Docker fills it from the image's /tmp, mode 1777, so the non-root
      // worker can write there): files there skip the container's copy-on-write layer, about 8 % of the
      // machine's CPU in a Montage run on one machine (2 runs each, bench/e2e.ts). With Docker access it is
      // the host's /tmp, which the containers a task starts see under the same paths.
      volumes: docker
        ? [
            { name: "tmp-storage", hostPath: "/tmp" },
            { name: "docker-socket", hostPath: "/var/run/docker.sock" },
          ]
        : [{ name: "scratch" }],
      containers: [
        {
          name: "hyperflow-worker",
          image: props.image,
          memoryReservationMiB: props.memoryReservationMiB ?? WORKER_SERVICE_DEFAULTS.memoryReservationMiB,
          privileged: docker,
          environment: this.environment,
          secrets: [{ name: "AMQP_URL", valueFrom: props.amqpUrlSecretRef }],
          stopTimeoutSeconds: props.stopTimeoutSeconds,
          mountPoints: docker
            ? [
                { sourceVolume: "tmp-storage", containerPath: "/tmp" },
                { sourceVolume: "docker-socket", containerPath: "/var/run/docker.sock" },
              ]
            : [{ sourceVolume: "scratch", containerPath: "/tmp" }],
        },
      ],
    });

    this.resource = new EcsService(this, "Service", {
      name: WORKER_SERVICE_NAME,
      cluster: clusterArn,
      taskDefinition: this.task.resource.arn,
      desiredCount: desired,
      capacityProviderStrategy: [{ capacityProvider: props.capacityProviderName, weight: 1, base: 0 }],
      placementConstraints: [placementFor("worker")],
      orderedPlacementStrategy: [{ type: "binpack", field: "memory" }],
      deploymentCircuitBreaker: { enable: true, rollback: true },
      propagateTags: "TASK_DEFINITION",
      enableEcsManagedTags: true,
      tags: props.tags ? { ...props.tags } : undefined,
      // Autoscaling owns the desired count after the first deploy.
      lifecycle: { ignoreChanges: ["desired_count"] },
      dependsOn: props.dependsOn ? [...props.dependsOn] : undefined,
    });
  }
}
