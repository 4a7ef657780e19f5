/**
 * HyperFlow on ECS: cluster, master with the broker, worker capacity, worker service, queue-driven
 * scaling and (optionally) the host metrics reporter, wired together. The `ecs` stack is this
 * construct plus a provider and outputs.
 */
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { EcsCluster } from "@cdktf/provider-aws/lib/ecs-cluster";
import { EcsClusterCapacityProviders } from "@cdktf/provider-aws/lib/ecs-cluster-capacity-providers";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Construct } from "constructs";
import { ServiceRole } from "../iam/policy";
import type { Network } from "../network/network";
import { allowEgressAll } from "../network/security-group";
import { ECS_DEFAULTS, QUEUE_SCALING_DEFAULTS } from "../core/defaults";
import { ECS_CLUSTER_NAME } from "../core/rules";
import { requireRule } from "../core/validation";
import { Broker } from "./broker";
import { EcsLaunchTemplate, WorkerCapacity } from "./instances";
import { queueLengthMetric, type QueueLengthMetric } from "./queue-metric";
import { QueueScaling, type QueueScalingProps } from "./queue-scaling";
import { StatusReporter } from "./status-reporter";
import { type WorkerServiceProps, WorkerService } from "./workers";

export interface HyperflowEcsImages {
  readonly broker: string;
  readonly worker: string;
  readonly publisher: string;
  readonly statusReporter: string;
}

export interface HyperflowEcsProps {
  readonly clusterName: string;
  readonly region: string;
  readonly network: Network;
  readonly images: HyperflowEcsImages;
  /** @default "t3.medium" */
  readonly instanceType?: string;
  /** @default - instanceType */
  readonly masterInstanceType?: string;
  /** @default - the current ECS-optimized Amazon Linux 2023 AMI from SSM */
  readonly amiId?: string;
  /** @default - no SSH key; shell access through SSM Session Manager */
  readonly keyPairName?: string;
  /** @default 30 */
  readonly rootVolumeSizeGiB?: number;
  /** CIDRs that may reach the RabbitMQ management UI. @default - none */
  readonly adminCidrs?: readonly string[];
  /** InfluxDB URL; enables the status reporter and metrics env of master and workers. @default - no metrics */
  readonly metricsUrl?: string;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /** @default 7 */
  readonly brokerSecretRecoveryDays?: number;
  /** Worker instances. */
  readonly capacity?: {
    readonly minSize?: number;
    readonly maxSize?: number;
    readonly desiredCapacity?: number;
    readonly cooldownSeconds?: number;
    readonly maxScalingStep?: number;
    readonly targetCapacityPercent?: number;
    readonly instanceWarmupSeconds?: number;
  };
  /** Worker tasks (everything WorkerService takes that is not wiring). */
  readonly workers?: Omit<WorkerServiceProps, "clusterName" | "clusterArn" | "capacityProvider" | "region" | "accountId" | "partition" | "executionRole" | "amqpUrlSecretRef" | "image" | "logRetentionDays" | "metricsUrl" | "tags">;
  /** Queue scaling (everything QueueScaling takes that is not wiring). */
  readonly scaling?: Omit<QueueScalingProps, "clusterName" | "service" | "metric">;
  /** Status reporter devices. @default - nvme0n1p1 and ens5 */
  readonly statusReporter?: { readonly diskDevice?: string; readonly networkInterface?: string };
  /** Tags on instances, volumes, network interfaces and services (provider default tags cover the rest). @default - none */
  readonly tags?: Readonly<Record<string, string>>;
}

export class HyperflowEcs extends Construct {
  readonly cluster: EcsCluster;
  readonly broker: Broker;
  readonly capacity: WorkerCapacity;
  readonly workers: WorkerService;
  readonly scaling: QueueScaling;
  readonly metric: QueueLengthMetric;
  readonly workerSecurityGroup: SecurityGroup;
  readonly instanceRole: ServiceRole;
  readonly executionRole: ServiceRole;
  readonly statusReporter?: StatusReporter;

  constructor(scope: Construct, id: string, props: HyperflowEcsProps) {
    super(scope, id);
    const { clusterName } = props;
    requireRule("HyperflowEcs", "clusterName", clusterName, ECS_CLUSTER_NAME);
    const partition = new DataAwsPartition(this, "Partition").partition;
    const accountId = new DataAwsCallerIdentity(this, "Account").accountId;
    const managed = (name: string) => `arn:${partition}:iam::aws:policy/${name}`;

    this.cluster = new EcsCluster(this, "Cluster", {
      name: clusterName,
      setting: [{ name: "containerInsights", value: "enabled" }],
    });

    this.instanceRole = new ServiceRole(this, "InstanceRole", {
      service: "ec2.amazonaws.com",
      namePrefix: `${clusterName}-instance-`,
      description: `ECS container instances of ${clusterName}`,
      managedPolicyArns: [managed("service-role/AmazonEC2ContainerServiceforEC2Role"), managed("AmazonSSMManagedInstanceCore")],
    });
    const profile = new IamInstanceProfile(this, "InstanceProfile", { namePrefix: `${clusterName}-`.slice(0, 38), role: this.instanceRole.role.name });
    this.executionRole = new ServiceRole(this, "ExecutionRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${clusterName}-exec-`,
      description: `ECS task execution role of ${clusterName}: pull images, write logs, read the broker secret`,
      sourceAccount: accountId,
      managedPolicyArns: [managed("service-role/AmazonECSTaskExecutionRolePolicy")],
    });

    const scaling = props.scaling ?? {};
    this.metric = queueLengthMetric(clusterName, [scaling.highPeriodSeconds ?? QUEUE_SCALING_DEFAULTS.highPeriodSeconds, scaling.lowPeriodSeconds ?? QUEUE_SCALING_DEFAULTS.lowPeriodSeconds]);
    const instanceType = props.instanceType ?? ECS_DEFAULTS.instanceType;
    const logRetentionDays = props.logRetentionDays ?? ECS_DEFAULTS.logRetentionDays;

    this.broker = new Broker(this, "Broker", {
      clusterName,
      clusterArn: this.cluster.arn,
      network: props.network,
      region: props.region,
      instanceType: props.masterInstanceType ?? instanceType,
      instanceProfileArn: profile.arn,
      executionRole: this.executionRole,
      accountId,
      brokerImage: props.images.broker,
      publisherImage: props.images.publisher,
      metric: this.metric,
      logRetentionDays,
      adminCidrs: props.adminCidrs,
      amiId: props.amiId,
      keyPairName: props.keyPairName,
      rootVolumeSizeGiB: props.rootVolumeSizeGiB,
      metricsUrl: props.metricsUrl,
      secretRecoveryDays: props.brokerSecretRecoveryDays,
      tags: props.tags,
    });

    this.workerSecurityGroup = new SecurityGroup(this, "WorkerSg", {
      namePrefix: `${clusterName}-worker-`,
      description: `HyperFlow worker instances of ${clusterName}`,
      vpcId: props.network.vpcId,
      tags: { Name: `${clusterName}-worker` },
      lifecycle: { createBeforeDestroy: true },
    });
    allowEgressAll(this, "WorkerEgress", this.workerSecurityGroup, "Broker, S3, image pulls, AWS APIs");
    this.broker.allowAmqpFrom("AmqpFromWorkers", this.workerSecurityGroup);

    const workerTemplate = new EcsLaunchTemplate(this, "WorkerLaunchTemplate", {
      clusterName,
      role: "worker",
      instanceType,
      instanceProfileArn: profile.arn,
      securityGroupIds: [this.workerSecurityGroup.id],
      assignPublicIp: props.network.assignPublicIp,
      amiId: props.amiId,
      keyPairName: props.keyPairName,
      rootVolumeSizeGiB: props.rootVolumeSizeGiB,
      tags: props.tags,
    });
    this.capacity = new WorkerCapacity(this, "WorkerCapacity", {
      clusterName,
      launchTemplate: workerTemplate,
      subnetIds: props.network.subnetIds,
      ...(props.capacity ?? {}),
      tags: props.tags,
    });
    const clusterProviders = new EcsClusterCapacityProviders(this, "ClusterCapacityProviders", {
      clusterName: this.cluster.name,
      capacityProviders: [this.capacity.capacityProvider.name],
      defaultCapacityProviderStrategy: [{ capacityProvider: this.capacity.capacityProvider.name, weight: 1, base: 0 }],
    });

    this.workers = new WorkerService(this, "Workers", {
      ...(props.workers ?? {}),
      clusterName,
      clusterArn: this.cluster.arn,
      capacityProvider: this.capacity.capacityProvider,
      region: props.region,
      accountId,
      partition,
      executionRole: this.executionRole,
      amqpUrlSecretRef: this.broker.amqpUrlSecretRef,
      image: props.images.worker,
      logRetentionDays,
      metricsUrl: props.metricsUrl,
      tags: props.tags,
    });
    this.workers.service.node.addDependency(clusterProviders, this.broker.service);

    this.scaling = new QueueScaling(this, "Scaling", {
      ...scaling,
      clusterName: this.cluster.name,
      service: this.workers.service,
      metric: this.metric,
    });

    if (props.metricsUrl) {
      this.statusReporter = new StatusReporter(this, "StatusReporter", {
        clusterName,
        clusterArn: this.cluster.arn,
        region: props.region,
        executionRole: this.executionRole,
        image: props.images.statusReporter,
        metricsUrl: props.metricsUrl,
        logRetentionDays,
        ...(props.statusReporter ?? {}),
      });
    }
  }
}
