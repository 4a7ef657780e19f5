/**
 * The AMQP executor workers: task definition and service on the worker capacity provider. Workers get
 * the broker URL as a secret and S3 access only to the workflow bucket, through their task role.
 */
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import type { EcsCapacityProvider } from "@cdktf/provider-aws/lib/ecs-capacity-provider";
import { Construct } from "constructs";
import { grantBucketReadWrite, ServiceRole } from "../iam/policy";
import { WORKER_SERVICE_DEFAULTS } from "../core/defaults";
import { EXECUTOR_THREADS, TASK_COUNT } from "../core/rules";
import { requireRule } from "../core/validation";
import { placementFor } from "./instances";
import { Task } from "./task";

/** Worker service name (anchor: `hyperflow-service-worker`). */
export const WORKER_SERVICE_NAME = "hyperflow-service-worker";

export type ExecutorStorage = "cloud" | "nfs" | "local";

export interface WorkerServiceProps {
  readonly clusterName: string;
  readonly clusterArn: string;
  readonly capacityProvider: EcsCapacityProvider;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly executionRole: ServiceRole;
  /** Secrets Manager reference to the AMQP URL (becomes AMQP_URL). */
  readonly amqpUrlSecretRef: string;
  readonly image: string;
  readonly logRetentionDays: number;
  /** @default 2 */
  readonly desiredCount?: number;
  /** @default 500 */
  readonly memoryReservationMiB?: number;
  /** @default "cloud" */
  readonly storage?: ExecutorStorage;
  /** @default - the executor uses the number of cores */
  readonly threads?: number;
  /** @default false */
  readonly featureDownload?: boolean;
  /** @default - none */
  readonly nfsMount?: string;
  /** InfluxDB URL (INFLUXDB_URL). @default - none */
  readonly metricsUrl?: string;
  /** Privileged container with the Docker socket, for tasks that run in their own containers. @default true */
  readonly dockerAccess?: boolean;
  /** Bucket the workers may read and write. @default - no S3 access */
  readonly bucket?: string;
  /** @default - none */
  readonly tags?: Readonly<Record<string, string>>;
}

export class WorkerService extends Construct {
  readonly service: EcsService;
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

    this.taskRole = new ServiceRole(this, "TaskRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${props.clusterName}-worker-task-`,
      description: `HyperFlow workers of ${props.clusterName}`,
      sourceAccount: props.accountId,
    });
    if (props.bucket) grantBucketReadWrite(this.taskRole, props.partition, props.bucket);

    this.environment = {
      STORAGE: props.storage ?? WORKER_SERVICE_DEFAULTS.storage,
      FEATURE_DOWNLOAD: props.featureDownload ? "ENABLED" : "DISABLED",
      NFS_MOUNT: props.nfsMount ?? WORKER_SERVICE_DEFAULTS.nfsMount,
      AWS_REGION: props.region,
      ...(props.threads ? { THREADS: String(props.threads) } : {}),
      ...(props.metricsUrl ? { INFLUXDB_URL: props.metricsUrl } : {}),
      ...(props.bucket ? { S3_BUCKET: props.bucket } : {}),
    };
    this.task = new Task(this, "Task", {
      family: `${props.clusterName}-hyperflow-worker`,
      networkMode: "bridge",
      executionRoleArn: props.executionRole.role.arn,
      taskRoleArn: this.taskRole.role.arn,
      logGroupName: `/hyperflow/${props.clusterName}/worker`,
      logRetentionDays: props.logRetentionDays,
      region: props.region,
      volumes: docker
        ? [
            { name: "tmp-storage", hostPath: "/tmp" },
            { name: "docker-socket", hostPath: "/var/run/docker.sock" },
          ]
        : [],
      containers: [
        {
          name: "hyperflow-worker",
          image: props.image,
          memoryReservationMiB: props.memoryReservationMiB ?? WORKER_SERVICE_DEFAULTS.memoryReservationMiB,
          privileged: docker,
          environment: this.environment,
          secrets: [{ name: "AMQP_URL", valueFrom: props.amqpUrlSecretRef }],
          mountPoints: docker
            ? [
                { sourceVolume: "tmp-storage", containerPath: "/tmp" },
                { sourceVolume: "docker-socket", containerPath: "/var/run/docker.sock" },
              ]
            : [],
        },
      ],
    });

    this.service = new EcsService(this, "Service", {
      name: WORKER_SERVICE_NAME,
      cluster: props.clusterArn,
      taskDefinition: this.task.definition.arn,
      desiredCount: desired,
      capacityProviderStrategy: [{ capacityProvider: props.capacityProvider.name, weight: 1, base: 0 }],
      placementConstraints: [placementFor("worker")],
      orderedPlacementStrategy: [{ type: "binpack", field: "memory" }],
      deploymentCircuitBreaker: { enable: true, rollback: true },
      propagateTags: "TASK_DEFINITION",
      enableEcsManagedTags: true,
      tags: props.tags ? { ...props.tags } : undefined,
      // Autoscaling owns the desired count after the first deploy.
      lifecycle: { ignoreChanges: ["desired_count"] },
    });
  }
}
