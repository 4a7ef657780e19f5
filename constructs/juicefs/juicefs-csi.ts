/**
 * The Kubernetes side of the shared JuiceFS file system, on one cluster (kubernetes + helm providers):
 * the JuiceFS CSI driver (helm chart juicedata/charts charts/juicefs-csi-driver, pinned), the volume
 * credentials as a Secret in kube-system, the mount pods' ServiceAccount (EKS Pod Identity gives it the
 * bucket role of JuiceFsStore; no access keys), and an RWX StorageClass.
 *
 * Every cluster provisions the same directory: the class sets `pathPattern` to
 * `${.PVC.namespace}-${.PVC.name}` (with the controller's provisioner on, as the chart's values.yaml
 * requires for it), so the claim "work-dir" in namespace "hyperflow" is one directory on every cluster,
 * where a plain dynamic class would give each cluster's claim a directory of its own. Reclaim policy
 * Retain: deleting one cluster's claim must not delete the directory the others use (the seed's
 * values/cluster/juicefs.yaml keeps Retain too).
 */
import { Release } from "@cdktf/provider-helm/lib/release";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { StorageClassV1 } from "@cdktf/provider-kubernetes/lib/storage-class-v1";
import { Construct } from "constructs";
import { terraformLiteral } from "../core/terraform-string";
import { requireLabels, SAFE_TO_EVICT_ANNOTATION, tolerationsFor } from "../k8s/pod-spec";
import { JUICEFS_SERVICE_ACCOUNTS } from "./juicefs-store";

/** The chart, pinned (juicedata/charts, tag helm-chart-juicefs-csi-driver-0.32.4; appVersion 0.32.4). */
export const JUICEFS_CSI_CHART = {
  repository: "https://juicedata.github.io/charts/",
  chart: "juicefs-csi-driver",
  version: "0.32.4",
} as const;

/** The CSI driver's name (the StorageClass provisioner). */
export const JUICEFS_PROVISIONER = "csi.juicefs.com";
/** Name of the StorageClass on every cluster. */
export const JUICEFS_STORAGE_CLASS = "hyperflow-juicefs";
/** Name of the volume-credentials Secret in kube-system. */
const VOLUME_SECRET = "hyperflow-juicefs-volume";

/** Volume credentials of JuiceFS Community Edition (juicefs format): values may be references. */
export interface JuiceFsVolumeCredentials {
  readonly name: string;
  /** Metadata engine URL, e.g. rediss://:<token>@<host>:6379/1 */
  readonly metaurl: string;
  readonly storage: string;
  /** Bucket URL, e.g. https://<bucket>.s3.<region>.amazonaws.com */
  readonly bucket: string;
}

export interface JuiceFsCsiProps {
  readonly credentials: JuiceFsVolumeCredentials;
  /** Node labels of the pool that runs the CSI controller (the untainted master pool). */
  readonly controllerNodeSelector: Readonly<Record<string, string>>;
  /** Node taints (key=value, NoSchedule) the CSI node service must tolerate to run beside task pods (the worker pool's). @default - none */
  readonly nodeTaints?: Readonly<Record<string, string>>;
}

export class JuiceFsCsi extends Construct {
  readonly release: Release;
  readonly secret: SecretV1;
  readonly mountServiceAccount: ServiceAccountV1;
  readonly storageClass: StorageClassV1;

  constructor(scope: Construct, id: string, props: JuiceFsCsiProps) {
    super(scope, id);
    requireLabels("JuiceFsCsi", "controllerNodeSelector", props.controllerNodeSelector);
    requireLabels("JuiceFsCsi", "nodeTaints", props.nodeTaints ?? {});
    const ns = JUICEFS_SERVICE_ACCOUNTS.namespace;
    const labels = { "app.kubernetes.io/part-of": "hyperflow", "app.kubernetes.io/managed-by": "hyperflow-infra" };

    this.release = new Release(this, "Driver", {
      name: "juicefs-csi-driver",
      namespace: ns,
      repository: JUICEFS_CSI_CHART.repository,
      chart: JUICEFS_CSI_CHART.chart,
      version: JUICEFS_CSI_CHART.version,
      values: [
        JSON.stringify({
          // pathPattern needs the controller's provisioner (the chart's values.yaml, storageClasses).
          controller: {
            provisioner: true,
            nodeSelector: props.controllerNodeSelector,
            tolerations: [{ key: "CriticalAddonsOnly", operator: "Exists" }, ...tolerationsFor(props.controllerNodeSelector)],
          },
          node: {
            tolerations: [
              { key: "CriticalAddonsOnly", operator: "Exists" },
              ...Object.entries(props.nodeTaints ?? {}).map(([key, value]) => ({ key, operator: "Equal", value, effect: "NoSchedule" })),
            ],
          },
          // Mount pods hold the FUSE mount of running task pods: the autoscaler must not evict them.
          globalConfig: { enabled: true, manageByHelm: true, mountPodPatch: [{ annotations: { [SAFE_TO_EVICT_ANNOTATION]: "false" } }] },
          // No dashboard (a web UI with the driver's view of every volume); classes are made here, not by the chart.
          dashboard: { enabled: false },
          storageClasses: [],
        }),
      ],
    });

    // The credentials go to the Secret only (not into helm values, which helm keeps in its release secret).
    this.secret = new SecretV1(this, "Volume", {
      metadata: { name: VOLUME_SECRET, namespace: ns, labels: { ...labels, "juicefs.com/validate-secret": "true" } },
      data: {
        name: props.credentials.name,
        metaurl: props.credentials.metaurl,
        storage: props.credentials.storage,
        bucket: props.credentials.bucket,
      },
    });
    this.mountServiceAccount = new ServiceAccountV1(this, "MountSa", {
      metadata: { name: JUICEFS_SERVICE_ACCOUNTS.mount, namespace: ns, labels },
      automountServiceAccountToken: false,
    });
    const secretRef = { name: this.secret.metadata.name, namespace: ns };
    this.storageClass = new StorageClassV1(this, "Class", {
      metadata: { name: JUICEFS_STORAGE_CLASS, labels },
      storageProvisioner: JUICEFS_PROVISIONER,
      reclaimPolicy: "Retain",
      volumeBindingMode: "Immediate",
      allowVolumeExpansion: true,
      parameters: {
        "csi.storage.k8s.io/provisioner-secret-name": secretRef.name,
        "csi.storage.k8s.io/provisioner-secret-namespace": secretRef.namespace,
        "csi.storage.k8s.io/node-publish-secret-name": secretRef.name,
        "csi.storage.k8s.io/node-publish-secret-namespace": secretRef.namespace,
        // The driver fills ${…} itself: escaped so Terraform passes it through.
        pathPattern: terraformLiteral("${.PVC.namespace}-${.PVC.name}"),
        "juicefs/mount-service-account": this.mountServiceAccount.metadata.name,
      },
      dependsOn: [this.release],
    });
  }
}
