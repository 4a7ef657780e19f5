/**
 * What every part of HyperflowK8s shares: object metadata with the standard labels, and the one pod-spec
 * helper for HyperFlow's own pods (Redis, the engine, the data job, post jobs), in the manner of
 * cdk8s-plus's AbstractPod and Container (cdk8s-team/cdk8s-plus src/pod.ts, src/container.ts): one
 * container, volumes declared by mounting them, shell scripts escaped for Terraform, and a
 * service-account token in the pod only when it has a service account.
 */
import type { JobV1SpecTemplateSpec, JobV1SpecTemplateSpecContainer, JobV1SpecTemplateSpecVolume } from "@cdktf/provider-kubernetes/lib/job-v1";
import { terraformLiteral } from "../core/terraform-string";
import { K8S_LABEL } from "../core/rules";
import { requireRule } from "../core/validation";

/** Labels on every object HyperFlow creates (before the user's labels). */
const STANDARD_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/part-of": "hyperflow", "app.kubernetes.io/managed-by": "hyperflow-infra" };

/** Where a part puts its objects. */
export interface K8sObjectProps {
  /** Namespace of the objects: a name, or a reference to a namespace's name (so the objects wait for it). */
  readonly namespace: string;
  /** Labels on every object, after the standard part-of and managed-by labels. @default - the standard labels only */
  readonly labels?: Readonly<Record<string, string>>;
}

/** Where a part puts its objects and on which nodes its pods run. */
export interface K8sPodProps extends K8sObjectProps {
  /** Node labels of the master pool, where the part's pods run. */
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
  return { name, namespace: props.namespace, labels: { ...commonLabels(props.labels), "app.kubernetes.io/name": name, "app.kubernetes.io/component": component } };
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
  /** Node labels the pod must run on. */
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
      ? { allowPrivilegeEscalation: sc.allowPrivilegeEscalation, runAsNonRoot: sc.runAsNonRoot, runAsUser: sc.runAsUser === undefined ? undefined : String(sc.runAsUser) }
      : undefined,
  };
  return {
    restartPolicy: o.restartPolicy,
    serviceAccountName: o.serviceAccountName,
    nodeSelector: { ...o.nodeSelector },
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
