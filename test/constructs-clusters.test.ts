/** EksCluster, EksClusterSupport and GkeCluster built alone in a bare stack; one case per validation. */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import type { TerraformStack } from "cdktf";
import {
  EKS_CLUSTER_NAME,
  EKS_MINOR_VERSIONS,
  EKS_VERSION,
  GCP_LOCATION,
  GCP_PROJECT_ID,
  GCP_REGION,
  GKE_CLUSTER_NAME,
  IAM_PRINCIPAL_ARN,
  INSTANCE_TYPE,
  K8S_LABEL,
  NODE_POOL_MAX,
} from "../constructs/core/rules";
import { CLUSTER_AUTOSCALER_RELEASES, clusterAutoscalerRelease } from "../constructs/eks/cluster-autoscaler";
import { EksCluster, type EksClusterProps } from "../constructs/eks/eks-cluster";
import { EksClusterSupport } from "../constructs/eks/eks-cluster-support";
import { GkeCluster, type GkeClusterProps } from "../constructs/gke/gke-cluster";
import { bareStack, expectPropsError, resourceAddresses, synthStack } from "./support/constructs";
import { only, resources } from "./support/stack-json";

const EKS: EksClusterProps = {
  clusterName: "lab",
  version: "1.33",
  subnetIds: ["subnet-0abc1234", "subnet-0def5678"],
  publicAccessCidrs: ["203.0.113.0/24"],
};
const GKE: GkeClusterProps = { clusterName: "lab", project: "hyperflow-lab-1", location: "europe-west4-a", authorizedCidrs: ["203.0.113.0/24"] };

describe("EksCluster", () => {
  test("alone: control plane, two node groups with their templates, add-ons, roles; ids as the eks stack's", () => {
    const json = synthStack(
      bareStack((s) => (new AwsProvider(s, "aws", { region: "eu-central-1" }), new EksCluster(s, "Default", { ...EKS, tags: { team: "x" } }))),
    );
    expect(resourceAddresses(json).filter((a) => !a.startsWith("aws_iam_"))).toEqual([
      "aws_cloudwatch_log_group.ControlPlaneLogs",
      "aws_eks_addon.EbsCsi",
      "aws_eks_addon.PodIdentityAgent",
      "aws_eks_addon.VpcCni",
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
    // The master in the first subnet's zone (its NFS disk is zonal), the workers in all, tainted.
    expect(groups.hfmaster.subnet_ids).toEqual(["subnet-0abc1234"]);
    expect(groups.hfworker.subnet_ids).toEqual(EKS.subnetIds);
    expect(groups.hfworker.taint).toEqual([{ key: "hyperflow-wms/nodepool", value: "hfworker", effect: "NO_SCHEDULE" }]);
  });

  test("admin principals: entry and cluster-scope admin policy each, addresses from the ARN (stable when the list is reordered)", () => {
    const arns = ["arn:aws:iam::123456789012:role/a/lab-admin", "arn:aws:iam::123456789012:user/ops"];
    const addresses = (list: string[]) =>
      resourceAddresses(
        synthStack(
          bareStack((s) => (new AwsProvider(s, "aws", { region: "eu-central-1" }), new EksCluster(s, "Default", { ...EKS, adminPrincipalArns: list }))),
        ),
      ).filter((a) => a.startsWith("aws_eks_access"));
    expect(addresses(arns)).toEqual([
      "aws_eks_access_entry.Admin-123456789012-role-a-lab-admin",
      "aws_eks_access_entry.Admin-123456789012-user-ops",
      "aws_eks_access_policy_association.Admin-123456789012-role-a-lab-admin-ClusterAdmin",
      "aws_eks_access_policy_association.Admin-123456789012-user-ops-ClusterAdmin",
    ]);
    expect(addresses([...arns].reverse())).toEqual(addresses(arns));
    expectPropsError(() => new EksCluster(bareStack(), "C", { ...EKS, adminPrincipalArns: [arns[0], arns[0]] }), "EksCluster", "adminPrincipalArns", [
      arns[0],
      arns[0],
    ]);
  });

  // The allowed-text of a check with a rule is the rule's (constructs/core/rules.ts), as in config errors.
  test.each<[string, Partial<EksClusterProps>, string, unknown, string]>([
    ["cluster name", { clusterName: "-lab" }, "clusterName", "-lab", EKS_CLUSTER_NAME.allowed],
    ["version", { version: "latest" }, "version", "latest", EKS_VERSION.allowed],
    [
      "admin principal (an assumed-role session)",
      { adminPrincipalArns: ["arn:aws:sts::123456789012:assumed-role/a/b"] },
      "adminPrincipalArns[0]",
      "arn:aws:sts::123456789012:assumed-role/a/b",
      IAM_PRINCIPAL_ARN.allowed,
    ],
    [
      "no creator admin and nobody else",
      { creatorAdmin: false },
      "adminPrincipalArns",
      [],
      "at least one IAM role or user ARN when creatorAdmin is false (else nobody can reach the Kubernetes API)",
    ],
    ["master subnet not among the subnets", { masterSubnetId: "subnet-0fff0000" }, "masterSubnetId", "subnet-0fff0000", "one of subnetIds"],
    [
      "API open to nobody named (EKS would open it to all)",
      { publicAccessCidrs: [] },
      "publicAccessCidrs",
      [],
      "at least one CIDR (without one EKS opens the API endpoint to every address)",
    ],
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
    new EksClusterSupport(s, "Default", { clusterName, region: "eu-central-1", kubernetesVersion: "1.31", nodeSelector });
  };

  test("alone: gp3 class and the cluster autoscaler discovering the named cluster on the master pool", () => {
    const json = synthStack(bareStack(build("lab", { pool: "hfmaster" })));
    expect(resourceAddresses(json)).toEqual(["helm_release.ClusterAutoscaler", "kubernetes_storage_class_v1.Gp3"]);
    const values = JSON.parse(only(json, "helm_release").values[0]);
    expect(values).toEqual(expect.objectContaining({ autoDiscovery: { clusterName: "lab" }, awsRegion: "eu-central-1", nodeSelector: { pool: "hfmaster" } }));
    // The autoscaler release of the cluster's minor version (kubernetes/autoscaler: the minors must match).
    expect(only(json, "helm_release").version).toBe("9.44.0");
    expect(values.image.tag).toBe("v1.31.0");
  });

  test("every EKS version the config accepts has an autoscaler release of the same minor", () => {
    expect(Object.keys(CLUSTER_AUTOSCALER_RELEASES)).toEqual([...EKS_MINOR_VERSIONS]);
    for (const [minor, r] of Object.entries(CLUSTER_AUTOSCALER_RELEASES)) expect(r.imageTag).toMatch(new RegExp(`^v${minor.replace(".", "\\.")}\\.\\d+$`));
    expect(clusterAutoscalerRelease("1.28")).toBeUndefined();
    expect(clusterAutoscalerRelease("constructor")).toBeUndefined();
  });

  test("bad Kubernetes version", () => {
    const build = (s: TerraformStack) =>
      new EksClusterSupport(s, "Default", { clusterName: "lab", region: "eu-central-1", kubernetesVersion: "1.28", nodeSelector: {} });
    expectPropsError(() => bareStack(build), "EksClusterSupport", "kubernetesVersion", "1.28", EKS_VERSION.allowed);
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
      "google_project_service.Api-compute",
      "google_project_service.Api-container",
      "google_project_service.Api-file",
      "google_project_service.Api-iam",
      "google_service_account.NodeSa",
    ]);
    expect(only(json, "google_container_cluster").master_authorized_networks_config).toEqual({
      cidr_blocks: [{ cidr_block: "203.0.113.0/24", display_name: "adminCidrs" }],
      gcp_public_cidrs_access_enabled: false,
    });
    const worker = resources(json, "google_container_node_pool").find((p) => p.node_config.labels["hyperflow-wms/nodepool"] === "hfworker");
    expect(worker.autoscaling).toEqual({ min_node_count: 0, max_node_count: 9 });
  });

  test("alone, Autopilot: the cluster and the project APIs only, in a region, API open to the authorized CIDRs only", () => {
    const json = synth({ autopilot: true, location: "europe-west4" });
    expect(resourceAddresses(json)).toEqual([
      "google_container_cluster.Cluster",
      "google_project_service.Api-compute",
      "google_project_service.Api-container",
      "google_project_service.Api-file",
      "google_project_service.Api-iam",
    ]);
    expect(only(json, "google_container_cluster").master_authorized_networks_config).toEqual({
      cidr_blocks: [{ cidr_block: "203.0.113.0/24", display_name: "adminCidrs" }],
      gcp_public_cidrs_access_enabled: false,
    });
  });

  test("derived GCP ids never end with a cut separator: the node service account of a 29-character name, node pool name prefixes", () => {
    const name = "a".repeat(28) + "b"; // `${name}-nodes` cut at 30 would end with "-"
    const json = synth({ clusterName: name, masterPool: { label: "Master.Pool_A" } });
    const id = only(json, "google_service_account").account_id;
    expect(id).toBe(name);
    expect(id).toMatch(/^[a-z]([-a-z0-9]{4,28}[a-z0-9])$/);
    const prefixes = resources(json, "google_container_node_pool")
      .map((p) => p.name_prefix)
      .sort();
    expect(prefixes).toEqual(["hfworker-", "master-pool-a-"]);
    for (const p of prefixes) expect(p.length + 26).toBeLessThanOrEqual(40);
  });

  test.each<[string, Partial<GkeClusterProps>, string, unknown, string]>([
    ["cluster name (GKE: lowercase, at most 40)", { clusterName: "Lab_1" }, "clusterName", "Lab_1", GKE_CLUSTER_NAME.allowed],
    ["project", { project: "" }, "project", "", GCP_PROJECT_ID.allowed],
    ["location", { location: "Europe" }, "location", "Europe", GCP_LOCATION.allowed],
    [
      "Autopilot in a zone (Autopilot clusters are regional)",
      { autopilot: true, location: "europe-west4-a" },
      "location (Autopilot clusters are regional)",
      "europe-west4-a",
      GCP_REGION.allowed,
    ],
    [
      "API open to every address",
      { authorizedCidrs: [] },
      "authorizedCidrs",
      [],
      "at least one IPv4 CIDR (without one GKE opens the API endpoint to every address)",
    ],
    [
      "IPv6 authorized network",
      { authorizedCidrs: ["2001:db8::/32"] },
      "authorizedCidrs[0]",
      "2001:db8::/32",
      "an IPv4 CIDR (GKE master authorized networks take IPv4 only)",
    ],
    ["node label key", { nodeLabelKey: "k k" }, "nodeLabelKey", "k k", K8S_LABEL.allowed],
    ["master label", { masterPool: { label: "m?" } }, "masterPool.label", "m?", K8S_LABEL.allowed],
    ["worker label", { workerPool: { label: "w?" } }, "workerPool.label", "w?", K8S_LABEL.allowed],
    ["worker maximum", { workerPool: { maxNodes: 1001 } }, "workerPool.maxNodes", 1001, NODE_POOL_MAX.allowed],
  ])("bad %s", (_what, props, prop, value, allowed) => {
    expectPropsError(() => new GkeCluster(bareStack(), "C", { ...GKE, ...props }), "GkeCluster", prop, value, allowed);
  });
});
