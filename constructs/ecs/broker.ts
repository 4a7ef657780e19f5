/**
 * The master: one EC2 instance outside the worker group that runs the RabbitMQ broker task (placed
 * there by a placement constraint) and, beside it, the queue-length publisher. Broker credentials are
 * generated and delivered to containers as Secrets Manager references, never as plaintext environment.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Password } from "@cdktf/provider-random/lib/password";
import { Fn, Token } from "cdktf";
import { Construct } from "constructs";
import { ECS_DEFAULTS } from "../core/defaults";
import { grantPutMetricData, grantSecretRead, ServiceRole } from "../iam/policy";
import type { Network } from "../network/network";
import { allowEgressAll, allowTcpFromCidrs } from "../network/security-group";
import { EcsLaunchTemplate, placementFor } from "./instances";
import { AMQP_PORT, publisherEnvironment, type QueueLengthMetric, RABBITMQ_MANAGEMENT_PORT } from "./queue-metric";
import { Task } from "./task";

/** Name of the broker's user in RabbitMQ. */
export const BROKER_USER = "hyperflow";

/** The publisher script shipped into the publisher container (see queue-length-publisher.js). */
export function publisherScript(): string {
  return fs.readFileSync(path.join(__dirname, "queue-length-publisher.js"), "utf8");
}

export interface BrokerProps {
  readonly clusterName: string;
  /** ARN of the cluster the broker service runs in. */
  readonly clusterArn: string;
  readonly network: Network;
  readonly region: string;
  readonly instanceType: string;
  readonly instanceProfileArn: string;
  /** Execution role of every task; the broker grants it read access to the broker secret. */
  readonly executionRole: ServiceRole;
  readonly accountId: string;
  readonly brokerImage: string;
  readonly publisherImage: string;
  readonly metric: QueueLengthMetric;
  readonly logRetentionDays: number;
  /** CIDRs allowed to reach the management UI. @default - none */
  readonly adminCidrs?: readonly string[];
  /** @default - the current ECS-optimized Amazon Linux 2023 AMI */
  readonly amiId?: string;
  /** @default - no SSH key */
  readonly keyPairName?: string;
  /** @default 30 */
  readonly rootVolumeSizeGiB?: number;
  /** InfluxDB URL passed to the broker container as INFLUX_DB. @default - none */
  readonly metricsUrl?: string;
  /** @default 7 */
  readonly secretRecoveryDays?: number;
  /** @default - none */
  readonly tags?: Readonly<Record<string, string>>;
}

export class Broker extends Construct {
  readonly instance: Instance;
  readonly securityGroup: SecurityGroup;
  readonly secret: SecretsmanagerSecret;
  readonly service: EcsService;
  readonly task: Task;
  readonly taskRole: ServiceRole;
  /** Secrets Manager reference to the full AMQP URL (with credentials and the master's private address). */
  readonly amqpUrlSecretRef: string;

  constructor(scope: Construct, id: string, props: BrokerProps) {
    super(scope, id);
    const { clusterName } = props;

    this.securityGroup = new SecurityGroup(this, "Sg", {
      namePrefix: `${clusterName}-master-`,
      description: `HyperFlow master (RabbitMQ) of ${clusterName}`,
      vpcId: props.network.vpcId,
      tags: { Name: `${clusterName}-master` },
      lifecycle: { createBeforeDestroy: true },
    });
    allowEgressAll(this, "EgressAll", this.securityGroup, "Image pulls, AWS APIs, metrics");
    allowTcpFromCidrs(this, "AdminUi", this.securityGroup, RABBITMQ_MANAGEMENT_PORT, props.adminCidrs ?? [], "RabbitMQ management UI from an admin CIDR in config");

    const launchTemplate = new EcsLaunchTemplate(this, "LaunchTemplate", {
      clusterName,
      role: "master",
      instanceType: props.instanceType,
      instanceProfileArn: props.instanceProfileArn,
      securityGroupIds: [this.securityGroup.id],
      assignPublicIp: props.network.assignPublicIp,
      amiId: props.amiId,
      keyPairName: props.keyPairName,
      rootVolumeSizeGiB: props.rootVolumeSizeGiB,
      tags: props.tags,
      // The subnet goes into the template's network interface: AWS refuses an instance-level subnet
      // next to a template interface (or replaces the interface, losing its security group).
      subnetId: Fn.element(props.network.subnetIds, 0),
    });
    this.instance = new Instance(this, "Instance", {
      launchTemplate: { id: launchTemplate.resource.id, version: Token.asString(launchTemplate.resource.latestVersion) },
      tags: { ...(props.tags ?? {}), Name: `${clusterName}-master` },
      volumeTags: { ...(props.tags ?? {}), Name: `${clusterName}-master` },
    });

    const password = new Password(this, "Password", { length: 32, special: false });
    this.secret = new SecretsmanagerSecret(this, "Secret", {
      namePrefix: `${clusterName}/broker-`,
      description: `RabbitMQ credentials and AMQP URL of HyperFlow cluster ${clusterName}`,
      recoveryWindowInDays: props.secretRecoveryDays ?? ECS_DEFAULTS.secretRecoveryDays,
    });
    new SecretsmanagerSecretVersion(this, "SecretValue", {
      secretId: this.secret.id,
      secretString: Fn.jsonencode({
        username: BROKER_USER,
        password: password.result,
        amqp_url: `amqp://${BROKER_USER}:${password.result}@${this.instance.privateIp}:${AMQP_PORT}`,
      }),
    });
    const ref = (key: string) => `${this.secret.arn}:${key}::`;
    this.amqpUrlSecretRef = ref("amqp_url");
    grantSecretRead(props.executionRole, this.secret.arn);

    this.taskRole = new ServiceRole(this, "TaskRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${clusterName}-master-task-`,
      description: `HyperFlow master tasks of ${clusterName}: publish the queue length`,
      sourceAccount: props.accountId,
    });
    grantPutMetricData(this.taskRole, props.metric.namespace);

    const brokerContainer = "hyperflow-master";
    this.task = new Task(this, "Task", {
      family: `${clusterName}-hyperflow-master`,
      networkMode: "host",
      executionRoleArn: props.executionRole.role.arn,
      taskRoleArn: this.taskRole.role.arn,
      logGroupName: `/hyperflow/${clusterName}/master`,
      logRetentionDays: props.logRetentionDays,
      region: props.region,
      containers: [
        {
          name: brokerContainer,
          image: props.brokerImage,
          memoryReservationMiB: 512,
          portMappings: [
            { containerPort: AMQP_PORT, hostPort: AMQP_PORT },
            { containerPort: RABBITMQ_MANAGEMENT_PORT, hostPort: RABBITMQ_MANAGEMENT_PORT },
          ],
          environment: { RABBITMQ_DEFAULT_USER: BROKER_USER, ...(props.metricsUrl ? { INFLUX_DB: props.metricsUrl } : {}) },
          secrets: [{ name: "RABBITMQ_DEFAULT_PASS", valueFrom: ref("password") }],
          healthCheck: { command: ["CMD-SHELL", "rabbitmq-diagnostics -q ping"], intervalSeconds: 30, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 60 },
          ulimits: [{ name: "nofile", softLimit: 65536, hardLimit: 65536 }],
        },
        {
          name: "queue-length-publisher",
          image: props.publisherImage,
          essential: false,
          memoryReservationMiB: 64,
          memoryMiB: 128,
          command: ["sh", "-c", 'exec node -e "$HF_PUBLISHER_JS"'],
          environment: { ...publisherEnvironment(props.metric, props.region), HF_PUBLISHER_RUN: "1", HF_PUBLISHER_JS: publisherScript() },
          secrets: [
            { name: "RABBITMQ_USER", valueFrom: ref("username") },
            { name: "RABBITMQ_PASS", valueFrom: ref("password") },
          ],
          dependsOn: [{ containerName: brokerContainer, condition: "HEALTHY" }],
        },
      ],
    });

    this.service = new EcsService(this, "Service", {
      name: "hyperflow-service-master",
      cluster: props.clusterArn,
      taskDefinition: this.task.definition.arn,
      desiredCount: 1,
      launchType: "EC2",
      placementConstraints: [placementFor("master")],
      // One broker on fixed host ports: stop the old task before starting the new one.
      deploymentMinimumHealthyPercent: 0,
      deploymentMaximumPercent: 100,
      propagateTags: "TASK_DEFINITION",
      enableEcsManagedTags: true,
      tags: props.tags ? { ...props.tags } : undefined,
    });
  }

  /** Let instances in `peer` reach the AMQP port over private addressing. */
  allowAmqpFrom(id: string, peer: SecurityGroup): void {
    new VpcSecurityGroupIngressRule(this, id, {
      securityGroupId: this.securityGroup.id,
      description: "AMQP from HyperFlow workers",
      ipProtocol: "tcp",
      fromPort: AMQP_PORT,
      toPort: AMQP_PORT,
      referencedSecurityGroupId: peer.id,
    });
  }
}
