/**
 * The `k8s` stack: HyperFlow installed on a Kubernetes cluster. The kubernetes and helm providers are
 * configured from data sources that read the cluster when this stack is applied (after the cluster
 * stack), never from a cluster created in the same run, so the first deploy does not fall into the
 * "dial tcp 127.0.0.1:80" pitfall. EKS tokens come from `aws eks get-token` at each run (no stored token).
 */
import { DataAwsEksCluster } from "@cdktf/provider-aws/lib/data-aws-eks-cluster";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { DataGoogleClientConfig } from "@cdktf/provider-google/lib/data-google-client-config";
import { DataGoogleContainerCluster } from "@cdktf/provider-google/lib/data-google-container-cluster";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { StorageClassV1 } from "@cdktf/provider-kubernetes/lib/storage-class-v1";
import { Release } from "@cdktf/provider-helm/lib/release";
import { Fn, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { HyperflowK8s } from "../constructs/k8s/hyperflow-k8s";
import { applyBackend } from "./base";
import { CLUSTER_AUTOSCALER_CHART, CLUSTER_AUTOSCALER_SA, eksClusterName } from "./eks";
import { gkeClusterName } from "./gke";

interface Connection {
  readonly host?: string;
  readonly clusterCaCertificate?: string;
  readonly token?: string;
  readonly exec?: { apiVersion: string; command: string; args: string[] };
  readonly configPath?: string;
  readonly configContext?: string;
}

export class K8sStack extends TerraformStack {
  readonly hyperflow: HyperflowK8s;
  constructor(scope: Construct, id: string, config: HyperflowConfig) {
    super(scope, id);
    const k = config.kubernetes;
    applyBackend(this, id, config.backend, config.region);
    const conn = this.connection(config);
    new KubernetesProvider(this, "kubernetes", { ...conn, exec: conn.exec ? [conn.exec] : undefined });
    new HelmProvider(this, "helm", { kubernetes: conn });

    // EKS has no default storage class from 1.30 on, and its worker pool starts at 0 nodes: give the NFS
    // server an encrypted gp3 disk and install the cluster autoscaler (its IAM role is in the eks stack).
    let nfsBacking: string | undefined;
    if (k.cluster === "eks") {
      nfsBacking = new StorageClassV1(this, "Gp3", {
        metadata: { name: "hyperflow-gp3" },
        storageProvisioner: "ebs.csi.aws.com",
        parameters: { type: "gp3", encrypted: "true" },
        volumeBindingMode: "WaitForFirstConsumer",
        reclaimPolicy: "Delete",
        allowVolumeExpansion: true,
      }).metadata.name;
      new Release(this, "ClusterAutoscaler", {
        name: "cluster-autoscaler",
        namespace: "kube-system",
        repository: CLUSTER_AUTOSCALER_CHART.repository,
        chart: CLUSTER_AUTOSCALER_CHART.chart,
        version: CLUSTER_AUTOSCALER_CHART.version,
        values: [
          JSON.stringify({
            autoDiscovery: { clusterName: eksClusterName(config) },
            awsRegion: config.region,
            cloudProvider: "aws",
            rbac: { serviceAccount: { create: true, name: CLUSTER_AUTOSCALER_SA } },
            nodeSelector: { [k.nodeLabelKey]: k.masterPool },
            extraArgs: { "balance-similar-node-groups": true, "skip-nodes-with-system-pods": false, "scale-down-unneeded-time": "5m" },
          }),
        ],
      });
    }

    this.hyperflow = new HyperflowK8s(this, "Hyperflow", {
      namespace: k.namespace,
      nodePools: { labelKey: k.nodeLabelKey, master: k.masterPool, worker: k.workerPool },
      storageClass: k.storageClass,
      workVolumeGiB: k.workVolumeGiB,
      engineImage: k.engineImage,
      workerImage: k.workerImage,
      redisImage: k.redisImage,
      dataImage: k.dataImage,
      jobCpuRequest: k.jobCpuRequest,
      jobMemRequest: k.jobMemRequest,
      retries: k.retries,
      backoffLimit: k.backoffLimit,
      disruptionBudgets: k.disruptionBudgets,
      nfsBackingStorageClass: nfsBacking,
      postJobs: k.postJobs,
    });
    new TerraformOutput(this, "namespace", { value: k.namespace, description: "Namespace of HyperFlow" });
    new TerraformOutput(this, "engine_logs_command", {
      value: `kubectl -n ${k.namespace} logs -f job/hyperflow-engine`,
      description: "Follow the engine",
    });
  }

  private connection(config: HyperflowConfig): Connection {
    const k = config.kubernetes;
    switch (k.cluster) {
      case "eks": {
        new AwsProvider(this, "aws", { region: config.region });
        const name = eksClusterName(config);
        const cluster = new DataAwsEksCluster(this, "Cluster", { name });
        return {
          host: cluster.endpoint,
          clusterCaCertificate: Fn.base64decode(cluster.certificateAuthority.get(0).data),
          exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: "aws", args: ["eks", "get-token", "--cluster-name", name, "--region", config.region] },
        };
      }
      case "gke": {
        new GoogleProvider(this, "google", { project: k.gke.project });
        const client = new DataGoogleClientConfig(this, "Client");
        const cluster = new DataGoogleContainerCluster(this, "Cluster", { name: gkeClusterName(config), location: k.gke.location, project: k.gke.project });
        return {
          host: `https://${cluster.endpoint}`,
          token: client.accessToken,
          clusterCaCertificate: Fn.base64decode(cluster.masterAuth.get(0).clusterCaCertificate),
        };
      }
      default:
        return { configPath: k.kubeconfigPath, configContext: k.context };
    }
  }
}
