/**
 * The project's errors and the exit codes they stand for. A leaf module: it imports nothing from the
 * project, so config/, runner/, constructs/, cli/ and main.ts can all extend and read it.
 *
 * Exit codes: 0 ok · 1 a tool, a transfer or a deployment failed · 2 bad input (config, arguments, job
 * directory) · 3 a required tool is missing · 124 `run` gave up following an engine that still runs.
 */

/** Exit codes of `hflow-infra` and of the cdktf app (`main.ts`). */
export const ExitCode = { ok: 0, failed: 1, badInput: 2, missingTool: 3, timedOut: 124 } as const;

/** An error of ours: its message is meant for the user (no stack trace) and it knows its exit code. */
export abstract class HflowError extends Error {
  abstract readonly exitCode: number;
}

/** Bad command-line input: an unknown stack, an existing file without --force, a bad flag value. */
export class UsageError extends HflowError {
  readonly exitCode = ExitCode.badInput;
}

/** The process exit code for an error: its own for ours, 1 for anything else. */
export function exitCodeFor(e: unknown): number {
  return e instanceof HflowError ? e.exitCode : ExitCode.failed;
}
