/**
 * The Kubernetes Job template HyperFlow's k8sCommand fills for every task (hyperflow-wms/hyperflow
 * `functions/kubernetes/k8sJobSubmit.js`, createK8sJobYaml). The engine replaces `${name}` placeholders
 * in the raw YAML text (regex `\${(\w+)}`); a name it does not know becomes the string "undefined".
 * So the template uses exactly the placeholders the engine fills, and in Terraform they must reach the
 * ConfigMap escaped (`$${…}`), which terraformLiteral does.
 *
 * The task pod tolerates the worker pool's taint (Autopilot workload separation, the tainted pools of the
 * `eks` and `gke` stacks) and is marked not safe to evict for the cluster autoscaler: an evicted task
 * never reports, and the engine waits for it without a deadline.
 *
 * Per-task overrides: a task's `config.executor.image`, `cpuRequest` and `memRequest` become
 * `containerName`, `cpuRequest`, `memRequest`; `workflow.config.jobvars.json` (or `jobvars<N>` per
 * partition) can set any placeholder for every job.
 */

import { SAFE_TO_EVICT_ANNOTATION } from "./pod-spec";

/** Placeholders the engine fills (hyperflow-wms/hyperflow `functions/kubernetes/k8sJobSubmit.js`, createK8sJobYaml). */
export const ENGINE_PLACEHOLDERS = [
  "command",
  "containerName",
  "jobName",
  "volumePath",
  "workingDirPath",
  "cpuRequest",
  "memRequest",
  "restartPolicy",
  "backoffLimit",
  "experimentId",
  "workflowName",
  "taskName",
  "appId",
] as const;
export type Placeholder = (typeof ENGINE_PLACEHOLDERS)[number];

/** Label on every pod the engine starts, so PodDisruptionBudgets and selectors can leave them out. */
export const JOB_POD_LABELS = { "app.kubernetes.io/part-of": "hyperflow", "app.kubernetes.io/component": "job" } as const;

export interface JobTemplateOptions {
  /** Node label key and value of the worker pool. */
  readonly nodeLabelKey: string;
  readonly workerPool: string;
  /** PVC with the shared /work_dir. */
  readonly claimName: string;
  /** Retries of a failed command inside the job (HF_VAR_NUMBER_OF_RETRIES: the name the executor reads). */
  readonly retries: number;
  /** Seconds a finished Job is kept. */
  readonly ttlSecondsAfterFinished: number;
}

const p = (name: Placeholder) => `\${${name}}`;
/** A YAML double-quoted string, so a label such as "true" or "1.0" stays a string. */
const q = (text: string) => JSON.stringify(text);

/** The template text (YAML) with the engine's placeholders, not yet escaped for Terraform. */
export function jobTemplate(o: JobTemplateOptions): string {
  return `apiVersion: batch/v1
kind: Job
metadata:
  name: job${p("jobName")}
  labels:
    app.kubernetes.io/part-of: hyperflow
    app.kubernetes.io/component: job
  annotations:
    hyperflow.io/experiment-id: "${p("experimentId")}"
    hyperflow.io/workflow: "${p("workflowName")}"
    hyperflow.io/task: "${p("taskName")}"
    hyperflow.io/app-id: "${p("appId")}"
spec:
  ttlSecondsAfterFinished: ${o.ttlSecondsAfterFinished}
  backoffLimit: ${p("backoffLimit")}
  template:
    metadata:
      labels:
        app.kubernetes.io/part-of: hyperflow
        app.kubernetes.io/component: job
      annotations:
        ${SAFE_TO_EVICT_ANNOTATION}: "false"
    spec:
      restartPolicy: ${p("restartPolicy")}
      automountServiceAccountToken: false
      nodeSelector:
        ${q(o.nodeLabelKey)}: ${q(o.workerPool)}
      tolerations:
        - key: ${q(o.nodeLabelKey)}
          operator: Equal
          value: ${q(o.workerPool)}
          effect: NoSchedule
      containers:
        - name: task
          image: ${p("containerName")}
          command:
            - /bin/sh
            - -c
            - |
              ${p("command")}
          workingDir: ${p("workingDirPath")}
          env:
            - name: HF_VAR_WORK_DIR
              value: "${p("workingDirPath")}"
            - name: HF_VAR_NUMBER_OF_RETRIES
              value: "${o.retries}"
            - name: HF_VAR_WAIT_FOR_INPUT_FILES
              value: "0"
            - name: HF_LOG_NODE_NAME
              valueFrom:
                fieldRef:
                  fieldPath: spec.nodeName
            - name: HF_LOG_POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: HF_LOG_POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: HF_LOG_POD_IP
              valueFrom:
                fieldRef:
                  fieldPath: status.podIP
          resources:
            requests:
              cpu: "${p("cpuRequest")}"
              memory: "${p("memRequest")}"
          volumeMounts:
            - name: work-dir
              mountPath: ${p("volumePath")}
      volumes:
        - name: work-dir
          persistentVolumeClaim:
            claimName: ${o.claimName}
`;
}

/** Placeholder names used in a template text. */
export function placeholdersIn(template: string): string[] {
  return [...new Set([...template.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]))].sort();
}

/** What the engine does with the template: every `${name}` replaced, unknown ones by "undefined". */
export function renderLikeEngine(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\$\{(\w+)\}/g, (_m, name: string) => values[name] ?? "undefined");
}
