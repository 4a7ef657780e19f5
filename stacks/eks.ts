/**
 * The `eks` stack: a VPC over 2 AZs and the EKS cluster (EksCluster: access entries for the creator and
 * the admin principals, a master node group of 1 node in the first AZ and a tainted worker group from 0
 * over both, the VPC CNI with network policies, the EBS CSI driver and the pod identity agent, the cluster
 * autoscaler's role). HyperFlow goes on it with the `k8s` stack. With kubernetes.clusters: every listed
 * cluster in that VPC, the engine cluster admitted to the others' API, and the shared JuiceFS store.
 */
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Fn, TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { EksCluster, type EksClusterProps } from "../constructs/eks/eks-cluster";
import { JuiceFsStore } from "../constructs/juicefs/juicefs-store";
import { Network } from "../constructs/network/network";
import { NETWORK_DEFAULTS } from "../constructs/core/defaults";
import { AwsStack } from "./base";

/** Name of the EKS cluster for a config (also what the `k8s` stack looks up): kubernetes.clusterName. */
export function eksClusterName(config: HyperflowConfig): string {
  return config.kubernetes.clusterName;
}

/** CIDR of the `eks` stack's VPC (the Network default, written out so the `k8s` stack can name it at synth). */
export function eksVpcCidr(): string {
  return NETWORK_DEFAULTS.newVpc.cidr;
}

/** Id part of a cluster of kubernetes.clusters (letters and digits: "engine-2" → "Engine2"). */
export function clusterId(name: string): string {
  return name
    .split("-")
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join("");
}

/** Isolated subnets of the JuiceFS metadata store: /24 blocks far above the instance subnets (Network uses 0..2×azCount-1). */
const METADATA_SUBNET_INDEX = 250;

export class EksStack extends AwsStack {
  /** The engine cluster (the only one without kubernetes.clusters). */
  readonly cluster: EksCluster;
  readonly clusterName: string;
  /** Every cluster by name (one entry without kubernetes.clusters). */
  readonly clusters: ReadonlyMap<string, EksCluster>;
  /** The shared JuiceFS file system, with kubernetes.clusters. */
  readonly juicefs?: JuiceFsStore;
  constructor(scope: Construct, id: string, config: HyperflowConfig) {
    super(scope, id, { region: config.region, backend: config.backend, tags: config.tags });
    const k = config.kubernetes;
    const name = eksClusterName(config);
    this.clusterName = name;
    const network = new Network(this, "Network", { mode: "new", cidr: eksVpcCidr(), azCount: 2, name, mapPublicIpOnLaunch: true });
    if (k.clusters.length > 0) {
      const built = this.multi(config, network);
      this.cluster = built.engine;
      this.clusters = built.clusters;
      this.juicefs = built.juicefs;
      return;
    }

    // Id "Default" leaves the construct out of resource addresses (cdktf makeUniqueId), so they are the
    // addresses these resources had when the stack made them itself.
    this.cluster = new EksCluster(this, "Default", this.clusterProps(config, network, { name }));
    this.clusters = new Map([[name, this.cluster]]);

    new TerraformOutput(this, "eks_cluster_name", { value: this.cluster.cluster.name, description: "EKS cluster" });
    new TerraformOutput(this, "eks_endpoint", { value: this.cluster.cluster.endpoint, description: "Kubernetes API endpoint (reachable from adminCidrs)" });
    new TerraformOutput(this, "kubeconfig_command", {
      value: `aws eks update-kubeconfig --region ${config.region} --name ${name}`,
      description: "Add the cluster to your kubeconfig",
    });
  }

  /** One cluster's props: the shared `kubernetes.eks` settings, with an entry's own pool sizes where it has them. */
  private clusterProps(
    config: HyperflowConfig,
    network: Network,
    c: { readonly name: string; readonly masterInstanceType?: string; readonly workerInstanceType?: string; readonly workerMax?: number },
  ): EksClusterProps {
    const k = config.kubernetes;
    const e = k.eks;
    return {
      clusterName: c.name,
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
      masterPool: { label: k.masterPool, instanceType: c.masterInstanceType ?? e.masterInstanceType },
      workerPool: { label: k.workerPool, instanceType: c.workerInstanceType ?? e.workerInstanceType, maxSize: c.workerMax ?? e.workerMax },
      tags: this.tags,
    };
  }

  /**
   * kubernetes.clusters: every cluster in the one VPC (no peering: the clusters' nodes, the engine's
   * Redis load balancer and the JuiceFS metadata store share its subnets and route locally), the engine
   * cluster's nodes admitted to the other clusters' private API endpoints (the engine submits task jobs
   * there), and the JuiceFS store the clusters share.
   */
  private multi(config: HyperflowConfig, network: Network) {
    const k = config.kubernetes;
    const clusters = new Map<string, EksCluster>();
    for (const c of k.clusters) {
      // JuiceFS needs no zonal disk, but the master stays in one zone like the single cluster's.
      const cluster = new EksCluster(this, `Cluster${clusterId(c.name)}`, this.clusterProps(config, network, c));
      clusters.set(c.name, cluster);
      new TerraformOutput(this, `eks_endpoint_${c.name}`, { value: cluster.cluster.endpoint, description: `Kubernetes API endpoint of ${c.name} (${c.role})` });
      new TerraformOutput(this, `kubeconfig_command_${c.name}`, {
        value: `aws eks update-kubeconfig --region ${config.region} --name ${c.name} --alias ${c.name}`,
        description: `Add ${c.name} to your kubeconfig`,
      });
    }
    const engineName = k.clusters.find((c) => c.role === "engine")!.name;
    const engine = clusters.get(engineName)!;
    const sgOf = (c: EksCluster) => c.cluster.vpcConfig.clusterSecurityGroupId;
    for (const c of k.clusters.filter((x) => x.role === "workers")) {
      new VpcSecurityGroupIngressRule(this, `ApiFromEngine${clusterId(c.name)}`, {
        securityGroupId: sgOf(clusters.get(c.name)!),
        referencedSecurityGroupId: sgOf(engine),
        ipProtocol: "tcp",
        fromPort: 443,
        toPort: 443,
        description: `Kubernetes API of ${c.name} from the nodes of ${engineName} (the engine submits task jobs)`,
      });
    }
    const juicefs = new JuiceFsStore(this, "JuiceFs", {
      name: engineName,
      vpcId: network.vpcId,
      subnetCidrs: [0, 1].map((i) => Fn.cidrsubnet(network.vpcCidr, 8, METADATA_SUBNET_INDEX + i)),
      clients: k.clusters.map((c) => {
        const cluster = clusters.get(c.name)!;
        return { id: clusterId(c.name), clusterName: cluster.cluster.name, securityGroupId: sgOf(cluster), dependsOn: [cluster.podIdentityAgent] };
      }),
      redisNodeType: k.juicefs.redisNodeType,
      bucketVersioning: k.juicefs.bucketVersioning,
    });
    new TerraformOutput(this, "eks_cluster_names", { value: k.clusters.map((c) => c.name), description: "EKS clusters" });
    new TerraformOutput(this, "juicefs_bucket", { value: juicefs.bucket.bucketName, description: "S3 bucket of the JuiceFS data" });
    new TerraformOutput(this, "juicefs_redis", {
      value: juicefs.redis.primaryEndpointAddress,
      description: "ElastiCache endpoint of the JuiceFS metadata (TLS, AUTH token in juicefs_secret)",
    });
    new TerraformOutput(this, "juicefs_secret", { value: juicefs.secret.arn, description: "Secrets Manager secret with the JuiceFS volume credentials" });
    return { engine, clusters, juicefs };
  }
}
