/**
 * The `gke` stack: the google provider, the project APIs and the GKE cluster (GkeCluster: standard with
 * two labelled node pools, the worker pool tainted, Workload Identity, a least-privilege node service
 * account and Dataplane V2, or Autopilot in a region), its API open only to the IPv4 adminCidrs (config
 * validation requires one). HyperFlow goes on it with the `k8s` stack.
 */
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { gcpName, truncateName } from "../constructs/core/names";
import { GkeCluster } from "../constructs/gke/gke-cluster";
import { applyBackend } from "./base";

/** Name of the GKE cluster for a config (also what the `k8s` stack looks up): kubernetes.clusterName. */
export function gkeClusterName(config: HyperflowConfig): string {
  return config.kubernetes.clusterName;
}

/** GCP labels: keys start with a lowercase letter; keys and values have lowercase letters, digits, - and _ only, at most 63. */
export function gcpLabels(tags: Readonly<Record<string, string>>): Record<string, string> {
  const value = (s: string) => truncateName(s.toLowerCase().replace(/[^a-z0-9_-]/g, "-"), 63);
  const key = (s: string) => gcpName(s.replace(/_/g, "-"), 63, "tag");
  return Object.fromEntries(Object.entries({ "managed-by": "hyperflow-infra", ...tags }).map(([k, v]) => [key(k), value(v)]));
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
      // Master authorized networks take IPv4 only (config validation requires one).
      authorizedCidrs: config.adminCidrs.filter((c) => c.includes(".")),
      nodeLabelKey: k.nodeLabelKey,
      masterPool: { label: k.masterPool, machineType: g.masterMachineType },
      workerPool: { label: k.workerPool, machineType: g.workerMachineType, maxNodes: g.workerMax },
    });

    new TerraformOutput(this, "gke_cluster_name", { value: this.cluster.cluster.name, description: "GKE cluster" });
    new TerraformOutput(this, "gke_endpoint", {
      value: this.cluster.cluster.endpoint,
      description: "Kubernetes API endpoint (reachable from the IPv4 adminCidrs)",
    });
    new TerraformOutput(this, "kubeconfig_command", {
      value: `gcloud container clusters get-credentials ${name} --location ${g.location} --project ${project}`,
      description: "Add the cluster to your kubeconfig",
    });
  }
}
