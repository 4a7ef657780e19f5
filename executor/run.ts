/**
 * Runs one task process: no shell (the executable and an argument array go to execvp as they are), in
 * the job's directory, with a clean environment, bounded output kept, and a timeout.
 */
import { spawn } from "node:child_process";

interface RunOptions {
  readonly executable: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly killGraceMs: number;
  readonly tailBytes: number;
}

interface RunResult {
  /** Exit code, or null when a signal ended the process. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  /** Set when the process could not be started (ENOENT, EACCES, …). */
  readonly spawnError?: NodeJS.ErrnoException;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit, in milliseconds. */
  readonly ms: number;
}

/** Keeps the last `limit` bytes written to it. */
export class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(private readonly limit: number) {}

  push(b: Buffer): void {
    if (this.limit === 0) {
      this.dropped += b.length;
      return;
    }
    this.chunks.push(b);
    this.size += b.length;
    while (this.size - this.chunks[0].length >= this.limit) {
      const c = this.chunks.shift()!;
      this.size -= c.length;
      this.dropped += c.length;
    }
  }

  toString(): string {
    let buf = Buffer.concat(this.chunks);
    let dropped = this.dropped;
    if (buf.length > this.limit) {
      dropped += buf.length - this.limit;
      buf = buf.subarray(buf.length - this.limit);
    }
    // Cut at a character boundary: skip UTF-8 continuation bytes left at the start.
    let start = 0;
    if (dropped > 0) while (start < buf.length && start < 4 && (buf[start] & 0xc0) === 0x80) start++;
    const text = buf.subarray(start).toString("utf8");
    return dropped + start > 0 ? `[… ${dropped + start} earlier bytes not kept]\n${text}` : text;
  }
}

/** Variables every task gets from the worker unless the message sets them. */
export function baseEnv(cwd: string, workerEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    PATH: workerEnv.PATH || "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: cwd,
    TMPDIR: workerEnv.TMPDIR || "/tmp",
    LANG: workerEnv.LANG || "C.UTF-8",
    ...(workerEnv.TZ ? { TZ: workerEnv.TZ } : {}),
  };
}

export function runProcess(o: RunOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
    const stdout = new Tail(o.tailBytes);
    const stderr = new Tail(o.tailBytes);
    let timedOut = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let timer: NodeJS.Timeout | undefined;

    // detached: the task gets its own process group, so a timeout (and the clean-up after it exits)
    // reaches the processes it started too.
    const child = spawn(o.executable, [...o.args], { cwd: o.cwd, env: { ...o.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const group = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        /* the group is gone */
      }
    };
    const finish = (r: Omit<RunResult, "stdout" | "stderr" | "timedOut" | "ms">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      // A task is over when its main process is: leftovers in its group (daemons it forked) go too.
      group("SIGKILL");
      resolve({ ...r, timedOut, stdout: stdout.toString(), stderr: stderr.toString(), ms: elapsed() });
    };

    child.stdout!.on("data", (b: Buffer) => stdout.push(b));
    child.stderr!.on("data", (b: Buffer) => stderr.push(b));
    child.once("error", (e: NodeJS.ErrnoException) => finish({ code: null, signal: null, spawnError: e }));
    child.once("exit", (code, signal) => {
      // Wait briefly for the pipes to drain; a grandchild holding them open must not hang the job.
      let closed = false;
      child.once("close", () => {
        closed = true;
        finish({ code, signal });
      });
      setTimeout(() => {
        if (!closed) {
          child.stdout!.destroy();
          child.stderr!.destroy();
          finish({ code, signal });
        }
      }, 500).unref();
    });

    if (child.pid !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        group("SIGTERM");
        killTimer = setTimeout(() => group("SIGKILL"), o.killGraceMs);
      }, o.timeoutMs);
    }
  });
}
