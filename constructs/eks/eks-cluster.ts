/**
 * An EKS cluster for HyperFlow, in the manner of aws-cdk-lib aws-eks (Cluster, Nodegroup): the control
 * plane with access entries (API authentication mode) and its logs, a master node group (1 node: engine,
 * Redis, NFS server) and a worker node group that scales from 0 (task jobs), both labelled with one
 * scheme, the pod identity agent, the EBS CSI driver with an EKS Pod Identity role, and the Pod Identity
 * role of the cluster autoscaler (installed on the cluster by the `k8s` stack, see EksClusterSupport).
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
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
import { EKS_CLUSTER_NAME, INSTANCE_TYPE, K8S_LABEL, K8S_VERSION, NODE_POOL_MAX } from "../core/rules";
import { PropsError, requireRule } from "../core/validation";

/** The cluster autoscaler's chart (installed by the `k8s` stack); its role is made here. */
export const CLUSTER_AUTOSCALER_CHART = { repository: "https://kubernetes.github.io/autoscaler", chart: "cluster-autoscaler", version: "9.43.2" };
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
  /** Kubernetes minor version, e.g. "1.33". */
  readonly version: string;
  /** Subnets of the control plane's network interfaces and of the nodes. */
  readonly subnetIds: readonly string[];
  /** CIDRs that may reach the public API endpoint; at least one (EKS would open it to every address). */
  readonly publicAccessCidrs: readonly string[];
  /** Access entry with cluster admin for the identity that creates the cluster. @default true */
  readonly creatorAdmin?: boolean;
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
    const logs = new CloudwatchLogGroup(this, "ControlPlaneLogs", { name: `/aws/eks/${name}/cluster`, retentionInDays: props.logRetentionDays ?? EKS_CLUSTER_DEFAULTS.logRetentionDays });
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
      managedPolicyArns: [managed("AmazonEKSWorkerNodePolicy"), managed("AmazonEC2ContainerRegistryReadOnly"), managed("AmazonEKS_CNI_Policy"), managed("AmazonSSMManagedInstanceCore")],
    });
    const tags = props.tags ?? {};
    const nodeGroup = (id: string, label: string, instanceType: string, scaling: { minSize: number; maxSize: number; desiredSize: number }) => {
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
        subnetIds: [...props.subnetIds],
        instanceTypes: [instanceType],
        amiType: "AL2023_x86_64_STANDARD",
        scalingConfig: scaling,
        labels: { [labelKey]: label },
        launchTemplate: { id: template.id, version: Token.asString(template.latestVersion) },
        // What the cluster autoscaler needs to scale a pool from zero for pods that select its label.
        tags: { [`k8s.io/cluster-autoscaler/node-template/label/${labelKey}`]: label, "k8s.io/cluster-autoscaler/enabled": "true", [`k8s.io/cluster-autoscaler/${name}`]: "owned" },
        lifecycle: { ignoreChanges: ["scaling_config[0].desired_size"], createBeforeDestroy: true },
      });
    };
    const master = props.masterPool ?? {};
    const worker = props.workerPool ?? {};
    this.masterNodeGroup = nodeGroup("Master", master.label ?? K8S_DEFAULTS.nodePools.master, master.instanceType ?? EKS_CLUSTER_DEFAULTS.masterInstanceType, {
      minSize: 1,
      maxSize: 1,
      desiredSize: 1,
    });
    this.workerNodeGroup = nodeGroup("Workers", worker.label ?? K8S_DEFAULTS.nodePools.worker, worker.instanceType ?? EKS_CLUSTER_DEFAULTS.workerInstanceType, {
      minSize: 0,
      maxSize: worker.maxSize ?? EKS_CLUSTER_DEFAULTS.workerMaxSize,
      desiredSize: 0,
    });

    this.podIdentityAgent = new EksAddon(this, "PodIdentityAgent", { clusterName: this.cluster.name, addonName: "eks-pod-identity-agent", dependsOn: [this.masterNodeGroup] });
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

function validate(props: EksClusterProps): void {
  const c = "EksCluster";
  const tokens = { allowTokens: true };
  requireRule(c, "clusterName", props.clusterName, EKS_CLUSTER_NAME, tokens);
  requireRule(c, "version", props.version, K8S_VERSION, tokens);
  if (props.publicAccessCidrs.length === 0) throw new PropsError(c, "publicAccessCidrs", props.publicAccessCidrs, "at least one CIDR (without one EKS opens the API endpoint to every address)");
  if (props.nodeLabelKey !== undefined) requireRule(c, "nodeLabelKey", props.nodeLabelKey, K8S_LABEL, tokens);
  for (const [prop, pool] of [["masterPool", props.masterPool], ["workerPool", props.workerPool]] as const) {
    if (pool?.label !== undefined) requireRule(c, `${prop}.label`, pool.label, K8S_LABEL, tokens);
    if (pool?.instanceType !== undefined) requireRule(c, `${prop}.instanceType`, pool.instanceType, INSTANCE_TYPE, tokens);
  }
  if (props.workerPool?.maxSize !== undefined) requireRule(c, "workerPool.maxSize", props.workerPool.maxSize, NODE_POOL_MAX);
}
