/**
 * The `gke` stack: the google provider and the GKE cluster (GkeCluster: standard with two labelled node
 * pools, Workload Identity and a least-privilege node service account, or Autopilot), its API open only
 * to adminCidrs when there are any. HyperFlow goes on it with the `k8s` stack.
 */
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { GkeCluster } from "../constructs/gke/gke-cluster";
import { applyBackend } from "./base";

/** Name of the GKE cluster for a config (also what the `k8s` stack looks up): kubernetes.clusterName. */
export function gkeClusterName(config: HyperflowConfig): string {
  return config.kubernetes.clusterName;
}

/** GCP labels: lowercase keys and values with - and _ only. */
function gcpLabels(tags: Readonly<Record<string, string>>): Record<string, string> {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9_-]/g, "-").slice(0, 63);
  return Object.fromEntries(Object.entries({ "managed-by": "hyperflow-infra", ...tags }).map(([k, v]) => [clean(k), clean(v)]));
}

export class GkeStack extends TerraformStack {
  readonly cluster: GkeCluster;
  readonly clusterName: string;
  constructor(scope: Construct, id: string, config: HyperflowConfig) {
    super(scope, id);
    const k = config.kubernetes;
    const g = k.gke;
    const project = g.project ?? "";
    const name = gkeClusterName(config);
    this.clusterName = name;
    new GoogleProvider(this, "google", { project, defaultLabels: gcpLabels(config.tags) });
    applyBackend(this, id, config.backend, config.region);

    // Id "Default" leaves the construct out of resource addresses (cdktf makeUniqueId), so they are the
    // addresses these resources had when the stack made them itself.
    this.cluster = new GkeCluster(this, "Default", {
      clusterName: name,
      project,
      location: g.location,
      releaseChannel: g.releaseChannel,
      autopilot: g.autopilot,
      deletionProtection: g.deletionProtection,
      authorizedCidrs: config.adminCidrs,
      nodeLabelKey: k.nodeLabelKey,
      masterPool: { label: k.masterPool, machineType: g.masterMachineType },
      workerPool: { label: k.workerPool, machineType: g.workerMachineType, maxNodes: g.workerMax },
    });

    new TerraformOutput(this, "gke_cluster_name", { value: this.cluster.cluster.name, description: "GKE cluster" });
    new TerraformOutput(this, "kubeconfig_command", {
      value: `gcloud container clusters get-credentials ${name} --location ${g.location} --project ${project}`,
      description: "Add the cluster to your kubeconfig",
    });
  }
}
