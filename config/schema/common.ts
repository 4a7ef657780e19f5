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
export function checked(schema: z.ZodType, given: Rule<never>): z.ZodType {
  // The overloads tie the rule's value type to the schema's output; zod hands the refinement that output.
  const rule = given as Rule<unknown>;
  if ("pattern" in rule && schema instanceof z.ZodString) {
    const { pattern, minLength, maxLength } = rule as PatternRule;
    // Every check carries the rule's own message (a length bound too), so the config error says what is allowed.
    const error = (issue: { input?: unknown }) => ruleMessage(rule, issue.input as string);
    let s = schema;
    if (minLength !== undefined) s = s.min(minLength, { error });
    if (maxLength !== undefined) s = s.max(maxLength, { error });
    return s.regex(pattern, { error });
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

/**
 * A list in which no item (or no item's `field`) appears twice: the constructs derive resource ids from
 * the items and reject a repeat. A repeat is reported at its own index, naming the first.
 */
export function distinctItems<S extends z.ZodArray<z.ZodType>>(schema: S, allowed: string, field?: string): S {
  return schema.superRefine((items, ctx) => {
    const first = new Map<unknown, number>();
    items.forEach((item, i) => {
      const key = field === undefined ? item : (item as Record<string, unknown>)[field];
      const j = first.get(key);
      if (j === undefined) first.set(key, i);
      else ctx.addIssue({ code: "custom", path: field === undefined ? [i] : [i, field], message: `is the same as item ${j}; allowed: ${allowed}`, input: key });
    });
  }) as S;
}

/** Days Secrets Manager keeps a deleted secret recoverable. */
export const recoveryDays = (description: string, def: number) => checked(z.number().int(), RECOVERY_WINDOW).default(def).describe(description);

// ---------------------------------------------------------------------------------------------------
// Images

/** Images of the seed (hyperflow-wms/hyperflow-terraform-ecs `variables.tf`, mtsznowak/hyperflow-terraform-ecs `runner/job.tf`) that were only ever published as `latest`. */
export const SEED_IMAGES = {
  worker: "krysp89/hyperflow-worker-nfs:latest",
  statusReporter: "krysp89/hyperflow-ec2-status-reporter:latest",
  engine: "krysp89/hyperflow-hflow:latest",
} as const;

/**
 * The seed's krysp89/hyperflow-* images above were only ever published as `latest`; they cannot be pinned by tag.
 * The worker and engine seeds are opt-ins (the defaults are this project's images in ECR); the status
 * reporter's is still the default (there is no replacement yet). Where a config uses one, the schema
 * accepts it, the policy rules let it through (config/schema.ts `seedImagesIn`) and `hflow-infra synth`
 * prints a warning. Pin them by digest in your config.
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

// ---------------------------------------------------------------------------------------------------
// Cross-key checks

/** Where a cross-key problem goes (relative to the checked object), what it says, and the value shown. */
type Report = (path: readonly (string | number)[], message: string, value?: unknown) => void;

/** A constraint between keys of one object, and the keys (paths relative to the object) it reads. */
interface CrossKeyCheck<T> {
  readonly reads: readonly (readonly string[])[];
  readonly check: (value: T, report: Report) => void;
}

/** `params` of a cross-key issue: the loader lists these after the per-key problems, with `value`. */
interface CrossKeyParams {
  readonly crossKey: true;
  readonly value?: unknown;
}

export function isCrossKeyIssue(issue: { code?: string; params?: unknown }): issue is { code: "custom"; params: CrossKeyParams } {
  return issue.code === "custom" && (issue.params as CrossKeyParams | undefined)?.crossKey === true;
}

interface IssueLike {
  readonly code?: string;
  readonly path?: readonly PropertyKey[];
  readonly params?: unknown;
}

/** True when no issue so far concerns a key the check reads (unknown keys and other cross-key problems do not count). */
function readsAreValid(issues: readonly IssueLike[], reads: readonly (readonly string[])[]): boolean {
  return !issues.some((issue) => {
    if (issue.code === "unrecognized_keys" || isCrossKeyIssue(issue)) return false;
    const at = issue.path ?? [];
    return reads.some(
      (read) => read.slice(0, at.length).every((key, i) => key === String(at[i])) || at.slice(0, read.length).every((key, i) => String(key) === read[i]),
    );
  });
}

/**
 * Adds cross-key checks to an object schema. Each runs on the parsed values (defaults applied) whenever
 * the keys it reads are valid, even when other keys are not, so its problems come out in the same
 * ConfigError as every type error; a key that is invalid itself is reported on its own.
 */
export function withCrossKeyChecks<S extends z.ZodType>(schema: S, checks: readonly CrossKeyCheck<z.output<S>>[]): S {
  let s: z.ZodType = schema;
  for (const c of checks) {
    s = s.superRefine(
      (value, ctx) =>
        c.check(value as z.output<S>, (path, message, shown) => {
          const params: CrossKeyParams = shown === undefined ? { crossKey: true } : { crossKey: true, value: shown };
          ctx.addIssue({ code: "custom", path: [...path], message, params: { ...params } });
        }),
      { when: (payload) => readsAreValid(payload.issues as readonly IssueLike[], c.reads) },
    );
  }
  return s as S;
}

/** `low <= high` between two number keys of a section at `at`; the problem goes on the low key. */
export function ordered<T>(at: string, low: keyof T & string, high: keyof T & string, allowed: string): CrossKeyCheck<T> {
  return {
    reads: [[low], [high]],
    check: (value, report) => {
      const l = value[low] as number;
      const h = value[high] as number;
      if (l > h) report([low], `${l} is greater than ${at}.${high} (${h}); allowed: ${allowed}`, l);
    },
  };
}
