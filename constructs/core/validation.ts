import { ExitCode, HflowError } from "../../common/errors";

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
