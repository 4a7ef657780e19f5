/**
 * What the values of a container app (the `batch` stack) may look like, written once for the config
 * schema (config/schema/batch.ts) and the constructs (constructs/batch/*). Limits are AWS's:
 * Batch RegisterJobDefinition (vCPU, memory, numNodes), Lambda CreateFunction (memory 128–10240 MiB,
 * timeout 900 s, /tmp 512–10240 MiB).
 */
import type { IntRange, PatternRule, Rule } from "../core/rules";

function pattern(re: RegExp, problem: string, allowed: string, maxLength?: number): PatternRule {
  const test = (v: string) => (maxLength === undefined || v.length <= maxLength) && re.test(v);
  return { test, problem: (v) => (test(v) ? undefined : problem), allowed, pattern: re, ...(maxLength ? { maxLength } : {}) };
}
function intRange(min: number, max: number): IntRange {
  const test = (v: number) => Number.isInteger(v) && v >= min && v <= max;
  return { test, problem: (v) => (test(v) ? undefined : `is not an integer from ${min} to ${max}`), allowed: `an integer from ${min} to ${max}`, min, max };
}

/** An app's name: part of job definition, queue, function, repository and role names. */
export const APP_NAME = pattern(
  /^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$/,
  "is not an app name",
  "1 to 32 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen",
  32,
);
/** Prefix of every Batch resource name of the stack (queues, compute environments, job definitions). */
export const BATCH_NAME = pattern(
  /^[a-z][a-z0-9-]{0,22}[a-z0-9]$/,
  "is not a name for Batch resources",
  "2 to 24 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen",
  24,
);
/** A file name the app writes in its working directory (no directories: outputs are uploaded by name). */
export const OUTPUT_FILE = pattern(/^(?!\.\.?$)[A-Za-z0-9._-]{1,255}$/, "is not a file name", "1 to 255 letters, digits, `.`, `_` and `-` (no `/`)");
/** An argument of the app's command: any text without NUL. */
export const COMMAND_ARG: Rule<string> = {
  test: (v) => !v.includes("\u0000"),
  problem: (v) => (v.includes("\u0000") ? "contains a NUL character" : undefined),
  allowed: "any text without NUL",
};
/** vCPUs per container (Batch on EC2 allows more; Fargate allows 0.25 to 16, whole numbers here). */
export const APP_VCPUS = intRange(1, 96);
/** Memory per container in MiB. */
export const APP_MEMORY_MIB = intRange(512, 786_432);
/** Nodes of a job: 1 is a single-node container job, more a multi-node parallel job (Batch allows up to 1000). */
export const APP_NODES = intRange(1, 1000);
/** Time limit of a job attempt (Batch: at least 60 s), at most 14 days. */
export const APP_TIMEOUT_SECONDS = intRange(60, 14 * 86_400);
/** How long the main node of a multi-node job waits for the other nodes to join. */
export const JOIN_TIMEOUT_SECONDS = intRange(10, 3600);
/** Most vCPUs of a compute environment. */
export const MAX_VCPUS = intRange(1, 100_000);
/** What Lambda allows: memory (MiB), timeout (s). */
export const LAMBDA_LIMITS = { memoryMiB: 10_240, timeoutSeconds: 900, ephemeralMiB: 10_240 } as const;
/** Fargate: 1 node, at most 16 vCPU and 120 GiB. */
export const FARGATE_LIMITS = { vcpus: 16, memoryMiB: 122_880 } as const;
