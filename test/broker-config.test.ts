/**
 * RabbitMQ's consumer_timeout (30 min by default) would close the channel of a worker whose job runs
 * longer and hand the job to another worker. The broker container turns it off with Erlang arguments
 * (constructs/ecs/broker.ts BROKER_ERL_ARGS): the rendered task definition is checked, and the same
 * arguments are given to the real Debian rabbitmq-server next to a configuration file that sets a 1 s
 * timeout, beside a control broker with that file alone. Both check unacknowledged deliveries every 200 ms
 * (`channel_tick_interval`, as rabbitmq/rabbitmq-server deps/rabbit/test/consumer_timeout_SUITE.erl does).
 */
import * as amqp from "amqplib";
import { BROKER_ERL_ARGS } from "../constructs/ecs/broker";
import { type RabbitMq, startRabbitMq } from "./support/rabbitmq";
import { containers, resources, synthConfig } from "./support/stack-json";

test("the broker container passes the arguments that turn consumer_timeout off", () => {
  const { json } = synthConfig({});
  const td = resources(json.ecs, "aws_ecs_task_definition").find((t) => t.family.endsWith("-hyperflow-master"));
  const broker = containers(td).find((c) => c.name === "hyperflow-master");
  const env = Object.fromEntries(broker.environment.map((e: { name: string; value: string }) => [e.name, e.value]));
  expect(env.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS).toBe("-rabbit consumer_timeout undefined");
  expect(env.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS).toBe(BROKER_ERL_ARGS);
});

describe("a real broker: a 1 s consumer_timeout in the configuration file", () => {
  const timeoutFile = ["consumer_timeout = 1000"];
  const tick = "-rabbit channel_tick_interval 200";
  let control: RabbitMq;
  let ours: RabbitMq;
  beforeAll(async () => {
    [control, ours] = await Promise.all([
      startRabbitMq({ config: timeoutFile, erlArgs: tick }),
      startRabbitMq({ config: timeoutFile, erlArgs: `${tick} ${BROKER_ERL_ARGS}` }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([control?.stop(), ours?.stop()]);
  });

  /** Takes one message without acknowledging it, waits `ms`, then says whether the channel is still open. */
  async function holdUnacked(broker: RabbitMq, ms: number): Promise<{ open: boolean; error?: string }> {
    const conn = await amqp.connect(broker.url);
    conn.on("error", () => undefined);
    try {
      const ch = await conn.createChannel();
      let error: string | undefined;
      let closed = false;
      ch.on("error", (e: Error) => (error = e.message));
      ch.on("close", () => (closed = true));
      await ch.assertQueue("hyperflow.jobs", { durable: true });
      ch.sendToQueue("hyperflow.jobs", Buffer.from("{}"));
      const delivered = new Promise<void>((resolve) => void ch.consume("hyperflow.jobs", () => resolve(), { noAck: false }));
      await delivered;
      await new Promise((r) => setTimeout(r, ms));
      const open = !closed;
      if (open) await ch.close();
      return { open, error };
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  test("the configuration file's timeout is what the control broker runs with, and it closes the channel", async () => {
    expect(control.ctl(["eval", "application:get_env(rabbit, consumer_timeout)."]).trim()).toBe("{ok,1000}");
    const r = await holdUnacked(control, 3000);
    expect(r.open).toBe(false);
    expect(r.error).toMatch(/PRECONDITION_FAILED.*(acknowledgement|ack).*timed out/i);
  }, 60_000);

  test("with the broker's arguments the timeout is off: the job stays with its consumer", async () => {
    expect(ours.ctl(["eval", "application:get_env(rabbit, consumer_timeout)."]).trim()).toBe("{ok,undefined}");
    const r = await holdUnacked(ours, 3000);
    expect(r).toEqual({ open: true, error: undefined });
  }, 60_000);
});
