/**
 * Where the jobs of the `batch` stack run: managed compute environments (on-demand EC2, Spot, and
 * Fargate when an app asks for it), their job queues, the instance role, one launch template (IMDSv2
 * only with hop limit 1, encrypted gp3 root volume) and one security group whose only ingress is from
 * itself, so the nodes of a multi-node parallel job reach each other (the join channel, SSH and MPI's
 * TCP ports) and nothing else reaches them.
 *
 * Replaces what SCAR creates for a function in batch mode (grycap/scar scar/providers/aws/batchfunction.py):
 * one EC2 compute environment with fixed m3.medium instances and the account's `ecsInstanceRole`, a
 * launch template that mounts the supervisor binary, one queue.
 */
import { BatchComputeEnvironment } from "@cdktf/provider-aws/lib/batch-compute-environment";
import { BatchJobQueue } from "@cdktf/provider-aws/lib/batch-job-queue";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { INSTANCE_TYPE, ROOT_VOLUME_GIB } from "../core/rules";
import { PropsError, requireRule } from "../core/validation";
import { ServiceRole } from "../iam/policy";
import { allowEgressAll } from "../network/security-group";
import { type QueueKind, queueName } from "./names";
import { BATCH_NAME, MAX_VCPUS } from "./rules";

export { type QueueKind, queueName } from "./names";

export interface BatchComputeProps {
  /** Prefix of every name (BATCH_NAME). */
  readonly name: string;
  readonly vpcId: string;
  readonly subnetIds: string[];
  /** Whether instances and Fargate tasks need a public IP to reach ECR, S3 and CloudWatch (default VPC). */
  readonly assignPublicIp: boolean;
  readonly instanceTypes: readonly string[];
  readonly maxVcpus: number;
  /** Add a Spot compute environment ahead of on-demand in the single-node EC2 queue. */
  readonly spot: boolean;
  /** Add a Fargate compute environment and queue. */
  readonly fargate: boolean;
  /** @default 30 */
  readonly rootVolumeSizeGiB?: number;
}

export class BatchCompute extends Construct {
  readonly securityGroup: SecurityGroup;
  readonly instanceRole: ServiceRole;
  readonly launchTemplate: LaunchTemplate;
  readonly onDemand: BatchComputeEnvironment;
  readonly spot?: BatchComputeEnvironment;
  readonly fargate?: BatchComputeEnvironment;
  readonly queues: Readonly<Partial<Record<QueueKind, BatchJobQueue>>>;

  constructor(scope: Construct, id: string, props: BatchComputeProps) {
    super(scope, id);
    requireRule("BatchCompute", "name", props.name, BATCH_NAME);
    requireRule("BatchCompute", "maxVcpus", props.maxVcpus, MAX_VCPUS);
    if (props.instanceTypes.length === 0) throw new PropsError("BatchCompute", "instanceTypes", props.instanceTypes, "at least one instance type");
    for (const t of props.instanceTypes) requireRule("BatchCompute", "instanceTypes", t, INSTANCE_TYPE);
    const volumeSize = props.rootVolumeSizeGiB ?? 30;
    requireRule("BatchCompute", "rootVolumeSizeGiB", volumeSize, ROOT_VOLUME_GIB);
    const env = AwsEnvironment.of(this);
    const managed = (policy: string) => `arn:${env.partition}:iam::aws:policy/${policy}`;

    this.securityGroup = new SecurityGroup(this, "Nodes", {
      namePrefix: `${props.name}-nodes-`,
      description: `Batch job nodes of ${props.name}: only each other (multi-node join, SSH, MPI)`,
      vpcId: props.vpcId,
      tags: { Name: `${props.name}-nodes` },
      lifecycle: { createBeforeDestroy: true },
    });
    // The nodes of one multi-node job talk on ports mpirun picks at run time: every protocol, but only from this group.
    new VpcSecurityGroupIngressRule(this, "FromItself", {
      securityGroupId: this.securityGroup.id,
      description: "Nodes of a job reach each other (join channel, SSH for mpirun, MPI TCP)",
      ipProtocol: "-1",
      referencedSecurityGroupId: this.securityGroup.id,
    });
    allowEgressAll(this, "Egress", this.securityGroup, "Image pulls, S3, CloudWatch Logs");

    this.instanceRole = new ServiceRole(this, "InstanceRole", {
      service: "ec2.amazonaws.com",
      namePrefix: `${props.name}-instance-`,
      description: `Batch container instances of ${props.name}`,
      managedPolicyArns: [managed("service-role/AmazonEC2ContainerServiceforEC2Role"), managed("AmazonSSMManagedInstanceCore")],
    });
    const profile = new IamInstanceProfile(this, "InstanceProfile", { namePrefix: `${props.name}-`, role: this.instanceRole.roleName });

    const tags = { Name: `${props.name}-node` };
    this.launchTemplate = new LaunchTemplate(this, "LaunchTemplate", {
      namePrefix: `${props.name}-batch-`,
      description: `Batch instances of ${props.name}: IMDSv2 only, encrypted root volume`,
      // IMDSv2 only; hop limit 1 keeps containers in bridge mode away from the instance role (jobs use their job roles).
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
      blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }],
      tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags })),
      updateDefaultVersion: true,
    });

    const ec2 = (cid: string, type: "EC2" | "SPOT") =>
      new BatchComputeEnvironment(this, cid, {
        namePrefix: `${props.name}-${type.toLowerCase()}-`,
        type: "MANAGED",
        state: "ENABLED",
        computeResources: {
          type,
          allocationStrategy: type === "SPOT" ? "SPOT_PRICE_CAPACITY_OPTIMIZED" : "BEST_FIT_PROGRESSIVE",
          minVcpus: 0,
          maxVcpus: props.maxVcpus,
          instanceType: [...props.instanceTypes],
          instanceRole: profile.arn,
          securityGroupIds: [this.securityGroup.id],
          subnets: props.subnetIds,
          ec2Configuration: [{ imageType: "ECS_AL2023" }],
          launchTemplate: { launchTemplateId: this.launchTemplate.id, version: this.launchTemplate.latestVersion.toString() },
          tags,
        },
        // A compute environment's name changes on replacement (namePrefix): create the new one before the queue lets go of the old.
        lifecycle: { createBeforeDestroy: true },
      });
    this.onDemand = ec2("OnDemand", "EC2");
    if (props.spot) this.spot = ec2("Spot", "SPOT");
    if (props.fargate) {
      this.fargate = new BatchComputeEnvironment(this, "Fargate", {
        namePrefix: `${props.name}-fargate-`,
        type: "MANAGED",
        state: "ENABLED",
        computeResources: { type: "FARGATE", maxVcpus: props.maxVcpus, securityGroupIds: [this.securityGroup.id], subnets: props.subnetIds },
        lifecycle: { createBeforeDestroy: true },
      });
    }

    const queue = (kind: QueueKind, environments: BatchComputeEnvironment[]) =>
      new BatchJobQueue(this, `Queue-${kind}`, {
        name: queueName(props.name, kind),
        state: "ENABLED",
        priority: 1,
        computeEnvironmentOrder: environments.map((e, i) => ({ computeEnvironment: e.arn, order: i + 1 })),
      });
    this.queues = {
      ec2: queue("ec2", this.spot ? [this.spot, this.onDemand] : [this.onDemand]),
      multinode: queue("multinode", [this.onDemand]),
      ...(this.fargate ? { fargate: queue("fargate", [this.fargate]) } : {}),
    };
  }

  /** The queue of one kind (throws if the stack has none of that kind). */
  queue(kind: QueueKind): BatchJobQueue {
    const q = this.queues[kind];
    if (!q) throw new PropsError("BatchCompute", "queue", kind, `one of ${Object.keys(this.queues).join(", ")}`);
    return q;
  }
}
