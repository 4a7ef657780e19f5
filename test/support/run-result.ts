import { RUN_RESULT_VERSION, type RunResult } from "../../images/run-result";

/** A result marker as the engine image writes it (images/run-result.ts): a finished Montage run, with overrides. */
export function resultMarker(runId: string, o: Partial<RunResult> = {}): RunResult {
  return {
    version: RUN_RESULT_VERSION,
    runId,
    status: "succeeded",
    exitCode: 0,
    phase: "engine",
    startedAt: "2026-11-30T10:00:00.000Z",
    finishedAt: "2026-11-30T10:02:03.000Z",
    durationMs: 123_000,
    workflow: { file: "dag.json", name: "montage", processes: 27, signals: 40 },
    tasks: { started: 27, succeeded: 27, failed: 0 },
    fetched: { files: 1, bytes: 4096 },
    engine: { hyperflow: "1.7.0", function: "amqpCommand" },
    ...o,
  };
}
