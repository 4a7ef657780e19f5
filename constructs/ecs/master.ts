/**
 * The master: one EC2 instance outside the worker group, joined to the cluster as `hyperflow.role=master`.
 * It hosts the broker (RabbitMQ with the queue-length publisher, see broker.ts), placed there by a
 * placement constraint, and the engine tasks the CLI starts (constructs/engine/).
 */
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Token } from "cdktf";
import { Construct } from "constructs";
import { boundedPrefix, NAME_PREFIX_MAX } from "../core/names";
import { requireUnique } from "../core/validation";
import { InstanceSubnets } from "../network/instance-subnets";
import type { Network } from "../network/network";
import { allowEgressAll, allowTcpFromCidrs } from "../network/security-group";
import { Broker, type BrokerOptions } from "./broker";
import type { ClusterContext } from "./cluster-context";
import { EcsLaunchTemplate } from "./instances";
import { AMQP_PORT, RABBITMQ_MANAGEMENT_PORT } from "./queue-metric";

export interface MasterProps {
  readonly cluster: ClusterContext;
  readonly network: Network;
  readonly instanceType: string;
  /** ARN of the instance profile with the ECS instance role. */
  readonly instanceProfileArn: string;
  /** The broker the master runs. */
  readonly broker: BrokerOptions;
  /** CIDRs allowed to reach the RabbitMQ management UI, each at most once. @default - none */
  readonly adminCidrs?: readonly string[];
  /**
   * The master's AMI; changing it replaces the master. @default - the ECS-optimized Amazon Linux 2023 AMI
   * current when the master's launch template was created (kept until the template is replaced)
   */
  readonly amiId?: string;
  /** @default - no SSH key */
  readonly keyPairName?: string;
  /** @default 30 */
  readonly rootVolumeSizeGiB?: number;
  /** @default - none */
  readonly tags?: Readonly<Record<string, string>>;
}

export class Master extends Construct {
  /** The master instance. */
  readonly resource: Instance;
  readonly securityGroup: SecurityGroup;
  readonly launchTemplate: EcsLaunchTemplate;
  /** RabbitMQ on this host. */
  readonly broker: Broker;

  constructor(scope: Construct, id: string, props: MasterProps) {
    super(scope, id);
    requireUnique("Master", "adminCidrs", props.adminCidrs ?? []);
    Broker.validate(props.broker);
    const { clusterName } = props.cluster;

    this.securityGroup = new SecurityGroup(this, "Sg", {
      namePrefix: boundedPrefix(clusterName, "-master-", NAME_PREFIX_MAX.securityGroup),
      description: `HyperFlow master (RabbitMQ) of ${clusterName}`,
      vpcId: props.network.vpcId,
      tags: { Name: `${clusterName}-master` },
      lifecycle: { createBeforeDestroy: true },
    });
    allowEgressAll(this, "EgressAll", this.securityGroup, "Image pulls, AWS APIs, metrics");
    allowTcpFromCidrs(this, {
      idPrefix: "AdminUi",
      securityGroup: this.securityGroup,
      port: RABBITMQ_MANAGEMENT_PORT,
      cidrs: props.adminCidrs ?? [],
      description: "RabbitMQ management UI from an admin CIDR in config",
    });

    this.launchTemplate = new EcsLaunchTemplate(this, "LaunchTemplate", {
      clusterName,
      kind: "master",
      instanceType: props.instanceType,
      instanceProfileArn: props.instanceProfileArn,
      securityGroupIds: [this.securityGroup.id],
      assignPublicIp: props.network.assignPublicIp,
      amiId: props.amiId,
      // The broker's queue and private address live on this instance: a new ECS AMI in SSM must not replace it.
      keepAmi: true,
      keyPairName: props.keyPairName,
      rootVolumeSizeGiB: props.rootVolumeSizeGiB,
      tags: props.tags,
      // The subnet goes into the template's network interface: AWS refuses an instance-level subnet
      // next to a template interface (or replaces the interface, losing its security group). The first,
      // by id, of the subnets whose zone offers the instance type: the same one on every plan.
      subnetId: new InstanceSubnets(this, "Subnets", { subnetIds: props.network.subnetIds, instanceType: props.instanceType }).first,
    });
    this.resource = new Instance(this, "Instance", {
      launchTemplate: { id: this.launchTemplate.resource.id, version: Token.asString(this.launchTemplate.resource.latestVersion) },
      tags: { ...(props.tags ?? {}), Name: `${clusterName}-master` },
      volumeTags: { ...(props.tags ?? {}), Name: `${clusterName}-master` },
    });

    this.broker = new Broker(this, { ...props.broker, cluster: props.cluster, hostPrivateIp: this.resource.privateIp, tags: props.tags });
  }

  /** Let instances in `peer` reach the broker's AMQP port over private addressing. */
  allowAmqpFrom(id: string, peer: SecurityGroup): VpcSecurityGroupIngressRule {
    return new VpcSecurityGroupIngressRule(this, id, {
      securityGroupId: this.securityGroup.id,
      description: "AMQP from HyperFlow workers",
      ipProtocol: "tcp",
      fromPort: AMQP_PORT,
      toPort: AMQP_PORT,
      referencedSecurityGroupId: peer.id,
    });
  }
}
