/**
 * What HyperFlow needs on an EKS cluster before it goes on (installed by the `k8s` stack, with the
 * kubernetes and helm providers): EKS has no default storage class from 1.30 on, so the NFS server's
 * disk gets an encrypted gp3 class; and the worker pool starts at 0 nodes, so the cluster autoscaler
 * (its Pod Identity role is in EksCluster) scales it for pending task jobs. The autoscaler's release
 * follows the cluster's minor version (cluster-autoscaler.ts).
 */
import { StorageClassV1 } from "@cdktf/provider-kubernetes/lib/storage-class-v1";
import { Release } from "@cdktf/provider-helm/lib/release";
import { Construct } from "constructs";
import { EKS_CLUSTER_NAME, EKS_VERSION } from "../core/rules";
import { PropsError, requireRule } from "../core/validation";
import { requireLabels } from "../k8s/pod-spec";
import { CLUSTER_AUTOSCALER_CHART_NAME, CLUSTER_AUTOSCALER_IMAGE, CLUSTER_AUTOSCALER_REPOSITORY, clusterAutoscalerRelease } from "./cluster-autoscaler";
import { CLUSTER_AUTOSCALER_SA } from "./eks-cluster";

export interface EksClusterSupportProps {
  /** Name of the EKS cluster: the autoscaler finds its node groups by their `k8s.io/cluster-autoscaler/<name>` tag. */
  readonly clusterName: string;
  /** Region of the cluster. */
  readonly region: string;
  /** Kubernetes minor version of the cluster (EksClusterProps.version): picks the autoscaler release. */
  readonly kubernetesVersion: string;
  /** Node labels of the master pool, where the autoscaler runs. */
  readonly nodeSelector: Readonly<Record<string, string>>;
}

export class EksClusterSupport extends Construct {
  /** Encrypted gp3 class for the NFS server's own disk. */
  readonly gp3StorageClass: StorageClassV1;
  readonly clusterAutoscaler: Release;

  constructor(scope: Construct, id: string, props: EksClusterSupportProps) {
    super(scope, id);
    requireRule("EksClusterSupport", "clusterName", props.clusterName, EKS_CLUSTER_NAME, { allowTokens: true });
    requireLabels("EksClusterSupport", "nodeSelector", props.nodeSelector);
    requireRule("EksClusterSupport", "kubernetesVersion", props.kubernetesVersion, EKS_VERSION);
    const release = clusterAutoscalerRelease(props.kubernetesVersion);
    if (!release) throw new PropsError("EksClusterSupport", "kubernetesVersion", props.kubernetesVersion, EKS_VERSION.allowed);

    this.gp3StorageClass = new StorageClassV1(this, "Gp3", {
      metadata: { name: "hyperflow-gp3" },
      storageProvisioner: "ebs.csi.aws.com",
      parameters: { type: "gp3", encrypted: "true" },
      volumeBindingMode: "WaitForFirstConsumer",
      reclaimPolicy: "Delete",
      allowVolumeExpansion: true,
    });
    this.clusterAutoscaler = new Release(this, "ClusterAutoscaler", {
      name: "cluster-autoscaler",
      namespace: "kube-system",
      repository: CLUSTER_AUTOSCALER_REPOSITORY,
      chart: CLUSTER_AUTOSCALER_CHART_NAME,
      version: release.chart,
      values: [
        JSON.stringify({
          image: { repository: CLUSTER_AUTOSCALER_IMAGE, tag: release.imageTag },
          autoDiscovery: { clusterName: props.clusterName },
          awsRegion: props.region,
          cloudProvider: "aws",
          rbac: { serviceAccount: { create: true, name: CLUSTER_AUTOSCALER_SA } },
          nodeSelector: props.nodeSelector,
          extraArgs: { "balance-similar-node-groups": true, "skip-nodes-with-system-pods": false, "scale-down-unneeded-time": "5m" },
        }),
      ],
    });
  }
}
