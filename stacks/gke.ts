/**
 * The `gke` stack: a standard GKE cluster with the default pool removed and two labelled node pools
 * (master: 1 node; workers: autoscaling from 0), Workload Identity, a dedicated least-privilege node
 * service account, the API open only to adminCidrs; or an Autopilot cluster.
 */
import { ContainerCluster } from "@cdktf/provider-google/lib/container-cluster";
import { ContainerNodePool } from "@cdktf/provider-google/lib/container-node-pool";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { ProjectIamMember } from "@cdktf/provider-google/lib/project-iam-member";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { applyBackend } from "./base";

export function gkeClusterName(config: HyperflowConfig): string {
  return `${config.ecs.clusterName.replace(/_/g, "-").toLowerCase()}-gke`.slice(0, 40);
}

/** GCP labels: lowercase keys and values with - and _ only. */
function gcpLabels(tags: Readonly<Record<string, string>>): Record<string, string> {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9_-]/g, "-").slice(0, 63);
  return Object.fromEntries(Object.entries({ "managed-by": "hyperflow-infra", ...tags }).map(([k, v]) => [clean(k), clean(v)]));
}

export class GkeStack extends TerraformStack {
  readonly cluster: ContainerCluster;
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
    const authorized = config.adminCidrs.length > 0 ? { cidrBlocks: config.adminCidrs.map((c) => ({ cidrBlock: c, displayName: "adminCidrs" })) } : undefined;

    if (g.autopilot) {
      this.cluster = new ContainerCluster(this, "Cluster", {
        name,
        location: g.location,
        enableAutopilot: true,
        deletionProtection: g.deletionProtection,
        releaseChannel: { channel: g.releaseChannel },
        masterAuthorizedNetworksConfig: authorized,
      });
    } else {
      const nodeSa = new ServiceAccount(this, "NodeSa", { accountId: `${name}-nodes`.slice(0, 30), displayName: `GKE nodes of ${name}` });
      // Least privilege for nodes: write logs and metrics, pull images (instead of the default compute SA).
      for (const role of ["roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer", "roles/artifactregistry.reader"]) {
        new ProjectIamMember(this, `NodeSa-${role.split("/")[1]}`, { project, role, member: `serviceAccount:${nodeSa.email}` });
      }
      this.cluster = new ContainerCluster(this, "Cluster", {
        name,
        location: g.location,
        removeDefaultNodePool: true,
        initialNodeCount: 1,
        deletionProtection: g.deletionProtection,
        networkingMode: "VPC_NATIVE",
        ipAllocationPolicy: {},
        releaseChannel: { channel: g.releaseChannel },
        workloadIdentityConfig: { workloadPool: `${project}.svc.id.goog` },
        masterAuthorizedNetworksConfig: authorized,
      });
      const pool = (pid: string, label: string, machineType: string, scaling: { nodeCount?: number; initialNodeCount?: number; autoscaling?: { minNodeCount: number; maxNodeCount: number } }) =>
        new ContainerNodePool(this, pid, {
          namePrefix: `${label}-`,
          cluster: this.cluster.id,
          location: g.location,
          ...scaling,
          management: { autoRepair: true, autoUpgrade: true },
          nodeConfig: {
            machineType,
            serviceAccount: nodeSa.email,
            oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
            labels: { [k.nodeLabelKey]: label },
            workloadMetadataConfig: { mode: "GKE_METADATA" },
            shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
          },
          lifecycle: { createBeforeDestroy: true },
        });
      pool("MasterPool", k.masterPool, g.masterMachineType, { nodeCount: 1 });
      pool("WorkerPool", k.workerPool, g.workerMachineType, { initialNodeCount: 0, autoscaling: { minNodeCount: 0, maxNodeCount: g.workerMax } });
    }
    new TerraformOutput(this, "gke_cluster_name", { value: this.cluster.name, description: "GKE cluster" });
    new TerraformOutput(this, "kubeconfig_command", {
      value: `gcloud container clusters get-credentials ${name} --location ${g.location} --project ${project}`,
      description: "Add the cluster to your kubeconfig",
    });
  }
}
