/**
 * Post-processing jobs (the log parser, viz-trace, …): each waits on the master pool for a marker file
 * in /work_dir, then runs its command there. The engine writes `postprocStart` when the workflow ends; a
 * job may wait for another's marker (e.g. `parsingFinished`). The engine removes all these markers when
 * it starts (engine.ts), so a re-run's jobs wait for the new run's. Each job has a deadline: it waits
 * for a workflow that itself has one.
 */
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import { K8S_DEFAULTS } from "../core/defaults";
import { K8S_JOB_NAME, MARKER_FILE } from "../core/rules";
import { PropsError, requireIntInRange, requireRule } from "../core/validation";
import { commonLabels, type K8sPodProps, objectMeta, podMetadata, podSpec, type PodVolume, validatePodProps } from "./pod-spec";
import { WORK_DIR } from "./work-dir";

/** Marker the engine writes in /work_dir when the workflow has ended. */
export const WORKFLOW_END_MARKER = K8S_DEFAULTS.postJobAfter;

/** A job run after the workflow, e.g. the log parser or viz-trace (hyperflow-wms/hyperflow-k8s-deployment `charts/parser`, `charts/viz-trace`). */
export interface PostJob {
  /** Job name: a DNS label of at most 52 characters (the Job controller adds a suffix to pod names). */
  readonly name: string;
  readonly image: string;
  /** Shell command run in /work_dir. */
  readonly command: string;
  /** Marker file in /work_dir to wait for. @default "postprocStart", which the engine writes when the workflow ends */
  readonly after?: string;
}

export interface PostJobsProps extends K8sPodProps {
  readonly jobs: readonly PostJob[];
  /** The shared /work_dir volume. */
  readonly workDir: PodVolume;
  /** activeDeadlineSeconds of each job: longer than the engine's, since a job waits for the engine first. @default 691200 (8 days) */
  readonly deadlineSeconds?: number;
  /** Created after these (the engine Job, so that it removes the previous run's markers first). @default - none */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/** What a post job's deadline adds to the engine's: a day for the post-processing itself. */
export const POST_JOB_EXTRA_SECONDS = 86_400;

/** Adds one Job per post job (id "Post-<name>") to `scope`. */
export class PostJobs {
  readonly jobs: readonly JobV1[];

  constructor(scope: Construct, props: PostJobsProps) {
    validatePodProps("PostJobs", props);
    validatePostJobs("PostJobs", "jobs", props.jobs);
    if (props.deadlineSeconds !== undefined) requireIntInRange("PostJobs", "deadlineSeconds", props.deadlineSeconds, 60, 31 * 86_400 + POST_JOB_EXTRA_SECONDS);
    this.jobs = props.jobs.map(
      (job) =>
        new JobV1(scope, `Post-${job.name}`, {
          metadata: objectMeta(props, job.name, "post-processing"),
          spec: {
            backoffLimit: 0,
            activeDeadlineSeconds: props.deadlineSeconds ?? K8S_DEFAULTS.engineDeadlineSeconds + POST_JOB_EXTRA_SECONDS,
            template: {
              metadata: podMetadata({ ...commonLabels(props.labels), "app.kubernetes.io/component": "post-processing" }),
              spec: podSpec({
                restartPolicy: "Never",
                nodeSelector: props.nodeSelector,
                container: {
                  name: job.name,
                  image: job.image,
                  workingDir: WORK_DIR,
                  script: `until [ -f ${WORK_DIR}/${job.after ?? WORKFLOW_END_MARKER} ]; do sleep 10; done; ${job.command}`,
                  volumeMounts: [{ volume: props.workDir, path: WORK_DIR }],
                },
              }),
            },
          },
          waitForCompletion: false,
          dependsOn: props.dependsOn ? [...props.dependsOn] : undefined,
        }),
    );
  }
}

/** Names (DNS labels, unique) and markers (file names) of post jobs; `prop` is how the caller calls the list. */
export function validatePostJobs(construct: string, prop: string, jobs: readonly PostJob[]): void {
  const seen = new Set<string>();
  jobs.forEach((job, i) => {
    requireRule(construct, `${prop}[${i}].name`, job.name, K8S_JOB_NAME, { allowTokens: true });
    if (seen.has(job.name)) throw new PropsError(construct, `${prop}[${i}].name`, job.name, "a name no other post job has");
    seen.add(job.name);
    requireRule(construct, `${prop}[${i}].after`, job.after ?? WORKFLOW_END_MARKER, MARKER_FILE, { allowTokens: true });
  });
}
