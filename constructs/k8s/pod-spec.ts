/**
 * What every part of HyperflowK8s shares: object metadata with the standard labels, and the one pod-spec
 * helper for HyperFlow's own pods (Redis, the engine, the data job, post jobs), in the manner of
 * cdk8s-plus's AbstractPod and Container (cdk8s-team/cdk8s-plus src/pod.ts, src/container.ts): one
 * container, volumes declared by mounting them, shell scripts escaped for Terraform, a service-account
 * token in the pod only when it has a service account, a `NoSchedule` toleration for every node-selector
 * pair, and pod metadata that keeps the cluster autoscaler from evicting the pod.
 *
 * Tolerations next to the selector: GKE Autopilot admits a custom node selector only with a matching
 * toleration ("workload separation"; it then creates nodes with that label and taint), and the worker
 * pools of the `eks` and `gke` stacks carry that taint so that system pods stay off them. On nodes
 * without the taint a toleration changes nothing.
 */
import type {
  JobV1SpecTemplateMetadata,
  JobV1SpecTemplateSpec,
  JobV1SpecTemplateSpecContainer,
  JobV1SpecTemplateSpecToleration,
  JobV1SpecTemplateSpecVolume,
} from "@cdktf/provider-kubernetes/lib/job-v1";
import { terraformLiteral } from "../core/terraform-string";
import { K8S_LABEL } from "../core/rules";
import { requireRule } from "../core/validation";

/** Labels on every object HyperFlow creates (before the user's labels). */
const STANDARD_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/part-of": "hyperflow", "app.kubernetes.io/managed-by": "hyperflow-infra" };

/**
 * Pod annotation that keeps the cluster autoscaler (and GKE Autopilot) from evicting the pod to remove its
 * node (kubernetes/autoscaler cluster-autoscaler/FAQ.md). A task pod looks "unneeded" on a big node; an
 * evicted one never reports to Redis, and the engine waits for it without a deadline
 * (hyperflow-wms/hyperflow functions/kubernetes/jobSynchronization.js).
 */
export const SAFE_TO_EVICT_ANNOTATION = "cluster-autoscaler.kubernetes.io/safe-to-evict";

/** The toleration of a node-selector pair's taint (Kubernetes field names). */
export interface Toleration {
  readonly key: string;
  readonly operator: "Equal";
  readonly value: string;
  readonly effect: "NoSchedule";
}

/** One `NoSchedule` toleration per node-selector pair, as Autopilot's workload separation and the tainted worker pools need. */
export function tolerationsFor(nodeSelector: Readonly<Record<string, string>>): Toleration[] {
  return Object.entries(nodeSelector).map(([key, value]) => ({ key, operator: "Equal", value, effect: "NoSchedule" }));
}

/** Metadata of a pod template: its labels, and the annotation that keeps the autoscaler from evicting it. */
export function podMetadata(labels: Readonly<Record<string, string>>): JobV1SpecTemplateMetadata {
  return { labels: { ...labels }, annotations: { [SAFE_TO_EVICT_ANNOTATION]: "false" } };
}

/** Where a part puts its objects. */
export interface K8sObjectProps {
  /** Namespace of the objects: a name, or a reference to a namespace's name (so the objects wait for it). */
  readonly namespace: string;
  /** Labels on every object, after the standard part-of and managed-by labels. @default - the standard labels only */
  readonly labels?: Readonly<Record<string, string>>;
}

/** Where a part puts its objects and on which nodes its pods run. */
export interface K8sPodProps extends K8sObjectProps {
  /** Node labels of the master pool, where the part's pods run (each pair also tolerated, see tolerationsFor). */
  readonly nodeSelector: Readonly<Record<string, string>>;
}

/** Throws PropsError for a key or value of a label set (or node selector) that Kubernetes would refuse; tokens pass. */
export function requireLabels(construct: string, prop: string, labels: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(labels)) {
    requireRule(construct, `${prop} key`, key, K8S_LABEL, { allowTokens: true });
    requireRule(construct, `${prop}[${JSON.stringify(key)}]`, value, K8S_LABEL, { allowTokens: true });
  }
}

/** Throws PropsError for labels or a node selector Kubernetes would refuse. */
export function validatePodProps(construct: string, props: K8sPodProps): void {
  requireLabels(construct, "labels", props.labels ?? {});
  requireLabels(construct, "nodeSelector", props.nodeSelector);
}

/** The standard labels followed by the caller's. */
export function commonLabels(labels?: Readonly<Record<string, string>>): Record<string, string> {
  return { ...STANDARD_LABELS, ...(labels ?? {}) };
}

interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
}

/** Metadata of a namespaced object: its name, and the common labels with its name and component. */
export function objectMeta(props: K8sObjectProps, name: string, component: string): ObjectMeta {
  return {
    name,
    namespace: props.namespace,
    labels: { ...commonLabels(props.labels), "app.kubernetes.io/name": name, "app.kubernetes.io/component": component },
  };
}

/** A volume of a pod; it is added to the pod by mounting it in the container. */
export class PodVolume {
  /** A persistent volume claim (for /work_dir). */
  static fromPersistentVolumeClaim(name: string, claimName: string): PodVolume {
    return new PodVolume(name, { name, persistentVolumeClaim: { claimName } });
  }

  /** A ConfigMap's keys as files. */
  static fromConfigMap(name: string, configMapName: string): PodVolume {
    return new PodVolume(name, { name, configMap: { name: configMapName } });
  }

  /** A Secret's keys as files (mode 0400). */
  static fromSecret(name: string, secretName: string): PodVolume {
    return new PodVolume(name, { name, secret: { secretName, defaultMode: "0400" } });
  }

  private constructor(
    readonly name: string,
    private readonly spec: JobV1SpecTemplateSpecVolume,
  ) {}

  /** The pod's volume entry. */
  toPodVolume(): JobV1SpecTemplateSpecVolume {
    return this.spec;
  }
}

interface VolumeMount {
  readonly volume: PodVolume;
  readonly path: string;
  /** @default - writable (the provider's default) */
  readonly readOnly?: boolean;
}

interface ContainerPort {
  readonly name: string;
  readonly containerPort: number;
}

export interface ResourceRequests {
  /** CPU request, a Kubernetes quantity such as "1" or "500m". */
  readonly cpu: string;
  /** Memory request, a Kubernetes quantity such as "2Gi". */
  readonly memory: string;
}

/** Readiness by a TCP connection to a named port. */
interface TcpReadinessProbe {
  /** Name of a container port. */
  readonly port: string;
  /** @default - Kubernetes's default, 10 seconds */
  readonly periodSeconds?: number;
}

interface ContainerSecurityContext {
  /** @default - Kubernetes's default (allowed) */
  readonly allowPrivilegeEscalation?: boolean;
  /** @default - not required by the pod */
  readonly runAsNonRoot?: boolean;
  /** @default - the image's user */
  readonly runAsUser?: number;
}

interface ContainerOptions {
  readonly name: string;
  readonly image: string;
  /** Shell script run as `/bin/sh -c`; escaped for Terraform, so `${…}` reaches the shell. @default - the image's entrypoint */
  readonly script?: string;
  /** Arguments to the image's entrypoint. @default - none */
  readonly args?: readonly string[];
  /** @default - the image's working directory */
  readonly workingDir?: string;
  /** Environment with literal values (escaped for Terraform). @default - none */
  readonly env?: Readonly<Record<string, string>>;
  /** Environment from the pod's own fields (downward API): variable name to field path. Follows `env`. @default - none */
  readonly envFromFields?: Readonly<Record<string, string>>;
  /** @default - none */
  readonly ports?: readonly ContainerPort[];
  /** @default - no requests */
  readonly resources?: ResourceRequests;
  /** @default - no readiness probe */
  readonly readiness?: TcpReadinessProbe;
  /** @default - none (Kubernetes's defaults) */
  readonly securityContext?: ContainerSecurityContext;
  /** Volumes mounted in the container, and so in the pod, in this order. @default - none */
  readonly volumeMounts?: readonly VolumeMount[];
}

interface PodSpecOptions {
  /** Node labels the pod must run on; each pair is also tolerated as a `NoSchedule` taint. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly container: ContainerOptions;
  /** @default - the controller's default (Always: right for a Deployment; a Job needs Never or OnFailure) */
  readonly restartPolicy?: "Never" | "OnFailure";
  /** Service account whose API token the pod gets. @default - none, and no token in the pod */
  readonly serviceAccountName?: string;
}

/** The pod spec of a Job or Deployment template. */
export function podSpec(o: PodSpecOptions): JobV1SpecTemplateSpec {
  const c = o.container;
  const mounts = c.volumeMounts ?? [];
  const env = [
    ...Object.entries(c.env ?? {}).map(([name, value]) => ({ name, value: terraformLiteral(value) })),
    ...Object.entries(c.envFromFields ?? {}).map(([name, fieldPath]) => ({ name, valueFrom: { fieldRef: { fieldPath } } })),
  ];
  const sc = c.securityContext;
  const container: JobV1SpecTemplateSpecContainer = {
    name: c.name,
    image: c.image,
    workingDir: c.workingDir,
    command: c.script === undefined ? undefined : ["/bin/sh", "-c", terraformLiteral(c.script)],
    args: c.args ? [...c.args] : undefined,
    port: c.ports?.map((p) => ({ containerPort: p.containerPort, name: p.name })),
    env: env.length > 0 ? env : undefined,
    resources: c.resources ? { requests: { cpu: c.resources.cpu, memory: c.resources.memory } } : undefined,
    readinessProbe: c.readiness ? { tcpSocket: [{ port: c.readiness.port }], periodSeconds: c.readiness.periodSeconds } : undefined,
    volumeMount: mounts.length > 0 ? mounts.map((m) => ({ name: m.volume.name, mountPath: m.path, readOnly: m.readOnly })) : undefined,
    securityContext: sc
      ? {
          allowPrivilegeEscalation: sc.allowPrivilegeEscalation,
          runAsNonRoot: sc.runAsNonRoot,
          runAsUser: sc.runAsUser === undefined ? undefined : String(sc.runAsUser),
        }
      : undefined,
  };
  const tolerations: JobV1SpecTemplateSpecToleration[] = tolerationsFor(o.nodeSelector).map((t) => ({ ...t }));
  return {
    restartPolicy: o.restartPolicy,
    serviceAccountName: o.serviceAccountName,
    nodeSelector: { ...o.nodeSelector },
    toleration: tolerations.length > 0 ? tolerations : undefined,
    // A pod talks to the Kubernetes API only with a service account of its own.
    automountServiceAccountToken: o.serviceAccountName === undefined ? false : undefined,
    container: [container],
    volume: mounts.length > 0 ? uniqueVolumes(mounts).map((v) => v.toPodVolume()) : undefined,
  };
}

function uniqueVolumes(mounts: readonly VolumeMount[]): PodVolume[] {
  const volumes: PodVolume[] = [];
  for (const m of mounts) if (!volumes.some((v) => v.name === m.volume.name)) volumes.push(m.volume);
  return volumes;
}
