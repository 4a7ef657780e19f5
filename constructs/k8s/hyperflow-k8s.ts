/**
 * HyperFlow on any Kubernetes cluster (kubernetes + helm providers): a namespace and the parts, one file
 * each: the shared /work_dir (work-dir.ts), Redis with its NetworkPolicy (redis.ts), the data job that
 * copies a workflow data image into the volume (data-job.ts), the engine as a Job with its
 * ServiceAccount, Role and the job template (engine.ts), post-processing jobs (post-jobs.ts) and
 * disruption budgets (disruption-budgets.ts). Their pods are written by one helper (pod-spec.ts).
 *
 * Pod Security Admission: the namespace enforces "baseline" (and warns and audits "restricted"); the NFS
 * server, which needs capabilities baseline forbids, gets a namespace of its own that is "privileged".
 *
 * The parts are plain classes that add their resources to this construct under fixed ids, not child
 * constructs: Terraform keys state by address, and a child construct would add a path component to
 * every address (a destroy and re-create of the whole deployment on the next apply).
 */
import type { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import type { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import type { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import type { PersistentVolumeClaimV1 } from "@cdktf/provider-kubernetes/lib/persistent-volume-claim-v1";
import type { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import type { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import type { Release } from "@cdktf/provider-helm/lib/release";
import { Construct } from "constructs";
import { Token } from "cdktf";
import { K8S_DEFAULTS } from "../core/defaults";
import { truncateName } from "../core/names";
import {
  EKS_CLUSTER_NAME,
  ENGINE_DEADLINE_SECONDS,
  K8S_JOB_RETRIES,
  PRIVATE_CIDR,
  K8S_LABEL,
  K8S_NAMESPACE,
  K8S_QUANTITY,
  WORK_VOLUME_GIB,
} from "../core/rules";
import { PropsError, requireRule, requireUnique } from "../core/validation";
import { DataJob } from "./data-job";
import { DisruptionBudgets } from "./disruption-budgets";
import { Engine } from "./engine";
import { type PostJob, POST_JOB_EXTRA_SECONDS, PostJobs, validatePostJobs } from "./post-jobs";
import { commonLabels, type K8sPodProps, objectMeta, requireLabels, type ResourceRequests } from "./pod-spec";
import { Redis, redisUrl } from "./redis";
import { WorkDir } from "./work-dir";

export type { PostJob } from "./post-jobs";
export { WORK_DIR } from "./work-dir";

export interface NodePools {
  /** Label key on both pools. @default "hyperflow-wms/nodepool" */
  readonly labelKey?: string;
  /** Label value of the master pool: the engine, Redis and the NFS server. @default "hfmaster" */
  readonly master?: string;
  /** Label value of the worker pool: the task jobs. @default "hfworker" */
  readonly worker?: string;
}

/** A cluster the engine submits a partition's task jobs to. */
export interface RemoteCluster {
  /** Cluster name (the file name, `<name>.kubeconfig`). */
  readonly name: string;
  /** The kubeconfig (YAML or JSON; may be a reference). */
  readonly kubeconfig: string;
}

/** Pod Security Admission levels (kubernetes.io/docs/concepts/security/pod-security-admission). */
export const POD_SECURITY_LABELS = {
  /** HyperFlow's namespace: baseline enforced (no privileged pods, host namespaces or added capabilities beyond the default set). */
  hyperflow: {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
  },
  /** The NFS server's namespace: it adds DAC_READ_SEARCH and SYS_RESOURCE. */
  nfs: { "pod-security.kubernetes.io/enforce": "privileged" },
} as const;

export interface HyperflowK8sProps {
  /** @default "hyperflow" */
  readonly namespace?: string;
  /**
   * The cluster is GKE Autopilot: it refuses the NFS server provisioner, so storageClass is required
   * (e.g. a Filestore class such as standard-rwx). @default false
   */
  readonly autopilot?: boolean;
  /** @default - label key "hyperflow-wms/nodepool", master pool "hfmaster", worker pool "hfworker" */
  readonly nodePools?: NodePools;
  /** RWX storage class for /work_dir. @default - an NFS server provisioner (helm) on the master pool */
  readonly storageClass?: string;
  /** Size of /work_dir in GiB. @default 50 */
  readonly workVolumeGiB?: number;
  /** Storage class of the NFS server's own (RWO) disk. @default - the cluster's default class */
  readonly nfsBackingStorageClass?: string;
  /** HyperFlow engine image. */
  readonly engineImage: string;
  /** Default task image (HF_VAR_WORKER_CONTAINER). */
  readonly workerImage: string;
  readonly redisImage: string;
  /** Image whose /data holds the workflow (workflow.json + inputs); copied into /work_dir. @default - no data job */
  readonly dataImage?: string;
  /** Default CPU request of a task job. @default "0.5" */
  readonly jobCpuRequest?: string;
  /** Default memory request of a task job. @default "50Mi" */
  readonly jobMemRequest?: string;
  /** Retries of a failed task command (HF_VAR_NUMBER_OF_RETRIES). @default 1 */
  readonly retries?: number;
  /** Kubernetes re-runs of a task pod that ended without reporting (HF_VAR_BACKOFF_LIMIT; see engine.ts). @default 1 */
  readonly backoffLimit?: number;
  /** activeDeadlineSeconds of the engine Job (post jobs get a day more). @default 604800 (a week) */
  readonly engineDeadlineSeconds?: number;
  /** @default - 1 CPU and 2Gi of memory */
  readonly engineResources?: ResourceRequests;
  /** PodDisruptionBudgets for Redis and the NFS server (they never select task pods). @default false */
  readonly disruptionBudgets?: boolean;
  /** Post-processing jobs (log parser, viz-trace, …) that start when a marker file appears in /work_dir. @default - none */
  readonly postJobs?: readonly PostJob[];
  /**
   * Private CIDRs whose pods (task pods of other clusters) reach Redis through an internal load balancer;
   * the engine then uses that URL, the one it writes into every task's command. @default - none
   */
  readonly redisRemoteClientCidrs?: readonly string[];
  /**
   * Other clusters the engine submits task jobs to: kubeconfig text per cluster name, kept in the Secret
   * "hyperflow-clusters" and mounted in the engine at CLUSTERS_DIR/<name>.kubeconfig. @default - none
   */
  readonly remoteClusters?: readonly RemoteCluster[];
  /** Labels on every object. @default - none besides the standard part-of and managed-by */
  readonly labels?: Readonly<Record<string, string>>;
}

/** The parts a HyperflowK8s is made of. */
export interface HyperflowK8sParts {
  readonly workDir: WorkDir;
  readonly redis: Redis;
  /** @default - none without a data image */
  readonly dataJob?: DataJob;
  readonly engine: Engine;
  readonly postJobs: PostJobs;
  /** @default - none unless disruptionBudgets */
  readonly disruptionBudgets?: DisruptionBudgets;
}

/** Seconds a finished task Job is kept. */
const TASK_JOB_TTL_SECONDS = 300;

export class HyperflowK8s extends Construct {
  readonly namespace: NamespaceV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly role: RoleV1;
  readonly jobTemplate: ConfigMapV1;
  readonly engine: JobV1;
  readonly redis: DeploymentV1;
  readonly workVolume: PersistentVolumeClaimV1;
  readonly nfs?: Release;
  /** The NFS server's own namespace, when there is an NFS server. */
  readonly nfsNamespace?: NamespaceV1;
  readonly dataJob?: JobV1;
  /** Kubeconfig files of the remote clusters, when there are any. */
  readonly kubeconfigs?: SecretV1;
  /** The engine's environment (for inspection and tests). */
  readonly engineEnv: Readonly<Record<string, string>>;
  readonly parts: HyperflowK8sParts;

  constructor(scope: Construct, id: string, props: HyperflowK8sProps) {
    super(scope, id);
    validate(props);
    const ns = props.namespace ?? K8S_DEFAULTS.namespace;
    const labelKey = props.nodePools?.labelKey ?? K8S_DEFAULTS.nodePools.labelKey;
    const master = props.nodePools?.master ?? K8S_DEFAULTS.nodePools.master;
    const worker = props.nodePools?.worker ?? K8S_DEFAULTS.nodePools.worker;
    const engineDeadline = props.engineDeadlineSeconds ?? K8S_DEFAULTS.engineDeadlineSeconds;

    this.namespace = new NamespaceV1(this, "Namespace", {
      metadata: { name: ns, labels: { ...commonLabels(props.labels), ...POD_SECURITY_LABELS.hyperflow } },
    });
    // Every part's objects name the namespace by reference, so they are created after it.
    const onMaster: K8sPodProps = { namespace: this.namespace.metadata.name, labels: props.labels, nodeSelector: { [labelKey]: master } };

    this.nfsNamespace = props.storageClass
      ? undefined
      : new NamespaceV1(this, "NfsNamespace", {
          metadata: { name: nfsNamespaceName(ns), labels: { ...commonLabels(props.labels), ...POD_SECURITY_LABELS.nfs } },
        });
    const workDir = new WorkDir(this, {
      ...onMaster,
      storageClass: props.storageClass,
      sizeGiB: props.workVolumeGiB,
      nfsBackingStorageClass: props.nfsBackingStorageClass,
      nfsNamespace: this.nfsNamespace?.metadata.name,
    });
    const redis = new Redis(this, { ...onMaster, image: props.redisImage, remoteClientCidrs: props.redisRemoteClientCidrs });
    const remote = props.remoteClusters ?? [];
    this.kubeconfigs =
      remote.length > 0
        ? new SecretV1(this, "Clusters", {
            metadata: objectMeta(onMaster, "hyperflow-clusters", "engine"),
            data: Object.fromEntries(remote.map((r) => [`${r.name}.kubeconfig`, r.kubeconfig])),
          })
        : undefined;
    const dataJob = props.dataImage ? new DataJob(this, { ...onMaster, image: props.dataImage, workDir: workDir.volume }) : undefined;
    const engine = new Engine(this, {
      ...onMaster,
      image: props.engineImage,
      workerImage: props.workerImage,
      redisUrl: redis.loadBalancerUrl ?? redisUrl(ns),
      kubeconfigSecret: this.kubeconfigs?.metadata.name,
      workDir: workDir.volume,
      jobTemplate: {
        nodeLabelKey: labelKey,
        workerPool: worker,
        claimName: workDir.claimName,
        retries: props.retries ?? K8S_DEFAULTS.retries,
        ttlSecondsAfterFinished: TASK_JOB_TTL_SECONDS,
      },
      jobCpuRequest: props.jobCpuRequest,
      jobMemRequest: props.jobMemRequest,
      backoffLimit: props.backoffLimit,
      deadlineSeconds: engineDeadline,
      markers: (props.postJobs ?? []).map((j) => j.after).filter((m): m is string => m !== undefined),
      resources: props.engineResources,
      dependsOn: [redis.service, ...(dataJob ? [dataJob.job] : [])],
    });
    const postJobs = new PostJobs(this, {
      ...onMaster,
      jobs: props.postJobs ?? [],
      workDir: workDir.volume,
      deadlineSeconds: engineDeadline + POST_JOB_EXTRA_SECONDS,
      dependsOn: [engine.job],
    });
    const disruptionBudgets =
      (props.disruptionBudgets ?? K8S_DEFAULTS.disruptionBudgets)
        ? new DisruptionBudgets(this, {
            namespace: onMaster.namespace,
            labels: props.labels,
            redisPodLabels: redis.podLabels,
            nfsServerPodLabels: workDir.nfsServerPodLabels,
            nfsNamespace: workDir.nfsNamespace,
          })
        : undefined;
    this.parts = { workDir, redis, dataJob, engine, postJobs, disruptionBudgets };

    this.workVolume = workDir.claim;
    this.nfs = workDir.nfs;
    this.redis = redis.deployment;
    this.dataJob = dataJob?.job;
    this.serviceAccount = engine.serviceAccount;
    this.role = engine.role;
    this.jobTemplate = engine.jobTemplate;
    this.engine = engine.job;
    this.engineEnv = engine.env;
  }
}

/** The NFS server's namespace: HyperFlow's with "-nfs" (cut so that it stays a DNS label). */
function nfsNamespaceName(namespace: string): string {
  return Token.isUnresolved(namespace) ? `${namespace}-nfs` : `${truncateName(namespace, 59)}-nfs`;
}

/** Every prop checked before anything is created, named as the caller named it. */
function validate(props: HyperflowK8sProps): void {
  const c = "HyperflowK8s";
  if (props.autopilot && !props.storageClass) {
    throw new PropsError(
      c,
      "storageClass",
      props.storageClass,
      "an RWX storage class on GKE Autopilot, e.g. standard-rwx (Filestore): Autopilot refuses the NFS server provisioner's added capabilities",
    );
  }
  if (props.engineDeadlineSeconds !== undefined) requireRule(c, "engineDeadlineSeconds", props.engineDeadlineSeconds, ENGINE_DEADLINE_SECONDS);
  // Names and quantities may be references known only at apply (they pass, as in the parts); numbers must be literal.
  const tokens = { allowTokens: true };
  requireRule(c, "namespace", props.namespace ?? K8S_DEFAULTS.namespace, K8S_NAMESPACE, tokens);
  const pools = props.nodePools ?? {};
  if (pools.labelKey !== undefined) requireRule(c, "nodePools.labelKey", pools.labelKey, K8S_LABEL, tokens);
  if (pools.master !== undefined) requireRule(c, "nodePools.master", pools.master, K8S_LABEL, tokens);
  if (pools.worker !== undefined) requireRule(c, "nodePools.worker", pools.worker, K8S_LABEL, tokens);
  requireLabels(c, "labels", props.labels ?? {});
  if (props.workVolumeGiB !== undefined) requireRule(c, "workVolumeGiB", props.workVolumeGiB, WORK_VOLUME_GIB);
  if (props.jobCpuRequest !== undefined) requireRule(c, "jobCpuRequest", props.jobCpuRequest, K8S_QUANTITY, tokens);
  if (props.jobMemRequest !== undefined) requireRule(c, "jobMemRequest", props.jobMemRequest, K8S_QUANTITY, tokens);
  if (props.retries !== undefined) requireRule(c, "retries", props.retries, K8S_JOB_RETRIES);
  if (props.backoffLimit !== undefined) requireRule(c, "backoffLimit", props.backoffLimit, K8S_JOB_RETRIES);
  if (props.engineResources) {
    requireRule(c, "engineResources.cpu", props.engineResources.cpu, K8S_QUANTITY, tokens);
    requireRule(c, "engineResources.memory", props.engineResources.memory, K8S_QUANTITY, tokens);
  }
  validatePostJobs(c, "postJobs", props.postJobs ?? []);
  (props.remoteClusters ?? []).forEach((r, i) => requireRule(c, `remoteClusters[${i}].name`, r.name, EKS_CLUSTER_NAME));
  requireUnique(
    c,
    "remoteClusters (names)",
    (props.remoteClusters ?? []).map((r) => r.name),
  );
  (props.redisRemoteClientCidrs ?? []).forEach((cidr, i) => requireRule(c, `redisRemoteClientCidrs[${i}]`, cidr, PRIVATE_CIDR, { allowTokens: true }));
}
