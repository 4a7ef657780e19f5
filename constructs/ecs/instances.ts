/**
 * ECS container instances: launch templates (never launch configurations), the worker Auto Scaling
 * group with its ECS capacity provider, and the ECS agent configuration delivered as cloud-config.
 */
import { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
import { DataAwsSsmParameter } from "@cdktf/provider-aws/lib/data-aws-ssm-parameter";
import { EcsCapacityProvider } from "@cdktf/provider-aws/lib/ecs-capacity-provider";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { Token } from "cdktf";
import { Construct } from "constructs";
import { ECS_DEFAULTS, WORKER_CAPACITY_DEFAULTS } from "../core/defaults";
import { boundedPrefix, NAME_PREFIX_MAX } from "../core/names";
import { INSTANCE_SCALING_STEP, ROOT_VOLUME_GIB, TARGET_CAPACITY_PERCENT } from "../core/rules";
import { terraformLiteral } from "../core/terraform-string";
import { requireOrdered, requireRule } from "../core/validation";

/** ECS container-instance attribute that tells the master from the workers (used by placement constraints). */
const ROLE_ATTRIBUTE = "hyperflow.role";
/** Which kind of container instance: the master (broker and engine) or a worker (executors). The value of ROLE_ATTRIBUTE. */
export type InstanceKind = "master" | "worker";

/** An ECS placement constraint as the ECS API and the provider take it. */
export interface PlacementConstraint {
  readonly type: string;
  readonly expression: string;
}

/** The placement constraint that pins a task to instances of one kind. */
export function placementFor(kind: InstanceKind): PlacementConstraint {
  return { type: "memberOf", expression: `attribute:${ROLE_ATTRIBUTE} == ${kind}` };
}

/** Graviton instance families (`t4g`, `m7g`, `c7gn`, …) need the arm64 AMI. */
export function isArmInstanceType(instanceType: string): boolean {
  return /^[a-z]+\d+g[a-z]*\./.test(instanceType);
}

/** Public SSM parameter with the current ECS-optimized Amazon Linux 2023 AMI id for the architecture. */
function ecsAmiParameter(instanceType: string): string {
  const arch = isArmInstanceType(instanceType) ? "arm64/" : "";
  return `/aws/service/ecs/optimized-ami/amazon-linux-2023/${arch}recommended/image_id`;
}

/**
 * cloud-config that joins the instance to the cluster with its role attribute. ECS reads
 * /etc/ecs/ecs.config when the agent starts, which is after cloud-init's write_files.
 */
export function ecsCloudConfig(clusterName: string, kind: InstanceKind): string {
  const lines = [
    `ECS_CLUSTER=${clusterName}`,
    `ECS_INSTANCE_ATTRIBUTES={"${ROLE_ATTRIBUTE}":"${kind}"}`,
    // Task roles for containers in host network mode (the broker's queue-length publisher).
    "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true",
    "ECS_ENABLE_TASK_IAM_ROLE=true",
    "ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance",
    "ECS_ENABLE_CONTAINER_METADATA=true",
  ];
  return [
    "#cloud-config",
    "write_files:",
    "  - path: /etc/ecs/ecs.config",
    "    append: true",
    "    owner: root:root",
    "    permissions: '0644'",
    "    content: |",
    ...lines.map((l) => `      ${l}`),
    "",
  ].join("\n");
}

export interface EcsLaunchTemplateProps {
  readonly clusterName: string;
  /** Joins instances to the cluster with this kind (see ROLE_ATTRIBUTE). */
  readonly kind: InstanceKind;
  readonly instanceType: string;
  /** ARN of the instance profile with the ECS instance role. */
  readonly instanceProfileArn: string;
  readonly securityGroupIds: readonly string[];
  readonly assignPublicIp: boolean;
  /** @default - the current ECS-optimized Amazon Linux 2023 AMI from the public SSM parameter */
  readonly amiId?: string;
  /**
   * Without `amiId`: keep the AMI the template was created with when the SSM parameter moves on to a
   * newer one (`ignore_changes = [image_id]`), so an instance launched from the template's latest version
   * (the master) is not replaced by every new ECS-optimized AMI. Rolling it is then a deliberate step:
   * pin `amiId`, or replace the template (`terraform apply -replace=<template address>`).
   * With `amiId` the template follows it. @default false - the template follows the SSM parameter (fine for an Auto Scaling group)
   */
  readonly keepAmi?: boolean;
  /** @default - no SSH key; use SSM Session Manager */
  readonly keyPairName?: string;
  /**
   * Subnet for instances launched directly from the template (the master). An instance may not name a
   * subnet itself when its template has a network interface. @default - the launcher chooses (the ASG)
   */
  readonly subnetId?: string;
  /** Encrypted gp3 root volume, 30 to 16384 GiB (the ECS-optimized AMI's snapshot needs 30). @default 30 */
  readonly rootVolumeSizeGiB?: number;
  /** Tags for instances, volumes and network interfaces launched from the template. @default - only Name */
  readonly tags?: Readonly<Record<string, string>>;
}

/** A launch template for ECS container instances: IMDSv2 only, encrypted gp3 root volume, tags on everything launched. */
export class EcsLaunchTemplate extends Construct {
  readonly resource: LaunchTemplate;
  constructor(scope: Construct, id: string, props: EcsLaunchTemplateProps) {
    super(scope, id);
    const volumeSize = props.rootVolumeSizeGiB ?? ECS_DEFAULTS.rootVolumeSizeGiB;
    requireRule("EcsLaunchTemplate", "rootVolumeSizeGiB", volumeSize, ROOT_VOLUME_GIB);
    const imageId = props.amiId ?? new DataAwsSsmParameter(this, "Ami", { name: ecsAmiParameter(props.instanceType) }).insecureValue;
    const name = `${props.clusterName}-${props.kind}`;
    const tags = { ...(props.tags ?? {}), Name: name };
    this.resource = new LaunchTemplate(this, "Resource", {
      namePrefix: boundedPrefix(props.clusterName, `-${props.kind}-`, NAME_PREFIX_MAX.launchTemplate),
      description: `HyperFlow ECS ${props.kind} instances of cluster ${props.clusterName}`,
      imageId,
      instanceType: props.instanceType,
      // EC2 key pair names may hold any ASCII character, `${` included.
      keyName: props.keyPairName ? terraformLiteral(props.keyPairName) : undefined,
      iamInstanceProfile: { arn: props.instanceProfileArn },
      // IMDSv2 only; hop limit 1 keeps bridge-mode containers away from the instance role (tasks use task roles).
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
      blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }],
      networkInterfaces: [
        {
          associatePublicIpAddress: String(props.assignPublicIp),
          securityGroups: [...props.securityGroupIds],
          deleteOnTermination: "true",
          deviceIndex: 0,
          subnetId: props.subnetId,
        },
      ],
      userData: Buffer.from(ecsCloudConfig(props.clusterName, props.kind)).toString("base64"),
      updateDefaultVersion: true,
      tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags })),
      tags,
      lifecycle: props.keepAmi && props.amiId === undefined ? { ignoreChanges: ["image_id"] } : undefined,
    });
  }
}

/** Size and scaling of the worker instances (what a deployment chooses; the wiring is in WorkerCapacityProps). */
export interface WorkerCapacityOptions {
  /** @default 0 */
  readonly minSize?: number;
  /** @default 5 */
  readonly maxSize?: number;
  /** Initial size; managed scaling owns it afterwards. @default - minSize */
  readonly desiredCapacity?: number;
  /** @default 600 */
  readonly cooldownSeconds?: number;
  /** Most instances one managed-scaling step adds or removes, 1 to 10000. @default 1 */
  readonly maxScalingStep?: number;
  /** How full managed scaling keeps the instances, 1 to 100 %; below 100 leaves headroom. @default 100 */
  readonly targetCapacityPercent?: number;
  /** @default 300 */
  readonly instanceWarmupSeconds?: number;
}

export interface WorkerCapacityProps extends WorkerCapacityOptions {
  readonly clusterName: string;
  readonly launchTemplate: EcsLaunchTemplate;
  readonly subnetIds: readonly string[];
  /** Tags propagated to instances at launch. @default - none */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Worker instances: an Auto Scaling group driven by an ECS capacity provider with managed scaling,
 * managed termination protection and managed draining, so EC2 capacity follows the worker tasks.
 */
export class WorkerCapacity extends Construct {
  /** The capacity provider (what services and the cluster refer to). */
  readonly resource: EcsCapacityProvider;
  readonly autoScalingGroup: AutoscalingGroup;

  constructor(scope: Construct, id: string, props: WorkerCapacityProps) {
    super(scope, id);
    const min = props.minSize ?? WORKER_CAPACITY_DEFAULTS.minSize;
    const max = props.maxSize ?? WORKER_CAPACITY_DEFAULTS.maxSize;
    const desired = props.desiredCapacity ?? min;
    requireOrdered("WorkerCapacity", "minSize", min, "maxSize", max);
    requireOrdered("WorkerCapacity", "desiredCapacity", desired, "maxSize", max);
    requireOrdered("WorkerCapacity", "minSize", min, "desiredCapacity", desired);
    const step = props.maxScalingStep ?? WORKER_CAPACITY_DEFAULTS.maxScalingStep;
    requireRule("WorkerCapacity", "maxScalingStep", step, INSTANCE_SCALING_STEP);
    const target = props.targetCapacityPercent ?? WORKER_CAPACITY_DEFAULTS.targetCapacityPercent;
    requireRule("WorkerCapacity", "targetCapacityPercent", target, TARGET_CAPACITY_PERCENT);

    this.autoScalingGroup = new AutoscalingGroup(this, "Asg", {
      name: `${props.clusterName}-ASG`,
      minSize: min,
      maxSize: max,
      desiredCapacity: desired,
      defaultCooldown: props.cooldownSeconds ?? WORKER_CAPACITY_DEFAULTS.cooldownSeconds,
      vpcZoneIdentifier: [...props.subnetIds],
      healthCheckType: "EC2",
      launchTemplate: { id: props.launchTemplate.resource.id, version: Token.asString(props.launchTemplate.resource.latestVersion) },
      // Required by managed termination protection: ECS decides which instance may go.
      protectFromScaleIn: true,
      tag: [
        { key: "AmazonECSManaged", value: "true", propagateAtLaunch: true },
        ...Object.entries({ ...(props.tags ?? {}), Name: `${props.clusterName}-worker` }).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
      ],
      lifecycle: { ignoreChanges: ["desired_capacity"] },
    });
    this.resource = new EcsCapacityProvider(this, "CapacityProvider", {
      // ECS rejects capacity provider names that start with "aws", "ecs" or "fargate" (the default
      // cluster name starts with "ecs"), so the name starts with "hyperflow-".
      name: `hyperflow-${props.clusterName}-workers`,
      autoScalingGroupProvider: {
        autoScalingGroupArn: this.autoScalingGroup.arn,
        managedTerminationProtection: "ENABLED",
        managedDraining: "ENABLED",
        managedScaling: {
          status: "ENABLED",
          targetCapacity: target,
          minimumScalingStepSize: 1,
          maximumScalingStepSize: step,
          instanceWarmupPeriod: props.instanceWarmupSeconds ?? WORKER_CAPACITY_DEFAULTS.instanceWarmupSeconds,
        },
      },
    });
  }

  get capacityProviderName(): string {
    return this.resource.name;
  }
}
