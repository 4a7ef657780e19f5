/**
 * `npm run bench:executor`: per-task overhead of the task executor (dist/executor/hflow-executor.js) on
 * trivial tasks (`/bin/true`) sent through a real RabbitMQ on loopback, local storage.
 *
 * Overhead per task = the executor's wall time for the job (message received → reply ready:
 * `metrics.duration`) minus the process time (spawn → exit: `metrics.execution`). Also shown: the round
 * trip the engine sees for one task at a time (publish → reply) minus the process time, throughput
 * with all tasks queued at once, and the cost of spawning /bin/true from Node.js alone for comparison.
 *
 * BENCH_TASKS (default 200) tasks per run; runs with THREADS=1 and THREADS=2.
 */
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as amqp from "amqplib";
import { startRabbitMq } from "../test/support/rabbitmq";

const TASKS = Number(process.env.BENCH_TASKS ?? 200);
const BUNDLE = path.resolve(__dirname, "..", "executor", "hflow-executor.js");

interface Reply {
  exit_status: number;
  metrics: { duration: number; execution: number };
}

class Client {
  private readonly waiting = new Map<string, (r: Reply) => void>();
  private constructor(
    private readonly conn: amqp.ChannelModel,
    private readonly ch: amqp.Channel,
    private readonly replyTo: string,
  ) {}

  static async open(url: string): Promise<Client> {
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    await ch.assertQueue("hyperflow.jobs", { durable: true });
    const { queue } = await ch.assertQueue("", { exclusive: true, autoDelete: true });
    const c = new Client(conn, ch, queue);
    await ch.consume(queue, (m) => m && c.waiting.get(m.properties.correlationId)?.(JSON.parse(m.content.toString())), { noAck: true });
    return c;
  }

  run(job: object): Promise<Reply> {
    const id = crypto.randomUUID();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply within 60 s`)), 60_000);
      this.waiting.set(id, (r) => {
        clearTimeout(t);
        this.waiting.delete(id);
        resolve(r);
      });
      this.ch.sendToQueue("hyperflow.jobs", Buffer.from(JSON.stringify(job)), { correlationId: id, replyTo: this.replyTo, contentType: "application/json" });
    });
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

const TRUE_JOB = { executable: "/bin/true", args: [], env: {}, inputs: [], outputs: [], options: { storage: "local" } };

function stats(xs: number[]): { mean: number; p50: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p50: q(0.5), p95: q(0.95), max: s[s.length - 1] };
}

const ms = (x: number) => x.toFixed(2).padStart(7);
const row = (name: string, xs: number[]) => {
  const s = stats(xs);
  return `  ${name.padEnd(44)} mean ${ms(s.mean)}  p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  max ${ms(s.max)}  ms`;
};

async function spawnBaseline(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const c = spawn("/bin/true", [], { stdio: "ignore" });
      c.once("error", reject);
      c.once("exit", () => resolve());
    });
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

async function startWorker(url: string, workdir: string, threads: number): Promise<{ stop(): Promise<void> }> {
  const child = spawn(process.execPath, [BUNDLE], {
    env: { PATH: process.env.PATH, AMQP_URL: url, STORAGE: "local", WORKDIR: workdir, THREADS: String(threads), EXECUTOR_ID: `bench-${threads}` },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("amqp: consuming")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`worker exited (${code}) before consuming:\n${out}`)));
  });
  child.stdout!.resume();
  return {
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export interface ExecutorBenchResult {
  /** The report, one line per figure. */
  readonly lines: string[];
  /** Median executor overhead (job wall − process time) in ms, per THREADS value. */
  readonly overheadP50Ms: Record<number, number>;
}

/** Runs the benchmark (for `npm run bench:executor` and `npm run bench:e2e`, bench/e2e.ts). */
export async function benchExecutor(tasks = TASKS): Promise<ExecutorBenchResult> {
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: npm run build:executor`);
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-bench-exec-"));
  const rabbit = await startRabbitMq();
  const lines: string[] = [];
  const overheadP50Ms: Record<number, number> = {};
  try {
    lines.push(
      `Executor overhead, ${tasks} × /bin/true through RabbitMQ 3.10 on loopback, local storage, Node.js ${process.version}, ${os.cpus().length} cores`,
    );
    lines.push(row("spawn /bin/true from Node.js alone", await spawnBaseline(50)));
    for (const threads of [1, 2]) {
      const worker = await startWorker(rabbit.url, workdir, threads);
      const client = await Client.open(rabbit.url);
      try {
        for (let i = 0; i < 20; i++) await client.run(TRUE_JOB); // warm-up: JIT, first spawns
        // One at a time: what the engine waits for per task on an idle worker.
        const rtt: number[] = [];
        const seqReplies: Reply[] = [];
        for (let i = 0; i < tasks; i++) {
          const t = process.hrtime.bigint();
          const r = await client.run(TRUE_JOB);
          rtt.push(Number(process.hrtime.bigint() - t) / 1e6);
          seqReplies.push(r);
        }
        // All at once: throughput with THREADS jobs in flight.
        const t0 = process.hrtime.bigint();
        const burst = await Promise.all(Array.from({ length: tasks }, () => client.run(TRUE_JOB)));
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        const all = [...seqReplies, ...burst];
        const failed = all.filter((r) => r.exit_status !== 0).length;
        if (failed > 0) throw new Error(`${failed} tasks failed`);
        lines.push(`THREADS=${threads}`);
        lines.push(
          row(
            "process time (spawn → exit)",
            all.map((r) => r.metrics.execution * 1000),
          ),
        );
        const overhead = all.map((r) => (r.metrics.duration - r.metrics.execution) * 1000);
        overheadP50Ms[threads] = stats(overhead).p50;
        lines.push(row("executor overhead (job wall − process)", overhead));
        lines.push(
          row(
            "round trip − process, one task at a time",
            rtt.map((x, i) => x - seqReplies[i].metrics.execution * 1000),
          ),
        );
        lines.push(
          `  all ${tasks} queued at once: ${wall.toFixed(2)} s, ${(tasks / wall).toFixed(0)} tasks/s, ${((wall * 1000) / tasks).toFixed(2)} ms per task`,
        );
      } finally {
        await client.close();
        await worker.stop();
      }
    }
  } finally {
    await rabbit.stop();
    fs.rmSync(workdir, { recursive: true, force: true });
  }
  return { lines, overheadP50Ms };
}

if (require.main === module) {
  benchExecutor().then(
    (r) => process.stdout.write(`${r.lines.join("\n")}\n`),
    (e) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
