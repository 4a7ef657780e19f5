/** `kubernetes`: the `k8s` workload stack, on an existing cluster or on the `eks` / `gke` cluster stack. */
import { z } from "zod";
import { EKS_CLUSTER_DEFAULTS, GKE_CLUSTER_DEFAULTS, JUICEFS_DEFAULTS, K8S_DEFAULTS } from "../../constructs/core/defaults";
import {
  EKS_MINOR_VERSIONS,
  EKS_VERSION,
  ELASTICACHE_NODE_TYPE,
  ENGINE_DEADLINE_SECONDS,
  GCP_LOCATION,
  GCP_MACHINE_TYPE,
  GCP_PROJECT_ID,
  GCP_REGION,
  IAM_PRINCIPAL_ARN,
  K8S_CLUSTER_NAME,
  K8S_JOB_NAME,
  K8S_JOB_RETRIES,
  K8S_LABEL,
  K8S_NAMESPACE,
  K8S_QUANTITY,
  K8S_STORAGE_CLASS,
  MARKER_FILE,
  NODE_POOL_MAX,
  PINNED_IMAGE,
  WORK_VOLUME_GIB,
} from "../../constructs/core/rules";
import { checked, distinctItems, imageRef, instanceType, intIn, REDIS_IMAGE, requiredImageRef, withCrossKeyChecks } from "./common";

const quantity = (description: string, def: string) => checked(z.string(), K8S_QUANTITY).default(def).describe(description);
const labelPart = checked(z.string(), K8S_LABEL);
const workerMax = (def: number) => intIn(NODE_POOL_MAX).default(def).describe("Most worker nodes (the pool scales from 0).");

const eks = z
  .strictObject({
    version: checked(z.string(), EKS_VERSION)
      .default("1.33")
      .describe(`EKS Kubernetes version; the cluster autoscaler's release follows it (one of ${EKS_MINOR_VERSIONS.join(", ")}).`),
    masterInstanceType: instanceType()
      .default(EKS_CLUSTER_DEFAULTS.masterInstanceType)
      .describe("Instance type of the master pool (1 node: engine, Redis, NFS)."),
    workerInstanceType: instanceType().default(EKS_CLUSTER_DEFAULTS.workerInstanceType).describe("Instance type of the worker pool (task jobs)."),
    workerMax: workerMax(EKS_CLUSTER_DEFAULTS.workerMaxSize),
    creatorAdmin: z
      .boolean()
      .default(EKS_CLUSTER_DEFAULTS.creatorAdmin)
      .describe("Give the identity that creates the cluster admin access through an access entry (API authentication mode)."),
    adminPrincipals: distinctItems(z.array(checked(z.string(), IAM_PRINCIPAL_ARN)), "distinct ARNs")
      .default([])
      .describe(
        "IAM role or user ARNs that get cluster admin (an access entry each with AmazonEKSClusterAdminPolicy at cluster scope). At least one when creatorAdmin is false; whoever applies the `k8s` stack must be one of them or the creator.",
      ),
  })
  .prefault({})
  .describe("The `eks` cluster stack (when kubernetes.cluster is eks).");

const gke = z
  .strictObject({
    project: checked(z.string(), GCP_PROJECT_ID).optional().describe("GCP project (required for the gke cluster)."),
    location: checked(z.string(), GCP_LOCATION)
      .default("europe-west4-a")
      .describe("Zone (zonal cluster) or region. Autopilot clusters are regional: with autopilot, a region such as europe-west4."),
    releaseChannel: z.enum(["RAPID", "REGULAR", "STABLE"]).default(GKE_CLUSTER_DEFAULTS.releaseChannel).describe("GKE release channel (versions follow it)."),
    autopilot: z
      .boolean()
      .default(GKE_CLUSTER_DEFAULTS.autopilot)
      .describe(
        "Autopilot cluster (no node pools to manage; nodes come from the workloads' selectors and tolerations). Needs a region as location and an RWX kubernetes.storageClass (Autopilot refuses the NFS server).",
      ),
    masterMachineType: checked(z.string(), GCP_MACHINE_TYPE).default(GKE_CLUSTER_DEFAULTS.machineType).describe("Machine type of the master pool (1 node)."),
    workerMachineType: checked(z.string(), GCP_MACHINE_TYPE).default(GKE_CLUSTER_DEFAULTS.machineType).describe("Machine type of the worker pool."),
    workerMax: workerMax(GKE_CLUSTER_DEFAULTS.workerMaxNodes),
    deletionProtection: z
      .boolean()
      .default(GKE_CLUSTER_DEFAULTS.deletionProtection)
      .describe("GKE deletion protection (the provider's default). Set false before `destroy gke`; it guards a cluster against an accidental destroy."),
  })
  .prefault({})
  .describe("The `gke` cluster stack (when kubernetes.cluster is gke).");

const clusterEntry = z.strictObject({
  name: checked(z.string(), K8S_CLUSTER_NAME).describe("EKS cluster name. The engine cluster's must be kubernetes.clusterName."),
  role: z
    .enum(["engine", "workers"])
    .describe(
      "engine: the engine, its Redis and task jobs; workers: task jobs only, which the engine submits there with a kubeconfig (jobvars<N>.json kubeConfigPath).",
    ),
  masterInstanceType: instanceType().optional().describe("Instance type of the cluster's master pool (1 node). Default: kubernetes.eks.masterInstanceType."),
  workerInstanceType: instanceType().optional().describe("Instance type of the cluster's worker pool. Default: kubernetes.eks.workerInstanceType."),
  workerMax: intIn(NODE_POOL_MAX).optional().describe("Most worker nodes of the cluster. Default: kubernetes.eks.workerMax."),
});

const juicefs = z
  .strictObject({
    redisNodeType: checked(z.string(), ELASTICACHE_NODE_TYPE)
      .default(JUICEFS_DEFAULTS.redisNodeType)
      .describe("ElastiCache node type of the JuiceFS metadata store (a primary and a replica in another zone)."),
    bucketVersioning: z
      .boolean()
      .default(JUICEFS_DEFAULTS.bucketVersioning)
      .describe(
        "S3 versioning on the JuiceFS data bucket. Off by default: JuiceFS rewrites and deletes its own blocks (compaction, trash), so versions only add cost; the file system's history lives in its metadata, not in object versions.",
      ),
  })
  .prefault({})
  .describe("JuiceFS shared /work_dir of kubernetes.clusters: metadata in ElastiCache Redis, data in S3.");

const postJob = z.strictObject({
  name: checked(z.string(), K8S_JOB_NAME).describe("Job name."),
  image: requiredImageRef("Image of the job (pinned)."),
  command: z.string().min(1).describe("Shell command, run in /work_dir."),
  after: checked(z.string(), MARKER_FILE)
    .default(K8S_DEFAULTS.postJobAfter)
    .describe(`Marker file in /work_dir to wait for (the engine writes ${K8S_DEFAULTS.postJobAfter} when the workflow ends).`),
});

const kubernetesShape = z.strictObject({
  cluster: z
    .enum(["none", "existing", "eks", "gke"])
    .default("none")
    .describe(
      "Where HyperFlow runs on Kubernetes: none, an existing cluster (kubeconfig), or a new EKS / GKE cluster (stacks `eks` / `gke`), with the `k8s` workload stack.",
    ),
  clusterName: checked(z.string(), K8S_CLUSTER_NAME)
    .default(K8S_DEFAULTS.clusterName)
    .describe("Name of the EKS or GKE cluster the `eks` / `gke` stack creates and the `k8s` stack deploys to."),
  kubeconfigPath: z.string().default("~/.kube/config").describe("kubeconfig of an existing cluster."),
  context: z.string().optional().describe("kubeconfig context of an existing cluster (e.g. kind-hyperflow, minikube). Default: the current context."),
  namespace: checked(z.string(), K8S_NAMESPACE).default(K8S_DEFAULTS.namespace).describe("Namespace of everything HyperFlow creates."),
  nodeLabelKey: labelPart.default(K8S_DEFAULTS.nodePools.labelKey).describe("Node label key of the two pools (one scheme for all)."),
  masterPool: labelPart.default(K8S_DEFAULTS.nodePools.master).describe("Label value of the master pool (engine, Redis, NFS server)."),
  workerPool: labelPart.default(K8S_DEFAULTS.nodePools.worker).describe("Label value of the worker pool (task jobs)."),
  storageClass: checked(z.string(), K8S_STORAGE_CLASS)
    .optional()
    .describe(
      "RWX storage class for /work_dir, e.g. standard-rwx (GKE Filestore). Default: an NFS server provisioner (helm) on the master pool; required on GKE Autopilot.",
    ),
  workVolumeGiB: intIn(WORK_VOLUME_GIB).default(K8S_DEFAULTS.workVolumeGiB).describe("Size of /work_dir."),
  engineImage: imageRef("HyperFlow engine image.", "hyperflowwms/hyperflow:v1.9.1"),
  workerImage: imageRef("Default task image with the job executor (HF_VAR_WORKER_CONTAINER).", "hyperflowwms/montage-worker:6.0-je1.4.0"),
  dataImage: checked(z.string(), PINNED_IMAGE)
    .optional()
    .describe("Image whose /data holds the workflow (workflow.json + inputs), copied into /work_dir by a job. Default: none (put the data there yourself)."),
  redisImage: imageRef("Redis for the engine.", REDIS_IMAGE),
  jobCpuRequest: quantity("Default CPU request of a task job (HF_VAR_CPU_REQUEST; per task: cpuRequest).", K8S_DEFAULTS.jobCpuRequest),
  jobMemRequest: quantity("Default memory request of a task job (HF_VAR_MEM_REQUEST; per task: memRequest).", K8S_DEFAULTS.jobMemRequest),
  retries: intIn(K8S_JOB_RETRIES)
    .default(K8S_DEFAULTS.retries)
    .describe(
      "Retries of a failed task command (HF_VAR_NUMBER_OF_RETRIES, the name the executor reads; the job template of hyperflow-wms/hyperflow-k8s-deployment set HF_VAR_NUM_RETRIES, which nothing reads).",
    ),
  backoffLimit: intIn(K8S_JOB_RETRIES)
    .default(K8S_DEFAULTS.backoffLimit)
    .describe(
      "Kubernetes re-runs of a task pod that ended without reporting its result (OOM kill, eviction, node loss): the task Job's backoffLimit, with restartPolicy OnFailure when above 0 (HF_VAR_BACKOFF_LIMIT). A task whose command fails (after `retries`) stops the workflow (HF_VAR_STOP_WORKFLOW_WHEN_JOB_FAILED=1), so the engine's own re-submission, driven by the same variable, never happens.",
    ),
  engineDeadlineSeconds: intIn(ENGINE_DEADLINE_SECONDS)
    .default(K8S_DEFAULTS.engineDeadlineSeconds)
    .describe(
      "activeDeadlineSeconds of the engine Job: Kubernetes stops a workflow still running then (the engine waits for task results without a deadline). Post jobs get a day more.",
    ),
  disruptionBudgets: z
    .boolean()
    .default(K8S_DEFAULTS.disruptionBudgets)
    .describe("PodDisruptionBudgets for Redis and the NFS server (never matching task pods)."),
  postJobs: distinctItems(z.array(postJob), "a name no other post job has", "name")
    .default([])
    .describe("Post-processing jobs (e.g. the log parser, then viz-trace waiting for parsingFinished) that start when the workflow has ended."),
  eks,
  gke,
  clusters: distinctItems(z.array(clusterEntry), "a name no other cluster has", "name")
    .default([])
    .describe(
      "Several EKS clusters in the `eks` stack's VPC sharing one JuiceFS /work_dir (the two-cluster setup of hyperflow-wms/hyperflow-k8s-deployment): entries {name, role: engine | workers, masterInstanceType?, workerInstanceType?, workerMax?}, exactly one engine cluster (named kubernetes.clusterName). kubernetes.eks holds the settings they share and the defaults of the pools. Default: none (one cluster, kubernetes.clusterName).",
    ),
  juicefs,
});
export const kubernetes = withCrossKeyChecks(kubernetesShape, [
  {
    reads: [["cluster"], ["gke", "project"]],
    check: ({ cluster, gke }, report) => {
      if (cluster === "gke" && gke.project === undefined) report(["gke", "project"], "required when kubernetes.cluster is gke; allowed: a GCP project id");
    },
  },
  {
    reads: [["cluster"], ["gke", "autopilot"], ["gke", "location"]],
    check: ({ cluster, gke }, report) => {
      if (cluster === "gke" && gke.autopilot && !GCP_REGION.test(gke.location)) {
        report(["gke", "location"], `is a zone, and GKE Autopilot clusters are regional; allowed: ${GCP_REGION.allowed}`, gke.location);
      }
    },
  },
  {
    reads: [["cluster"], ["gke", "autopilot"], ["storageClass"]],
    check: ({ cluster, gke, storageClass }, report) => {
      if (cluster === "gke" && gke.autopilot && storageClass === undefined) {
        report(
          ["storageClass"],
          "required when kubernetes.gke.autopilot is true: Autopilot refuses the NFS server provisioner (it adds Linux capabilities); allowed: an RWX storage class, e.g. standard-rwx (Filestore)",
        );
      }
    },
  },
  {
    reads: [["cluster"], ["eks", "creatorAdmin"], ["eks", "adminPrincipals"]],
    check: ({ cluster, eks }, report) => {
      if (cluster === "eks" && !eks.creatorAdmin && eks.adminPrincipals.length === 0) {
        report(
          ["eks", "adminPrincipals"],
          "must name at least one principal when kubernetes.eks.creatorAdmin is false: nobody else could reach the cluster's API (and the `k8s` stack could not be applied); allowed: IAM role or user ARNs",
          eks.adminPrincipals,
        );
      }
    },
  },
  {
    reads: [["cluster"], ["clusters"]],
    check: ({ cluster, clusters }, report) => {
      if (clusters.length > 0 && cluster !== "eks")
        report(
          ["clusters"],
          `needs kubernetes.cluster eks (it is ${cluster}); allowed: an empty list`,
          clusters.map((c) => c.name),
        );
    },
  },
  {
    reads: [["clusters"], ["clusterName"]],
    check: ({ clusters, clusterName }, report) => {
      if (clusters.length === 0) return;
      const engines = clusters.filter((c) => c.role === "engine").map((c) => c.name);
      if (engines.length !== 1) {
        report(["clusters"], `has ${engines.length} engine clusters; allowed: exactly one entry with role engine`, engines);
        return;
      }
      const i = clusters.findIndex((c) => c.role === "engine");
      if (engines[0] !== clusterName)
        report(
          ["clusters", i, "name"],
          `is the engine cluster but kubernetes.clusterName is "${clusterName}"; allowed: "${clusterName}" (or set clusterName to it)`,
          engines[0],
        );
    },
  },
  {
    reads: [["clusters"], ["storageClass"]],
    check: ({ clusters, storageClass }, report) => {
      if (clusters.length > 0 && storageClass !== undefined)
        report(
          ["storageClass"],
          "must be unset with kubernetes.clusters: every cluster mounts /work_dir from the JuiceFS storage class; allowed: no value",
          storageClass,
        );
    },
  },
])
  .prefault({})
  .describe("HyperFlow on Kubernetes: the `k8s` workload stack, on an existing cluster or on the `eks` / `gke` cluster stack.");
