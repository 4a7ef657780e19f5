/** The data job: copies the workflow (workflow.json and inputs) from a data image's /data into /work_dir. */
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import type { Construct } from "constructs";
import { commonLabels, type K8sPodProps, objectMeta, podMetadata, podSpec, type PodVolume, validatePodProps } from "./pod-spec";
import { WORK_DIR } from "./work-dir";

interface DataJobProps extends K8sPodProps {
  /** Image whose /data holds the workflow. */
  readonly image: string;
  /** The shared /work_dir volume. */
  readonly workDir: PodVolume;
}

/** How long the copy may take: Terraform waits as long for the Job, and Kubernetes stops it then. */
const DATA_JOB_DEADLINE_SECONDS = 1800;

/** Adds the Job (id "DataJob") to `scope`; Terraform waits for it to complete (30 minutes at most). */
export class DataJob {
  readonly job: JobV1;

  constructor(scope: Construct, props: DataJobProps) {
    validatePodProps("DataJob", props);
    this.job = new JobV1(scope, "DataJob", {
      metadata: objectMeta(props, "workflow-data", "data"),
      spec: {
        backoffLimit: 2,
        activeDeadlineSeconds: DATA_JOB_DEADLINE_SECONDS,
        template: {
          metadata: podMetadata({ ...commonLabels(props.labels), "app.kubernetes.io/component": "data" }),
          spec: podSpec({
            restartPolicy: "Never",
            nodeSelector: props.nodeSelector,
            // The workflow is copied as it is (hyperflow-wms/hyperflow-k8s-deployment `charts/hyperflow-nfs-data` rewrote it with sed).
            container: { name: "copy", image: props.image, script: `cp -r /data/. ${WORK_DIR}/`, volumeMounts: [{ volume: props.workDir, path: WORK_DIR }] },
          }),
        },
      },
      waitForCompletion: true,
      timeouts: { create: `${DATA_JOB_DEADLINE_SECONDS / 60}m` },
    });
  }
}
