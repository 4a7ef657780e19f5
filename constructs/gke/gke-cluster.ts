/**
 * A GKE cluster for HyperFlow: standard, with the default pool removed and two labelled node pools
 * (master: 1 node for the engine, Redis and the NFS server; workers: autoscaling from 0 for the task
 * jobs, tainted so only task pods keep them), Workload Identity, a dedicated least-privilege node service
 * account, Dataplane V2 (which enforces NetworkPolicies) and the Filestore CSI driver; or Autopilot
 * (regional only), where the workloads' node selectors with matching tolerations (workload separation)
 * make GKE create matching nodes. Either way the API is open only to the authorized CIDRs, and the
 * project's APIs the cluster needs are enabled first.
 */
import { ContainerCluster } from "@cdktf/provider-google/lib/container-cluster";
import { ContainerNodePool } from "@cdktf/provider-google/lib/container-node-pool";
import { ProjectIamMember } from "@cdktf/provider-google/lib/project-iam-member";
import { ProjectService } from "@cdktf/provider-google/lib/project-service";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account";
import { Token } from "cdktf";
import { Construct } from "constructs";
import { GKE_CLUSTER_DEFAULTS, K8S_DEFAULTS } from "../core/defaults";
import { gcpName, truncateName } from "../core/names";
import { CIDR, GCP_LOCATION, GCP_PROJECT_ID, GCP_REGION, GKE_CLUSTER_NAME, K8S_LABEL, NODE_POOL_MAX } from "../core/rules";
import { PropsError, requireRule } from "../core/validation";

/** Roles of the node service account: write logs and metrics, pull images (instead of the default compute account's Editor). */
const GKE_NODE_ROLES = ["roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer", "roles/artifactregistry.reader"] as const;
/**
 * APIs of the project the cluster needs: GKE itself, Compute Engine (nodes, networks), IAM (the node
 * service account) and Filestore (RWX volumes through the Filestore CSI driver, e.g. standard-rwx).
 */
export const GKE_PROJECT_SERVICES = ["compute.googleapis.com", "container.googleapis.com", "file.googleapis.com", "iam.googleapis.com"] as const;
/** Longest name_prefix of a node pool: GKE pool names have at most 40 characters and Terraform adds 26. */
const POOL_PREFIX_MAX = 40 - 26 - 1;

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
  /** IPv4 CIDRs that may reach the Kubernetes API (master authorized networks); at least one (GKE's default is every address). */
  readonly authorizedCidrs: readonly string[];
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
  /** The project APIs the cluster needs (GKE_PROJECT_SERVICES), enabled before it. */
  readonly projectServices: readonly ProjectService[];

  constructor(scope: Construct, id: string, props: GkeClusterProps) {
    super(scope, id);
    validate(props);
    const name = props.clusterName;
    this.clusterName = name;
    const { project, location } = props;
    const releaseChannel = { channel: props.releaseChannel ?? GKE_CLUSTER_DEFAULTS.releaseChannel };
    const deletionProtection = props.deletionProtection ?? GKE_CLUSTER_DEFAULTS.deletionProtection;
    // Only the authorized CIDRs, and not Google Cloud's public addresses either.
    const masterAuthorizedNetworksConfig = {
      cidrBlocks: props.authorizedCidrs.map((c) => ({ cidrBlock: c, displayName: "adminCidrs" })),
      gcpPublicCidrsAccessEnabled: false,
    };
    // Left enabled on destroy: other workloads of the project may use them.
    this.projectServices = GKE_PROJECT_SERVICES.map(
      (service) => new ProjectService(this, `Api-${service.split(".")[0]}`, { project, service, disableOnDestroy: false, disableDependentServices: false }),
    );
    const afterApis = [...this.projectServices];

    if (props.autopilot ?? GKE_CLUSTER_DEFAULTS.autopilot) {
      // Autopilot enforces NetworkPolicies (Dataplane V2) and has the Filestore CSI driver on.
      this.cluster = new ContainerCluster(this, "Cluster", {
        name,
        location,
        enableAutopilot: true,
        deletionProtection,
        releaseChannel,
        masterAuthorizedNetworksConfig,
        dependsOn: afterApis,
      });
      return;
    }

    // GCP service account ids: 6 to 30 characters, not ending with `-`.
    const nodeSa = new ServiceAccount(this, "NodeSa", {
      accountId: truncateName(`${name}-nodes`, 30),
      displayName: `GKE nodes of ${name}`,
      dependsOn: afterApis,
    });
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
      // Dataplane V2: NetworkPolicies are enforced (the one that admits only HyperFlow's pods to Redis).
      datapathProvider: "ADVANCED_DATAPATH",
      addonsConfig: { gcpFilestoreCsiDriverConfig: { enabled: true } },
      dependsOn: afterApis,
    });
    const labelKey = props.nodeLabelKey ?? K8S_DEFAULTS.nodePools.labelKey;
    const nodePool = (
      id: string,
      label: string,
      machineType: string,
      scaling: { nodeCount?: number; initialNodeCount?: number; autoscaling?: { minNodeCount: number; maxNodeCount: number } },
      tainted = false,
    ) =>
      new ContainerNodePool(this, id, {
        namePrefix: `${gcpName(label, POOL_PREFIX_MAX, "pool")}-`,
        cluster: this.cluster.id,
        location,
        ...scaling,
        management: { autoRepair: true, autoUpgrade: true },
        nodeConfig: {
          machineType,
          serviceAccount: nodeSa.email,
          oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
          labels: { [labelKey]: label },
          taint: tainted ? [{ key: labelKey, value: label, effect: "NO_SCHEDULE" }] : undefined,
          workloadMetadataConfig: { mode: "GKE_METADATA" },
          shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
        },
        lifecycle: { createBeforeDestroy: true },
      });
    const master = props.masterPool ?? {};
    const worker = props.workerPool ?? {};
    this.masterNodePool = nodePool("MasterPool", master.label ?? K8S_DEFAULTS.nodePools.master, master.machineType ?? GKE_CLUSTER_DEFAULTS.machineType, {
      nodeCount: 1,
    });
    // Tainted: GKE's system pods stay off the worker nodes, so the pool can go back to 0.
    this.workerNodePool = nodePool(
      "WorkerPool",
      worker.label ?? K8S_DEFAULTS.nodePools.worker,
      worker.machineType ?? GKE_CLUSTER_DEFAULTS.machineType,
      { initialNodeCount: 0, autoscaling: { minNodeCount: 0, maxNodeCount: worker.maxNodes ?? GKE_CLUSTER_DEFAULTS.workerMaxNodes } },
      true,
    );
  }
}

function validate(props: GkeClusterProps): void {
  const c = "GkeCluster";
  const tokens = { allowTokens: true };
  requireRule(c, "clusterName", props.clusterName, GKE_CLUSTER_NAME, tokens);
  requireRule(c, "project", props.project, GCP_PROJECT_ID, tokens);
  requireRule(c, "location", props.location, GCP_LOCATION, tokens);
  if (props.autopilot ?? GKE_CLUSTER_DEFAULTS.autopilot) requireRule(c, "location (Autopilot clusters are regional)", props.location, GCP_REGION, tokens);
  if (props.authorizedCidrs.length === 0)
    throw new PropsError(c, "authorizedCidrs", props.authorizedCidrs, "at least one IPv4 CIDR (without one GKE opens the API endpoint to every address)");
  props.authorizedCidrs.forEach((cidr, i) => {
    requireRule(c, `authorizedCidrs[${i}]`, cidr, CIDR, tokens);
    if (!cidr.includes(".") && !Token.isUnresolved(cidr))
      throw new PropsError(c, `authorizedCidrs[${i}]`, cidr, "an IPv4 CIDR (GKE master authorized networks take IPv4 only)");
  });
  if (props.nodeLabelKey !== undefined) requireRule(c, "nodeLabelKey", props.nodeLabelKey, K8S_LABEL, tokens);
  if (props.masterPool?.label !== undefined) requireRule(c, "masterPool.label", props.masterPool.label, K8S_LABEL, tokens);
  if (props.workerPool?.label !== undefined) requireRule(c, "workerPool.label", props.workerPool.label, K8S_LABEL, tokens);
  if (props.workerPool?.maxNodes !== undefined) requireRule(c, "workerPool.maxNodes", props.workerPool.maxNodes, NODE_POOL_MAX);
}
