/**
 * The HyperFlow engine as an ECS task on the master instance, started per run by `hflow-infra run`;
 * the task stops when the engine exits, with the workflow's exit code. The engine runs the workflow
 * with amqpCommand: jobs go to the broker, executors read and write `s3://<bucket>/<prefix>input/`.
 *
 * Two layouts:
 * - this project's engine image (images/engine, the default): one container. Its entrypoint
 *   (images/engine/entrypoint.ts) fetches `<prefix>workdir/`, starts Redis on a free loopback port,
 *   runs `hflow run`, writes the result marker `<prefix>runs/<run id>/result.json` (the only key the
 *   task role may write) and exits with the workflow's status; its plugin
 *   (images/engine/hflow-plugin.ts) sends jobs with S3_BUCKET and S3_PATH as their bucket and prefix.
 * - an engine image without that entrypoint (`sidecars`, e.g. the seed's krysp89/hyperflow-hflow): a
 *   fetch container copies `workdir/` into a task volume and Redis starts beside the engine, as in
 *   mtsznowak/hyperflow-terraform-ecs `runner/job.tf`.
 */
import type { EcsTaskDefinition } from "@cdktf/provider-aws/lib/ecs-task-definition";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { ENGINE_TASK_DEFAULTS } from "../core/defaults";
import { ENGINE_MEMORY_MIB, KEY_PREFIX, RUN_TIMEOUT_SECONDS } from "../core/rules";
import { PropsError, requireRule } from "../core/validation";
import type { BrokerConnection } from "../ecs/broker";
import { placementFor } from "../ecs/instances";
import { Task } from "../ecs/task";
import { ServiceRole } from "../iam/policy";
import type { BucketRef } from "../storage/workflow-bucket";

/** Container names, used by the CLI for overrides and log streams. */
export const ENGINE_CONTAINER = "hyperflow-engine";
const FETCH_CONTAINER = "fetch-workdir";
const REDIS_CONTAINER = "redis";
/** Where workdir/ is mounted in the engine container (as in mtsznowak/hyperflow-terraform-ecs `runner/job.tf`). */
const WORKDIR_MOUNT = "/workdir";
/** ECS task family of the engine (what `hflow-infra status` lists). */
export const engineFamily = (clusterName: string): string => `${clusterName}-hyperflow-engine`;
/**
 * The engine's command for a workflow file below workdir/ (`hflow-infra run` overrides it per job).
 * The seed's images run it; this project's entrypoint takes the workflow file and workdir from it.
 */
export const engineCommand = (workflowFile: string): string[] => ["/hyperflow/bin/hflow", "run", `${WORKDIR_MOUNT}/${workflowFile}`, "-s"];

/** The job and the engine's settings (what a run chooses; the wiring is in EngineTaskProps). */
export interface EngineTaskOptions {
  /** Key prefix of the job in the bucket: empty, or segments each ending in "/" (executors concatenate prefix and file name). */
  readonly prefix: string;
  /** Workflow file below workdir/. @default "dag.json" */
  readonly workflowFile?: string;
  /** Memory reserved for the engine container, 128 to 1048576 MiB. @default 1024 */
  readonly engineMemoryMiB?: number;
  /** InfluxDB URL for METRIC_COLLECTOR. @default - none */
  readonly metricsUrl?: string;
  /** CONTAINER: image executors run each task in; only with `sidecars` (the seed's engine reads it). @default - none */
  readonly taskContainer?: string;
  /** Time limit of a run in seconds (HFLOW_TIMEOUT_SECONDS), 0 for none; not with `sidecars`. @default 86400 */
  readonly timeoutSeconds?: number;
}

/** The images of the seed's layout: an engine image without this project's entrypoint runs beside these. */
export interface EngineSidecars {
  readonly redisImage: string;
  /** AWS CLI image that copies workdir/ from the bucket. */
  readonly fetchImage: string;
}

export interface EngineTaskProps extends EngineTaskOptions {
  /** Literal name of the cluster the engine runs in (names the family, roles and log group). */
  readonly clusterName: string;
  /** Bucket with the job (workdir/ and input/ below the prefix); the engine's task role may read it. */
  readonly bucket: BucketRef;
  /** The cluster's broker (usually from the `ecs` stack); the engine's execution role may read its secret. */
  readonly broker: BrokerConnection;
  /** This project's engine image (images/engine), or with `sidecars` an image that only runs HyperFlow. */
  readonly engineImage: string;
  /** Run the engine the seed's way, beside a fetch and a Redis container. @default - this project's engine image: one container */
  readonly sidecars?: EngineSidecars;
  /** Retention of the engine's log group, in days (a value CloudWatch Logs accepts). */
  readonly logRetentionDays: number;
}

export class EngineTask extends Construct {
  /** The engine's task definition (what `hflow-infra run` starts). */
  readonly resource: EcsTaskDefinition;
  readonly task: Task;
  /** The engine container's image. */
  readonly image: string;
  readonly taskRole: ServiceRole;
  readonly executionRole: ServiceRole;
  /** Placement constraint for RunTask: the master instance. */
  readonly placement = placementFor("master");

  constructor(scope: Construct, id: string, props: EngineTaskProps) {
    super(scope, id);
    requireRule("EngineTask", "prefix", props.prefix, KEY_PREFIX);
    const workflowFile = props.workflowFile ?? "dag.json";
    if (!/^[\w.-]+\.json$/.test(workflowFile)) throw new PropsError("EngineTask", "workflowFile", workflowFile, "a .json file name below workdir/");
    const engineMemoryMiB = props.engineMemoryMiB ?? ENGINE_TASK_DEFAULTS.engineMemoryMiB;
    requireRule("EngineTask", "engineMemoryMiB", engineMemoryMiB, ENGINE_MEMORY_MIB);
    const env = AwsEnvironment.of(this);

    this.executionRole = new ServiceRole(this, "ExecutionRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${props.clusterName}-engine-exec-`,
      description: `HyperFlow engine tasks of ${props.clusterName}: pull images, write logs, read the broker secret`,
      sourceAccount: env.accountId,
      managedPolicyArns: [`arn:${env.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`],
    });
    props.broker.grantSecretRead(this.executionRole);
    this.image = props.engineImage;
    const ours = props.sidecars === undefined;
    if (!ours && props.timeoutSeconds !== undefined)
      throw new PropsError("EngineTask", "timeoutSeconds", props.timeoutSeconds, "nothing with sidecars (only this project's engine image has a time limit)");
    if (ours && props.taskContainer)
      throw new PropsError(
        "EngineTask",
        "taskContainer",
        props.taskContainer,
        "nothing without sidecars (this project's executor runs tasks inside the worker)",
      );
    const timeoutSeconds = props.timeoutSeconds ?? ENGINE_TASK_DEFAULTS.timeoutSeconds;
    if (ours) requireRule("EngineTask", "timeoutSeconds", timeoutSeconds, RUN_TIMEOUT_SECONDS);

    this.taskRole = new ServiceRole(this, "TaskRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${props.clusterName}-engine-task-`,
      description: ours
        ? `HyperFlow engine tasks of ${props.clusterName}: read the workflow bucket, write run results`
        : `HyperFlow engine tasks of ${props.clusterName}: read the workflow bucket`,
      sourceAccount: env.accountId,
    });
    props.bucket.grantRead(this.taskRole);
    if (ours) {
      // The result marker (images/run-result.ts `runResultKey`), and nothing else.
      this.taskRole.addPolicy("WriteRunResults", [
        { sid: "PutRunResult", actions: ["s3:PutObject"], resources: [`${props.bucket.bucketArn}/${props.prefix}runs/*`] },
      ]);
    }

    const bucket = props.bucket.bucketName;
    const common = {
      family: engineFamily(props.clusterName),
      // Host networking like `docker run --net=host` in mtsznowak/hyperflow-terraform-ecs `runner/job.tf`: the engine finds Redis on localhost.
      networkMode: "host" as const,
      executionRoleArn: this.executionRole.roleArn,
      taskRoleArn: this.taskRole.roleArn,
      logGroupName: `/hyperflow/${props.clusterName}/engine`,
      logRetentionDays: props.logRetentionDays,
    };
    const secrets = [{ name: "AMQP_URL", valueFrom: props.broker.amqpUrlSecretRef }];
    if (props.sidecars === undefined) {
      this.task = new Task(this, "Task", {
        ...common,
        containers: [
          {
            name: ENGINE_CONTAINER,
            image: props.engineImage,
            memoryReservationMiB: engineMemoryMiB,
            command: engineCommand(workflowFile),
            // Names images/engine/entrypoint.ts and images/engine/hflow-plugin.ts read.
            environment: {
              S3_BUCKET: bucket,
              S3_PATH: `${props.prefix}input/`,
              AWS_REGION: env.region,
              HF_VAR_function: "amqpCommand",
              ...(timeoutSeconds > 0 ? { HFLOW_TIMEOUT_SECONDS: String(timeoutSeconds) } : {}),
              ...(props.metricsUrl ? { INFLUXDB_URL: props.metricsUrl } : {}),
            },
            secrets,
          },
        ],
      });
    } else {
      this.task = new Task(this, "Task", {
        ...common,
        volumes: [{ name: "workdir" }],
        containers: [
          {
            name: FETCH_CONTAINER,
            image: props.sidecars.fetchImage,
            essential: false,
            memoryReservationMiB: 128,
            command: ["s3", "cp", "--recursive", "--only-show-errors", `s3://${bucket}/${props.prefix}workdir/`, `${WORKDIR_MOUNT}/`],
            mountPoints: [{ sourceVolume: "workdir", containerPath: WORKDIR_MOUNT }],
          },
          {
            name: REDIS_CONTAINER,
            image: props.sidecars.redisImage,
            essential: false,
            memoryReservationMiB: 128,
            command: ["redis-server", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"],
          },
          {
            name: ENGINE_CONTAINER,
            image: props.engineImage,
            memoryReservationMiB: engineMemoryMiB,
            command: engineCommand(workflowFile),
            environment: {
              S3_BUCKET: bucket,
              S3_PATH: `${props.prefix}input/`,
              REDIS_URL: "redis://127.0.0.1:6379",
              AWS_REGION: env.region,
              ...(props.metricsUrl ? { METRIC_COLLECTOR: props.metricsUrl } : {}),
              ...(props.taskContainer ? { CONTAINER: props.taskContainer } : {}),
            },
            secrets,
            mountPoints: [{ sourceVolume: "workdir", containerPath: WORKDIR_MOUNT }],
            dependsOn: [
              { containerName: FETCH_CONTAINER, condition: "SUCCESS" },
              { containerName: REDIS_CONTAINER, condition: "START" },
            ],
          },
        ],
      });
    }
    this.resource = this.task.resource;
  }
}
