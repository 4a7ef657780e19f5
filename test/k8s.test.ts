import * as fs from "node:fs";
import { Job } from "kubernetes-models/batch/v1/Job";
import { parse } from "yaml";
import { validateConfig } from "../config/load";
import { K8S_CLUSTER_NAME } from "../constructs/core/rules";
import { terraformUnescape } from "../constructs/core/terraform-string";
import { HyperflowK8s } from "../constructs/k8s/hyperflow-k8s";
import { ENGINE_PLACEHOLDERS, JOB_POD_LABELS, jobTemplate, placeholdersIn, renderLikeEngine } from "../constructs/k8s/job-template";
import { bareStack } from "./support/constructs";
import { only, resources, synthConfig } from "./support/stack-json";

/**
 * Env names the engine reads (hyperflow-wms/hyperflow `common/wfRun.js`, `functions/kubernetes/k8sCommand.js`,
 * `k8sJobSubmit.js`) and that the executor reads (hyperflow-wms/hyperflow-job-executor `handler.js`);
 * HF_VAR_* are also Mustache vars (hyperflow-wms/hyperflow `utils/readvars.js`).
 */
const ENGINE_READS = [
  "REDIS_URL",
  "HF_VAR_WORKER_CONTAINER",
  "HF_VAR_JOB_TEMPLATE_PATH",
  "HF_VAR_NAMESPACE",
  "HF_VAR_CPU_REQUEST",
  "HF_VAR_MEM_REQUEST",
  "HF_VAR_BACKOFF_LIMIT",
  "HF_VAR_STOP_WORKFLOW_WHEN_JOB_FAILED",
  "HF_VAR_WORK_DIR",
  "HF_VAR_function",
];
const EXECUTOR_READS = [
  "HF_VAR_WORK_DIR",
  "HF_VAR_NUMBER_OF_RETRIES",
  "HF_VAR_WAIT_FOR_INPUT_FILES",
  "HF_LOG_NODE_NAME",
  "HF_LOG_POD_NAME",
  "HF_LOG_POD_NAMESPACE",
  "HF_LOG_POD_IP",
];

const options = { nodeLabelKey: "hyperflow-wms/nodepool", workerPool: "hfworker", claimName: "work-dir", retries: 2, ttlSecondsAfterFinished: 300 };
/** What hyperflow-wms/hyperflow `functions/kubernetes/k8sJobSubmit.js` puts in for one agglomerated task. */
const SAMPLE: Record<string, string> = {
  command: 'hflow-job-execute redis://10.0.0.7:6379 -a -- "hf1:1:3:1" "hf1:1:4:1"',
  containerName: "hyperflowwms/montage-worker:6.0-je1.4.0",
  jobName: "k3j9x-mprojectpp-3-1",
  volumePath: "/work_dir",
  workingDirPath: "/work_dir",
  cpuRequest: "0.5",
  memRequest: "50Mi",
  restartPolicy: "Never",
  backoffLimit: "0",
  experimentId: "hf1:1",
  workflowName: "montage",
  taskName: "mProjectPP",
  appId: "1",
};

describe("job template contract", () => {
  const template = jobTemplate(options);

  test("uses exactly the placeholders the engine fills", () => {
    expect(placeholdersIn(template)).toEqual([...ENGINE_PLACEHOLDERS].sort());
    expect(Object.keys(SAMPLE).sort()).toEqual([...ENGINE_PLACEHOLDERS].sort());
  });

  test("rendered like the engine does, it is a valid batch/v1 Job (Kubernetes OpenAPI schema)", () => {
    const doc = parse(renderLikeEngine(template, SAMPLE));
    expect(() => new Job(doc).validate()).not.toThrow();
    expect(doc.metadata.name).toBe("jobk3j9x-mprojectpp-3-1");
    expect(doc.spec.template.spec.containers[0].command[2].trim()).toBe(SAMPLE.command); // quotes in the command survive
    expect(doc.spec.template.spec.nodeSelector).toEqual({ "hyperflow-wms/nodepool": "hfworker" });
    expect(doc.spec.template.metadata.labels).toEqual(JOB_POD_LABELS);
  });

  test("a placeholder the engine does not fill would break the Job: the validation notices", () => {
    const broken = renderLikeEngine(template.replace("${cpuRequest}", "${cpuRequst}"), SAMPLE);
    expect(broken).toContain('cpu: "undefined"');
    expect(() => new Job(parse(broken)).validate()).toThrow(/cpu/);
  });

  test("env names are the ones the executor reads: HF_VAR_NUMBER_OF_RETRIES, not hyperflow-k8s-deployment's dead HF_VAR_NUM_RETRIES", () => {
    const doc = parse(renderLikeEngine(template, SAMPLE));
    const names = doc.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    expect(names.filter((n: string) => !EXECUTOR_READS.includes(n))).toEqual([]);
    expect(template).not.toContain("HF_VAR_NUM_RETRIES");
    expect(doc.spec.template.spec.containers[0].env).toContainEqual({ name: "HF_VAR_NUMBER_OF_RETRIES", value: "2" });
  });
});

describe("k8s stack on an existing cluster", () => {
  const { json: all } = synthConfig({
    kubernetes: {
      cluster: "existing",
      context: "kind-hyperflow",
      dataImage: "hyperflowwms/montage2-workflow-data:montage2-2mass-3.0-latest",
      disruptionBudgets: true,
      retries: 2,
    },
  });
  const json = all.k8s!;

  test("providers read the kubeconfig context; no cluster stack", () => {
    expect((json.provider as any).kubernetes[0]).toEqual(expect.objectContaining({ config_path: "~/.kube/config", config_context: "kind-hyperflow" }));
    expect((json.provider as any).helm[0].kubernetes).toEqual(expect.objectContaining({ config_context: "kind-hyperflow" }));
    expect(all.eks).toBeUndefined();
  });

  test("the job template reaches the ConfigMap escaped; Terraform delivers exactly the template", () => {
    const data = only(json, "kubernetes_config_map_v1").data["job-template.yaml"];
    for (const p of ENGINE_PLACEHOLDERS) expect(data).toContain(`$\${${p}}`);
    expect(terraformUnescape(data)).toBe(jobTemplate(options));
  });

  test("namespaced Role with only what the engine calls (create Jobs: k8sJobSubmit.js createNamespacedJob); bound to the engine's ServiceAccount; no cluster-wide RBAC", () => {
    const role = only(json, "kubernetes_role_v1");
    expect(role.metadata.namespace).toMatch(/kubernetes_namespace_v1\..*\.metadata\[0\]\.name|hyperflow/);
    expect(role.rule).toEqual([{ api_groups: ["batch"], resources: ["jobs"], verbs: ["create"] }]);
    // The engine source calls no other Kubernetes API: BatchV1Api.createNamespacedJob is its only call.
    const engineSource = fs.readFileSync(require.resolve("@hyperflow/hyperflow/functions/kubernetes/k8sJobSubmit.js"), "utf8");
    expect([...engineSource.matchAll(/k8sApi\.(\w+)\(/g)].map((m) => m[1])).toEqual(["createNamespacedJob"]);
    const binding = only(json, "kubernetes_role_binding_v1");
    expect(binding.role_ref.kind).toBe("Role");
    expect(binding.subject[0].kind).toBe("ServiceAccount");
    expect(Object.keys(json.resource!).filter((t) => t.includes("cluster_role"))).toEqual([]);
    expect(JSON.stringify(json)).not.toContain("cluster-admin");
  });

  test("engine: a Job on the master pool with the env the engine reads, the template mounted, a sleep while it waits", () => {
    const engine = resources(json, "kubernetes_job_v1").find((j) => j.metadata.name === "hyperflow-engine");
    const pod = engine.spec.template.spec;
    expect(pod.node_selector).toEqual({ "hyperflow-wms/nodepool": "hfmaster" });
    expect(pod.service_account_name).toMatch(/kubernetes_service_account_v1/);
    const c = pod.container[0];
    const env = Object.fromEntries(c.env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
    expect(Object.keys(env).filter((n) => !ENGINE_READS.includes(n))).toEqual([]);
    expect(env).toEqual(
      expect.objectContaining({
        HF_VAR_function: "k8sCommand",
        HF_VAR_JOB_TEMPLATE_PATH: "/opt/hyperflow/job-template.yaml",
        HF_VAR_WORK_DIR: "/work_dir",
        REDIS_URL: "redis://redis.hyperflow.svc.cluster.local:6379",
      }),
    );
    expect(c.env).toContainEqual({ name: "HF_VAR_NAMESPACE", value_from: { field_ref: { field_path: "metadata.namespace" } } });
    expect(c.command[2]).toMatch(/until \[ -f \/work_dir\/workflow\.json \]; do .*sleep 5; done/);
    expect(c.image).toBe("hyperflowwms/hyperflow:v1.9.1");
  });

  test("data job copies the image's data without rewriting the workflow", () => {
    const data = resources(json, "kubernetes_job_v1").find((j) => j.metadata.name === "workflow-data");
    expect(data.spec.template.spec.container[0].command).toEqual(["/bin/sh", "-c", "cp -r /data/. /work_dir/"]);
    expect(JSON.stringify(data)).not.toMatch(/sed/);
  });

  test("RWX volume from the NFS server provisioner (pinned chart) on the master pool, in a namespace of its own", () => {
    const nfs = only(json, "helm_release");
    expect(nfs).toEqual(expect.objectContaining({ chart: "nfs-server-provisioner", version: "1.8.0" }));
    const values = JSON.parse(nfs.values[0]);
    expect(values.nodeSelector).toEqual({ "hyperflow-wms/nodepool": "hfmaster" });
    expect(values.tolerations).toEqual([{ key: "hyperflow-wms/nodepool", operator: "Equal", value: "hfmaster", effect: "NoSchedule" }]);
    expect(only(json, "kubernetes_persistent_volume_claim_v1").spec.access_modes).toEqual(["ReadWriteMany"]);
    const namespaces = Object.fromEntries(Object.entries(json.resource!.kubernetes_namespace_v1).map(([id, n]: [string, any]) => [n.metadata.name, id]));
    expect(Object.keys(namespaces).sort()).toEqual(["hyperflow", "hyperflow-nfs"]);
    expect(nfs.namespace).toBe(`\${kubernetes_namespace_v1.${namespaces["hyperflow-nfs"]}.metadata[0].name}`);
  });

  test("disruption budgets select Redis and the NFS server only, never task pods", () => {
    for (const pdb of resources(json, "kubernetes_pod_disruption_budget_v1")) {
      const sel = pdb.spec.selector.match_labels;
      const matchesJobs = Object.entries(sel).every(([k, v]) => (JOB_POD_LABELS as Record<string, string>)[k] === v);
      expect(matchesJobs).toBe(false);
      expect(sel["app.kubernetes.io/component"]).not.toBe("job");
    }
    expect(resources(json, "kubernetes_pod_disruption_budget_v1")).toHaveLength(2);
    // A budget selects pods of its own namespace: the NFS server's is in the NFS server's namespace.
    const nfsPdb = resources(json, "kubernetes_pod_disruption_budget_v1").find((p) => p.metadata.name === "nfs-server");
    expect(nfsPdb.metadata.namespace).toBe(only(json, "helm_release").namespace);
  });
});

describe("eks stack", () => {
  const { json: all } = synthConfig({ adminCidrs: ["203.0.113.0/24"], kubernetes: { cluster: "eks", eks: { workerMax: 8 } } });
  const eks = all.eks!;

  test("API authentication mode with creator admin; API endpoint only from adminCidrs; control-plane logs kept", () => {
    const c = only(eks, "aws_eks_cluster");
    expect(c.access_config).toEqual({ authentication_mode: "API", bootstrap_cluster_creator_admin_permissions: true });
    expect(c.vpc_config.public_access_cidrs).toEqual(["203.0.113.0/24"]);
    expect(c.version).toBe("1.33");
    expect(only(eks, "aws_cloudwatch_log_group").retention_in_days).toBe(30);
  });

  test("VPC over two AZs; master pool of 1 and worker pool from 0, both labelled with one scheme", () => {
    expect(resources(eks, "aws_subnet")).toHaveLength(2);
    const groups = resources(eks, "aws_eks_node_group");
    const byLabel = Object.fromEntries(groups.map((g) => [g.labels["hyperflow-wms/nodepool"], g]));
    expect(byLabel.hfmaster.scaling_config).toEqual({ min_size: 1, max_size: 1, desired_size: 1 });
    expect(byLabel.hfworker.scaling_config).toEqual({ min_size: 0, max_size: 8, desired_size: 0 });
    expect(byLabel.hfworker.tags["k8s.io/cluster-autoscaler/node-template/label/hyperflow-wms/nodepool"]).toBe("hfworker");
    for (const g of groups) expect(g.launch_template.id).toMatch(/aws_launch_template/);
  });

  test("the master pool stays in one zone (the NFS server's EBS disk is zonal); the workers span both", () => {
    const byLabel = Object.fromEntries(resources(eks, "aws_eks_node_group").map((g) => [g.labels["hyperflow-wms/nodepool"], g]));
    expect(byLabel.hfmaster.subnet_ids).toHaveLength(1);
    expect(byLabel.hfworker.subnet_ids).toHaveLength(2);
    expect(byLabel.hfworker.subnet_ids).toContain(byLabel.hfmaster.subnet_ids[0]);
    // The gp3 class binds on first consumer, so the disk is made in the master's zone.
    expect(only(all.k8s!, "kubernetes_storage_class_v1").volume_binding_mode).toBe("WaitForFirstConsumer");
  });

  test("the worker pool is tainted like the selector the task pods tolerate (system pods stay off it, so it scales to 0)", () => {
    const byLabel = Object.fromEntries(resources(eks, "aws_eks_node_group").map((g) => [g.labels["hyperflow-wms/nodepool"], g]));
    expect(byLabel.hfworker.taint).toEqual([{ key: "hyperflow-wms/nodepool", value: "hfworker", effect: "NO_SCHEDULE" }]);
    expect(byLabel.hfworker.tags["k8s.io/cluster-autoscaler/node-template/taint/hyperflow-wms/nodepool"]).toBe("hfworker:NoSchedule");
    expect(byLabel.hfmaster.taint).toBeUndefined();
  });

  test("the VPC CNI add-on runs its network policy agent, so the Redis NetworkPolicy is enforced", () => {
    const cni = resources(eks, "aws_eks_addon").find((a) => a.addon_name === "vpc-cni");
    expect(JSON.parse(cni.configuration_values)).toEqual({ enableNetworkPolicy: "true" });
    expect(cni.resolve_conflicts_on_create).toBe("OVERWRITE");
  });

  test("EBS CSI driver with Pod Identity, and the pod identity agent", () => {
    const addons = Object.fromEntries(resources(eks, "aws_eks_addon").map((a) => [a.addon_name, a]));
    expect(Object.keys(addons).sort()).toEqual(["aws-ebs-csi-driver", "eks-pod-identity-agent", "vpc-cni"]);
    expect(addons["aws-ebs-csi-driver"].pod_identity_association[0].service_account).toBe("ebs-csi-controller-sa");
    const trust = resources(eks, "aws_iam_role")
      .map((r) => JSON.parse(r.assume_role_policy).Statement[0])
      .find((s) => s.Principal.Service === "pods.eks.amazonaws.com");
    expect(trust.Action).toEqual(["sts:AssumeRole", "sts:TagSession"]);
  });

  test("the worker pool can scale from 0: cluster autoscaler with a Pod Identity role limited to this cluster's groups", () => {
    const ca = resources(all.k8s!, "helm_release").find((r) => r.chart === "cluster-autoscaler");
    expect(ca).toEqual(expect.objectContaining({ namespace: "kube-system", version: "9.51.0" }));
    expect(JSON.parse(ca.values[0]).image).toEqual({ repository: "registry.k8s.io/autoscaling/cluster-autoscaler", tag: "v1.33.0" });
    expect(JSON.parse(ca.values[0])).toEqual(
      expect.objectContaining({ autoDiscovery: { clusterName: "hyperflow" }, rbac: { serviceAccount: { create: true, name: "cluster-autoscaler" } } }),
    );
    const assoc = only(eks, "aws_eks_pod_identity_association");
    expect(assoc).toEqual(expect.objectContaining({ namespace: "kube-system", service_account: "cluster-autoscaler" }));
    const policy = resources(eks, "aws_iam_role_policy").find((p) => p.name === "ClusterAutoscaler");
    const scale = JSON.parse(policy.policy).Statement.find((s: any) => s.Sid === "ScaleOwnGroups");
    expect(scale.Condition).toEqual({ StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/hyperflow": "owned" } });
  });

  test("the NFS server gets an encrypted gp3 disk (EKS has no default storage class from 1.30 on)", () => {
    const sc = only(all.k8s!, "kubernetes_storage_class_v1");
    expect(sc).toEqual(
      expect.objectContaining({
        storage_provisioner: "ebs.csi.aws.com",
        parameters: { type: "gp3", encrypted: "true" },
        volume_binding_mode: "WaitForFirstConsumer",
      }),
    );
    const nfs = resources(all.k8s!, "helm_release").find((r) => r.chart === "nfs-server-provisioner");
    expect(JSON.parse(nfs.values[0]).persistence.storageClass).toMatch(/kubernetes_storage_class_v1\./);
  });

  test("add-ons wait for a node and for the pod identity agent", () => {
    const addons = Object.fromEntries(resources(eks, "aws_eks_addon").map((a) => [a.addon_name, a]));
    expect(addons["aws-ebs-csi-driver"].depends_on).toEqual(
      expect.arrayContaining([expect.stringMatching(/aws_eks_addon\./), expect.stringMatching(/aws_eks_node_group\./)]),
    );
  });

  test("workload providers: cluster read by a data source, token from `aws eks get-token` (none stored)", () => {
    const k8sProvider = (all.k8s!.provider as any).kubernetes[0];
    expect(k8sProvider.host).toMatch(/data\.aws_eks_cluster\./);
    expect(k8sProvider.exec[0]).toEqual({
      api_version: "client.authentication.k8s.io/v1beta1",
      command: "aws",
      args: ["eks", "get-token", "--cluster-name", "hyperflow", "--region", "us-east-1"],
    });
    expect(k8sProvider.token).toBeUndefined();
    expect(all.k8s!.resource!.aws_eks_cluster).toBeUndefined();
  });
});

describe("gke stack", () => {
  const { json: all } = synthConfig({ adminCidrs: ["203.0.113.0/24", "2001:db8::/32"], kubernetes: { cluster: "gke", gke: { project: "hyperflow-lab-1" } } });
  const gke = all.gke!;

  test("standard cluster: default pool removed, Workload Identity, deletion protection on by default", () => {
    const c = only(gke, "google_container_cluster");
    expect(c).toEqual(expect.objectContaining({ remove_default_node_pool: true, deletion_protection: true }));
    expect(c.workload_identity_config).toEqual({ workload_pool: "hyperflow-lab-1.svc.id.goog" });
  });

  test("API open to the IPv4 adminCidrs only (master authorized networks, no Google Cloud public addresses)", () => {
    expect(only(gke, "google_container_cluster").master_authorized_networks_config).toEqual({
      cidr_blocks: [{ cidr_block: "203.0.113.0/24", display_name: "adminCidrs" }],
      gcp_public_cidrs_access_enabled: false,
    });
  });

  test("Dataplane V2 (NetworkPolicies enforced) and the Filestore CSI driver (standard-rwx)", () => {
    const c = only(gke, "google_container_cluster");
    expect(c.datapath_provider).toBe("ADVANCED_DATAPATH");
    expect(c.addons_config).toEqual({ gcp_filestore_csi_driver_config: { enabled: true } });
  });

  test("the project's APIs (GKE, Compute Engine, IAM, Filestore) are enabled before the cluster and kept on destroy", () => {
    const services = resources(gke, "google_project_service");
    expect(services.map((s) => s.service).sort()).toEqual(["compute.googleapis.com", "container.googleapis.com", "file.googleapis.com", "iam.googleapis.com"]);
    for (const s of services) expect(s).toEqual(expect.objectContaining({ project: "hyperflow-lab-1", disable_on_destroy: false }));
    const c = only(gke, "google_container_cluster");
    expect(c.depends_on).toHaveLength(4);
    for (const d of c.depends_on) expect(d).toMatch(/^google_project_service\./);
  });

  test("the worker pool is tainted like the selector the task pods tolerate; the master pool is not", () => {
    const pools = Object.fromEntries(resources(gke, "google_container_node_pool").map((p) => [p.node_config.labels["hyperflow-wms/nodepool"], p]));
    expect(pools.hfworker.node_config.taint).toEqual([{ key: "hyperflow-wms/nodepool", value: "hfworker", effect: "NO_SCHEDULE" }]);
    expect(pools.hfmaster.node_config.taint).toBeUndefined();
  });

  test("separate labelled node pools: master 1 node, workers autoscaling from 0; GKE metadata server; own service account", () => {
    const pools = Object.fromEntries(resources(gke, "google_container_node_pool").map((p) => [p.node_config.labels["hyperflow-wms/nodepool"], p]));
    expect(pools.hfmaster.node_count).toBe(1);
    expect(pools.hfworker.autoscaling).toEqual({ min_node_count: 0, max_node_count: 5 });
    for (const p of Object.values<any>(pools)) {
      expect(p.node_config.workload_metadata_config).toEqual({ mode: "GKE_METADATA" });
      expect(p.node_config.service_account).toMatch(/google_service_account\./);
    }
    expect(
      resources(gke, "google_project_iam_member")
        .map((m) => m.role)
        .sort(),
    ).toEqual(["roles/artifactregistry.reader", "roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer"]);
  });

  test("workload providers from the cluster data source and the caller's access token", () => {
    const p = (all.k8s!.provider as any).kubernetes[0];
    expect(p.host).toMatch(/^https:\/\/\$\{data\.google_container_cluster\./);
    expect(p.token).toMatch(/data\.google_client_config\./);
  });

  test("Autopilot: no node pools to manage, in a region", () => {
    const { json } = synthConfig({
      adminCidrs: ["203.0.113.0/24"],
      kubernetes: {
        cluster: "gke",
        storageClass: "standard-rwx",
        gke: { project: "hyperflow-lab-1", autopilot: true, location: "europe-west4", deletionProtection: false },
      },
    });
    expect(only(json.gke!, "google_container_cluster")).toEqual(
      expect.objectContaining({ enable_autopilot: true, deletion_protection: false, location: "europe-west4" }),
    );
    expect(resources(json.gke!, "google_container_node_pool")).toHaveLength(0);
  });
});

describe("post-processing jobs", () => {
  const { json } = synthConfig({
    kubernetes: {
      cluster: "existing",
      postJobs: [
        { name: "log-parser", image: "hyperflowwms/log-parser:v1.2.0", command: "parse-logs /work_dir/logs-hf && touch /work_dir/parsingFinished" },
        { name: "viz-trace", image: "hyperflowwms/viz-trace:v1.0.0", command: "hflow-viz-trace -s /work_dir/parsed", after: "parsingFinished" },
      ],
    },
  });
  const jobs = Object.fromEntries(resources(json.k8s!, "kubernetes_job_v1").map((j) => [j.metadata.name, j]));

  test("the engine leaves the marker when the workflow ends, with its exit code", () => {
    expect(jobs["hyperflow-engine"].spec.template.spec.container[0].command[2]).toMatch(
      /hflow run \/work_dir\/workflow\.json; code=\$\?; echo "\$code" > \/work_dir\/postprocStart; exit "\$code"$/,
    );
  });

  test("each job waits for its marker, then runs its command in /work_dir", () => {
    expect(jobs["log-parser"].spec.template.spec.container[0].command[2]).toBe(
      "until [ -f /work_dir/postprocStart ]; do sleep 10; done; parse-logs /work_dir/logs-hf && touch /work_dir/parsingFinished",
    );
    expect(jobs["viz-trace"].spec.template.spec.container[0].command[2]).toMatch(/^until \[ -f \/work_dir\/parsingFinished \]/);
    expect(jobs["viz-trace"].spec.template.metadata.labels["app.kubernetes.io/component"]).toBe("post-processing");
  });

  test("unpinned post-processing images are refused", () => {
    expect(() =>
      synthConfig({ kubernetes: { cluster: "existing", postJobs: [{ name: "p", image: "hyperflowwms/log-parser:latest", command: "x" }] } }),
    ).toThrow(/kubernetes\.postJobs\.0\.image: image uses the mutable tag `latest`/);
  });
});

describe("kubernetes.clusterName", () => {
  test("defaults to hyperflow, the name of the EKS cluster and what the k8s stack looks up and autoscales", () => {
    const { json } = synthConfig({ adminCidrs: ["203.0.113.0/24"], kubernetes: { cluster: "eks" } });
    expect(only(json.eks!, "aws_eks_cluster").name).toBe("hyperflow");
    expect(Object.values<any>(json.k8s!.data!.aws_eks_cluster)[0].name).toBe("hyperflow");
  });

  test("one value names the EKS cluster, its autoscaler tags, the k8s stack's lookup, token and autoscaler discovery", () => {
    const { json } = synthConfig({ adminCidrs: ["203.0.113.0/24"], ecs: { clusterName: "other_ecs" }, kubernetes: { cluster: "eks", clusterName: "lab-7" } });
    expect(only(json.eks!, "aws_eks_cluster").name).toBe("lab-7");
    for (const g of resources(json.eks!, "aws_eks_node_group")) expect(g.tags["k8s.io/cluster-autoscaler/lab-7"]).toBe("owned");
    expect(Object.values<any>(json.k8s!.data!.aws_eks_cluster)[0].name).toBe("lab-7");
    expect((json.k8s!.provider as any).kubernetes[0].exec[0].args).toEqual(["eks", "get-token", "--cluster-name", "lab-7", "--region", "us-east-1"]);
    const ca = resources(json.k8s!, "helm_release").find((r) => r.chart === "cluster-autoscaler");
    expect(JSON.parse(ca.values[0]).autoDiscovery).toEqual({ clusterName: "lab-7" });
    expect(JSON.stringify(json.eks)).not.toContain("other_ecs");
  });

  test("one value names the GKE cluster and the k8s stack's lookup", () => {
    const { json } = synthConfig({ adminCidrs: ["203.0.113.0/24"], kubernetes: { cluster: "gke", clusterName: "lab-7", gke: { project: "hyperflow-lab-1" } } });
    expect(only(json.gke!, "google_container_cluster").name).toBe("lab-7");
    expect(Object.values<any>(json.k8s!.data!.google_container_cluster)[0].name).toBe("lab-7");
  });

  test.each([
    ["uppercase (GKE refuses it)", "Hyperflow"],
    ["underscore (GKE refuses it)", "hyper_flow"],
    ["ending with a hyphen", "hyperflow-"],
    ["starting with a digit (GKE refuses it)", "7lab"],
    ["longer than GKE's 40 characters", "a".repeat(41)],
    ["empty", ""],
  ])("refused: %s", (_why, name) => {
    expect(() => validateConfig({ kubernetes: { clusterName: name } })).toThrow(
      `kubernetes.clusterName: is not a cluster name both EKS and GKE accept; allowed: ${K8S_CLUSTER_NAME.allowed} (got ${JSON.stringify(name)})`,
    );
  });

  test("40 characters, a GKE maximum, is accepted", () => {
    expect(validateConfig({ kubernetes: { clusterName: "a".repeat(39) + "1" } }).config.kubernetes.clusterName).toHaveLength(40);
  });
});

describe("GKE Autopilot (blockers: regional location, no NFS server, workload separation)", () => {
  const autopilot = { project: "hyperflow-lab-1", autopilot: true };
  const problems = (input: object) => {
    try {
      validateConfig(input);
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };

  test("a zone, also the default one, is refused for Autopilot with the key, the value and what is allowed", () => {
    const message = problems({ adminCidrs: ["203.0.113.0/24"], kubernetes: { cluster: "gke", storageClass: "standard-rwx", gke: autopilot } });
    expect(message).toContain(
      'kubernetes.gke.location: is a zone, and GKE Autopilot clusters are regional; allowed: a region such as europe-west4 (not a zone such as europe-west4-a) (got "europe-west4-a")',
    );
    expect(
      problems({
        adminCidrs: ["203.0.113.0/24"],
        kubernetes: { cluster: "gke", storageClass: "standard-rwx", gke: { ...autopilot, location: "europe-west4" } },
      }),
    ).toBe("");
  });

  test("without an RWX storage class Autopilot is refused (it rejects the NFS server provisioner)", () => {
    const message = problems({ adminCidrs: ["203.0.113.0/24"], kubernetes: { cluster: "gke", gke: { ...autopilot, location: "europe-west4" } } });
    expect(message).toContain("kubernetes.storageClass: required when kubernetes.gke.autopilot is true: Autopilot refuses the NFS server provisioner");
    expect(message).toContain("allowed: an RWX storage class, e.g. standard-rwx (Filestore)");
  });

  test("the k8s stack on Autopilot: no NFS server or its namespace; the claim on the named class; every HyperFlow pod pairs selector and toleration", () => {
    const { json } = synthConfig({
      adminCidrs: ["203.0.113.0/24"],
      kubernetes: { cluster: "gke", storageClass: "standard-rwx", dataImage: "d/data:1.0", gke: { ...autopilot, location: "europe-west4" } },
    });
    const k8s = json.k8s!;
    expect(resources(k8s, "helm_release")).toEqual([]);
    expect(resources(k8s, "kubernetes_namespace_v1").map((n) => n.metadata.name)).toEqual(["hyperflow"]);
    expect(only(k8s, "kubernetes_persistent_volume_claim_v1").spec.storage_class_name).toBe("standard-rwx");
    const pods = [...resources(k8s, "kubernetes_job_v1"), ...resources(k8s, "kubernetes_deployment_v1")].map((r) => r.spec.template.spec);
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.node_selector).toEqual({ "hyperflow-wms/nodepool": "hfmaster" });
      expect(pod.toleration).toEqual([{ key: "hyperflow-wms/nodepool", operator: "Equal", value: "hfmaster", effect: "NoSchedule" }]);
    }
    const template = parse(
      terraformUnescape(only(k8s, "kubernetes_config_map_v1").data["job-template.yaml"]).replace(/\$\{(\w+)\}/g, (_m, n: string) => SAMPLE[n]),
    );
    expect(template.spec.template.spec.nodeSelector).toEqual({ "hyperflow-wms/nodepool": "hfworker" });
    expect(template.spec.template.spec.tolerations).toEqual([{ key: "hyperflow-wms/nodepool", operator: "Equal", value: "hfworker", effect: "NoSchedule" }]);
  });

  test("HyperflowK8s on Autopilot without a storage class is a PropsError", () => {
    expect(() => new HyperflowK8s(bareStack(), "H", { autopilot: true, engineImage: "e:1", workerImage: "w:1", redisImage: "r:1" })).toThrow(
      /HyperflowK8s: invalid storageClass undefined; allowed: an RWX storage class on GKE Autopilot/,
    );
  });
});

describe("GKE control plane", () => {
  test.each([
    ["no adminCidrs", []],
    ["IPv6 only (authorized networks take IPv4)", ["2001:db8::/32"]],
  ])("refused: %s", (_why, adminCidrs) => {
    expect(() => validateConfig({ adminCidrs, kubernetes: { cluster: "gke", gke: { project: "hyperflow-lab-1" } } })).toThrow(
      "adminCidrs: must name at least one IPv4 CIDR when kubernetes.cluster is gke",
    );
  });
});

describe("evictions, deadlines and re-runs", () => {
  const { json } = synthConfig({
    kubernetes: {
      cluster: "existing",
      dataImage: "d/data:1.0",
      engineDeadlineSeconds: 172_800,
      postJobs: [
        { name: "log-parser", image: "hyperflowwms/log-parser:v1.2.0", command: "parse && touch /work_dir/parsingFinished" },
        { name: "viz-trace", image: "hyperflowwms/viz-trace:v1.0.0", command: "viz", after: "parsingFinished" },
      ],
    },
  });
  const k8s = json.k8s!;
  const jobs = Object.fromEntries(resources(k8s, "kubernetes_job_v1").map((j) => [j.metadata.name, j]));

  test("task, engine, data, post-job and Redis pods are marked not safe to evict for the cluster autoscaler", () => {
    for (const r of [...Object.values<any>(jobs), only(k8s, "kubernetes_deployment_v1")]) {
      expect(r.spec.template.metadata.annotations).toEqual({ "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" });
    }
    const template = parse(
      terraformUnescape(only(k8s, "kubernetes_config_map_v1").data["job-template.yaml"]).replace(/\$\{(\w+)\}/g, (_m, n: string) => SAMPLE[n]),
    );
    expect(template.spec.template.metadata.annotations).toEqual({ "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" });
  });

  test("the engine Job has a deadline (config key, a week by default); post jobs a day more; the data job as long as Terraform waits", () => {
    expect(jobs["hyperflow-engine"].spec.active_deadline_seconds).toBe(172_800);
    expect(jobs["log-parser"].spec.active_deadline_seconds).toBe(172_800 + 86_400);
    expect(jobs["workflow-data"].spec.active_deadline_seconds).toBe(1800);
    expect(jobs["workflow-data"].timeouts).toEqual({ create: "30m" });
    const defaults = synthConfig({ kubernetes: { cluster: "existing" } }).json.k8s!;
    expect(resources(defaults, "kubernetes_job_v1").find((j) => j.metadata.name === "hyperflow-engine").spec.active_deadline_seconds).toBe(604_800);
    expect(() => validateConfig({ kubernetes: { engineDeadlineSeconds: 60 } })).toThrow(/kubernetes\.engineDeadlineSeconds/);
  });

  test("the engine removes the previous run's markers (its own and every post job's) before it runs; post jobs are created after the engine", () => {
    expect(jobs["hyperflow-engine"].spec.template.spec.container[0].command[2]).toMatch(
      /^rm -f \/work_dir\/postprocStart \/work_dir\/parsingFinished; until \[ -f \/work_dir\/workflow\.json \]/,
    );
    for (const name of ["log-parser", "viz-trace"]) expect(jobs[name].depends_on).toEqual([expect.stringMatching(/^kubernetes_job_v1\.Hyperflow_Engine_/)]);
  });
});

describe("failed tasks: backoffLimit and HF_VAR_STOP_WORKFLOW_WHEN_JOB_FAILED are coherent", () => {
  const engineEnv = (input: object) => {
    const { json } = synthConfig({ kubernetes: { cluster: "existing", ...input } });
    const engine = resources(json.k8s!, "kubernetes_job_v1").find((j) => j.metadata.name === "hyperflow-engine");
    return Object.fromEntries(engine.spec.template.spec.container[0].env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
  };

  const { createK8sJobYaml } = require("@hyperflow/hyperflow/functions/kubernetes/k8sJobSubmit.js");
  const render = (env: Record<string, string>) => {
    const saved = process.env.HF_VAR_BACKOFF_LIMIT;
    process.env.HF_VAR_BACKOFF_LIMIT = env.HF_VAR_BACKOFF_LIMIT;
    try {
      const context = { redis_url: "redis://r:6379", procId: 1, firingId: 1, hfId: "h", appId: 1, wfname: "w", workdir: "/work_dir" };
      return createK8sJobYaml({ name: "t", image: "w:1" }, ["h:1:1:1"], context, jobTemplate(options), {});
    } finally {
      if (saved === undefined) delete process.env.HF_VAR_BACKOFF_LIMIT;
      else process.env.HF_VAR_BACKOFF_LIMIT = saved;
    }
  };

  test("the stop is always on; backoffLimit (default 1) becomes the task Job's backoffLimit with restartPolicy OnFailure, in the engine's own code", () => {
    const env = engineEnv({});
    expect(env.HF_VAR_STOP_WORKFLOW_WHEN_JOB_FAILED).toBe("1");
    expect(env.HF_VAR_BACKOFF_LIMIT).toBe("1");
    const job = render(env);
    expect(job.spec.backoffLimit).toBe(1);
    expect(job.spec.template.spec.restartPolicy).toBe("OnFailure");
    expect(() => new Job(job).validate()).not.toThrow();
  });

  test("backoffLimit 0: the pod is never re-run (restartPolicy Never)", () => {
    const job = render(engineEnv({ backoffLimit: 0 }));
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.template.spec.restartPolicy).toBe("Never");
  });

  test("why the stop stays on: the engine exits on a failed task right after its re-submission hook, and without the stop an exhausted task never calls back", () => {
    const source = fs.readFileSync(require.resolve("@hyperflow/hyperflow/functions/kubernetes/k8sCommand.js"), "utf8");
    const sync = source.indexOf("await synchronizeJobs(");
    const exit = source.indexOf("process.exit(1)");
    expect(sync).toBeGreaterThan(0);
    expect(exit).toBeGreaterThan(sync);
    expect(source).toMatch(/if \(jobExitCodes\[i\] != 0\) \{\s*continue;\s*\}\s*let cb = cbArr\[i\]/);
  });
});

describe("Redis: a NetworkPolicy, and why no password", () => {
  test("the engine hands task jobs a Redis URL of host and port only, so a password in REDIS_URL would not reach the executor", () => {
    const wflib = fs.readFileSync(require.resolve("@hyperflow/hyperflow/wflib/index.js"), "utf8");
    expect(wflib).toContain('conf.redis_url = "redis://" + rcl.address;');
    const submit = fs.readFileSync(require.resolve("@hyperflow/hyperflow/functions/kubernetes/k8sJobSubmit.js"), "utf8");
    expect(submit).toContain("var command = 'hflow-job-execute ' + context.redis_url + ' -a -- '");
  });

  test("the k8s stack gives Redis no password and a NetworkPolicy on port 6379", () => {
    const { json } = synthConfig({ kubernetes: { cluster: "existing" } });
    const policy = only(json.k8s!, "kubernetes_network_policy_v1");
    expect(policy.spec.ingress[0].ports).toEqual([{ port: "6379", protocol: "TCP" }]);
    expect(policy.spec.ingress[0].from[0].pod_selector.match_expressions).toEqual([
      { key: "app.kubernetes.io/component", operator: "In", values: ["engine", "job"] },
    ]);
    expect(JSON.stringify(only(json.k8s!, "kubernetes_deployment_v1"))).not.toMatch(/requirepass/);
  });
});

describe("Pod Security Admission", () => {
  test("HyperFlow's namespace enforces baseline (warns restricted); the NFS server's own namespace is privileged", () => {
    const { json } = synthConfig({ kubernetes: { cluster: "existing" } });
    const ns = Object.fromEntries(resources(json.k8s!, "kubernetes_namespace_v1").map((n) => [n.metadata.name, n.metadata.labels]));
    expect(ns.hyperflow).toEqual(
      expect.objectContaining({
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
      }),
    );
    expect(ns["hyperflow-nfs"]).toEqual(expect.objectContaining({ "pod-security.kubernetes.io/enforce": "privileged" }));
  });
});

describe("EKS access and versions", () => {
  test("admin principals: an access entry each with AmazonEKSClusterAdminPolicy at cluster scope; ids from the ARN", () => {
    const arns = ["arn:aws:iam::123456789012:role/hyperflow-admins", "arn:aws:iam::123456789012:user/ops"];
    const { json } = synthConfig({ adminCidrs: ["203.0.113.0/24"], kubernetes: { cluster: "eks", eks: { creatorAdmin: false, adminPrincipals: arns } } });
    const eks = json.eks!;
    expect(only(eks, "aws_eks_cluster").access_config.bootstrap_cluster_creator_admin_permissions).toBe(false);
    expect(resources(eks, "aws_eks_access_entry").map((e) => e.principal_arn)).toEqual(arns);
    const assoc = resources(eks, "aws_eks_access_policy_association");
    expect(assoc).toHaveLength(2);
    for (const a of assoc) {
      expect(a.policy_arn).toMatch(/^arn:\$\{data\.aws_partition\.[\w]+\.partition\}:eks::aws:cluster-access-policy\/AmazonEKSClusterAdminPolicy$/);
      expect(a.access_scope).toEqual({ type: "cluster" });
      expect(a.principal_arn).toMatch(/^\$\{aws_eks_access_entry\.Admin-123456789012-(role-hyperflow-admins|user-ops)\.principal_arn\}$/);
    }
  });

  test("creatorAdmin false without admin principals is refused: nobody could apply the k8s stack", () => {
    expect(() => validateConfig({ adminCidrs: ["203.0.113.0/24"], kubernetes: { cluster: "eks", eks: { creatorAdmin: false } } })).toThrow(
      "kubernetes.eks.adminPrincipals: must name at least one principal when kubernetes.eks.creatorAdmin is false",
    );
  });

  test.each([
    ["1.29", "9.36.0", "v1.29.0"],
    ["1.32", "9.46.6", "v1.32.0"],
    ["1.35", "9.59.0", "v1.35.0"],
  ])("EKS %s: cluster autoscaler chart %s, image %s (the autoscaler's minor matches the cluster's)", (version, chart, tag) => {
    const { json } = synthConfig({ adminCidrs: ["203.0.113.0/24"], kubernetes: { cluster: "eks", eks: { version } } });
    expect(only(json.eks!, "aws_eks_cluster").version).toBe(version);
    const ca = resources(json.k8s!, "helm_release").find((r) => r.chart === "cluster-autoscaler");
    expect(ca.version).toBe(chart);
    expect(JSON.parse(ca.values[0]).image.tag).toBe(tag);
    expect(tag.slice(1, 5)).toBe(version);
  });

  test("an EKS version without a matching autoscaler release is refused", () => {
    expect(() => validateConfig({ kubernetes: { eks: { version: "1.28" } } })).toThrow(
      'kubernetes.eks.version: is not an EKS version with a matching cluster-autoscaler release here; allowed: one of 1.29, 1.30, 1.31, 1.32, 1.33, 1.34, 1.35 (got "1.28")',
    );
  });
});
