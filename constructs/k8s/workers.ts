/**
 * HyperFlow on a workers cluster: what the engine on another cluster needs to run task jobs here. The
 * engine submits a partition's jobs with a kubeconfig of its own choosing (`kubeConfigPath` in
 * workflow.config.jobvars<N>.json; hyperflow-wms/hyperflow functions/kubernetes/k8sCommand.js) into the
 * namespace of the same name (HF_VAR_NAMESPACE), with the same job template: so this cluster has that
 * namespace, the "work-dir" claim on the shared storage class, and a ServiceAccount that may only create
 * Jobs there, with a token Secret the engine's kubeconfig carries. The engine's image has no AWS CLI, so
 * an `aws eks get-token` exec entry would not run in it; the token is a ServiceAccount token Secret
 * (not cluster-admin, unlike the seed's ClusterRoleBinding for every service account).
 */
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { PersistentVolumeClaimV1 } from "@cdktf/provider-kubernetes/lib/persistent-volume-claim-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { K8S_DEFAULTS } from "../core/defaults";
import { K8S_NAMESPACE, WORK_VOLUME_GIB } from "../core/rules";
import { requireRule } from "../core/validation";
import { POD_SECURITY_LABELS } from "./hyperflow-k8s";
import { commonLabels, objectMeta } from "./pod-spec";

/** Name of the engine's ServiceAccount on a workers cluster. */
export const REMOTE_ENGINE_NAME = "hyperflow-engine-remote";

export interface HyperflowK8sWorkersProps {
  /** The engine's namespace (task jobs go to the namespace of the same name). @default "hyperflow" */
  readonly namespace?: string;
  /** RWX storage class that shares /work_dir with the engine's cluster (a reference orders the claim after it). */
  readonly storageClass: string;
  /** Size of the claim. @default 50 */
  readonly workVolumeGiB?: number;
  /** Labels on every object. @default - none besides the standard part-of and managed-by */
  readonly labels?: Readonly<Record<string, string>>;
}

export class HyperflowK8sWorkers extends Construct {
  readonly namespace: NamespaceV1;
  readonly workVolume: PersistentVolumeClaimV1;
  readonly serviceAccount: ServiceAccountV1;
  readonly role: RoleV1;
  readonly tokenSecret: SecretV1;

  constructor(scope: Construct, id: string, props: HyperflowK8sWorkersProps) {
    super(scope, id);
    const ns = props.namespace ?? K8S_DEFAULTS.namespace;
    const size = props.workVolumeGiB ?? K8S_DEFAULTS.workVolumeGiB;
    requireRule("HyperflowK8sWorkers", "namespace", ns, K8S_NAMESPACE, { allowTokens: true });
    requireRule("HyperflowK8sWorkers", "workVolumeGiB", size, WORK_VOLUME_GIB);

    this.namespace = new NamespaceV1(this, "Namespace", {
      metadata: { name: ns, labels: { ...commonLabels(props.labels), ...POD_SECURITY_LABELS.hyperflow } },
    });
    const base = { namespace: this.namespace.metadata.name, labels: props.labels };
    // The same claim name and namespace as on the engine's cluster: the class's pathPattern makes it the same directory.
    this.workVolume = new PersistentVolumeClaimV1(this, "WorkDir", {
      metadata: objectMeta(base, "work-dir", "storage"),
      spec: { accessModes: ["ReadWriteMany"], storageClassName: props.storageClass, resources: { requests: { storage: `${size}Gi` } } },
      waitUntilBound: false,
    });
    const meta = objectMeta(base, REMOTE_ENGINE_NAME, "engine");
    this.serviceAccount = new ServiceAccountV1(this, "EngineSa", { metadata: meta, automountServiceAccountToken: false });
    // As on the engine's cluster: BatchV1Api.createNamespacedJob is the engine's only call (k8sJobSubmit.js).
    this.role = new RoleV1(this, "EngineRole", { metadata: meta, rule: [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["create"] }] });
    new RoleBindingV1(this, "EngineRoleBinding", {
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: this.role.metadata.name },
      subject: [{ kind: "ServiceAccount", name: this.serviceAccount.metadata.name, namespace: this.namespace.metadata.name }],
    });
    this.tokenSecret = new SecretV1(this, "EngineToken", {
      metadata: { ...meta, annotations: { "kubernetes.io/service-account.name": this.serviceAccount.metadata.name } },
      type: "kubernetes.io/service-account-token",
      waitForServiceAccountToken: true,
    });
  }

  /** The ServiceAccount's token (known after apply). */
  get token(): string {
    return Fn.lookup(this.tokenSecret.data, "token", "");
  }
}
