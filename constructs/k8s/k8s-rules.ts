/**
 * Kubernetes naming rules the constructs check their props against (the same rules config/schema.ts
 * applies to the config keys that feed them), from kubernetes/kubernetes
 * staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go and pkg/api/resource/quantity.go.
 */
import { requireMatch } from "../core/validation";

/** A DNS label (RFC 1123): namespaces, services, job names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A label key (optionally prefixed) or a label value. */
export const LABEL_PART = /^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A resource quantity such as 0.5, 500m, 50Mi, 2Gi. */
export const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;

export function requireDnsLabel(construct: string, prop: string, value: string, maxLength = 63): void {
  requireMatch(construct, prop, value, maxLength >= 63 ? DNS_LABEL : new RegExp(`^[a-z0-9]([-a-z0-9]{0,${maxLength - 2}}[a-z0-9])?$`), `a DNS label of at most ${maxLength} characters (lowercase letters, digits, '-')`);
}

export function requireLabelPart(construct: string, prop: string, value: string): void {
  requireMatch(construct, prop, value, LABEL_PART, "a Kubernetes label key or value (letters, digits, '-', '_', '.'; at most 63, optional DNS prefix with '/')");
}

export function requireQuantity(construct: string, prop: string, value: string): void {
  requireMatch(construct, prop, value, QUANTITY, "a Kubernetes quantity such as 0.5, 500m, 50Mi or 2Gi");
}

/** Every key and value of a node selector or label set. */
export function requireLabels(construct: string, prop: string, labels: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(labels)) {
    requireLabelPart(construct, `${prop} key`, key);
    requireLabelPart(construct, `${prop}[${JSON.stringify(key)}]`, value);
  }
}
