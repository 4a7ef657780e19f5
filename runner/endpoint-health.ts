/**
 * A run-wide view of the S3 endpoint's health during an upload. Every request attempt reports to it: an
 * answer below 500 (or bytes moving) means the endpoint is there; no answer (refused, reset, timed out)
 * or a 5xx means it is not. Files retry on their own (the SDK's attempts, then the uploader's); this view
 * sees them all together, so when nothing has answered for `outageMs` since the first failure the whole
 * run stops at once (EndpointOutageError) instead of every file working through its retries for most of
 * an hour.
 */
import { ExitCode, HflowError } from "../common/errors";
import { describeError } from "./errors";

/** How long an upload waits for an endpoint that stopped answering before it stops the run. */
export const DEFAULT_OUTAGE_SECONDS = 90;

/** The endpoint did not answer for the bound: the run stopped. A re-run uploads what is missing. */
export class EndpointOutageError extends HflowError {
  readonly exitCode = ExitCode.endpointDown;
  constructor(
    readonly seconds: number,
    readonly reason: string,
  ) {
    super(
      `the S3 endpoint did not answer for ${seconds} s (last error: ${reason}); the upload stopped. Nothing half-written stays: run the same command again when the endpoint is back, and it uploads only what is missing.`,
    );
    this.name = "EndpointOutageError";
  }
}

/** What the health view tells the progress display: waiting since when, and why (undefined: healthy again). */
export type WaitingState = { readonly sinceMs: number; readonly reason: string; readonly boundMs: number } | undefined;

/** Whether an error of one request attempt means the endpoint is not there (no answer, or a 5xx). */
export function isEndpointFailure(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (err?.name === "AbortError") return false; // ours: the run is stopping
  const status = err?.$metadata?.httpStatusCode;
  return status === undefined || status >= 500;
}

export class EndpointHealth {
  private lastOk: number;
  private failingSince?: number;
  private reason = "";

  constructor(
    readonly outageMs: number,
    private readonly onChange: (state: WaitingState) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.lastOk = now();
  }

  /** The endpoint answered (or moved bytes). */
  ok(): void {
    this.lastOk = this.now();
    if (this.failingSince !== undefined) {
      this.failingSince = undefined;
      this.onChange(undefined);
    }
  }

  /** A request attempt got no answer or a 5xx. */
  failed(e: unknown): void {
    this.reason = describeError(e);
    if (this.failingSince === undefined) {
      this.failingSince = this.now();
      this.onChange(this.state());
    }
  }

  /** Reports an attempt's outcome: failed for an endpoint failure, ok for any other answer. */
  report(e: unknown): void {
    if (isEndpointFailure(e)) this.failed(e);
    else if ((e as { name?: string } | undefined)?.name !== "AbortError") this.ok();
  }

  /** Waiting, since when and why; undefined while healthy. */
  state(): WaitingState {
    return this.failingSince === undefined ? undefined : { sinceMs: this.lastOk, reason: this.reason, boundMs: this.outageMs };
  }

  /** The outage error once nothing answered for the bound after a failure, else undefined. */
  outage(): EndpointOutageError | undefined {
    if (this.failingSince === undefined || this.now() - this.lastOk < this.outageMs) return undefined;
    return new EndpointOutageError(Math.round((this.now() - this.lastOk) / 1000), this.reason);
  }
}
