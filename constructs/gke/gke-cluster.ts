/**
 * A GKE cluster for HyperFlow: standard, with the default pool removed and two labelled node pools
 * (master: 1 node for the engine, Redis and the NFS server; workers: autoscaling from 0 for the task
 * jobs), Workload Identity and a dedicated least-privilege node service account; or Autopilot, where the
 * workloads' node selectors make GKE create matching nodes.
 */
import { ContainerCluster } from "@cdktf/provider-google/lib/container-cluster";
import { ContainerNodePool } from "@cdktf/provider-google/lib/container-node-pool";
import { ProjectIamMember } from "@cdktf/provider-google/lib/project-iam-member";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { Construct } from "constructs";
import { GKE_CLUSTER_DEFAULTS, K8S_DEFAULTS } from "../core/defaults";
import { GCP_LOCATION, GCP_PROJECT_ID, GKE_CLUSTER_NAME, K8S_LABEL, NODE_POOL_MAX } from "../core/rules";
import { requireRule } from "../core/validation";

/** Roles of the node service account: write logs and metrics, pull images (instead of the default compute account's Editor). */
const GKE_NODE_ROLES = ["roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer", "roles/artifactregistry.reader"] as const;

/** A node pool of a standard cluster. */
export interface GkeNodePoolOptions {
  /** Value of the node label (nodeLabelKey) on the pool's nodes, which pods select. @default "hfmaster" for the master pool, "hfworker" for the worker pool */
  readonly label?: string;
  /** @default "e2-standard-4" */
  readonly machineType?: string;
}

/** The worker pool, autoscaling from 0. */
export interface GkeWorkerPoolOptions extends GkeNodePoolOptions {
  /** Most nodes. @default 5 */
  readonly maxNodes?: number;
}

export type GkeReleaseChannel = "RAPID" | "REGULAR" | "STABLE";

export interface GkeClusterProps {
  readonly clusterName: string;
  /** GCP project id. */
  readonly project: string;
  /** Zone (zonal cluster) or region. */
  readonly location: string;
  /** @default "REGULAR" */
  readonly releaseChannel?: GkeReleaseChannel;
  /** Autopilot cluster: no node pools to manage. @default false */
  readonly autopilot?: boolean;
  /** GKE deletion protection; set false before destroying the cluster. @default true */
  readonly deletionProtection?: boolean;
  /** CIDRs that may reach the Kubernetes API (master authorized networks). @default - no restriction (GKE's default) */
  readonly authorizedCidrs?: readonly string[];
  /** Node label key of both pools (standard clusters). @default "hyperflow-wms/nodepool" */
  readonly nodeLabelKey?: string;
  /** The master pool: one node. @default - label "hfmaster", e2-standard-4 */
  readonly masterPool?: GkeNodePoolOptions;
  /** The worker pool: 0 to maxNodes nodes. @default - label "hfworker", e2-standard-4, at most 5 nodes */
  readonly workerPool?: GkeWorkerPoolOptions;
}

export class GkeCluster extends Construct {
  readonly cluster: ContainerCluster;
  readonly clusterName: string;
  /** The nodes' own service account (standard clusters). */
  readonly nodeServiceAccount?: ServiceAccount;
  readonly masterNodePool?: ContainerNodePool;
  readonly workerNodePool?: ContainerNodePool;

  constructor(scope: Construct, id: string, props: GkeClusterProps) {
    super(scope, id);
    validate(props);
    const name = props.clusterName;
    this.clusterName = name;
    const { project, location } = props;
    const releaseChannel = { channel: props.releaseChannel ?? GKE_CLUSTER_DEFAULTS.releaseChannel };
    const deletionProtection = props.deletionProtection ?? GKE_CLUSTER_DEFAULTS.deletionProtection;
    const cidrs = props.authorizedCidrs ?? [];
    const masterAuthorizedNetworksConfig = cidrs.length > 0 ? { cidrBlocks: cidrs.map((c) => ({ cidrBlock: c, displayName: "adminCidrs" })) } : undefined;

    if (props.autopilot ?? GKE_CLUSTER_DEFAULTS.autopilot) {
      this.cluster = new ContainerCluster(this, "Cluster", { name, location, enableAutopilot: true, deletionProtection, releaseChannel, masterAuthorizedNetworksConfig });
      return;
    }

    const nodeSa = new ServiceAccount(this, "NodeSa", { accountId: `${name}-nodes`.slice(0, 30), displayName: `GKE nodes of ${name}` });
    this.nodeServiceAccount = nodeSa;
    for (const role of GKE_NODE_ROLES) {
      new ProjectIamMember(this, `NodeSa-${role.split("/")[1]}`, { project, role, member: `serviceAccount:${nodeSa.email}` });
    }
    this.cluster = new ContainerCluster(this, "Cluster", {
      name,
      location,
      removeDefaultNodePool: true,
      initialNodeCount: 1,
      deletionProtection,
      networkingMode: "VPC_NATIVE",
      ipAllocationPolicy: {},
      releaseChannel,
      workloadIdentityConfig: { workloadPool: `${project}.svc.id.goog` },
      masterAuthorizedNetworksConfig,
    });
    const labelKey = props.nodeLabelKey ?? K8S_DEFAULTS.nodePools.labelKey;
    const nodePool = (id: string, label: string, machineType: string, scaling: { nodeCount?: number; initialNodeCount?: number; autoscaling?: { minNodeCount: number; maxNodeCount: number } }) =>
      new ContainerNodePool(this, id, {
        namePrefix: `${label}-`,
        cluster: this.cluster.id,
        location,
        ...scaling,
        management: { autoRepair: true, autoUpgrade: true },
        nodeConfig: {
          machineType,
          serviceAccount: nodeSa.email,
          oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
          labels: { [labelKey]: label },
          workloadMetadataConfig: { mode: "GKE_METADATA" },
          shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
        },
        lifecycle: { createBeforeDestroy: true },
      });
    const master = props.masterPool ?? {};
    const worker = props.workerPool ?? {};
    this.masterNodePool = nodePool("MasterPool", master.label ?? K8S_DEFAULTS.nodePools.master, master.machineType ?? GKE_CLUSTER_DEFAULTS.machineType, { nodeCount: 1 });
    this.workerNodePool = nodePool("WorkerPool", worker.label ?? K8S_DEFAULTS.nodePools.worker, worker.machineType ?? GKE_CLUSTER_DEFAULTS.machineType, {
      initialNodeCount: 0,
      autoscaling: { minNodeCount: 0, maxNodeCount: worker.maxNodes ?? GKE_CLUSTER_DEFAULTS.workerMaxNodes },
    });
  }
}

function validate(props: GkeClusterProps): void {
  const c = "GkeCluster";
  const tokens = { allowTokens: true };
  requireRule(c, "clusterName", props.clusterName, GKE_CLUSTER_NAME, tokens);
  requireRule(c, "project", props.project, GCP_PROJECT_ID, tokens);
  requireRule(c, "location", props.location, GCP_LOCATION, tokens);
  if (props.nodeLabelKey !== undefined) requireRule(c, "nodeLabelKey", props.nodeLabelKey, K8S_LABEL, tokens);
  if (props.masterPool?.label !== undefined) requireRule(c, "masterPool.label", props.masterPool.label, K8S_LABEL, tokens);
  if (props.workerPool?.label !== undefined) requireRule(c, "workerPool.label", props.workerPool.label, K8S_LABEL, tokens);
  if (props.workerPool?.maxNodes !== undefined) requireRule(c, "workerPool.maxNodes", props.workerPool.maxNodes, NODE_POOL_MAX);
}
