/** Build a construct alone in a bare stack, and check PropsErrors. */
import { TerraformStack, Testing } from "cdktf";
import { PropsError } from "../../constructs/core/validation";
import type { TfJson } from "./stack-json";

/** A stack with nothing in it, in a test app (providers are added by the caller when validations run). */
export function bareStack(setup?: (stack: TerraformStack) => void): TerraformStack {
  const stack = new TerraformStack(Testing.app(), "test");
  setup?.(stack);
  return stack;
}

/** The stack's Terraform JSON, with cdktf's validations run (a resource without its provider fails). */
export function synthStack(stack: TerraformStack): TfJson {
  return JSON.parse(Testing.synth(stack, true));
}

/** Addresses (type.name) of the stack's resources, sorted. */
export function resourceAddresses(json: TfJson): string[] {
  return Object.entries(json.resource ?? {})
    .flatMap(([type, byName]) => Object.keys(byName).map((name) => `${type}.${name}`))
    .sort();
}

/**
 * Runs `build` and expects exactly one PropsError naming the construct, the prop, the value and what is
 * allowed; with `allowed` (e.g. a rule's allowed-text), exactly that.
 */
export function expectPropsError(build: () => unknown, construct: string, prop: string, value: unknown, allowed?: string): PropsError {
  let error: unknown;
  try {
    build();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PropsError);
  const message = (error as PropsError).message;
  const prefix = `${construct}: invalid ${prop} ${JSON.stringify(value)}; allowed: `;
  expect(message.slice(0, prefix.length)).toBe(prefix);
  expect(message.split("; allowed: ")[1].length).toBeGreaterThan(10);
  if (allowed !== undefined) expect(message).toBe(`${prefix}${allowed}`);
  return error as PropsError;
}
