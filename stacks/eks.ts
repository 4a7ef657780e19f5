/**
 * The `eks` stack: a VPC over 2 AZs and the EKS cluster (EksCluster: access entries for the creator and
 * the admin principals, a master node group of 1 node in the first AZ and a tainted worker group from 0
 * over both, the VPC CNI with network policies, the EBS CSI driver and the pod identity agent, the cluster
 * autoscaler's role). HyperFlow goes on it with the `k8s` stack.
 */
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { EksCluster } from "../constructs/eks/eks-cluster";
import { Network } from "../constructs/network/network";
import { AwsStack } from "./base";

/** Name of the EKS cluster for a config (also what the `k8s` stack looks up): kubernetes.clusterName. */
export function eksClusterName(config: HyperflowConfig): string {
  return config.kubernetes.clusterName;
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
    const network = new Network(this, "Network", { mode: "new", azCount: 2, name, mapPublicIpOnLaunch: true });

    // Id "Default" leaves the construct out of resource addresses (cdktf makeUniqueId), so they are the
    // addresses these resources had when the stack made them itself.
    this.cluster = new EksCluster(this, "Default", {
      clusterName: name,
      version: e.version,
      subnetIds: network.subnetIds,
      // The API is reachable from the admin CIDRs only (config validation requires one).
      publicAccessCidrs: config.adminCidrs,
      creatorAdmin: e.creatorAdmin,
      adminPrincipalArns: e.adminPrincipals,
      // The NFS server's EBS disk is zonal: the master node group stays in the first subnet's zone.
      masterSubnetId: network.subnetIds[0],
      logRetentionDays: config.ecs.logRetentionDays,
      nodeLabelKey: k.nodeLabelKey,
      masterPool: { label: k.masterPool, instanceType: e.masterInstanceType },
      workerPool: { label: k.workerPool, instanceType: e.workerInstanceType, maxSize: e.workerMax },
      tags: this.tags,
    });

    new TerraformOutput(this, "eks_cluster_name", { value: this.cluster.cluster.name, description: "EKS cluster" });
    new TerraformOutput(this, "eks_endpoint", { value: this.cluster.cluster.endpoint, description: "Kubernetes API endpoint (reachable from adminCidrs)" });
    new TerraformOutput(this, "kubeconfig_command", {
      value: `aws eks update-kubeconfig --region ${config.region} --name ${name}`,
      description: "Add the cluster to your kubeconfig",
    });
  }
}
