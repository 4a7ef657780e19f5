/**
 * Progress of long transfers: a bar with files, bytes, rate and ETA on a terminal, plain lines every few
 * seconds otherwise (CI logs, pipes).
 */
import { SingleBar } from "cli-progress";
import type { WaitingState } from "./endpoint-health";

interface Progress {
  start(totalFiles: number, totalBytes: number): void;
  /** A file is done (uploaded or skipped), with its size. */
  fileDone(bytes: number): void;
  /** Bytes moved inside a file still in progress (multipart parts). */
  bytesMoved(bytes: number): void;
  /**
   * The endpoint stopped answering (state: since when, why, and the bound), or answers again (undefined).
   * Called when that changes and a few times a second while waiting.
   */
  waiting?(state: WaitingState): void;
  stop(): void;
}

/** `waiting for the S3 endpoint for 12 s (ECONNREFUSED); the upload stops after 90 s without an answer`. */
export function waitingText(state: NonNullable<WaitingState>, now = Date.now()): string {
  return `waiting for the S3 endpoint for ${formatSeconds((now - state.sinceMs) / 1000)} (${state.reason}); the upload stops after ${formatSeconds(state.boundMs / 1000)} without an answer`;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/**
 * Counting shared by both presentations: files and bytes done, bytes of multipart uploads in flight,
 * rate and ETA. Subclasses show it (`changed`, `started`, `stopped`).
 */
abstract class CountingProgress implements Progress {
  protected files = 0;
  protected bytes = 0;
  protected inflight = 0;
  protected totalFiles = 0;
  protected totalBytes = 0;
  protected startedAt = Date.now();
  /** Set while the endpoint does not answer. */
  protected waitingFor: WaitingState;

  start(totalFiles: number, totalBytes: number): void {
    Object.assign(this, { totalFiles, totalBytes, startedAt: Date.now() });
    this.started();
  }
  fileDone(bytes: number): void {
    this.files++;
    this.bytes += bytes;
    this.changed();
  }
  bytesMoved(bytes: number): void {
    this.inflight += bytes;
    this.changed();
  }
  waiting(state: WaitingState): void {
    const changed = (state === undefined) !== (this.waitingFor === undefined);
    this.waitingFor = state;
    this.waitChanged(changed);
  }
  /** Multipart uploads report cumulative bytes; the file's fileDone() takes them over. */
  settleInflight(bytes: number): void {
    this.inflight -= bytes;
  }
  stop(): void {
    this.stopped();
  }

  protected snapshot(now = Date.now()) {
    const seconds = Math.max((now - this.startedAt) / 1000, 0.001);
    const done = Math.min(this.bytes + this.inflight, this.totalBytes);
    const rate = done / seconds;
    const eta = rate > 0 ? (this.totalBytes - done) / rate : Number.POSITIVE_INFINITY;
    return { done, rate, eta };
  }
  protected abstract started(): void;
  protected abstract changed(): void;
  protected abstract stopped(): void;
  /** The waiting state changed (`changed`: began or ended) or is refreshed. */
  protected abstract waitChanged(changed: boolean): void;
}

export class TtyProgress extends CountingProgress {
  private readonly bar: SingleBar;
  constructor(label: string, stream: NodeJS.WriteStream = process.stderr) {
    super();
    this.bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {percentage}% | {files}/{totalFiles} files | {doneBytes}/{allBytes} | {rateText}/s | ETA {etaText}{waitText}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      fps: 5,
    });
  }
  protected started(): void {
    this.bar.start(Math.max(this.totalBytes, 1), 0, this.payload());
  }
  protected changed(): void {
    this.bar.update(this.snapshot().done, this.payload());
  }
  protected stopped(): void {
    this.changed();
    this.bar.stop();
  }
  protected waitChanged(): void {
    this.changed();
  }
  private payload() {
    const s = this.snapshot();
    return {
      files: this.files,
      totalFiles: this.totalFiles,
      doneBytes: formatBytes(s.done),
      allBytes: formatBytes(this.totalBytes),
      rateText: formatBytes(s.rate),
      etaText: formatSeconds(s.eta),
      waitText: this.waitingFor ? ` | ${waitingText(this.waitingFor)}` : "",
    };
  }
}

export class LineProgress extends CountingProgress {
  private last = 0;
  constructor(
    private readonly label: string,
    private readonly write: (line: string) => void,
    private readonly everyMs = 5_000,
  ) {
    super();
  }
  protected started(): void {
    this.last = Date.now();
    this.write(`${this.label}: ${this.totalFiles} files, ${formatBytes(this.totalBytes)} to check`);
  }
  protected changed(): void {
    if (Date.now() - this.last >= this.everyMs) this.log();
  }
  protected stopped(): void {
    this.log();
  }
  /** A line when waiting begins and ends; while waiting, one every `everyMs` instead of the counts. */
  protected waitChanged(changed: boolean): void {
    if (!changed && Date.now() - this.last < this.everyMs) return;
    this.last = Date.now();
    this.write(`${this.label}: ${this.waitingFor ? waitingText(this.waitingFor) : "the S3 endpoint answers again"}`);
  }
  private log(): void {
    this.last = Date.now();
    const s = this.snapshot();
    this.write(
      `${this.label}: ${this.files}/${this.totalFiles} files, ${formatBytes(s.done)}/${formatBytes(this.totalBytes)}, ${formatBytes(s.rate)}/s, ETA ${formatSeconds(s.eta)}`,
    );
  }
}

export const silentProgress: Progress & { settleInflight(bytes: number): void } = {
  start() {},
  waiting() {},
  fileDone() {},
  bytesMoved() {},
  settleInflight() {},
  stop() {},
};

export type SyncProgress = Progress & { settleInflight(bytes: number): void };

/** The bar on a terminal, plain lines otherwise (to `writeLine`, default the stream). */
export function progressFor(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  writeLine: (line: string) => void = (l) => stream.write(`${l}\n`),
): SyncProgress {
  return stream.isTTY ? new TtyProgress(label, stream) : new LineProgress(label, writeLine);
}

/**
 * Progress of a long step without byte counts (an image build or push): on a terminal one line that is
 * rewritten with the latest news and the time so far; otherwise a plain line per piece of news.
 */
export interface StepProgress {
  /** What the step is doing now (a line of the tool's output, a phase). */
  update(text: string): void;
  /** The step ended: one last line that stays. */
  done(text: string): void;
}

export class TtyStepProgress implements StepProgress {
  private readonly startedAt: number;
  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }
  update(text: string): void {
    const line = `${this.label}: ${text} (${formatSeconds((this.now() - this.startedAt) / 1000)})`;
    const width = this.stream.columns ? this.stream.columns - 1 : 120;
    this.stream.write(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
  }
  done(text: string): void {
    this.stream.write(`\r\x1b[2K${this.label}: ${text}\n`);
  }
}

export class LineStepProgress implements StepProgress {
  constructor(
    private readonly label: string,
    private readonly write: (line: string) => void,
  ) {}
  update(text: string): void {
    this.write(`${this.label}: ${text}`);
  }
  done(text: string): void {
    this.write(`${this.label}: ${text}`);
  }
}

/** The rewritten line on a terminal, plain lines otherwise (to `writeLine`, default the stream). */
export function stepProgressFor(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  writeLine: (line: string) => void = (l) => stream.write(`${l}\n`),
): StepProgress {
  return stream.isTTY ? new TtyStepProgress(label, stream) : new LineStepProgress(label, writeLine);
}
