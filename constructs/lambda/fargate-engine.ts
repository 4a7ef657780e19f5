/**
 * The HyperFlow engine as a Fargate task, so the Lambda path needs no instances: one task per run,
 * started by `hflow-infra run --executor lambda`, in a cluster of its own with only the FARGATE
 * capacity provider. Two containers share the task's network namespace:
 *
 * - `redis`: a Redis sidecar, from the engine image itself (Debian's redis-server is in it, so no
 *   other image to pin or pull), listening on 127.0.0.1 only, healthy once `redis-cli ping` answers;
 * - the engine (this project's engine image, images/engine), started when Redis is healthy, with
 *   HFLOW_REDIS=external: it fetches workdir/, runs the workflow with the plugin, whose lambdaCommand
 *   invokes the task function for every task (HFLOW_EXECUTOR=lambda also routes amqpCommand
 *   processes there), writes the result marker and exits with the workflow's status.
 *
 * The task role may read the bucket, write the run's result marker and invoke the task function
 * (TaskFunction.grantInvoke); nothing else. The container names and the command are the ECS engine
 * task's (constructs/engine/engine-task.ts), so the CLI's follow and result code serves both.
 */
import { EcsCluster } from "@cdktf/provider-aws/lib/ecs-cluster";
import { EcsClusterCapacityProviders } from "@cdktf/provider-aws/lib/ecs-cluster-capacity-providers";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { KEY_PREFIX, RUN_TIMEOUT_SECONDS } from "../core/rules";
import { requireRule } from "../core/validation";
import { ENGINE_CONTAINER, engineCommand, engineFamily } from "../engine/engine-task";
import { Task } from "../ecs/task";
import { ServiceRole } from "../iam/policy";
import type { Network } from "../network/network";
import { allowEgressAll } from "../network/security-group";
import type { BucketRef } from "../storage/workflow-bucket";
import type { TaskFunction } from "./task-function";

const REDIS_CONTAINER = "redis";
const REDIS_PORT = 6379;

export interface FargateEngineProps {
  /** Names the cluster, task family, roles and log group. */
  readonly name: string;
  readonly network: Network;
  readonly bucket: BucketRef;
  readonly prefix: string;
  /** This project's engine image (its entrypoint, plugin and redis-server). */
  readonly engineImage: string;
  readonly taskFunction: TaskFunction;
  readonly cpu: number;
  readonly memoryMiB: number;
  /** Time limit of a run (HFLOW_TIMEOUT_SECONDS), 0 for none. */
  readonly timeoutSeconds: number;
  readonly logRetentionDays: number;
  /** @default "dag.json" */
  readonly workflowFile?: string;
}

export class FargateEngine extends Construct {
  readonly cluster: EcsCluster;
  readonly task: Task;
  readonly taskRole: ServiceRole;
  readonly executionRole: ServiceRole;
  readonly securityGroup: SecurityGroup;
  readonly image: string;

  constructor(scope: Construct, id: string, props: FargateEngineProps) {
    super(scope, id);
    requireRule("FargateEngine", "prefix", props.prefix, KEY_PREFIX);
    requireRule("FargateEngine", "timeoutSeconds", props.timeoutSeconds, RUN_TIMEOUT_SECONDS);
    const env = AwsEnvironment.of(this);
    this.image = props.engineImage;

    this.cluster = new EcsCluster(this, "Cluster", { name: props.name });
    new EcsClusterCapacityProviders(this, "Fargate", { clusterName: this.cluster.name, capacityProviders: ["FARGATE"] });

    this.securityGroup = new SecurityGroup(this, "Sg", {
      namePrefix: `${props.name}-engine-`.slice(0, 100),
      description: `HyperFlow engine tasks of ${props.name}: no inbound traffic`,
      vpcId: props.network.vpcId,
      tags: { Name: `${props.name}-engine` },
      lifecycle: { createBeforeDestroy: true },
    });
    allowEgressAll(this, "Egress", this.securityGroup, "Image pulls, S3, the Lambda Invoke API");

    this.executionRole = new ServiceRole(this, "ExecutionRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${props.name}-engine-exec-`,
      description: `HyperFlow engine tasks of ${props.name}: pull the engine image, write logs`,
      sourceAccount: env.accountId,
      managedPolicyArns: [`arn:${env.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`],
    });
    this.taskRole = new ServiceRole(this, "TaskRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${props.name}-engine-task-`,
      description: `HyperFlow engine tasks of ${props.name}: read the workflow bucket, write run results, invoke the task function`,
      sourceAccount: env.accountId,
    });
    props.bucket.grantRead(this.taskRole);
    this.taskRole.addPolicy("WriteRunResults", [
      { sid: "PutRunResult", actions: ["s3:PutObject"], resources: [`${props.bucket.bucketArn}/${props.prefix}runs/*`] },
    ]);
    props.taskFunction.grantInvoke(this.taskRole);

    this.task = new Task(this, "Task", {
      family: engineFamily(props.name),
      networkMode: "awsvpc",
      fargate: { cpu: props.cpu, memoryMiB: props.memoryMiB },
      executionRoleArn: this.executionRole.roleArn,
      taskRoleArn: this.taskRole.roleArn,
      logGroupName: `/hyperflow/${props.name}/engine`,
      logRetentionDays: props.logRetentionDays,
      containers: [
        {
          name: REDIS_CONTAINER,
          image: props.engineImage,
          essential: false,
          memoryReservationMiB: 128,
          entryPoint: ["redis-server"],
          command: ["--bind", "127.0.0.1", "--port", String(REDIS_PORT), "--save", "", "--appendonly", "no"],
          healthCheck: {
            command: ["CMD", "redis-cli", "-p", String(REDIS_PORT), "ping"],
            intervalSeconds: 5,
            timeoutSeconds: 3,
            retries: 6,
            startPeriodSeconds: 5,
          },
        },
        {
          name: ENGINE_CONTAINER,
          image: props.engineImage,
          memoryReservationMiB: Math.max(256, props.memoryMiB - 256),
          command: engineCommand(props.workflowFile ?? "dag.json"),
          // Names images/engine/entrypoint.ts, hflow-plugin.ts and lambda-command.ts read.
          environment: {
            S3_BUCKET: props.bucket.bucketName,
            S3_PATH: `${props.prefix}input/`,
            AWS_REGION: env.region,
            HF_VAR_function: "lambdaCommand",
            HFLOW_EXECUTOR: "lambda",
            HFLOW_LAMBDA_FUNCTION: props.taskFunction.resource.functionName,
            HFLOW_REDIS: "external",
            REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}`,
            ...(props.timeoutSeconds > 0 ? { HFLOW_TIMEOUT_SECONDS: String(props.timeoutSeconds) } : {}),
          },
          dependsOn: [{ containerName: REDIS_CONTAINER, condition: "HEALTHY" }],
        },
      ],
    });
  }
}
