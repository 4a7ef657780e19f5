/**
 * The AMQP transport: the ECS worker's loop around the executor core.
 *
 * Contract with the engine (hyperflow-wms/hyperflow functions/amqpCommand.js): jobs arrive on the
 * durable queue `hyperflow.jobs` with `replyTo` (an exclusive queue of the engine's) and
 * `correlationId`; the reply goes to the default exchange with routing key `replyTo` and the same
 * `correlationId`, as JSON `{exit_status, stdout, stderr, exceptions, metrics}`.
 *
 * Delivery guarantees:
 * - prefetch = THREADS, and a job is acknowledged only after its reply was confirmed by the broker
 *   (a confirm channel): a worker that dies mid-task leaves the job unacknowledged, and the broker
 *   hands it to another worker;
 * - every message is acknowledged once handled, whatever happened to the job: failures are replies,
 *   never requeues, so no message can circle the queue forever. A message that cannot even be parsed
 *   and has no `replyTo` is logged and acknowledged;
 * - when the connection drops, jobs in progress finish but can neither reply nor acknowledge (their
 *   delivery died with the channel; the broker requeues them), and the worker reconnects with capped
 *   exponential backoff and jitter;
 * - `drain()` (SIGTERM, what ECS sends to stop a task) cancels the consumer, returns deliveries that
 *   arrive after that to the queue, waits for the running jobs and their metrics, and closes.
 */
import * as crypto from "node:crypto";
import * as amqp from "amqplib";
import { type ExecutorContext, executeJob } from "./execute";
import { EXIT_FAILED, type JobReply } from "./job";
import type { Log, MetricsSink } from "./metrics";

interface AmqpWorkerOptions {
  readonly ctx: ExecutorContext;
  readonly metrics?: MetricsSink;
  /** Reconnect delay bounds in milliseconds. @default 500 and 30000 */
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
}

/** The broker URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable AMQP_URL)";
  }
}

export class AmqpWorker {
  private readonly log: Log;
  private conn?: amqp.ChannelModel;
  private channel?: amqp.ConfirmChannel;
  private consumerTag?: string;
  private stopping = false;
  private readonly running = new Set<Promise<void>>();
  private readonly pendingMetrics = new Set<Promise<void>>();
  private wakeUp?: () => void;
  private loop?: Promise<void>;
  /** Jobs handled since start (for tests and logs). */
  handled = 0;

  constructor(private readonly o: AmqpWorkerOptions) {
    this.log = o.ctx.log;
  }

  /** Starts connecting and consuming in the background; resolves once the first consumer is up. */
  start(): Promise<void> {
    let firstUp!: () => void;
    const up = new Promise<void>((r) => (firstUp = r));
    this.loop = this.connectLoop(firstUp);
    return up;
  }

  private async connectLoop(onFirstUp: () => void): Promise<void> {
    const { settings } = this.o.ctx;
    const initial = this.o.reconnectInitialMs ?? 500;
    const max = this.o.reconnectMaxMs ?? 30_000;
    let attempt = 0;
    while (!this.stopping) {
      let closed: Promise<void> | undefined;
      try {
        // noDelay: amqplib leaves Nagle's algorithm on; a small reply then waits up to 40 ms for the
        // broker's delayed ACK of the one before it (p95 of a one-task round trip: 42 ms → bench:executor).
        const conn = await amqp.connect(settings.amqpUrl, { noDelay: true, clientProperties: { connection_name: `hflow-executor ${settings.executorId}` } });
        closed = new Promise<void>((resolve) => conn.once("close", () => resolve()));
        conn.on("error", (e: Error) => this.log(`amqp: connection error: ${e.message}`));
        this.conn = conn;
        const ch = await conn.createConfirmChannel();
        ch.on("error", (e: Error) => this.log(`amqp: channel error: ${e.message}`));
        // A channel closed under a live connection (e.g. a broker-side error) stops deliveries: close the
        // connection too, so the loop builds both again.
        ch.on("close", () => {
          if (this.conn === conn && !this.stopping) conn.close().catch(() => undefined);
        });
        ch.on("return", (m: amqp.Message) =>
          this.log(`amqp: reply for ${m.properties.correlationId ?? "?"} was not routable (the engine's reply queue ${m.fields.routingKey} is gone)`),
        );
        await ch.assertQueue(settings.queue, { durable: true });
        await ch.prefetch(settings.threads);
        this.channel = ch;
        if (this.stopping) break;
        const { consumerTag } = await ch.consume(settings.queue, (msg) => this.onDelivery(ch, msg), { noAck: false });
        this.consumerTag = consumerTag;
        this.log(`amqp: consuming ${settings.queue} on ${redactUrl(settings.amqpUrl)} with ${settings.threads} thread(s)`);
        attempt = 0;
        onFirstUp();
        await closed;
        this.channel = undefined;
        this.consumerTag = undefined;
        if (!this.stopping)
          this.log(`amqp: connection closed${this.running.size ? `; ${this.running.size} running job(s) will be redelivered by the broker` : ""}`);
      } catch (e) {
        this.log(`amqp: cannot connect to ${redactUrl(settings.amqpUrl)}: ${(e as Error).message}`);
        this.channel = undefined;
        const conn = this.conn;
        this.conn = undefined;
        conn?.close().catch(() => undefined);
      }
      if (this.stopping) break;
      // Capped exponential backoff with ±20 % jitter, so a fleet of workers does not reconnect in step.
      const delay = Math.min(max, initial * 2 ** Math.min(attempt, 20)) * (0.8 + 0.4 * Math.random());
      attempt++;
      this.log(`amqp: reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${attempt})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wakeUp = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
    // Stopping: a connection made while drain() ran is closed here.
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close().catch(() => undefined);
  }

  private onDelivery(ch: amqp.ConfirmChannel, msg: amqp.ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer (queue deleted): reconnect, which declares the queue again.
      this.log("amqp: consumer cancelled by the broker; reconnecting");
      this.conn?.close().catch(() => undefined);
      return;
    }
    if (this.stopping) {
      // Draining: a delivery that raced the cancel goes back to the queue for another worker.
      try {
        ch.nack(msg, false, true);
      } catch {
        /* channel gone: the broker requeues it anyway */
      }
      return;
    }
    const p = this.handle(ch, msg).finally(() => this.running.delete(p));
    this.running.add(p);
  }

  private async handle(ch: amqp.ConfirmChannel, msg: amqp.ConsumeMessage): Promise<void> {
    const { correlationId, replyTo } = msg.properties as { correlationId?: string; replyTo?: string };
    // The id names the job in logs, metrics and directory names: printable ASCII only (the reply keeps the original).
    const jobId = (correlationId || `noid-${crypto.randomBytes(6).toString("hex")}`).replace(/[^\x21-\x7e]/g, "?").slice(0, 128);
    if (msg.fields.redelivered) this.log(`job ${jobId}: redelivered (an earlier worker did not finish it)`);
    let reply: JobReply;
    let points: Awaited<ReturnType<typeof executeJob>>["points"] = [];
    try {
      ({ reply, points } = await executeJob(msg.content, jobId, this.o.ctx));
    } catch (e) {
      // executeJob does not throw; this is the last line of defence so the message is still answered.
      reply = {
        exit_status: EXIT_FAILED,
        stdout: "",
        stderr: "",
        exceptions: [`executor error: ${(e as Error).message}`],
        metrics: { executor: this.o.ctx.settings.executorId, jobId, storage: this.o.ctx.settings.storage, timestamps: {}, input_size: 0, output_size: 0 },
        error: "internal",
      };
    }
    this.handled++;
    if (this.channel !== ch) {
      this.log(`job ${jobId}: finished after its connection was lost; not replying (the broker redelivers it)`);
      return;
    }
    try {
      if (replyTo) {
        await new Promise<void>((resolve, reject) => {
          ch.publish("", replyTo, Buffer.from(JSON.stringify(reply)), { correlationId, contentType: "application/json", mandatory: true }, (err: unknown) =>
            err ? reject(err) : resolve(),
          );
        });
      } else {
        this.log(
          `job ${jobId}: message has no replyTo; result logged only (exit_status ${reply.exit_status}${reply.exceptions.length ? `: ${reply.exceptions[0]}` : ""})`,
        );
      }
      ch.ack(msg);
    } catch (e) {
      this.log(`job ${jobId}: could not reply or acknowledge (${(e as Error).message}); the broker redelivers it`);
      return;
    }
    if (this.o.metrics && points.length > 0) {
      const w = this.o.metrics.write(points).finally(() => this.pendingMetrics.delete(w));
      this.pendingMetrics.add(w);
    }
  }

  /** Jobs in progress now. */
  get active(): number {
    return this.running.size;
  }

  /** Stops taking jobs, lets the running ones finish and reply, flushes metrics, closes. */
  async drain(opts: { metricsTimeoutMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wakeUp?.();
    const ch = this.channel;
    if (ch && this.consumerTag) await ch.cancel(this.consumerTag).catch(() => undefined);
    if (this.running.size > 0) this.log(`amqp: draining, waiting for ${this.running.size} running job(s)`);
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    if (this.pendingMetrics.size > 0) {
      await Promise.race([Promise.allSettled([...this.pendingMetrics]), new Promise((r) => setTimeout(r, opts.metricsTimeoutMs ?? 5_000).unref())]);
    }
    // Close the channel first: amqplib multiplexes channels, and a connection.close sent right after an
    // ack can overtake it (the broker would then requeue a job that was answered). channel.close goes
    // out on the same channel after the acks and waits for the broker's close-ok.
    await this.channel?.close().catch(() => undefined);
    await this.conn?.close().catch(() => undefined);
    // The loop ends at once unless it is inside a connection attempt; do not wait for a hung one.
    await Promise.race([this.loop, new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
}
