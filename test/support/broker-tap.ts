/**
 * A copy of every message the broker routes, for tests: RabbitMQ's firehose tracer (`rabbitmqctl
 * trace_on`, built into the broker, no plugin) publishes each message again to the topic exchange
 * `amq.rabbitmq.trace`, as `publish.<exchange>` when it is published and `deliver.<queue>` when a
 * consumer gets it (headers: routing keys, properties, the consumer's connection, `redelivered`).
 * A test-only queue bound there sees what the engine sends without touching the engine: jobs go
 * through the default exchange, which cannot be bound to.
 */
import * as amqp from "amqplib";
import type { RabbitMq } from "./rabbitmq";

export interface TappedMessage {
  readonly kind: "publish" | "deliver";
  /** Exchange name (publish) or queue name (deliver); "" is the default exchange. */
  readonly target: string;
  readonly routingKeys: readonly string[];
  /** The client connection that published or received it, as the broker names it (`peer -> broker`). */
  readonly connection: string;
  readonly redelivered: boolean;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly body: Buffer;
  readonly at: number;
}

export class BrokerTap {
  readonly messages: TappedMessage[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly conn: amqp.ChannelModel,
    readonly channel: amqp.Channel,
  ) {}

  /** Turns the firehose on for vhost "/" and starts collecting. */
  static async open(broker: RabbitMq): Promise<BrokerTap> {
    broker.ctl(["trace_on"]);
    const conn = await amqp.connect(broker.url);
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue("", { exclusive: true, autoDelete: true });
    await ch.bindQueue(queue, "amq.rabbitmq.trace", "publish.#");
    await ch.bindQueue(queue, "amq.rabbitmq.trace", "deliver.#");
    const tap = new BrokerTap(conn, ch);
    await ch.consume(
      queue,
      (m) => {
        if (!m) return;
        const [kind, ...rest] = m.fields.routingKey.split(".");
        const h = (m.properties.headers ?? {}) as Record<string, unknown>;
        tap.messages.push({
          kind: kind as "publish" | "deliver",
          target: rest.join("."),
          routingKeys: (h.routing_keys as string[] | undefined) ?? [],
          connection: String(h.connection ?? ""),
          redelivered: Number(h.redelivered ?? 0) === 1,
          properties: (h.properties as Record<string, unknown> | undefined) ?? {},
          body: m.content,
          at: Date.now(),
        });
        for (const w of tap.waiters) w();
      },
      { noAck: true },
    );
    return tap;
  }

  /** Messages published to `queue` through the default exchange (what the engine sends as jobs). */
  published(queue: string, since = 0): TappedMessage[] {
    return this.messages.filter((m) => m.kind === "publish" && m.target === "" && m.routingKeys.includes(queue) && m.at >= since);
  }

  /** Deliveries from `queue` to consumers. */
  delivered(queue: string, since = 0): TappedMessage[] {
    return this.messages.filter((m) => m.kind === "deliver" && m.target === queue && m.at >= since);
  }

  /** Resolves with the first tapped message matching `pred` (also one already seen). */
  waitFor(pred: (m: TappedMessage) => boolean, timeoutMs: number): Promise<TappedMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.messages.find(pred);
        if (!hit) return false;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no matching message within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}
