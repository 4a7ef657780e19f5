/**
 * Progress of long transfers: a bar with files, bytes, rate and ETA on a terminal, plain lines every few
 * seconds otherwise (CI logs, pipes).
 */
import { SingleBar } from "cli-progress";

export interface Progress {
  start(totalFiles: number, totalBytes: number): void;
  /** A file is done (uploaded or skipped), with its size. */
  fileDone(bytes: number): void;
  /** Bytes moved inside a file still in progress (multipart parts). */
  bytesMoved(bytes: number): void;
  stop(): void;
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

/** Shared counting for both presentations. */
class Counter {
  files = 0;
  bytes = 0;
  inflight = 0;
  totalFiles = 0;
  totalBytes = 0;
  started = Date.now();
  snapshot(now = Date.now()) {
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const done = Math.min(this.bytes + this.inflight, this.totalBytes);
    const rate = done / seconds;
    const eta = rate > 0 ? (this.totalBytes - done) / rate : Number.POSITIVE_INFINITY;
    return { done, rate, eta, seconds };
  }
}

export class TtyProgress implements Progress {
  private readonly c = new Counter();
  private readonly bar: SingleBar;
  constructor(label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {percentage}% | {files}/{totalFiles} files | {doneBytes}/{allBytes} | {rateText}/s | ETA {etaText}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      fps: 5,
    });
  }
  start(totalFiles: number, totalBytes: number): void {
    Object.assign(this.c, { totalFiles, totalBytes, started: Date.now() });
    this.bar.start(Math.max(totalBytes, 1), 0, this.payload());
  }
  fileDone(bytes: number): void {
    this.c.files++;
    this.c.bytes += bytes;
    this.update();
  }
  bytesMoved(bytes: number): void {
    this.c.inflight += bytes;
    this.update();
  }
  /** Multipart uploads report cumulative bytes; the file's fileDone() takes them over. */
  settleInflight(bytes: number): void {
    this.c.inflight -= bytes;
  }
  stop(): void {
    this.update();
    this.bar.stop();
  }
  private update(): void {
    const s = this.c.snapshot();
    this.bar.update(s.done, this.payload());
  }
  private payload() {
    const s = this.c.snapshot();
    return {
      files: this.c.files,
      totalFiles: this.c.totalFiles,
      doneBytes: formatBytes(s.done),
      allBytes: formatBytes(this.c.totalBytes),
      rateText: formatBytes(s.rate),
      etaText: formatSeconds(s.eta),
    };
  }
}

export class LineProgress implements Progress {
  private readonly c = new Counter();
  private last = 0;
  constructor(
    private readonly label: string,
    private readonly write: (line: string) => void,
    private readonly everyMs = 5_000,
  ) {}
  start(totalFiles: number, totalBytes: number): void {
    Object.assign(this.c, { totalFiles, totalBytes, started: Date.now() });
    this.last = Date.now();
    this.write(`${this.label}: ${totalFiles} files, ${formatBytes(totalBytes)} to check`);
  }
  fileDone(bytes: number): void {
    this.c.files++;
    this.c.bytes += bytes;
    this.maybeLog();
  }
  bytesMoved(bytes: number): void {
    this.c.inflight += bytes;
    this.maybeLog();
  }
  settleInflight(bytes: number): void {
    this.c.inflight -= bytes;
  }
  stop(): void {
    this.log();
  }
  private maybeLog(): void {
    if (Date.now() - this.last >= this.everyMs) this.log();
  }
  private log(): void {
    this.last = Date.now();
    const s = this.c.snapshot();
    this.write(
      `${this.label}: ${this.c.files}/${this.c.totalFiles} files, ${formatBytes(s.done)}/${formatBytes(this.c.totalBytes)}, ${formatBytes(s.rate)}/s, ETA ${formatSeconds(s.eta)}`,
    );
  }
}

export const silentProgress: Progress & { settleInflight(bytes: number): void } = {
  start() {},
  fileDone() {},
  bytesMoved() {},
  settleInflight() {},
  stop() {},
};

export type SyncProgress = Progress & { settleInflight(bytes: number): void };

/** The bar on a terminal, plain lines otherwise (to `writeLine`, default the stream). */
export function progressFor(label: string, stream: NodeJS.WriteStream = process.stderr, writeLine: (line: string) => void = (l) => stream.write(`${l}\n`)): SyncProgress {
  return stream.isTTY ? new TtyProgress(label, stream) : new LineProgress(label, writeLine);
}
