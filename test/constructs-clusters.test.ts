/** EksCluster, EksClusterSupport and GkeCluster built alone in a bare stack; one case per validation. */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import type { TerraformStack } from "cdktf";
import { EKS_CLUSTER_NAME, GCP_LOCATION, GCP_PROJECT_ID, GKE_CLUSTER_NAME, INSTANCE_TYPE, K8S_LABEL, K8S_VERSION, NODE_POOL_MAX } from "../constructs/core/rules";
import { EksCluster, type EksClusterProps } from "../constructs/eks/eks-cluster";
import { EksClusterSupport } from "../constructs/eks/eks-cluster-support";
import { GkeCluster, type GkeClusterProps } from "../constructs/gke/gke-cluster";
import { bareStack, expectPropsError, resourceAddresses, synthStack } from "./support/constructs";
import { only, resources } from "./support/synth";

const EKS: EksClusterProps = {
  clusterName: "lab",
  version: "1.33",
  subnetIds: ["subnet-0abc1234", "subnet-0def5678"],
  publicAccessCidrs: ["203.0.113.0/24"],
};
const GKE: GkeClusterProps = { clusterName: "lab", project: "hyperflow-lab-1", location: "europe-west4-a" };

describe("EksCluster", () => {
  test("alone: control plane, two node groups with their templates, add-ons, roles; ids as the eks stack's", () => {
    const json = synthStack(bareStack((s) => (new AwsProvider(s, "aws", { region: "eu-central-1" }), new EksCluster(s, "Default", { ...EKS, tags: { team: "x" } }))));
    expect(resourceAddresses(json).filter((a) => !a.startsWith("aws_iam_"))).toEqual([
      "aws_cloudwatch_log_group.ControlPlaneLogs",
      "aws_eks_addon.EbsCsi",
      "aws_eks_addon.PodIdentityAgent",
      "aws_eks_cluster.Cluster",
      "aws_eks_node_group.Master",
      "aws_eks_node_group.Workers",
      "aws_eks_pod_identity_association.ClusterAutoscalerIdentity",
      "aws_launch_template.MasterTemplate",
      "aws_launch_template.WorkersTemplate",
    ]);
    const cluster = only(json, "aws_eks_cluster");
    expect(cluster.name).toBe("lab");
    expect(cluster.vpc_config.public_access_cidrs).toEqual(["203.0.113.0/24"]);
    const groups = Object.fromEntries(resources(json, "aws_eks_node_group").map((g) => [g.labels["hyperflow-wms/nodepool"], g]));
    expect(groups.hfmaster.instance_types).toEqual(["m5.large"]);
    expect(groups.hfworker.scaling_config).toEqual({ min_size: 0, max_size: 5, desired_size: 0 });
    for (const t of resources(json, "aws_launch_template")) expect(t.tag_specifications[0].tags.team).toBe("x");
  });

  // The allowed-text of a check with a rule is the rule's (constructs/core/rules.ts), as in config errors.
  test.each<[string, Partial<EksClusterProps>, string, unknown, string]>([
    ["cluster name", { clusterName: "-lab" }, "clusterName", "-lab", EKS_CLUSTER_NAME.allowed],
    ["version", { version: "latest" }, "version", "latest", K8S_VERSION.allowed],
    ["API open to nobody named (EKS would open it to all)", { publicAccessCidrs: [] }, "publicAccessCidrs", [], "at least one CIDR (without one EKS opens the API endpoint to every address)"],
    ["node label key", { nodeLabelKey: "a b" }, "nodeLabelKey", "a b", K8S_LABEL.allowed],
    ["master label", { masterPool: { label: "m!" } }, "masterPool.label", "m!", K8S_LABEL.allowed],
    ["master instance type", { masterPool: { instanceType: "large" } }, "masterPool.instanceType", "large", INSTANCE_TYPE.allowed],
    ["worker label", { workerPool: { label: "w w" } }, "workerPool.label", "w w", K8S_LABEL.allowed],
    ["worker instance type", { workerPool: { instanceType: "M5.XLARGE" } }, "workerPool.instanceType", "M5.XLARGE", INSTANCE_TYPE.allowed],
    ["worker maximum", { workerPool: { maxSize: 0 } }, "workerPool.maxSize", 0, NODE_POOL_MAX.allowed],
  ])("bad %s", (_what, props, prop, value, allowed) => {
    expectPropsError(() => new EksCluster(bareStack(), "C", { ...EKS, ...props }), "EksCluster", prop, value, allowed);
  });
});

describe("EksClusterSupport", () => {
  const build = (clusterName: string, nodeSelector: Record<string, string>) => (s: TerraformStack) => {
    new KubernetesProvider(s, "kubernetes", {});
    new HelmProvider(s, "helm", { kubernetes: {} });
    new EksClusterSupport(s, "Default", { clusterName, region: "eu-central-1", nodeSelector });
  };

  test("alone: gp3 class and the cluster autoscaler discovering the named cluster on the master pool", () => {
    const json = synthStack(bareStack(build("lab", { pool: "hfmaster" })));
    expect(resourceAddresses(json)).toEqual(["helm_release.ClusterAutoscaler", "kubernetes_storage_class_v1.Gp3"]);
    const values = JSON.parse(only(json, "helm_release").values[0]);
    expect(values).toEqual(expect.objectContaining({ autoDiscovery: { clusterName: "lab" }, awsRegion: "eu-central-1", nodeSelector: { pool: "hfmaster" } }));
  });

  test("bad cluster name", () => {
    expectPropsError(() => bareStack(build("lab cluster", { pool: "m" })), "EksClusterSupport", "clusterName", "lab cluster", EKS_CLUSTER_NAME.allowed);
  });

  test("bad node selector", () => {
    expectPropsError(() => bareStack(build("lab", { "bad key": "m" })), "EksClusterSupport", "nodeSelector key", "bad key", K8S_LABEL.allowed);
  });
});

describe("GkeCluster", () => {
  const synth = (props: Partial<GkeClusterProps>) =>
    synthStack(bareStack((s) => (new GoogleProvider(s, "google", { project: GKE.project }), new GkeCluster(s, "Default", { ...GKE, ...props }))));

  test("alone, standard: node service account with its roles, the cluster and two pools; ids as the gke stack's", () => {
    const json = synth({ authorizedCidrs: ["203.0.113.0/24"], workerPool: { maxNodes: 9 } });
    expect(resourceAddresses(json)).toEqual([
      "google_container_cluster.Cluster",
      "google_container_node_pool.MasterPool",
      "google_container_node_pool.WorkerPool",
      "google_project_iam_member.NodeSa-artifactregistryreader",
      "google_project_iam_member.NodeSa-logginglogWriter",
      "google_project_iam_member.NodeSa-monitoringmetricWriter",
      "google_project_iam_member.NodeSa-monitoringviewer",
      "google_service_account.NodeSa",
    ]);
    expect(only(json, "google_container_cluster").master_authorized_networks_config).toEqual({ cidr_blocks: [{ cidr_block: "203.0.113.0/24", display_name: "adminCidrs" }] });
    const worker = resources(json, "google_container_node_pool").find((p) => p.node_config.labels["hyperflow-wms/nodepool"] === "hfworker");
    expect(worker.autoscaling).toEqual({ min_node_count: 0, max_node_count: 9 });
  });

  test("alone, Autopilot: the cluster only, API open as GKE's default when no CIDR is named", () => {
    const json = synth({ autopilot: true });
    expect(resourceAddresses(json)).toEqual(["google_container_cluster.Cluster"]);
    expect(only(json, "google_container_cluster").master_authorized_networks_config).toBeUndefined();
  });

  test.each<[string, Partial<GkeClusterProps>, string, unknown, string]>([
    ["cluster name (GKE: lowercase, at most 40)", { clusterName: "Lab_1" }, "clusterName", "Lab_1", GKE_CLUSTER_NAME.allowed],
    ["project", { project: "" }, "project", "", GCP_PROJECT_ID.allowed],
    ["location", { location: "Europe" }, "location", "Europe", GCP_LOCATION.allowed],
    ["node label key", { nodeLabelKey: "k k" }, "nodeLabelKey", "k k", K8S_LABEL.allowed],
    ["master label", { masterPool: { label: "m?" } }, "masterPool.label", "m?", K8S_LABEL.allowed],
    ["worker label", { workerPool: { label: "w?" } }, "workerPool.label", "w?", K8S_LABEL.allowed],
    ["worker maximum", { workerPool: { maxNodes: 1001 } }, "workerPool.maxNodes", 1001, NODE_POOL_MAX.allowed],
  ])("bad %s", (_what, props, prop, value, allowed) => {
    expectPropsError(() => new GkeCluster(bareStack(), "C", { ...GKE, ...props }), "GkeCluster", prop, value, allowed);
  });
});
