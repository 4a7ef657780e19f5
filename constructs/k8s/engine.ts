/**
 * The HyperFlow engine as a Job on the master pool, with what it needs: a ServiceAccount bound to a
 * namespaced Role with only what the engine calls (creating Jobs; no cluster-admin), and the job template
 * as a ConfigMap mounted at JOB_TEMPLATE_DIR. The Job has a deadline: the engine waits for every task's
 * result in Redis without one (hyperflow-wms/hyperflow functions/kubernetes/jobSynchronization.js).
 *
 * Failed tasks: HF_VAR_BACKOFF_LIMIT (`backoffLimit`) sets the task Job's backoffLimit and, when above 0,
 * restartPolicy OnFailure (functions/kubernetes/k8sJobSubmit.js, createK8sJobYaml), so Kubernetes re-runs
 * a task pod that ended without reporting (OOM kill, eviction, node loss). A task whose command fails
 * (after the executor's own HF_VAR_NUMBER_OF_RETRIES) reports its exit code, and with
 * HF_VAR_STOP_WORKFLOW_WHEN_JOB_FAILED=1 the engine stops the workflow (functions/kubernetes/k8sCommand.js,
 * k8sCommandGroup: process.exit(1)); the engine's own re-submission of that task, which the same variable
 * drives (restartFn), never runs then. Without the stop, a task that still fails after its re-submissions
 * never calls back, and the workflow would hang; so the stop is always on.
 */
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import { terraformLiteral } from "../core/terraform-string";
import { K8S_DEFAULTS } from "../core/defaults";
import { ENGINE_DEADLINE_SECONDS, K8S_JOB_RETRIES, K8S_LABEL, K8S_QUANTITY, MARKER_FILE } from "../core/rules";
import { requireIntInRange, requireRule } from "../core/validation";
import { jobTemplate, type JobTemplateOptions } from "./job-template";
import { commonLabels, type K8sPodProps, objectMeta, podMetadata, podSpec, PodVolume, type ResourceRequests, validatePodProps } from "./pod-spec";
import { WORKFLOW_END_MARKER } from "./post-jobs";
import { WORK_DIR } from "./work-dir";

const JOB_TEMPLATE_DIR = "/opt/hyperflow";
/** Where the engine finds the kubeconfig files of other clusters (`<cluster>.kubeconfig`). */
export const CLUSTERS_DIR = "/opt/hyperflow-clusters";
/** Name of the engine's Job, ServiceAccount and Role. */
const ENGINE_NAME = "hyperflow-engine";

export interface EngineProps extends K8sPodProps {
  /** HyperFlow engine image. */
  readonly image: string;
  /** Default task image (HF_VAR_WORKER_CONTAINER). */
  readonly workerImage: string;
  /** Redis URL (REDIS_URL). */
  readonly redisUrl: string;
  /** The shared /work_dir volume. */
  readonly workDir: PodVolume;
  /** The template the engine fills for every task (see job-template.ts). */
  readonly jobTemplate: JobTemplateOptions;
  /** Default CPU request of a task job (HF_VAR_CPU_REQUEST). @default "0.5" */
  readonly jobCpuRequest?: string;
  /** Default memory request of a task job (HF_VAR_MEM_REQUEST). @default "50Mi" */
  readonly jobMemRequest?: string;
  /** Kubernetes re-runs of a task pod that ended without reporting (HF_VAR_BACKOFF_LIMIT, see above). @default 1 */
  readonly backoffLimit?: number;
  /** activeDeadlineSeconds of the engine Job. @default 604800 (a week) */
  readonly deadlineSeconds?: number;
  /**
   * Marker files in /work_dir that the engine removes when it starts, before the workflow runs, so that a
   * re-run's post-processing jobs do not start on the previous run's markers. @default - the end marker only
   */
  readonly markers?: readonly string[];
  /** Requests of the engine container. @default - 1 CPU and 2Gi of memory */
  readonly resources?: ResourceRequests;
  /**
   * Secret whose keys are kubeconfig files of other clusters, mounted at CLUSTERS_DIR: a workflow sends a
   * partition's tasks there with `kubeConfigPath` in workflow.config.jobvars<N>.json
   * (hyperflow-wms/hyperflow functions/kubernetes/k8sCommand.js). @default - none
   */
  readonly kubeconfigSecret?: string;
  /** Resources to exist before the engine starts (Redis's Service, the data job). @default - none */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/** Adds ids "EngineSa", "EngineRole", "EngineRoleBinding", "JobTemplate" and "Engine" to `scope`. */
export class Engine {
  readonly serviceAccount: ServiceAccountV1;
  readonly role: RoleV1;
  readonly roleBinding: RoleBindingV1;
  readonly jobTemplate: ConfigMapV1;
  readonly job: JobV1;
  /** The engine's literal environment (for inspection and tests); HF_VAR_NAMESPACE comes from the pod. */
  readonly env: Readonly<Record<string, string>>;

  constructor(scope: Construct, props: EngineProps) {
    validate(props);
    const meta = objectMeta(props, ENGINE_NAME, "engine");

    this.serviceAccount = new ServiceAccountV1(scope, "EngineSa", { metadata: meta });
    // The engine's only API call is BatchV1Api.createNamespacedJob (hyperflow-wms/hyperflow
    // functions/kubernetes/k8sJobSubmit.js, submitK8sJob); it learns results from Redis, not from the API.
    this.role = new RoleV1(scope, "EngineRole", {
      metadata: meta,
      rule: [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["create"] }],
    });
    this.roleBinding = new RoleBindingV1(scope, "EngineRoleBinding", {
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: this.role.metadata.name },
      subject: [{ kind: "ServiceAccount", name: this.serviceAccount.metadata.name, namespace: props.namespace }],
    });

    this.jobTemplate = new ConfigMapV1(scope, "JobTemplate", {
      metadata: objectMeta(props, "hyperflow-job-template", "engine"),
      // The engine fills ${…} itself: escaped here so Terraform passes them through.
      data: { "job-template.yaml": terraformLiteral(jobTemplate(props.jobTemplate)) },
    });

    this.env = {
      REDIS_URL: props.redisUrl,
      HF_VAR_function: "k8sCommand",
      HF_VAR_JOB_TEMPLATE_PATH: `${JOB_TEMPLATE_DIR}/job-template.yaml`,
      HF_VAR_WORKER_CONTAINER: props.workerImage,
      HF_VAR_WORK_DIR: WORK_DIR,
      HF_VAR_CPU_REQUEST: props.jobCpuRequest ?? K8S_DEFAULTS.jobCpuRequest,
      HF_VAR_MEM_REQUEST: props.jobMemRequest ?? K8S_DEFAULTS.jobMemRequest,
      HF_VAR_BACKOFF_LIMIT: String(props.backoffLimit ?? K8S_DEFAULTS.backoffLimit),
      HF_VAR_STOP_WORKFLOW_WHEN_JOB_FAILED: "1",
    };
    const markers = [...new Set([WORKFLOW_END_MARKER, ...(props.markers ?? [])])];
    this.job = new JobV1(scope, "Engine", {
      metadata: meta,
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: props.deadlineSeconds ?? K8S_DEFAULTS.engineDeadlineSeconds,
        template: {
          metadata: podMetadata({ ...commonLabels(props.labels), "app.kubernetes.io/name": ENGINE_NAME, "app.kubernetes.io/component": "engine" }),
          spec: podSpec({
            restartPolicy: "Never",
            serviceAccountName: this.serviceAccount.metadata.name,
            nodeSelector: props.nodeSelector,
            container: {
              name: "hyperflow",
              image: props.image,
              workingDir: WORK_DIR,
              // Removes the previous run's markers, waits (with a sleep) for the workflow the data job
              // copies, runs it, leaves the marker the post-processing jobs wait for, and exits with the
              // workflow's code.
              script:
                `rm -f ${markers.map((m) => `${WORK_DIR}/${m}`).join(" ")}; ` +
                `until [ -f ${WORK_DIR}/workflow.json ]; do echo "waiting for ${WORK_DIR}/workflow.json"; sleep 5; done; mkdir -p ${WORK_DIR}/logs-hf; ` +
                `hflow run ${WORK_DIR}/workflow.json; code=$?; echo "$code" > ${WORK_DIR}/${WORKFLOW_END_MARKER}; exit "$code"`,
              env: this.env,
              envFromFields: { HF_VAR_NAMESPACE: "metadata.namespace" },
              resources: props.resources ?? { cpu: "1", memory: "2Gi" },
              volumeMounts: [
                { volume: props.workDir, path: WORK_DIR },
                { volume: PodVolume.fromConfigMap("job-template", this.jobTemplate.metadata.name), path: JOB_TEMPLATE_DIR, readOnly: true },
                ...(props.kubeconfigSecret ? [{ volume: PodVolume.fromSecret("clusters", props.kubeconfigSecret), path: CLUSTERS_DIR, readOnly: true }] : []),
              ],
              securityContext: { allowPrivilegeEscalation: false },
            },
          }),
        },
      },
      waitForCompletion: false,
      dependsOn: props.dependsOn ? [...props.dependsOn] : undefined,
    });
  }
}

function validate(props: EngineProps): void {
  const c = "Engine";
  validatePodProps(c, props);
  const tokens = { allowTokens: true };
  if (props.jobCpuRequest !== undefined) requireRule(c, "jobCpuRequest", props.jobCpuRequest, K8S_QUANTITY, tokens);
  if (props.jobMemRequest !== undefined) requireRule(c, "jobMemRequest", props.jobMemRequest, K8S_QUANTITY, tokens);
  if (props.backoffLimit !== undefined) requireRule(c, "backoffLimit", props.backoffLimit, K8S_JOB_RETRIES);
  if (props.deadlineSeconds !== undefined) requireRule(c, "deadlineSeconds", props.deadlineSeconds, ENGINE_DEADLINE_SECONDS);
  (props.markers ?? []).forEach((m, i) => requireRule(c, `markers[${i}]`, m, MARKER_FILE));
  if (props.resources) {
    requireRule(c, "resources.cpu", props.resources.cpu, K8S_QUANTITY, tokens);
    requireRule(c, "resources.memory", props.resources.memory, K8S_QUANTITY, tokens);
  }
  const t = props.jobTemplate;
  requireRule(c, "jobTemplate.nodeLabelKey", t.nodeLabelKey, K8S_LABEL, tokens);
  requireRule(c, "jobTemplate.workerPool", t.workerPool, K8S_LABEL, tokens);
  requireRule(c, "jobTemplate.retries", t.retries, K8S_JOB_RETRIES);
  requireIntInRange(c, "jobTemplate.ttlSecondsAfterFinished", t.ttlSecondsAfterFinished, 0, 604_800);
}
