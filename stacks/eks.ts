/**
 * The `eks` stack: a VPC over 2 AZs, an EKS cluster with access entries (API mode), a master node group
 * (1 node) and an autoscaling worker group from 0, both labelled with one scheme, the EBS CSI driver
 * (with EKS Pod Identity) and the pod identity agent. HyperFlow goes on it with the `k8s` stack.
 */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { EksAddon } from "@cdktf/provider-aws/lib/eks-addon";
import { EksCluster } from "@cdktf/provider-aws/lib/eks-cluster";
import { EksNodeGroup } from "@cdktf/provider-aws/lib/eks-node-group";
import { EksPodIdentityAssociation } from "@cdktf/provider-aws/lib/eks-pod-identity-association";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { TerraformOutput, Token } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { ServiceRole } from "../constructs/iam/policy";
import { Network } from "../constructs/network/network";
import { AwsStack } from "./base";

/** The cluster autoscaler (installed by the `k8s` stack, its role here): scales the worker pool from 0. */
export const CLUSTER_AUTOSCALER_CHART = { repository: "https://kubernetes.github.io/autoscaler", chart: "cluster-autoscaler", version: "9.43.2" };
export const CLUSTER_AUTOSCALER_SA = "cluster-autoscaler";

/** Name of the EKS cluster for a config (also what the `k8s` stack looks up). */
export function eksClusterName(config: HyperflowConfig): string {
  return `${config.ecs.clusterName.replace(/_/g, "-")}-eks`.slice(0, 100);
}

export class EksStack extends AwsStack {
  readonly cluster: EksCluster;
  readonly clusterName: string;
  constructor(scope: Construct, id: string, config: HyperflowConfig) {
    super(scope, id, { region: config.region, backend: config.backend, tags: config.tags });
    const k = config.kubernetes;
    const e = k.eks;
    const name = eksClusterName(config);
    this.clusterName = name;
    const partition = new DataAwsPartition(this, "Partition").partition;
    const accountId = new DataAwsCallerIdentity(this, "Account").accountId;
    const managed = (n: string) => `arn:${partition}:iam::aws:policy/${n}`;
    const network = new Network(this, "Network", { mode: "new", azCount: 2, name, mapPublicIpOnLaunch: true });

    const clusterRole = new ServiceRole(this, "ClusterRole", {
      service: "eks.amazonaws.com",
      namePrefix: `${name}-cluster-`,
      description: `EKS control plane of ${name}`,
      sourceAccount: accountId,
      managedPolicyArns: [managed("AmazonEKSClusterPolicy")],
    });
    const logs = new CloudwatchLogGroup(this, "ControlPlaneLogs", { name: `/aws/eks/${name}/cluster`, retentionInDays: config.ecs.logRetentionDays });
    this.cluster = new EksCluster(this, "Cluster", {
      name,
      version: e.version,
      roleArn: clusterRole.role.arn,
      vpcConfig: {
        subnetIds: network.subnetIds,
        endpointPublicAccess: true,
        endpointPrivateAccess: true,
        // The API is reachable from the admin CIDRs only (config validation requires one).
        publicAccessCidrs: [...config.adminCidrs],
      },
      accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: e.creatorAdmin },
      enabledClusterLogTypes: ["api", "audit", "authenticator"],
      dependsOn: [logs],
    });

    const nodeRole = new ServiceRole(this, "NodeRole", {
      service: "ec2.amazonaws.com",
      namePrefix: `${name}-node-`,
      description: `EKS nodes of ${name}`,
      managedPolicyArns: [managed("AmazonEKSWorkerNodePolicy"), managed("AmazonEC2ContainerRegistryReadOnly"), managed("AmazonEKS_CNI_Policy"), managed("AmazonSSMManagedInstanceCore")],
    });
    const tags = this.tags;
    const template = (pool: string) =>
      new LaunchTemplate(this, `${pool}Template`, {
        namePrefix: `${name}-${pool}-`,
        // IMDSv2 only, hop limit 1: pods use Pod Identity, not the node role.
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
        blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize: 50, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }],
        tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags: { ...tags, Name: `${name}-${pool}` } })),
        updateDefaultVersion: true,
      });
    const pool = (id: string, label: string, instanceType: string, scaling: { minSize: number; maxSize: number; desiredSize: number }) => {
      const lt = template(id);
      return new EksNodeGroup(this, id, {
        clusterName: this.cluster.name,
        nodeGroupNamePrefix: `${label}-`,
        nodeRoleArn: nodeRole.role.arn,
        subnetIds: network.subnetIds,
        instanceTypes: [instanceType],
        amiType: "AL2023_x86_64_STANDARD",
        scalingConfig: scaling,
        labels: { [k.nodeLabelKey]: label },
        launchTemplate: { id: lt.id, version: Token.asString(lt.latestVersion) },
        // What the cluster autoscaler needs to scale a pool from zero for pods that select its label.
        tags: { [`k8s.io/cluster-autoscaler/node-template/label/${k.nodeLabelKey}`]: label, "k8s.io/cluster-autoscaler/enabled": "true", [`k8s.io/cluster-autoscaler/${name}`]: "owned" },
        lifecycle: { ignoreChanges: ["scaling_config[0].desired_size"], createBeforeDestroy: true },
      });
    };
    const masterPool = pool("Master", k.masterPool, e.masterInstanceType, { minSize: 1, maxSize: 1, desiredSize: 1 });
    pool("Workers", k.workerPool, e.workerInstanceType, { minSize: 0, maxSize: e.workerMax, desiredSize: 0 });

    const podIdentity = new EksAddon(this, "PodIdentityAgent", { clusterName: this.cluster.name, addonName: "eks-pod-identity-agent", dependsOn: [masterPool] });
    const ebsRole = new ServiceRole(this, "EbsCsiRole", {
      service: "pods.eks.amazonaws.com",
      namePrefix: `${name}-ebs-csi-`,
      description: `EBS CSI controller of ${name} (EKS Pod Identity)`,
      managedPolicyArns: [managed("service-role/AmazonEBSCSIDriverPolicy")],
      assumeActions: ["sts:AssumeRole", "sts:TagSession"],
    });
    new EksAddon(this, "EbsCsi", {
      clusterName: this.cluster.name,
      addonName: "aws-ebs-csi-driver",
      podIdentityAssociation: [{ roleArn: ebsRole.role.arn, serviceAccount: "ebs-csi-controller-sa" }],
      // Credentials come from the agent, which needs a node to run on.
      dependsOn: [podIdentity, masterPool],
    });

    // The cluster autoscaler may read groups and templates everywhere, and change only this cluster's groups.
    const autoscalerRole = new ServiceRole(this, "ClusterAutoscalerRole", {
      service: "pods.eks.amazonaws.com",
      namePrefix: `${name}-autoscaler-`,
      description: `Cluster autoscaler of ${name} (EKS Pod Identity)`,
      assumeActions: ["sts:AssumeRole", "sts:TagSession"],
    });
    autoscalerRole.addPolicy("ClusterAutoscaler", [
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
      roleArn: autoscalerRole.role.arn,
      dependsOn: [podIdentity],
    });

    new TerraformOutput(this, "eks_cluster_name", { value: this.cluster.name, description: "EKS cluster" });
    new TerraformOutput(this, "eks_endpoint", { value: this.cluster.endpoint, description: "Kubernetes API endpoint (reachable from adminCidrs)" });
    new TerraformOutput(this, "kubeconfig_command", {
      value: `aws eks update-kubeconfig --region ${config.region} --name ${name}`,
      description: "Add the cluster to your kubeconfig",
    });
  }
}
