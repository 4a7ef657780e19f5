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
import { Fn, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { EksClusterSupport } from "../constructs/eks/eks-cluster-support";
import { terraformLiteral } from "../constructs/core/terraform-string";
import { HyperflowK8s } from "../constructs/k8s/hyperflow-k8s";
import { applyBackend } from "./base";
import { eksClusterName } from "./eks";
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

    // EKS has no default storage class and its worker pool starts at 0 nodes: a gp3 class for the NFS
    // server's disk and the cluster autoscaler. Id "Default" leaves the construct out of resource addresses.
    const eksSupport =
      k.cluster === "eks"
        ? new EksClusterSupport(this, "Default", {
            clusterName: eksClusterName(config),
            region: config.region,
            kubernetesVersion: k.eks.version,
            nodeSelector: { [k.nodeLabelKey]: k.masterPool },
          })
        : undefined;

    this.hyperflow = new HyperflowK8s(this, "Hyperflow", {
      namespace: k.namespace,
      autopilot: k.cluster === "gke" && k.gke.autopilot,
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
      engineDeadlineSeconds: k.engineDeadlineSeconds,
      disruptionBudgets: k.disruptionBudgets,
      nfsBackingStorageClass: eksSupport?.gp3StorageClass.metadata.name,
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
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: ["eks", "get-token", "--cluster-name", name, "--region", config.region],
          },
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
        // A path and a context name are free text: Terraform must not read `${` in them.
        return { configPath: terraformLiteral(k.kubeconfigPath), configContext: k.context === undefined ? undefined : terraformLiteral(k.context) };
    }
  }
}
