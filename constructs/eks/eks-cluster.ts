/**
 * An EKS cluster for HyperFlow, in the manner of aws-cdk-lib aws-eks (Cluster, Nodegroup): the control
 * plane with access entries (API authentication mode: the creator and/or a list of admin principals) and
 * its logs, a master node group (1 node: engine, Redis, NFS server) in one subnet, so one zone (the NFS
 * server's EBS disk is zonal), and a worker node group over every subnet that scales from 0 (task jobs),
 * tainted so that only task pods (which tolerate it) keep its nodes; both labelled with one scheme. Add-ons:
 * the VPC CNI with its network policy agent (so NetworkPolicies are enforced), the pod identity agent,
 * the EBS CSI driver with an EKS Pod Identity role; and the Pod Identity role of the cluster autoscaler
 * (installed on the cluster by the `k8s` stack, see EksClusterSupport).
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { EksAccessEntry } from "@cdktf/provider-aws/lib/eks-access-entry";
import { EksAccessPolicyAssociation } from "@cdktf/provider-aws/lib/eks-access-policy-association";
import { EksAddon } from "@cdktf/provider-aws/lib/eks-addon";
import { EksCluster as EksClusterResource } from "@cdktf/provider-aws/lib/eks-cluster";
import { EksNodeGroup } from "@cdktf/provider-aws/lib/eks-node-group";
import { EksPodIdentityAssociation } from "@cdktf/provider-aws/lib/eks-pod-identity-association";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { Token } from "cdktf";
import { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { ServiceRole } from "../iam/policy";
import { EKS_CLUSTER_DEFAULTS, K8S_DEFAULTS } from "../core/defaults";
import { boundedPrefix, NAME_PREFIX_MAX } from "../core/names";
import { EKS_CLUSTER_NAME, EKS_VERSION, IAM_PRINCIPAL_ARN, INSTANCE_TYPE, K8S_LABEL, NODE_POOL_MAX } from "../core/rules";
import { PropsError, requireRule, requireUnique } from "../core/validation";

/** ServiceAccount of the cluster autoscaler in kube-system (the Pod Identity association names it). */
export const CLUSTER_AUTOSCALER_SA = "cluster-autoscaler";

/** A node group of the cluster. */
export interface EksNodePoolOptions {
  /** Value of the node label (nodeLabelKey) on the pool's nodes, which pods select. @default "hfmaster" for the master pool, "hfworker" for the worker pool */
  readonly label?: string;
  /** EC2 instance type. @default "m5.large" for the master pool, "m5.xlarge" for the worker pool */
  readonly instanceType?: string;
}

/** The worker node group, which the cluster autoscaler scales from 0. */
export interface EksWorkerPoolOptions extends EksNodePoolOptions {
  /** Most nodes. @default 5 */
  readonly maxSize?: number;
}

export interface EksClusterProps {
  /** Cluster name (also in role, log group and launch template names, and the cluster autoscaler's tag). */
  readonly clusterName: string;
  /** Kubernetes minor version, e.g. "1.33" (one with a cluster-autoscaler release: EKS_MINOR_VERSIONS). */
  readonly version: string;
  /** Subnets of the control plane's network interfaces and of the worker nodes. */
  readonly subnetIds: readonly string[];
  /**
   * The one subnet (so the one zone) of the master node group. The NFS server's EBS disk is zonal: a
   * master replaced into another zone could never attach it again. @default - the first of subnetIds
   */
  readonly masterSubnetId?: string;
  /** CIDRs that may reach the public API endpoint; at least one (EKS would open it to every address). */
  readonly publicAccessCidrs: readonly string[];
  /** Access entry with cluster admin for the identity that creates the cluster. @default true */
  readonly creatorAdmin?: boolean;
  /**
   * IAM roles or users that get cluster admin: an access entry each, with AmazonEKSClusterAdminPolicy
   * associated at cluster scope. At least one when creatorAdmin is false (else nobody can reach the API).
   * @default - none
   */
  readonly adminPrincipalArns?: readonly string[];
  /** Retention of the control-plane logs, in days (a value CloudWatch Logs accepts). @default 30 */
  readonly logRetentionDays?: number;
  /** Node label key of both pools. @default "hyperflow-wms/nodepool" */
  readonly nodeLabelKey?: string;
  /** The master pool: one node. @default - label "hfmaster", m5.large */
  readonly masterPool?: EksNodePoolOptions;
  /** The worker pool: 0 to maxSize nodes. @default - label "hfworker", m5.xlarge, at most 5 nodes */
  readonly workerPool?: EksWorkerPoolOptions;
  /** Tags on the instances, volumes and network interfaces the node groups launch (default tags do not reach them). @default - only Name */
  readonly tags?: Readonly<Record<string, string>>;
}

export class EksCluster extends Construct {
  readonly cluster: EksClusterResource;
  readonly clusterName: string;
  readonly clusterRole: ServiceRole;
  readonly nodeRole: ServiceRole;
  readonly masterNodeGroup: EksNodeGroup;
  readonly workerNodeGroup: EksNodeGroup;
  /** Access entries of adminPrincipalArns, in order. */
  readonly adminAccessEntries: readonly EksAccessEntry[];
  /** The VPC CNI, with its network policy agent on. */
  readonly vpcCni: EksAddon;
  readonly podIdentityAgent: EksAddon;
  readonly ebsCsiDriver: EksAddon;
  /** Role of the cluster autoscaler: read groups and templates everywhere, change only this cluster's groups. */
  readonly clusterAutoscalerRole: ServiceRole;

  constructor(scope: Construct, id: string, props: EksClusterProps) {
    super(scope, id);
    validate(props);
    const name = props.clusterName;
    this.clusterName = name;
    const labelKey = props.nodeLabelKey ?? K8S_DEFAULTS.nodePools.labelKey;
    const env = AwsEnvironment.of(this);
    const managed = (n: string) => `arn:${env.partition}:iam::aws:policy/${n}`;

    this.clusterRole = new ServiceRole(this, "ClusterRole", {
      service: "eks.amazonaws.com",
      namePrefix: `${name}-cluster-`,
      description: `EKS control plane of ${name}`,
      sourceAccount: env.accountId,
      managedPolicyArns: [managed("AmazonEKSClusterPolicy")],
    });
    const logs = new CloudwatchLogGroup(this, "ControlPlaneLogs", {
      name: `/aws/eks/${name}/cluster`,
      retentionInDays: props.logRetentionDays ?? EKS_CLUSTER_DEFAULTS.logRetentionDays,
    });
    this.cluster = new EksClusterResource(this, "Cluster", {
      name,
      version: props.version,
      roleArn: this.clusterRole.roleArn,
      vpcConfig: {
        subnetIds: [...props.subnetIds],
        endpointPublicAccess: true,
        endpointPrivateAccess: true,
        publicAccessCidrs: [...props.publicAccessCidrs],
      },
      accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: props.creatorAdmin ?? EKS_CLUSTER_DEFAULTS.creatorAdmin },
      enabledClusterLogTypes: ["api", "audit", "authenticator"],
      dependsOn: [logs],
    });

    this.nodeRole = new ServiceRole(this, "NodeRole", {
      service: "ec2.amazonaws.com",
      namePrefix: `${name}-node-`,
      description: `EKS nodes of ${name}`,
      managedPolicyArns: [
        managed("AmazonEKSWorkerNodePolicy"),
        managed("AmazonEC2ContainerRegistryReadOnly"),
        managed("AmazonEKS_CNI_Policy"),
        managed("AmazonSSMManagedInstanceCore"),
      ],
    });
    const adminPolicyArn = `arn:${env.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`;
    this.adminAccessEntries = (props.adminPrincipalArns ?? []).map((principalArn, i) => {
      const id = `Admin-${adminId(principalArn, i)}`;
      const entry = new EksAccessEntry(this, id, { clusterName: this.cluster.name, principalArn, type: "STANDARD" });
      new EksAccessPolicyAssociation(this, `${id}-ClusterAdmin`, {
        clusterName: this.cluster.name,
        principalArn: entry.principalArn,
        policyArn: adminPolicyArn,
        accessScope: { type: "cluster" },
      });
      return entry;
    });

    const tags = props.tags ?? {};
    const nodeGroup = (
      id: string,
      label: string,
      instanceType: string,
      subnetIds: readonly string[],
      scaling: { minSize: number; maxSize: number; desiredSize: number },
      taint?: { key: string; value: string },
    ) => {
      const template = new LaunchTemplate(this, `${id}Template`, {
        namePrefix: boundedPrefix(name, `-${id}-`, NAME_PREFIX_MAX.launchTemplate),
        // IMDSv2 only, hop limit 1: pods use Pod Identity, not the node role.
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
        blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize: 50, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }],
        tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags: { ...tags, Name: `${name}-${id}` } })),
        updateDefaultVersion: true,
      });
      return new EksNodeGroup(this, id, {
        clusterName: this.cluster.name,
        nodeGroupNamePrefix: `${label}-`,
        nodeRoleArn: this.nodeRole.roleArn,
        subnetIds: [...subnetIds],
        instanceTypes: [instanceType],
        amiType: "AL2023_x86_64_STANDARD",
        scalingConfig: scaling,
        labels: { [labelKey]: label },
        taint: taint ? [{ key: taint.key, value: taint.value, effect: "NO_SCHEDULE" }] : undefined,
        launchTemplate: { id: template.id, version: Token.asString(template.latestVersion) },
        // What the cluster autoscaler needs to scale a pool from zero for pods that select its label (it
        // also reads labels and taints of managed groups with eks:DescribeNodegroup).
        tags: {
          [`k8s.io/cluster-autoscaler/node-template/label/${labelKey}`]: label,
          ...(taint ? { [`k8s.io/cluster-autoscaler/node-template/taint/${taint.key}`]: `${taint.value}:NoSchedule` } : {}),
          "k8s.io/cluster-autoscaler/enabled": "true",
          [`k8s.io/cluster-autoscaler/${name}`]: "owned",
        },
        lifecycle: { ignoreChanges: ["scaling_config[0].desired_size"], createBeforeDestroy: true },
      });
    };
    const master = props.masterPool ?? {};
    const worker = props.workerPool ?? {};
    const masterSubnet = props.masterSubnetId ?? props.subnetIds[0];
    this.masterNodeGroup = nodeGroup(
      "Master",
      master.label ?? K8S_DEFAULTS.nodePools.master,
      master.instanceType ?? EKS_CLUSTER_DEFAULTS.masterInstanceType,
      [masterSubnet],
      {
        minSize: 1,
        maxSize: 1,
        desiredSize: 1,
      },
    );
    // Tainted: system pods (CoreDNS, the autoscaler, …) stay off the worker nodes, so the pool can go back to 0.
    const workerLabel = worker.label ?? K8S_DEFAULTS.nodePools.worker;
    this.workerNodeGroup = nodeGroup(
      "Workers",
      workerLabel,
      worker.instanceType ?? EKS_CLUSTER_DEFAULTS.workerInstanceType,
      props.subnetIds,
      { minSize: 0, maxSize: worker.maxSize ?? EKS_CLUSTER_DEFAULTS.workerMaxSize, desiredSize: 0 },
      { key: labelKey, value: workerLabel },
    );

    // The VPC CNI as a managed add-on with its network policy agent (aws/amazon-vpc-cni-k8s
    // charts/aws-vpc-cni/values.yaml `enableNetworkPolicy`): without it EKS ignores NetworkPolicies, such
    // as the one that admits only HyperFlow's pods to Redis. EKS installed it unmanaged; OVERWRITE adopts it.
    this.vpcCni = new EksAddon(this, "VpcCni", {
      clusterName: this.cluster.name,
      addonName: "vpc-cni",
      configurationValues: JSON.stringify({ enableNetworkPolicy: "true" }),
      resolveConflictsOnCreate: "OVERWRITE",
      resolveConflictsOnUpdate: "OVERWRITE",
      dependsOn: [this.masterNodeGroup],
    });

    this.podIdentityAgent = new EksAddon(this, "PodIdentityAgent", {
      clusterName: this.cluster.name,
      addonName: "eks-pod-identity-agent",
      dependsOn: [this.masterNodeGroup],
    });
    const ebsRole = new ServiceRole(this, "EbsCsiRole", {
      service: "pods.eks.amazonaws.com",
      namePrefix: `${name}-ebs-csi-`,
      description: `EBS CSI controller of ${name} (EKS Pod Identity)`,
      managedPolicyArns: [managed("service-role/AmazonEBSCSIDriverPolicy")],
      assumeActions: ["sts:AssumeRole", "sts:TagSession"],
    });
    this.ebsCsiDriver = new EksAddon(this, "EbsCsi", {
      clusterName: this.cluster.name,
      addonName: "aws-ebs-csi-driver",
      podIdentityAssociation: [{ roleArn: ebsRole.roleArn, serviceAccount: "ebs-csi-controller-sa" }],
      // Credentials come from the agent, which needs a node to run on.
      dependsOn: [this.podIdentityAgent, this.masterNodeGroup],
    });

    this.clusterAutoscalerRole = new ServiceRole(this, "ClusterAutoscalerRole", {
      service: "pods.eks.amazonaws.com",
      namePrefix: `${name}-autoscaler-`,
      description: `Cluster autoscaler of ${name} (EKS Pod Identity)`,
      assumeActions: ["sts:AssumeRole", "sts:TagSession"],
    });
    this.clusterAutoscalerRole.addPolicy("ClusterAutoscaler", [
      {
        sid: "Read",
        actions: [
          "autoscaling:DescribeAutoScalingGroups",
          "autoscaling:DescribeAutoScalingInstances",
          "autoscaling:DescribeLaunchConfigurations",
          "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeTags",
          "ec2:DescribeImages",
          "ec2:DescribeInstanceTypes",
          "ec2:DescribeLaunchTemplateVersions",
          "ec2:GetInstanceTypesFromInstanceRequirements",
          "eks:DescribeNodegroup",
        ],
        resources: ["*"],
      },
      {
        sid: "ScaleOwnGroups",
        actions: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
        resources: ["*"],
        conditions: { StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${name}`]: "owned" } },
      },
    ]);
    new EksPodIdentityAssociation(this, "ClusterAutoscalerIdentity", {
      clusterName: this.cluster.name,
      namespace: "kube-system",
      serviceAccount: CLUSTER_AUTOSCALER_SA,
      roleArn: this.clusterAutoscalerRole.roleArn,
      dependsOn: [this.podIdentityAgent],
    });
  }
}

/** Id part of an admin principal's resources: the account and name from the ARN (stable when the list is reordered). */
function adminId(principalArn: string, index: number): string {
  if (Token.isUnresolved(principalArn)) return String(index);
  return principalArn.replace(/^arn:[^:]+:iam::/, "").replace(/[^A-Za-z0-9]+/g, "-");
}

function validate(props: EksClusterProps): void {
  const c = "EksCluster";
  const tokens = { allowTokens: true };
  requireRule(c, "clusterName", props.clusterName, EKS_CLUSTER_NAME, tokens);
  requireRule(c, "version", props.version, EKS_VERSION, tokens);
  if (props.publicAccessCidrs.length === 0)
    throw new PropsError(c, "publicAccessCidrs", props.publicAccessCidrs, "at least one CIDR (without one EKS opens the API endpoint to every address)");
  if (props.subnetIds.length === 0) throw new PropsError(c, "subnetIds", props.subnetIds, "at least one subnet");
  if (props.masterSubnetId !== undefined && !Token.isUnresolved(props.masterSubnetId) && !props.subnetIds.includes(props.masterSubnetId)) {
    throw new PropsError(c, "masterSubnetId", props.masterSubnetId, "one of subnetIds");
  }
  const admins = props.adminPrincipalArns ?? [];
  admins.forEach((arn, i) => requireRule(c, `adminPrincipalArns[${i}]`, arn, IAM_PRINCIPAL_ARN, tokens));
  requireUnique(c, "adminPrincipalArns", admins);
  requireUnique(
    c,
    "adminPrincipalArns (as resource ids)",
    admins.map((arn, i) => adminId(arn, i)),
  );
  if (!(props.creatorAdmin ?? EKS_CLUSTER_DEFAULTS.creatorAdmin) && admins.length === 0) {
    throw new PropsError(
      c,
      "adminPrincipalArns",
      admins,
      "at least one IAM role or user ARN when creatorAdmin is false (else nobody can reach the Kubernetes API)",
    );
  }
  if (props.nodeLabelKey !== undefined) requireRule(c, "nodeLabelKey", props.nodeLabelKey, K8S_LABEL, tokens);
  for (const [prop, pool] of [
    ["masterPool", props.masterPool],
    ["workerPool", props.workerPool],
  ] as const) {
    if (pool?.label !== undefined) requireRule(c, `${prop}.label`, pool.label, K8S_LABEL, tokens);
    if (pool?.instanceType !== undefined) requireRule(c, `${prop}.instanceType`, pool.instanceType, INSTANCE_TYPE, tokens);
  }
  if (props.workerPool?.maxSize !== undefined) requireRule(c, "workerPool.maxSize", props.workerPool.maxSize, NODE_POOL_MAX);
}
