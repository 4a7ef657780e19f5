/**
 * What HyperFlow needs on an EKS cluster before it goes on (installed by the `k8s` stack, with the
 * kubernetes and helm providers): EKS has no default storage class from 1.30 on, so the NFS server's
 * disk gets an encrypted gp3 class; and the worker pool starts at 0 nodes, so the cluster autoscaler
 * (its Pod Identity role is in EksCluster) scales it for pending task jobs.
 */
import { StorageClassV1 } from "@cdktf/provider-kubernetes/lib/storage-class-v1";
import { Release } from "@cdktf/provider-helm/lib/release";
import { Construct } from "constructs";
import { EKS_CLUSTER_NAME } from "../core/rules";
import { requireRule } from "../core/validation";
import { requireLabels } from "../k8s/pod-spec";
import { CLUSTER_AUTOSCALER_CHART, CLUSTER_AUTOSCALER_SA } from "./eks-cluster";

export interface EksClusterSupportProps {
  /** Name of the EKS cluster: the autoscaler finds its node groups by their `k8s.io/cluster-autoscaler/<name>` tag. */
  readonly clusterName: string;
  /** Region of the cluster. */
  readonly region: string;
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
      repository: CLUSTER_AUTOSCALER_CHART.repository,
      chart: CLUSTER_AUTOSCALER_CHART.chart,
      version: CLUSTER_AUTOSCALER_CHART.version,
      values: [
        JSON.stringify({
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
