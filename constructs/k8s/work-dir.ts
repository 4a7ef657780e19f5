/**
 * The shared /work_dir: a ReadWriteMany claim on a storage class you name, or, by default, on the class
 * of an NFS server provisioner (helm chart, pinned) that runs on the master pool. The NFS server needs
 * capabilities that Pod Security "baseline" forbids (DAC_READ_SEARCH, SYS_RESOURCE: the chart's
 * values.yaml `securityContext`), so it goes in a namespace of its own (HyperflowK8s makes it
 * "privileged"); GKE Autopilot refuses it outright, so there a storage class is required.
 */
import { PersistentVolumeClaimV1 } from "@cdktf/provider-kubernetes/lib/persistent-volume-claim-v1";
import { Release } from "@cdktf/provider-helm/lib/release";
import type { Construct } from "constructs";
import { K8S_DEFAULTS } from "../core/defaults";
import { K8S_STORAGE_CLASS, WORK_VOLUME_GIB } from "../core/rules";
import { requireRule } from "../core/validation";
import { type K8sPodProps, objectMeta, PodVolume, tolerationsFor, validatePodProps } from "./pod-spec";

/** Where every HyperFlow pod and task job mounts the shared volume. */
export const WORK_DIR = "/work_dir";
/** Name of the claim and of its volume in every pod (the job template mounts it by this name). */
const WORK_DIR_CLAIM = "work-dir";
/** Chart that provides the RWX volume when no storage class is named. */
const NFS_CHART = {
  repository: "https://kubernetes-sigs.github.io/nfs-ganesha-server-and-external-provisioner/",
  chart: "nfs-server-provisioner",
  version: "1.8.0",
};
/** Storage class the NFS server provisioner creates. */
const NFS_STORAGE_CLASS = "hyperflow-nfs";
const NFS_RELEASE = "nfs-server-provisioner";

interface WorkDirProps extends K8sPodProps {
  /** RWX storage class for /work_dir. @default - an NFS server provisioner (helm) on the nodes of nodeSelector */
  readonly storageClass?: string;
  /** Size of the claim in GiB (the NFS server's own disk gets 5 GiB more). @default 50 */
  readonly sizeGiB?: number;
  /** Storage class of the NFS server's own (RWO) disk. @default - the cluster's default class */
  readonly nfsBackingStorageClass?: string;
  /** Namespace of the NFS server (its helm release). @default - namespace */
  readonly nfsNamespace?: string;
}

/** Adds the claim (id "WorkDir") and, without a storage class, the NFS provisioner (id "Nfs") to `scope`. */
export class WorkDir {
  readonly claim: PersistentVolumeClaimV1;
  /** The NFS server provisioner, when no storage class was named. */
  readonly nfs?: Release;
  readonly storageClassName: string;
  readonly claimName = WORK_DIR_CLAIM;
  /** The claim as a pod volume, for mounting at WORK_DIR. */
  readonly volume: PodVolume;
  /** Labels of the NFS server pod (for a disruption budget), when there is one. */
  readonly nfsServerPodLabels?: Readonly<Record<string, string>>;
  /** Namespace of the NFS server, when there is one. */
  readonly nfsNamespace?: string;

  constructor(scope: Construct, props: WorkDirProps) {
    validatePodProps("WorkDir", props);
    const sizeGiB = props.sizeGiB ?? K8S_DEFAULTS.workVolumeGiB;
    requireRule("WorkDir", "sizeGiB", sizeGiB, WORK_VOLUME_GIB);
    if (props.storageClass !== undefined) requireRule("WorkDir", "storageClass", props.storageClass, K8S_STORAGE_CLASS, { allowTokens: true });
    if (props.nfsBackingStorageClass !== undefined)
      requireRule("WorkDir", "nfsBackingStorageClass", props.nfsBackingStorageClass, K8S_STORAGE_CLASS, { allowTokens: true });

    this.storageClassName = props.storageClass ?? NFS_STORAGE_CLASS;
    if (!props.storageClass) {
      this.nfsNamespace = props.nfsNamespace ?? props.namespace;
      this.nfs = new Release(scope, "Nfs", {
        name: NFS_RELEASE,
        namespace: this.nfsNamespace,
        repository: NFS_CHART.repository,
        chart: NFS_CHART.chart,
        version: NFS_CHART.version,
        values: [
          JSON.stringify({
            persistence: {
              enabled: true,
              accessMode: "ReadWriteOnce",
              size: `${sizeGiB + 5}Gi`,
              ...(props.nfsBackingStorageClass ? { storageClass: props.nfsBackingStorageClass } : {}),
            },
            storageClass: { name: NFS_STORAGE_CLASS, defaultClass: false, mountOptions: ["vers=4.1"] },
            nodeSelector: props.nodeSelector,
            tolerations: tolerationsFor(props.nodeSelector),
          }),
        ],
      });
      // The chart's server pod labels (kubernetes-sigs/nfs-ganesha-server-and-external-provisioner
      // charts/nfs-server-provisioner/templates/statefulset.yaml).
      this.nfsServerPodLabels = { app: NFS_CHART.chart, release: NFS_RELEASE };
    }
    this.claim = new PersistentVolumeClaimV1(scope, "WorkDir", {
      metadata: objectMeta(props, WORK_DIR_CLAIM, "storage"),
      spec: { accessModes: ["ReadWriteMany"], storageClassName: this.storageClassName, resources: { requests: { storage: `${sizeGiB}Gi` } } },
      waitUntilBound: false,
      dependsOn: this.nfs ? [this.nfs] : undefined,
    });
    this.volume = PodVolume.fromPersistentVolumeClaim(WORK_DIR_CLAIM, this.claim.metadata.name);
  }
}
