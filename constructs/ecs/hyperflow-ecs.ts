/**
 * HyperFlow on ECS: cluster, master with the broker, worker capacity, worker service, queue-driven
 * scaling and (optionally) the host metrics reporter, wired together. The `ecs` stack is this
 * construct plus a provider and outputs.
 */
import { EcsCluster } from "@cdktf/provider-aws/lib/ecs-cluster";
import { EcsClusterCapacityProviders } from "@cdktf/provider-aws/lib/ecs-cluster-capacity-providers";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import type { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { ECS_DEFAULTS, QUEUE_SCALING_DEFAULTS } from "../core/defaults";
import { boundedPrefix, NAME_PREFIX_MAX } from "../core/names";
import { ECS_CLUSTER_NAME } from "../core/rules";
import { requireRule } from "../core/validation";
import { type Grantee, grantGetMetricData, ServiceRole } from "../iam/policy";
import { InstanceSubnets } from "../network/instance-subnets";
import type { Network } from "../network/network";
import { allowEgressAll } from "../network/security-group";
import type { ClusterContext } from "./cluster-context";
import { EcsLaunchTemplate, WorkerCapacity, type WorkerCapacityOptions } from "./instances";
import { Master } from "./master";
import { queueLengthMetric, type QueueLengthMetric } from "./queue-metric";
import { QueueScaling, type QueueScalingOptions } from "./queue-scaling";
import { StatusReporter, type StatusReporterOptions } from "./status-reporter";
import { WorkerService, type WorkerServiceOptions } from "./workers";

export interface HyperflowEcsImages {
  /** RabbitMQ with the management plugin. */
  readonly broker: string;
  /** The AMQP executor. */
  readonly worker: string;
  /** Node.js for the queue-length publisher. */
  readonly publisher: string;
  readonly statusReporter: string;
}

export interface HyperflowEcsProps {
  /** 1 to 200 letters, digits, `-` or `_`; also names the group, alarms, policies and the metric dimension. */
  readonly clusterName: string;
  readonly network: Network;
  readonly images: HyperflowEcsImages;
  /** @default "t3.medium" */
  readonly instanceType?: string;
  /** @default - instanceType */
  readonly masterInstanceType?: string;
  /**
   * Pinned AMI of the master and the workers. @default - the current ECS-optimized Amazon Linux 2023 AMI
   * from SSM: new worker instances follow it, the master keeps the one it was created with
   */
  readonly amiId?: string;
  /** @default - no SSH key; shell access through SSM Session Manager */
  readonly keyPairName?: string;
  /** @default 30 */
  readonly rootVolumeSizeGiB?: number;
  /** CIDRs that may reach the RabbitMQ management UI. @default - none */
  readonly adminCidrs?: readonly string[];
  /** InfluxDB URL; enables the status reporter, the workers' metrics and the publisher's dashboard feed. @default - no metrics */
  readonly metricsUrl?: string;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /** @default 7 */
  readonly brokerSecretRecoveryDays?: number;
  /** Worker instances. @default - WorkerCapacityOptions defaults */
  readonly capacity?: WorkerCapacityOptions;
  /** Worker tasks. @default - WorkerServiceOptions defaults */
  readonly workers?: WorkerServiceOptions;
  /** Queue scaling of the worker tasks. @default - QueueScalingOptions defaults */
  readonly scaling?: QueueScalingOptions;
  /** Status reporter devices. @default - StatusReporterOptions defaults */
  readonly statusReporter?: StatusReporterOptions;
  /** Tags on instances, volumes, network interfaces and services (provider default tags cover the rest). @default - none */
  readonly tags?: Readonly<Record<string, string>>;
}

export class HyperflowEcs extends Construct {
  /** The ECS cluster. */
  readonly resource: EcsCluster;
  /** What every part of this cluster shares. */
  readonly context: ClusterContext;
  readonly master: Master;
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
    const env = AwsEnvironment.of(this);
    const managed = (name: string) => `arn:${env.partition}:iam::aws:policy/${name}`;

    this.resource = new EcsCluster(this, "Cluster", {
      name: clusterName,
      setting: [{ name: "containerInsights", value: "enabled" }],
    });

    this.instanceRole = new ServiceRole(this, "InstanceRole", {
      service: "ec2.amazonaws.com",
      namePrefix: `${clusterName}-instance-`,
      description: `ECS container instances of ${clusterName}`,
      managedPolicyArns: [managed("service-role/AmazonEC2ContainerServiceforEC2Role"), managed("AmazonSSMManagedInstanceCore")],
    });
    const profile = new IamInstanceProfile(this, "InstanceProfile", { namePrefix: `${clusterName}-`.slice(0, 38), role: this.instanceRole.roleName });
    this.executionRole = new ServiceRole(this, "ExecutionRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${clusterName}-exec-`,
      description: `ECS task execution role of ${clusterName}: pull images, write logs, read the broker secret`,
      sourceAccount: env.accountId,
      managedPolicyArns: [managed("service-role/AmazonECSTaskExecutionRolePolicy")],
    });
    this.context = {
      clusterName,
      clusterArn: this.resource.arn,
      executionRole: this.executionRole,
      logRetentionDays: props.logRetentionDays ?? ECS_DEFAULTS.logRetentionDays,
    };

    const scaling = props.scaling ?? {};
    this.metric = queueLengthMetric(clusterName, [
      scaling.highPeriodSeconds ?? QUEUE_SCALING_DEFAULTS.highPeriodSeconds,
      scaling.lowPeriodSeconds ?? QUEUE_SCALING_DEFAULTS.lowPeriodSeconds,
    ]);
    const instanceType = props.instanceType ?? ECS_DEFAULTS.instanceType;

    // Construct id "Broker" predates the Master/Broker split: Terraform addresses derive from ids, and
    // a new id would replace the master instance and regenerate the broker password.
    this.master = new Master(this, "Broker", {
      cluster: this.context,
      network: props.network,
      instanceType: props.masterInstanceType ?? instanceType,
      instanceProfileArn: profile.arn,
      broker: {
        image: props.images.broker,
        publisherImage: props.images.publisher,
        metric: this.metric,
        metricsUrl: props.metricsUrl,
        secretRecoveryDays: props.brokerSecretRecoveryDays,
      },
      adminCidrs: props.adminCidrs,
      amiId: props.amiId,
      keyPairName: props.keyPairName,
      rootVolumeSizeGiB: props.rootVolumeSizeGiB,
      tags: props.tags,
    });

    this.workerSecurityGroup = new SecurityGroup(this, "WorkerSg", {
      namePrefix: boundedPrefix(clusterName, "-worker-", NAME_PREFIX_MAX.securityGroup),
      description: `HyperFlow worker instances of ${clusterName}`,
      vpcId: props.network.vpcId,
      tags: { Name: `${clusterName}-worker` },
      lifecycle: { createBeforeDestroy: true },
    });
    allowEgressAll(this, "WorkerEgress", this.workerSecurityGroup, "Broker, S3, image pulls, AWS APIs");
    this.master.allowAmqpFrom("AmqpFromWorkers", this.workerSecurityGroup);

    const workerTemplate = new EcsLaunchTemplate(this, "WorkerLaunchTemplate", {
      clusterName,
      kind: "worker",
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
      ...(props.capacity ?? {}),
      clusterName,
      launchTemplate: workerTemplate,
      // Only subnets whose zone offers the instance type: the group would keep failing to launch in the others.
      subnetIds: new InstanceSubnets(this, "WorkerSubnets", { subnetIds: props.network.subnetIds, instanceType }).ids,
      tags: props.tags,
    });
    const clusterProviders = new EcsClusterCapacityProviders(this, "ClusterCapacityProviders", {
      clusterName: this.resource.name,
      capacityProviders: [this.capacity.capacityProviderName],
      defaultCapacityProviderStrategy: [{ capacityProvider: this.capacity.capacityProviderName, weight: 1, base: 0 }],
    });

    this.workers = new WorkerService(this, "Workers", {
      ...(props.workers ?? {}),
      cluster: this.context,
      capacityProviderName: this.capacity.capacityProviderName,
      amqpUrlSecretRef: this.master.broker.amqpUrlSecretRef,
      image: props.images.worker,
      metricsUrl: props.metricsUrl,
      tags: props.tags,
      // Resource-level depends_on (a construct-level dependency writes nothing into the JSON):
      // the service's capacity provider strategy needs the association, and the broker the workers use.
      dependsOn: [clusterProviders, this.master.broker.service],
    });

    this.scaling = new QueueScaling(this, "Scaling", {
      ...scaling,
      clusterName: this.resource.name,
      service: this.workers.resource,
      metric: this.metric,
    });

    if (props.metricsUrl) {
      // The publisher feeds the dashboards: alarm states, ECS counts and utilization (queue-length-publisher.js).
      const publisher = this.master.broker.taskRole;
      this.scaling.grantDescribeAlarms(publisher);
      grantGetMetricData(publisher);
      this.grantDescribeCluster(publisher);
      this.statusReporter = new StatusReporter(this, "StatusReporter", {
        ...(props.statusReporter ?? {}),
        cluster: this.context,
        image: props.images.statusReporter,
        metricsUrl: props.metricsUrl,
      });
    }
  }

  /** Lets `grantee` count the cluster's container instances and read the worker service's task counts. */
  grantDescribeCluster(grantee: Grantee): IamRolePolicy {
    return grantee.addPolicy("DescribeCluster", [
      { sid: "ListContainerInstances", actions: ["ecs:ListContainerInstances"], resources: [this.resource.arn] },
      { sid: "DescribeWorkerService", actions: ["ecs:DescribeServices"], resources: [this.workers.resource.arn] },
    ]);
  }
}
