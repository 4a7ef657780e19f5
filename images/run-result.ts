/**
 * The result marker the engine image writes when a workflow run ends (images/engine/entrypoint.ts), read
 * by `hflow-infra run`/`status`: one JSON object at `<prefix>runs/<run-id>/result.json` in the workflow
 * bucket. This module is the whole contract: the writer and every reader import it. No dependencies.
 *
 * `status` is `succeeded` only when the engine exited 0 after the workflow finished; anything else
 * (a task failed, the engine crashed or timed out, the broker was unreachable, fetching the workdir or
 * starting Redis failed) is `failed`, with `phase` saying where and `reason` the first error.
 */

export const RUN_RESULT_VERSION = 1 as const;

export type RunPhase = "broker" | "fetch" | "redis" | "engine";

export interface RunResult {
  readonly version: typeof RUN_RESULT_VERSION;
  /** ECS task id when the engine runs as an ECS task, else HFLOW_RUN_ID or a generated id. */
  readonly runId: string;
  readonly status: "succeeded" | "failed";
  /** Exit code of the engine container (0 only when succeeded). */
  readonly exitCode: number;
  /** Where a failed run stopped. */
  readonly phase: RunPhase;
  /** First error of a failed run (a failed task, a timeout, a fetch error), one line. */
  readonly reason?: string;
  /** ISO 8601 times: container start and marker write. */
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly workflow: {
    /** Workflow file below workdir/ (`workflow.json` or `dag.json`). */
    readonly file: string;
    readonly name?: string;
    readonly processes: number;
    readonly signals: number;
  };
  /** Task invocations seen by the engine (a process with firingLimit n is counted n times). */
  readonly tasks: { readonly started: number; readonly succeeded: number; readonly failed: number };
  /** Files fetched from `<prefix>workdir/` and their bytes. */
  readonly fetched: { readonly files: number; readonly bytes: number };
  readonly engine: { readonly hyperflow: string; readonly function?: string };
}

/** Key of the marker: prefix is "" or ends in "/"; run ids are one path segment. */
export function runResultKey(prefix: string, runId: string): string {
  if (prefix !== "" && !prefix.endsWith("/")) throw new Error(`prefix ${JSON.stringify(prefix)}: must be empty or end in "/"`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(runId))
    throw new Error(`run id ${JSON.stringify(runId)}: allowed are letters, digits, ".", "_", "-" (at most 128, not starting with a dot or dash)`);
  return `${prefix}runs/${runId}/result.json`;
}

/** Parses and checks a marker someone else wrote; throws naming the first bad field. */
export function parseRunResult(text: string): RunResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`run result is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const o = doc as Record<string, unknown>;
  const bad = (field: string, allowed: string): never => {
    throw new Error(
      `run result: ${field} is ${JSON.stringify(field.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o))}; allowed: ${allowed}`,
    );
  };
  if (!o || typeof o !== "object" || Array.isArray(o)) throw new Error("run result: not a JSON object");
  if (o.version !== RUN_RESULT_VERSION) bad("version", String(RUN_RESULT_VERSION));
  if (typeof o.runId !== "string" || o.runId === "") bad("runId", "a non-empty string");
  if (o.status !== "succeeded" && o.status !== "failed") bad("status", '"succeeded" or "failed"');
  if (!Number.isInteger(o.exitCode)) bad("exitCode", "an integer");
  if ((o.status === "succeeded") !== (o.exitCode === 0)) bad("exitCode", `0 exactly when status is "succeeded"`);
  if (o.phase !== "broker" && o.phase !== "fetch" && o.phase !== "redis" && o.phase !== "engine") bad("phase", '"broker", "fetch", "redis" or "engine"');
  for (const t of ["startedAt", "finishedAt"]) if (typeof o[t] !== "string" || Number.isNaN(Date.parse(o[t] as string))) bad(t, "an ISO 8601 time");
  if (typeof o.durationMs !== "number" || o.durationMs < 0) bad("durationMs", "a number ≥ 0");
  const wf = o.workflow as Record<string, unknown> | undefined;
  if (!wf || typeof wf.file !== "string") bad("workflow.file", "a file name");
  for (const k of ["processes", "signals"]) if (!Number.isInteger(wf?.[k])) bad(`workflow.${k}`, "an integer");
  for (const k of ["started", "succeeded", "failed"])
    if (!Number.isInteger((o.tasks as Record<string, unknown> | undefined)?.[k])) bad(`tasks.${k}`, "an integer");
  for (const k of ["files", "bytes"]) if (!Number.isInteger((o.fetched as Record<string, unknown> | undefined)?.[k])) bad(`fetched.${k}`, "an integer");
  if (typeof (o.engine as Record<string, unknown> | undefined)?.hyperflow !== "string") bad("engine.hyperflow", "a version string");
  return o as unknown as RunResult;
}
