/**
 * The bundled task executor (dist/executor/hflow-executor.js, built by `npm run build:executor`) as a
 * worker process, and an AMQP client that sends jobs the way HyperFlow's amqpCommand does (its own
 * exclusive reply queue, a correlation id) and waits for the reply.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as amqp from "amqplib";
import type { Json } from "./json";

const EXECUTOR_BUNDLE = path.resolve(__dirname, "..", "..", "dist", "executor", "hflow-executor.js");
const ROOT = path.resolve(__dirname, "..", "..");

/** Builds the bundle when it is missing or older than a source file of executor/ (jest alone runs no build). */
export function ensureExecutorBundle(): string {
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
    }, 0);
  const sources = Math.max(newest(path.join(ROOT, "executor")), fs.statSync(path.join(ROOT, "runner", "s3-client.ts")).mtimeMs);
  if (!fs.existsSync(EXECUTOR_BUNDLE) || fs.statSync(EXECUTOR_BUNDLE).mtimeMs < sources) {
    const r = spawnSync("npm", ["run", "--silent", "build:executor"], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`npm run build:executor failed:\n${r.stdout}\n${r.stderr}`);
  }
  return EXECUTOR_BUNDLE;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Everything the worker printed so far. */
  output(): string;
  /** Resolves when the output matches (checks what was printed before too). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of running) c.kill("SIGKILL");
});

/**
 * Starts a worker. Its environment is exactly `env` plus PATH (nothing of the test process leaks in:
 * no AWS variables unless given, which is what the credential tests rely on).
 */
export function startWorker(env: Record<string, string>): WorkerProcess {
  // EXECUTOR_TEST_NODE runs the workers on another Node.js (e.g. Debian bookworm's 18.20, what the images use).
  const node = process.env.EXECUTOR_TEST_NODE || process.execPath;
  const child = spawn(node, [ensureExecutorBundle()], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", AWS_EC2_METADATA_DISABLED: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let out = "";
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onData = (b: Buffer) => {
    out += b.toString();
    for (const w of [...waiters]) {
      const m = out.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  return {
    child,
    exited,
    output: () => out,
    kill: (signal = "SIGKILL") => child.kill(signal),
    waitFor(re, timeoutMs = 30_000) {
      const m = out.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const w = { re, resolve };
        waiters.push(w);
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`worker output did not match ${re} within ${timeoutMs} ms; output:\n${out.slice(-3000)}`));
        }, timeoutMs);
        exited.then(() => {
          if (waiters.includes(w)) {
            clearTimeout(t);
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error(`worker exited before its output matched ${re}; output:\n${out.slice(-3000)}`));
          }
        });
        const orig = w.resolve;
        w.resolve = (x) => {
          clearTimeout(t);
          orig(x);
        };
      });
    },
  };
}

export interface Reply {
  exit_status: number | string;
  stdout: string;
  stderr: string;
  exceptions: string[];
  metrics: Record<string, Json>;
  error?: string;
}

/** Sends jobs to a queue (`hyperflow.jobs` by default) like amqpCommand.js and collects replies by correlation id. */
export class JobClient {
  private constructor(
    private readonly conn: amqp.ChannelModel,
    private readonly ch: amqp.Channel,
    readonly replyQueue: string,
    private readonly waiting: Map<string, (r: Reply) => void>,
    readonly queue: string,
  ) {}

  static async connect(url: string, queue = "hyperflow.jobs"): Promise<JobClient> {
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    await ch.assertQueue(queue, { durable: true });
    const { queue: replyQueue } = await ch.assertQueue("", { exclusive: true, autoDelete: true });
    const waiting = new Map<string, (r: Reply) => void>();
    await ch.consume(
      replyQueue,
      (m) => {
        if (!m) return;
        const done = waiting.get(m.properties.correlationId);
        if (done) {
          waiting.delete(m.properties.correlationId);
          done(JSON.parse(m.content.toString()));
        }
      },
      { noAck: true },
    );
    return new JobClient(conn, ch, replyQueue, waiting, queue);
  }

  /** Publishes a job (an object is sent as JSON, a string or Buffer as it is) and waits for its reply. */
  run(job: unknown, timeoutMs = 30_000): Promise<Reply> {
    return this.send(job, timeoutMs).reply;
  }

  send(job: unknown, timeoutMs = 30_000, opts: { replyTo?: boolean } = {}): { id: string; reply: Promise<Reply> } {
    const id = crypto.randomUUID();
    const body = Buffer.isBuffer(job) ? job : Buffer.from(typeof job === "string" ? job : JSON.stringify(job));
    const reply = new Promise<Reply>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no reply to job ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(t);
        resolve(r);
      });
    });
    if (opts.replyTo === false) reply.catch(() => undefined);
    this.ch.sendToQueue(this.queue, body, {
      contentType: "application/json",
      correlationId: id,
      ...(opts.replyTo === false ? {} : { replyTo: this.replyQueue }),
    });
    return { id, reply };
  }

  /** Messages ready in a queue and its consumers. */
  async queueState(queue = this.queue): Promise<{ messageCount: number; consumerCount: number }> {
    const q = await this.ch.checkQueue(queue);
    return { messageCount: q.messageCount, consumerCount: q.consumerCount };
  }

  async purge(queue = this.queue): Promise<void> {
    await this.ch.purgeQueue(queue);
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

/** Polls `check` until it returns a truthy value or the time is up. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 20_000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
