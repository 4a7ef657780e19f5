/**
 * Typed container definitions and a task-definition construct with its own log group, so every
 * container logs to CloudWatch with a retention and every task definition looks the same.
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { EcsTaskDefinition } from "@cdktf/provider-aws/lib/ecs-task-definition";
import { Construct } from "constructs";
import { terraformLiteral } from "../core/terraform-string";

export interface ContainerSecret {
  /** Environment variable name inside the container. */
  readonly name: string;
  /** Secrets Manager reference `arn:…:secret:name:json-key::` or an SSM parameter ARN. */
  readonly valueFrom: string;
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  /** @default true */
  readonly essential?: boolean;
  readonly memoryReservationMiB: number;
  /** Hard memory limit. @default - none (the container may use free memory of the instance) */
  readonly memoryMiB?: number;
  /** Literal values: escaped for Terraform, so `${…}` reaches the container as written. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly secrets?: readonly ContainerSecret[];
  /** Literal command: escaped for Terraform. @default - the image's command */
  readonly command?: readonly string[];
  readonly portMappings?: readonly { containerPort: number; hostPort: number }[];
  readonly privileged?: boolean;
  readonly mountPoints?: readonly { sourceVolume: string; containerPath: string; readOnly?: boolean }[];
  readonly healthCheck?: { command: readonly string[]; intervalSeconds: number; timeoutSeconds: number; retries: number; startPeriodSeconds: number };
  readonly dependsOn?: readonly { containerName: string; condition: "START" | "HEALTHY" | "COMPLETE" | "SUCCESS" }[];
  readonly ulimits?: readonly { name: string; softLimit: number; hardLimit: number }[];
}

export interface TaskProps {
  /** Task definition family. */
  readonly family: string;
  readonly networkMode: "bridge" | "host";
  readonly executionRoleArn: string;
  /** @default - no task role: the containers get no AWS credentials */
  readonly taskRoleArn?: string;
  readonly containers: readonly ContainerSpec[];
  /** Host-path volumes, or task-scoped scratch volumes when hostPath is omitted. */
  readonly volumes?: readonly { name: string; hostPath?: string }[];
  /** Log group name; created here with the retention. */
  readonly logGroupName: string;
  readonly logRetentionDays: number;
  readonly region: string;
}

/** An EC2 task definition with its CloudWatch log group. */
export class Task extends Construct {
  readonly definition: EcsTaskDefinition;
  readonly logGroup: CloudwatchLogGroup;
  constructor(scope: Construct, id: string, props: TaskProps) {
    super(scope, id);
    const names = props.containers.map((c) => c.name);
    if (new Set(names).size !== names.length) throw new Error(`Task ${props.family}: container names must be unique (${names.join(", ")})`);
    this.logGroup = new CloudwatchLogGroup(this, "Logs", { name: props.logGroupName, retentionInDays: props.logRetentionDays });
    const containerDefinitions = props.containers.map((c) => renderContainer(c, this.logGroup.name, props.region));
    this.definition = new EcsTaskDefinition(this, "Resource", {
      family: props.family,
      networkMode: props.networkMode,
      requiresCompatibilities: ["EC2"],
      executionRoleArn: props.executionRoleArn,
      taskRoleArn: props.taskRoleArn,
      containerDefinitions: JSON.stringify(containerDefinitions),
      volume: (props.volumes ?? []).map((v) => (v.hostPath ? { name: v.name, hostPath: v.hostPath } : { name: v.name })),
    });
  }
}

function renderContainer(c: ContainerSpec, logGroupName: string, region: string): Record<string, unknown> {
  const env = Object.entries(c.environment ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value: terraformLiteral(value) }));
  return {
    name: c.name,
    image: c.image,
    essential: c.essential ?? true,
    memoryReservation: c.memoryReservationMiB,
    ...(c.memoryMiB ? { memory: c.memoryMiB } : {}),
    ...(c.command ? { command: c.command.map(terraformLiteral) } : {}),
    environment: env,
    secrets: (c.secrets ?? []).map((s) => ({ name: s.name, valueFrom: s.valueFrom })),
    portMappings: (c.portMappings ?? []).map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort, protocol: "tcp" })),
    mountPoints: (c.mountPoints ?? []).map((m) => ({ sourceVolume: m.sourceVolume, containerPath: m.containerPath, readOnly: m.readOnly ?? false })),
    ...(c.privileged ? { privileged: true } : {}),
    ...(c.healthCheck
      ? {
          healthCheck: {
            command: c.healthCheck.command.map(terraformLiteral),
            interval: c.healthCheck.intervalSeconds,
            timeout: c.healthCheck.timeoutSeconds,
            retries: c.healthCheck.retries,
            startPeriod: c.healthCheck.startPeriodSeconds,
          },
        }
      : {}),
    ...(c.dependsOn ? { dependsOn: c.dependsOn } : {}),
    ...(c.ulimits ? { ulimits: c.ulimits } : {}),
    logConfiguration: {
      logDriver: "awslogs",
      options: { "awslogs-group": logGroupName, "awslogs-region": region, "awslogs-stream-prefix": c.name },
    },
  };
}
