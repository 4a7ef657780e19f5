import { Token } from "cdktf";
import { ExitCode, HflowError } from "../../common/errors";
import type { Rule } from "./rules";

/** Thrown by constructs for props that cannot work; names the prop, the bad value and what is allowed. */
export class PropsError extends HflowError {
  readonly exitCode = ExitCode.failed;
  constructor(construct: string, prop: string, value: unknown, allowed: string) {
    super(`${construct}: invalid ${prop} ${JSON.stringify(value)}; allowed: ${allowed}`);
    this.name = "PropsError";
  }
}

/** Throws PropsError unless `value` is an integer in [min, max]. Tokens are not accepted here on purpose. */
export function requireIntInRange(construct: string, prop: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PropsError(construct, prop, value, `an integer from ${min} to ${max}`);
  }
}

/** Throws PropsError unless low <= high. */
export function requireOrdered(construct: string, lowProp: string, low: number, highProp: string, high: number): void {
  if (low > high) {
    throw new PropsError(construct, `${lowProp} (${low}) with ${highProp}`, high, `${lowProp} <= ${highProp}`);
  }
}

/** Throws PropsError unless every value in the list appears once (construct ids are derived from them). */
export function requireUnique(construct: string, prop: string, values: readonly string[]): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw new PropsError(construct, prop, values, `distinct values (${JSON.stringify(v)} appears more than once)`);
    seen.add(v);
  }
}

export interface RequireRuleOptions {
  /**
   * Let a value known only at apply (an unresolved token, e.g. a reference to another resource) pass
   * unchecked; the API checks it then. Used by the checks that always let tokens through: the names and
   * quantities of the Kubernetes, EKS and GKE constructs, subnet ids, and buckets named by reference.
   * @default false - a token fails the rule (numbers, and names the ECS-side constructs compute with, must be literal)
   */
  readonly allowTokens?: boolean;
}

/**
 * Throws PropsError unless `value` follows `rule` (constructs/core/rules.ts); the allowed-text is the
 * rule's, as in config errors.
 */
export function requireRule<T>(construct: string, prop: string, value: T, rule: Rule<T>, options: RequireRuleOptions = {}): void {
  if (options.allowTokens && Token.isUnresolved(value)) return;
  if (!rule.test(value)) throw new PropsError(construct, prop, value, rule.allowed);
}
