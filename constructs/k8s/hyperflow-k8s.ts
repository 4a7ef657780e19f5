/**
 * HyperFlow on any Kubernetes cluster (kubernetes + helm providers): namespace, a shared RWX volume for
 * /work_dir (NFS server provisioner, or a storage class you name), Redis, a data job that copies a
 * workflow data image into the volume, the engine as a Job, and the job template as a ConfigMap. The
 * engine's ServiceAccount gets a namespaced Role with only what k8sCommand uses: no cluster-admin.
 */
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { PersistentVolumeClaimV1 } from "@cdktf/provider-kubernetes/lib/persistent-volume-claim-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Release } from "@cdktf/provider-helm/lib/release";
import { Construct } from "constructs";
import { terraformLiteral } from "../core/terraform-string";
import { K8S_DEFAULTS } from "../core/defaults";
import { K8S_JOB_NAME, K8S_NAMESPACE, MARKER_FILE } from "../core/rules";
import { requireRule } from "../core/validation";
import { jobTemplate } from "./job-template";

export const WORK_DIR = "/work_dir";
export const JOB_TEMPLATE_DIR = "/opt/hyperflow";
export const REDIS_PORT = 6379;
/** Chart that provides the RWX volume when no storage class is named. */
export const NFS_CHART = { repository: "https://kubernetes-sigs.github.io/nfs-ganesha-server-and-external-provisioner/", chart: "nfs-server-provisioner", version: "1.8.0" };

export interface NodePools {
  /** Label key on both pools. @default "hyperflow-wms/nodepool" */
  readonly labelKey?: string;
  /** Pool of the engine, Redis and the NFS server. @default "hfmaster" */
  readonly master?: string;
  /** Pool of the task jobs. @default "hfworker" */
  readonly worker?: string;
}

/** A job run after the workflow, e.g. the log parser or viz-trace of the seed's charts. */
export interface PostJob {
  /** Job name (a DNS label). */
  readonly name: string;
  readonly image: string;
  /** Shell command run in /work_dir. */
  readonly command: string;
  /** Marker file in /work_dir to wait for: the engine writes `postprocStart` when the workflow ends; a job may wait for another's marker (e.g. `parsingFinished`). @default "postprocStart" */
  readonly after?: string;
}

export interface HyperflowK8sProps {
  /** @default "hyperflow" */
  readonly namespace?: string;
  readonly nodePools?: NodePools;
  /** RWX storage class for /work_dir. @default - an NFS server provisioner (helm) on the master pool */
  readonly storageClass?: string;
  /** @default 50 */
  readonly workVolumeGiB?: number;
  /** Storage class of the NFS server's own (RWO) disk. @default - the cluster's default class */
  readonly nfsBackingStorageClass?: string;
  readonly engineImage: string;
  /** Default task image (HF_VAR_WORKER_CONTAINER). */
  readonly workerImage: string;
  readonly redisImage: string;
  /** Image whose /data holds the workflow (workflow.json + inputs); copied into /work_dir. @default - no data job */
  readonly dataImage?: string;
  /** @default "0.5" */
  readonly jobCpuRequest?: string;
  /** @default "50Mi" */
  readonly jobMemRequest?: string;
  /** Retries of a failed task command (HF_VAR_NUMBER_OF_RETRIES). @default 1 */
  readonly retries?: number;
  /** Re-submissions of a failed Job by the engine (HF_VAR_BACKOFF_LIMIT). @default 0 */
  readonly backoffLimit?: number;
  /** @default { cpu: "1", memory: "2Gi" } */
  readonly engineResources?: { readonly cpu: string; readonly memory: string };
  /** PodDisruptionBudgets for Redis and the NFS server (they never select task pods). @default false */
  readonly disruptionBudgets?: boolean;
  /** Post-processing jobs (log parser, viz-trace, …) that start when a marker file appears in /work_dir. @default - none */
  readonly postJobs?: readonly PostJob[];
  /** Labels on every object. @default - none */
  readonly labels?: Readonly<Record<string, string>>;
}

export class HyperflowOnKubernetes extends Construct {
  readonly namespace: NamespaceV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly role: RoleV1;
  readonly jobTemplate: ConfigMapV1;
  readonly engine: JobV1;
  readonly redis: DeploymentV1;
  readonly workVolume: PersistentVolumeClaimV1;
  readonly nfs?: Release;
  readonly dataJob?: JobV1;
  /** The engine's environment (for inspection and tests). */
  readonly engineEnv: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: HyperflowK8sProps) {
    super(scope, id);
    const ns = props.namespace ?? K8S_DEFAULTS.namespace;
    requireRule("HyperflowOnKubernetes", "namespace", ns, K8S_NAMESPACE);
    const labelKey = props.nodePools?.labelKey ?? K8S_DEFAULTS.nodePools.labelKey;
    const master = props.nodePools?.master ?? K8S_DEFAULTS.nodePools.master;
    const worker = props.nodePools?.worker ?? K8S_DEFAULTS.nodePools.worker;
    const onMaster = { [labelKey]: master };
    const common = { "app.kubernetes.io/part-of": "hyperflow", "app.kubernetes.io/managed-by": "hyperflow-infra", ...(props.labels ?? {}) };
    const meta = (name: string, component: string) => ({ name, namespace: ns, labels: { ...common, "app.kubernetes.io/name": name, "app.kubernetes.io/component": component } });

    this.namespace = new NamespaceV1(this, "Namespace", { metadata: { name: ns, labels: common } });
    const nsName = this.namespace.metadata.name;
    const inNs = (name: string, component: string) => ({ ...meta(name, component), namespace: nsName });

    // Shared /work_dir.
    let storageClass = props.storageClass;
    if (!storageClass) {
      storageClass = "hyperflow-nfs";
      this.nfs = new Release(this, "Nfs", {
        name: "nfs-server-provisioner",
        namespace: nsName,
        repository: NFS_CHART.repository,
        chart: NFS_CHART.chart,
        version: NFS_CHART.version,
        values: [
          JSON.stringify({
            persistence: {
              enabled: true,
              accessMode: "ReadWriteOnce",
              size: `${(props.workVolumeGiB ?? K8S_DEFAULTS.workVolumeGiB) + 5}Gi`,
              ...(props.nfsBackingStorageClass ? { storageClass: props.nfsBackingStorageClass } : {}),
            },
            storageClass: { name: storageClass, defaultClass: false, mountOptions: ["vers=4.1"] },
            nodeSelector: onMaster,
          }),
        ],
      });
    }
    this.workVolume = new PersistentVolumeClaimV1(this, "WorkDir", {
      metadata: inNs("work-dir", "storage"),
      spec: { accessModes: ["ReadWriteMany"], storageClassName: storageClass, resources: { requests: { storage: `${props.workVolumeGiB ?? K8S_DEFAULTS.workVolumeGiB}Gi` } } },
      waitUntilBound: false,
      dependsOn: this.nfs ? [this.nfs] : undefined,
    });
    const workDirVolume = { name: "work-dir", persistentVolumeClaim: { claimName: this.workVolume.metadata.name } };

    // Redis.
    const redisLabels = { "app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "hyperflow" };
    this.redis = new DeploymentV1(this, "Redis", {
      metadata: inNs("redis", "redis"),
      spec: {
        replicas: "1",
        selector: { matchLabels: redisLabels },
        template: {
          metadata: { labels: { ...redisLabels, "app.kubernetes.io/component": "redis" } },
          spec: {
            nodeSelector: onMaster,
            automountServiceAccountToken: false,
            container: [
              {
                name: "redis",
                image: props.redisImage,
                args: ["--save", "", "--appendonly", "no"],
                port: [{ containerPort: REDIS_PORT, name: "redis" }],
                resources: { requests: { cpu: "100m", memory: "128Mi" } },
                readinessProbe: { tcpSocket: [{ port: "redis" }], periodSeconds: 5 },
                securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: "999" },
              },
            ],
          },
        },
      },
    });
    const redisSvc = new ServiceV1(this, "RedisService", {
      metadata: inNs("redis", "redis"),
      spec: { selector: redisLabels, port: [{ port: REDIS_PORT, targetPort: "redis", name: "redis" }] },
    });

    // What the engine may do: create and follow Jobs in its namespace, read pods and their logs.
    this.serviceAccount = new ServiceAccountV1(this, "EngineSa", { metadata: inNs("hyperflow-engine", "engine") });
    this.role = new RoleV1(this, "EngineRole", {
      metadata: inNs("hyperflow-engine", "engine"),
      rule: [
        { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "list", "watch", "delete"] },
        { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] },
      ],
    });
    new RoleBindingV1(this, "EngineRoleBinding", {
      metadata: inNs("hyperflow-engine", "engine"),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: this.role.metadata.name },
      subject: [{ kind: "ServiceAccount", name: this.serviceAccount.metadata.name, namespace: nsName }],
    });

    this.jobTemplate = new ConfigMapV1(this, "JobTemplate", {
      metadata: inNs("hyperflow-job-template", "engine"),
      data: {
        // The engine fills ${…} itself: escaped here so Terraform passes them through.
        "job-template.yaml": terraformLiteral(
          jobTemplate({ nodeLabelKey: labelKey, workerPool: worker, claimName: "work-dir", retries: props.retries ?? K8S_DEFAULTS.retries, ttlSecondsAfterFinished: 300 }),
        ),
      },
    });

    if (props.dataImage) {
      this.dataJob = new JobV1(this, "DataJob", {
        metadata: inNs("workflow-data", "data"),
        spec: {
          backoffLimit: 2,
          template: {
            metadata: { labels: { ...common, "app.kubernetes.io/component": "data" } },
            spec: {
              restartPolicy: "Never",
              nodeSelector: onMaster,
              automountServiceAccountToken: false,
              container: [{ name: "copy", image: props.dataImage, command: ["/bin/sh", "-c", terraformLiteral(`cp -r /data/. ${WORK_DIR}/`)], volumeMount: [{ name: "work-dir", mountPath: WORK_DIR }] }],
              volume: [workDirVolume],
            },
          },
        },
        waitForCompletion: true,
        timeouts: { create: "30m" },
      });
    }

    this.engineEnv = {
      REDIS_URL: `redis://redis.${ns}.svc.cluster.local:${REDIS_PORT}`,
      HF_VAR_function: "k8sCommand",
      HF_VAR_JOB_TEMPLATE_PATH: `${JOB_TEMPLATE_DIR}/job-template.yaml`,
      HF_VAR_WORKER_CONTAINER: props.workerImage,
      HF_VAR_WORK_DIR: WORK_DIR,
      HF_VAR_CPU_REQUEST: props.jobCpuRequest ?? K8S_DEFAULTS.jobCpuRequest,
      HF_VAR_MEM_REQUEST: props.jobMemRequest ?? K8S_DEFAULTS.jobMemRequest,
      HF_VAR_BACKOFF_LIMIT: String(props.backoffLimit ?? K8S_DEFAULTS.backoffLimit),
      HF_VAR_STOP_WORKFLOW_WHEN_JOB_FAILED: "1",
    };
    const engineLabels = { ...common, "app.kubernetes.io/name": "hyperflow-engine", "app.kubernetes.io/component": "engine" };
    this.engine = new JobV1(this, "Engine", {
      metadata: inNs("hyperflow-engine", "engine"),
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: engineLabels },
          spec: {
            restartPolicy: "Never",
            serviceAccountName: this.serviceAccount.metadata.name,
            nodeSelector: onMaster,
            container: [
              {
                name: "hyperflow",
                image: props.engineImage,
                workingDir: WORK_DIR,
                // Waits (with a sleep) for the workflow the data job copies, runs it, leaves the marker the
                // post-processing jobs wait for, and exits with the workflow's code.
                command: [
                  "/bin/sh",
                  "-c",
                  terraformLiteral(
                    `until [ -f ${WORK_DIR}/workflow.json ]; do echo "waiting for ${WORK_DIR}/workflow.json"; sleep 5; done; mkdir -p ${WORK_DIR}/logs-hf; ` +
                      `hflow run ${WORK_DIR}/workflow.json; code=$?; echo "$code" > ${WORK_DIR}/postprocStart; exit "$code"`,
                  ),
                ],
                env: [
                  ...Object.entries(this.engineEnv).map(([name, value]) => ({ name, value: terraformLiteral(value) })),
                  { name: "HF_VAR_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                ],
                resources: { requests: { cpu: props.engineResources?.cpu ?? "1", memory: props.engineResources?.memory ?? "2Gi" } },
                volumeMount: [
                  { name: "work-dir", mountPath: WORK_DIR },
                  { name: "job-template", mountPath: JOB_TEMPLATE_DIR, readOnly: true },
                ],
                securityContext: { allowPrivilegeEscalation: false },
              },
            ],
            volume: [workDirVolume, { name: "job-template", configMap: { name: this.jobTemplate.metadata.name } }],
          },
        },
      },
      waitForCompletion: false,
      dependsOn: [redisSvc, ...(this.dataJob ? [this.dataJob] : [])],
    });

    for (const job of props.postJobs ?? []) {
      requireRule("HyperflowOnKubernetes", "postJobs[].name", job.name, K8S_JOB_NAME);
      const after = job.after ?? K8S_DEFAULTS.postJobAfter;
      requireRule("HyperflowOnKubernetes", "postJobs[].after", after, MARKER_FILE);
      new JobV1(this, `Post-${job.name}`, {
        metadata: inNs(job.name, "post-processing"),
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { labels: { ...common, "app.kubernetes.io/component": "post-processing" } },
            spec: {
              restartPolicy: "Never",
              nodeSelector: onMaster,
              automountServiceAccountToken: false,
              container: [
                {
                  name: job.name,
                  image: job.image,
                  workingDir: WORK_DIR,
                  command: ["/bin/sh", "-c", terraformLiteral(`until [ -f ${WORK_DIR}/${after} ]; do sleep 10; done; ${job.command}`)],
                  volumeMount: [{ name: "work-dir", mountPath: WORK_DIR }],
                },
              ],
              volume: [workDirVolume],
            },
          },
        },
        waitForCompletion: false,
      });
    }

    if (props.disruptionBudgets) {
      // Selectors name Redis and the NFS server only: task and engine pods stay drainable.
      new PodDisruptionBudgetV1(this, "RedisPdb", { metadata: inNs("redis", "redis"), spec: { maxUnavailable: "0", selector: { matchLabels: redisLabels } } });
      if (this.nfs) {
        new PodDisruptionBudgetV1(this, "NfsPdb", {
          metadata: inNs("nfs-server", "storage"),
          spec: { maxUnavailable: "0", selector: { matchLabels: { app: "nfs-server-provisioner", release: "nfs-server-provisioner" } } },
        });
      }
    }
  }
}
