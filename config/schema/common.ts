/**
 * What the schema sections share: the adapter from a rule (constructs/core/rules.ts) to zod, field
 * builders used by more than one section, image defaults, and the cross-key checks.
 */
import { z } from "zod";
import type { IntRange, PatternRule, Rule } from "../../constructs/core/rules";
import { CIDR, INSTANCE_TYPE, PINNED_IMAGE, RECOVERY_WINDOW, ruleMessage } from "../../constructs/core/rules";

// ---------------------------------------------------------------------------------------------------
// Rules

/**
 * The one adapter from a rule to zod. A pattern rule becomes `.regex` (with its length bounds), so the
 * JSON Schema shows the pattern; any other rule a refinement. The message is always
 * `<problem>; allowed: <allowed>`, the allowed-text the constructs' PropsError uses too.
 */
export function checked(schema: z.ZodString, rule: PatternRule): z.ZodString;
export function checked<S extends z.ZodType>(schema: S, rule: Rule<z.output<S>>): S;
export function checked(schema: z.ZodType, rule: Rule<any>): z.ZodType {
  if ("pattern" in rule && schema instanceof z.ZodString) {
    const { pattern, minLength, maxLength } = rule as PatternRule;
    let s = schema;
    if (minLength !== undefined) s = s.min(minLength);
    if (maxLength !== undefined) s = s.max(maxLength);
    return s.regex(pattern, { error: (issue) => ruleMessage(rule, issue.input) });
  }
  return schema.superRefine((value, ctx) => {
    const message = ruleMessage(rule, value);
    if (message !== undefined) ctx.addIssue({ code: "custom", message });
  });
}

/** An integer in a range both the schema and a construct check. */
export const intIn = (range: IntRange) => z.number().int().min(range.min).max(range.max);

// ---------------------------------------------------------------------------------------------------
// Field builders of more than one section

export const cidr = checked(z.string(), CIDR);

export const instanceType = () => checked(z.string(), INSTANCE_TYPE);

/** Days Secrets Manager keeps a deleted secret recoverable. */
export const recoveryDays = (description: string, def: number) => checked(z.number().int(), RECOVERY_WINDOW).default(def).describe(description);

// ---------------------------------------------------------------------------------------------------
// Images

/** Images of the seed deployment that were only ever published as `latest`. */
export const SEED_IMAGES = {
  worker: "krysp89/hyperflow-worker-nfs:latest",
  statusReporter: "krysp89/hyperflow-ec2-status-reporter:latest",
  engine: "krysp89/hyperflow-hflow:latest",
} as const;

/**
 * Images of the seed deployment that were only ever published as `latest`; they cannot be pinned by tag.
 * They stay the defaults (they are what the HyperFlow ECS images are), are allowed by the policy rules,
 * and `hflow-infra synth` prints a warning for them. Pin them by digest in your config.
 */
export const UNPINNABLE_SEED_IMAGES: readonly string[] = Object.values(SEED_IMAGES);

/** Redis for the engine, on ECS and on Kubernetes. */
export const REDIS_IMAGE = "public.ecr.aws/docker/library/redis:7.4.1-alpine";

/** A pinned image, or one of the unpinnable seed images (which only warn). */
const PINNED_OR_SEED_IMAGE: Rule<string> = {
  test: (ref) => UNPINNABLE_SEED_IMAGES.includes(ref) || PINNED_IMAGE.test(ref),
  problem: (ref) => (UNPINNABLE_SEED_IMAGES.includes(ref) ? undefined : PINNED_IMAGE.problem(ref)),
  allowed: PINNED_IMAGE.allowed,
};

export const imageRef = (description: string, def: string) => checked(z.string().default(def), PINNED_OR_SEED_IMAGE).describe(description);
/** A pinned image without a default. */
export const requiredImageRef = (description: string) => checked(z.string(), PINNED_OR_SEED_IMAGE).describe(description);
