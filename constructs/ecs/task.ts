/**
 * Typed container definitions and a task-definition construct with its own log group, so every
 * container logs to CloudWatch with a retention and every task definition looks the same.
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { EcsTaskDefinition } from "@cdktf/provider-aws/lib/ecs-task-definition";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { terraformLiteral } from "../core/terraform-string";
import { fargateSizeProblem } from "../core/rules";
import { PropsError, requireIntInRange, requireUnique } from "../core/validation";

export interface ContainerSecret {
  /** Environment variable name inside the container. */
  readonly name: string;
  /** Secrets Manager reference `arn:…:secret:name:json-key::` or an SSM parameter ARN. */
  readonly valueFrom: string;
}

/** A TCP port of the container published on the host. */
export interface PortMapping {
  readonly containerPort: number;
  readonly hostPort: number;
}

export interface MountPoint {
  /** Name of a volume of the task. */
  readonly sourceVolume: string;
  readonly containerPath: string;
  /** @default false */
  readonly readOnly?: boolean;
}

export interface ContainerHealthCheck {
  /** Literal command (`["CMD-SHELL", "…"]`): escaped for Terraform. */
  readonly command: readonly string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

/** Start this container only after another container of the task reached a state. */
export interface ContainerDependency {
  readonly containerName: string;
  readonly condition: "START" | "HEALTHY" | "COMPLETE" | "SUCCESS";
}

export interface Ulimit {
  readonly name: string;
  readonly softLimit: number;
  readonly hardLimit: number;
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  /** @default true */
  readonly essential?: boolean;
  readonly memoryReservationMiB: number;
  /** Hard memory limit. @default - none (the container may use free memory of the instance) */
  readonly memoryMiB?: number;
  /** Literal values: escaped for Terraform, so `${…}` reaches the container as written. @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default - none */
  readonly secrets?: readonly ContainerSecret[];
  /** Literal command: escaped for Terraform. @default - the image's command */
  readonly command?: readonly string[];
  /** Literal entry point: escaped for Terraform. @default - the image's entry point */
  readonly entryPoint?: readonly string[];
  /** @default - none */
  readonly portMappings?: readonly PortMapping[];
  /** @default false */
  readonly privileged?: boolean;
  /** @default - none */
  readonly mountPoints?: readonly MountPoint[];
  /** @default - none (ECS sees the container as healthy while it runs) */
  readonly healthCheck?: ContainerHealthCheck;
  /** @default - starts with the task */
  readonly dependsOn?: readonly ContainerDependency[];
  /** @default - the Docker daemon's limits */
  readonly ulimits?: readonly Ulimit[];
  /** Seconds between SIGTERM and SIGKILL when the task stops, 2 to 120 (the most ECS allows on EC2). @default - the ECS agent's (30 s) */
  readonly stopTimeoutSeconds?: number;
}

/** A host-path volume, or a task-scoped scratch volume when `hostPath` is omitted. */
export interface TaskVolume {
  readonly name: string;
  /** @default - a scratch volume that lives as long as the task */
  readonly hostPath?: string;
}

export interface TaskProps {
  /** Task definition family. */
  readonly family: string;
  /** `awsvpc` with `fargate` (the only mode Fargate has). */
  readonly networkMode: "bridge" | "host" | "awsvpc";
  /** Run on Fargate with this task size (a pair Fargate offers). @default - EC2 */
  readonly fargate?: { readonly cpu: number; readonly memoryMiB: number; readonly architecture?: "X86_64" | "ARM64" };
  readonly executionRoleArn: string;
  /** @default - no task role: the containers get no AWS credentials */
  readonly taskRoleArn?: string;
  /** At least one; names distinct, `dependsOn` and `mountPoints` refer to containers and volumes of this task. */
  readonly containers: readonly ContainerSpec[];
  /** @default - none */
  readonly volumes?: readonly TaskVolume[];
  /** Log group name; created here with the retention. */
  readonly logGroupName: string;
  readonly logRetentionDays: number;
}

/** An EC2 task definition with its CloudWatch log group; containers log to the stack's region. */
export class Task extends Construct {
  readonly resource: EcsTaskDefinition;
  readonly logGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: TaskProps) {
    super(scope, id);
    Task.validate(props);
    this.logGroup = new CloudwatchLogGroup(this, "Logs", { name: props.logGroupName, retentionInDays: props.logRetentionDays });
    const region = AwsEnvironment.of(this).region;
    const containerDefinitions = props.containers.map((c) => renderContainer(c, this.logGroup.name, region));
    this.resource = new EcsTaskDefinition(this, "Resource", {
      family: props.family,
      networkMode: props.networkMode,
      requiresCompatibilities: props.fargate ? ["FARGATE"] : ["EC2"],
      ...(props.fargate
        ? {
            cpu: String(props.fargate.cpu),
            memory: String(props.fargate.memoryMiB),
            runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: props.fargate.architecture ?? "X86_64" },
          }
        : {}),
      executionRoleArn: props.executionRoleArn,
      taskRoleArn: props.taskRoleArn,
      containerDefinitions: JSON.stringify(containerDefinitions),
      volume: (props.volumes ?? []).map((v) => (v.hostPath ? { name: v.name, hostPath: v.hostPath } : { name: v.name })),
    });
  }

  private static validate(props: TaskProps): void {
    const construct = `Task ${props.family}`;
    if (props.containers.length === 0) throw new PropsError(construct, "containers", [], "at least one container");
    if (props.fargate) {
      if (props.networkMode !== "awsvpc") throw new PropsError(construct, "networkMode", props.networkMode, "awsvpc on Fargate");
      const problem = fargateSizeProblem(props.fargate.cpu, props.fargate.memoryMiB);
      if (problem) throw new PropsError(construct, "fargate", `${props.fargate.cpu}/${props.fargate.memoryMiB}`, problem.replace(/^.*; allowed: /, ""));
      if (props.volumes?.some((v) => v.hostPath)) throw new PropsError(construct, "volumes", "hostPath", "task-scoped volumes only on Fargate");
    }
    const names = props.containers.map((c) => c.name);
    requireUnique(construct, "containers[].name", names);
    const volumes = (props.volumes ?? []).map((v) => v.name);
    requireUnique(construct, "volumes[].name", volumes);
    for (const c of props.containers) {
      for (const d of c.dependsOn ?? []) {
        if (d.containerName === c.name || !names.includes(d.containerName)) {
          throw new PropsError(
            construct,
            `containers[${c.name}].dependsOn`,
            d.containerName,
            `another container of the task (${names.filter((n) => n !== c.name).join(", ") || "none"})`,
          );
        }
      }
      if (c.stopTimeoutSeconds !== undefined) requireIntInRange(construct, `containers[${c.name}].stopTimeoutSeconds`, c.stopTimeoutSeconds, 2, 120);
      for (const m of c.mountPoints ?? []) {
        if (!volumes.includes(m.sourceVolume))
          throw new PropsError(construct, `containers[${c.name}].mountPoints`, m.sourceVolume, `a volume of the task (${volumes.join(", ") || "none"})`);
      }
    }
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
    ...(c.entryPoint ? { entryPoint: c.entryPoint.map(terraformLiteral) } : {}),
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
    ...(c.stopTimeoutSeconds !== undefined ? { stopTimeout: c.stopTimeoutSeconds } : {}),
    logConfiguration: {
      logDriver: "awslogs",
      options: { "awslogs-group": logGroupName, "awslogs-region": region, "awslogs-stream-prefix": c.name },
    },
  };
}
