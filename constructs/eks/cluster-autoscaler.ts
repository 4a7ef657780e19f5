/**
 * The cluster autoscaler release for each EKS minor version. The autoscaler's minor version must match
 * the cluster's (kubernetes/autoscaler cluster-autoscaler/README.md, "Releases"): it uses the scheduler
 * code of its own Kubernetes version to simulate where pending pods fit.
 *
 * Each entry is the last chart release whose appVersion has that minor, read from the chart's history in
 * kubernetes/autoscaler (charts/cluster-autoscaler/Chart.yaml, since chart 9.52
 * cluster-autoscaler/charts/cluster-autoscaler/Chart.yaml, tags cluster-autoscaler-chart-<version>), with
 * the image tag that chart's values.yaml sets. Nothing was pulled from the chart repository or the
 * registry here.
 */
import type { EksMinorVersion } from "../core/rules";

export const CLUSTER_AUTOSCALER_REPOSITORY = "https://kubernetes.github.io/autoscaler";
export const CLUSTER_AUTOSCALER_CHART_NAME = "cluster-autoscaler";
/** Image of the autoscaler (the chart's default repository; the tag comes from the table). */
export const CLUSTER_AUTOSCALER_IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler";

export interface ClusterAutoscalerRelease {
  /** Helm chart version. */
  readonly chart: string;
  /** Image tag (the chart's appVersion with a `v`). */
  readonly imageTag: string;
}

export const CLUSTER_AUTOSCALER_RELEASES: Readonly<Record<EksMinorVersion, ClusterAutoscalerRelease>> = {
  "1.29": { chart: "9.36.0", imageTag: "v1.29.0" },
  "1.30": { chart: "9.37.0", imageTag: "v1.30.0" },
  "1.31": { chart: "9.44.0", imageTag: "v1.31.0" },
  "1.32": { chart: "9.46.6", imageTag: "v1.32.0" },
  "1.33": { chart: "9.51.0", imageTag: "v1.33.0" },
  "1.34": { chart: "9.53.0", imageTag: "v1.34.2" },
  "1.35": { chart: "9.59.0", imageTag: "v1.35.0" },
};

/** The release for a Kubernetes minor version, or undefined when the table has none. */
export function clusterAutoscalerRelease(version: string): ClusterAutoscalerRelease | undefined {
  return Object.prototype.hasOwnProperty.call(CLUSTER_AUTOSCALER_RELEASES, version) ? CLUSTER_AUTOSCALER_RELEASES[version as EksMinorVersion] : undefined;
}
