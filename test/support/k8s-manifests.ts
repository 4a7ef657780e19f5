/**
 * The Kubernetes objects a synthesized stack asks the kubernetes provider for, as the manifests the
 * provider sends (hashicorp/terraform-provider-kubernetes kubernetes/structures_*.go expand the
 * snake_case blocks into the API's camelCase objects), so that they can be validated against the
 * Kubernetes OpenAPI schema (kubernetes-models). Also the job template from the ConfigMap, rendered by
 * the engine's own createK8sJobYaml.
 *
 * The conversion: keys snake_case → camelCase; the provider's singular block names → the API's plural
 * list fields (container → containers, …); blocks the API has as one object unwrapped from the
 * provider's one-element lists; maps (labels, node selectors, data, …) kept as they are; numbers the
 * provider takes as strings (replicas, runAsUser, int-or-string ports and budgets) as the provider
 * sends them; provider-only arguments (wait_for_*, timeouts, depends_on, lifecycle) dropped.
 */
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Service } from "kubernetes-models/v1/Service";
import { Secret } from "kubernetes-models/v1/Secret";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { StorageClass } from "kubernetes-models/storage.k8s.io/v1/StorageClass";
import type { TfJson } from "./stack-json";

interface Model {
  validate(): void;
}
// kubernetes-models' constructors take their own typed shapes; a converted manifest is checked at run time.
type ModelClass = new (data: never) => Model;

/** Resource type → the API object it manages. */
export const MODELS: Readonly<Record<string, ModelClass>> = {
  kubernetes_config_map_v1: ConfigMap,
  kubernetes_deployment_v1: Deployment,
  kubernetes_job_v1: Job,
  kubernetes_namespace_v1: Namespace,
  kubernetes_network_policy_v1: NetworkPolicy,
  kubernetes_persistent_volume_claim_v1: PersistentVolumeClaim,
  kubernetes_pod_disruption_budget_v1: PodDisruptionBudget,
  kubernetes_role_v1: Role,
  kubernetes_role_binding_v1: RoleBinding,
  kubernetes_secret_v1: Secret,
  kubernetes_service_v1: Service,
  kubernetes_service_account_v1: ServiceAccount,
  kubernetes_storage_class_v1: StorageClass,
};

/** Provider block names whose API field is a list under another name. */
const PLURAL: Readonly<Record<string, string>> = {
  container: "containers",
  init_container: "initContainers",
  volume: "volumes",
  volume_mount: "volumeMounts",
  port: "ports",
  toleration: "tolerations",
  rule: "rules",
  subject: "subjects",
  image_pull_secrets: "imagePullSecrets",
  env_from: "envFrom",
};

/** API fields that are lists (everything else a provider list of objects stands for is one object). */
const LIST_FIELDS = new Set([
  "containers",
  "initContainers",
  "volumes",
  "volumeMounts",
  "ports",
  "env",
  "envFrom",
  "tolerations",
  "rules",
  "subjects",
  "imagePullSecrets",
  "ingress",
  "egress",
  "from",
  "to",
  "matchExpressions",
  "cidrBlocks",
]);

/** Fields whose value is a string map: their keys are data, not field names. */
const MAPS = new Set(["labels", "annotations", "node_selector", "match_labels", "data", "binary_data", "parameters", "requests", "limits"]);

/** Arguments of the provider that are not part of the object. */
const PROVIDER_ONLY = new Set([
  "wait_for_completion",
  "wait_for_rollout",
  "wait_for_load_balancer",
  "wait_until_bound",
  "wait_for_default_service_account",
  "wait_for_service_account_token",
  "timeouts",
  "depends_on",
  "lifecycle",
  "provider",
  "count",
  "for_each",
]);

/** The provider takes these as strings and sends integers (or int-or-string: a number when it looks like one). */
const INT_STRINGS = new Set(["replicas", "runAsUser", "runAsGroup", "fsGroup"]);
const INT_OR_STRING = new Set(["maxUnavailable", "minAvailable", "targetPort", "port"]);

const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function convert(value: unknown, apiKey?: string): unknown {
  if (Array.isArray(value)) {
    const items = value.map((v) => convert(v));
    const ofObjects = value.length > 0 && value.every((v) => v !== null && typeof v === "object" && !Array.isArray(v));
    if (ofObjects && apiKey !== undefined && !LIST_FIELDS.has(apiKey)) {
      if (items.length !== 1) throw new Error(`${apiKey}: the provider block has ${items.length} items, the API field is one object`);
      return items[0];
    }
    return items;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (PROVIDER_ONLY.has(k)) continue;
      // Only a block (a list of objects) is renamed: `port` is also the scalar field of a probe or a Service port.
      const isBlock = Array.isArray(v) && v.every((x) => x !== null && typeof x === "object");
      const key = (isBlock ? PLURAL[k] : undefined) ?? (k === "storage_provisioner" ? "provisioner" : camel(k));
      if (MAPS.has(k) && v !== null && typeof v === "object" && !Array.isArray(v)) {
        out[key] = { ...v };
        continue;
      }
      // A Service's selector is a label map; a workload's selector is a LabelSelector block.
      if (k === "selector" && v !== null && typeof v === "object" && !Array.isArray(v) && !("match_labels" in v) && !("match_expressions" in v)) {
        out[key] = { ...v };
        continue;
      }
      // The provider takes file modes as octal strings ("0400") and sends the number.
      if (k === "default_mode" && typeof v === "string" && /^0[0-7]{3}$/.test(v)) {
        out[key] = parseInt(v, 8);
        continue;
      }
      let converted = convert(v, key);
      if (INT_STRINGS.has(key) && typeof converted === "string" && /^\d+$/.test(converted)) converted = Number(converted);
      if (INT_OR_STRING.has(key) && typeof converted === "string" && /^\d+$/.test(converted)) converted = Number(converted);
      out[key] = converted;
    }
    return out;
  }
  return value;
}

/** The API object a kubernetes_* resource stands for (kind and apiVersion come from the model). */
export function manifestOf(type: string, resource: Record<string, unknown>): Record<string, unknown> {
  if (!MODELS[type]) throw new Error(`no model for ${type}`);
  const manifest = convert(resource) as Record<string, unknown>;
  // A Secret's `data` in the provider is plain text, which it base64-encodes: the API's `stringData`.
  if (type === "kubernetes_secret_v1" && manifest.data !== undefined) {
    manifest.stringData = manifest.data;
    delete manifest.data;
  }
  return manifest;
}

/** Every kubernetes_* resource of a stack with its manifest; a type without a model is an error, so none is skipped silently. */
export function manifests(stack: TfJson): { address: string; type: string; manifest: Record<string, unknown> }[] {
  const out: { address: string; type: string; manifest: Record<string, unknown> }[] = [];
  for (const [type, byName] of Object.entries(stack.resource ?? {})) {
    if (!type.startsWith("kubernetes_")) continue;
    for (const [name, r] of Object.entries<Record<string, unknown>>(byName)) out.push({ address: `${type}.${name}`, type, manifest: manifestOf(type, r) });
  }
  return out;
}

/** Validates a manifest against the Kubernetes OpenAPI schema; returns the error text, or undefined. */
export function validationError(type: string, manifest: Record<string, unknown>): string | undefined {
  try {
    new MODELS[type](manifest as never).validate();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** A pod spec in API field names (the parts the tests read). */
export interface PodSpecManifest {
  readonly nodeSelector?: Record<string, string>;
  readonly tolerations?: readonly { key: string; operator: string; value: string; effect: string }[];
  readonly [field: string]: unknown;
}

/** The pod spec of a manifest (a Job's or Deployment's template), as a list of none or one. */
export function podSpecsOf(manifest: Record<string, unknown>): PodSpecManifest[] {
  const spec = (manifest.spec as { template?: { spec?: PodSpecManifest } } | undefined)?.template?.spec;
  return spec ? [spec] : [];
}
