/**
 * The AMQP adapter of the bundled executor against a real RabbitMQ: every error class gets an error
 * reply and the worker keeps consuming, nothing is requeued forever, no shell and a clean environment,
 * bounded output, concurrency up to THREADS (prefetch), reconnect after a broker outage, SIGTERM drain.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureExecutorBundle, eventually, JobClient, type Reply, startWorker, type WorkerProcess } from "./support/executor";
import { type RabbitMq, startRabbitMq } from "./support/rabbitmq";
import { freePort } from "./support/rgw";
import { credentialsEnv } from "./support/aws-env";

let rabbit: RabbitMq;
let client: JobClient;
let workdir: string;
let worker: WorkerProcess;

/** What amqpCommand.js treats as success. */
const engineSeesSuccess = (r: Reply) => (r.exit_status as unknown) == "0";

beforeAll(async () => {
  ensureExecutorBundle();
  rabbit = await startRabbitMq();
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-amqp-work-"));
  worker = startWorker({
    AMQP_URL: rabbit.url,
    STORAGE: "local",
    WORKDIR: workdir,
    THREADS: "2",
    TASK_TIMEOUT: "1",
    KILL_GRACE: "1",
    EXECUTOR_ID: "amqp-test",
    AMQP_RECONNECT_MAX_DELAY: "1",
    SECRET_IN_WORKER: "must-not-reach-tasks",
    AWS_SECRET_ACCESS_KEY: credentialsEnv({ accessKeyId: "unused", secretAccessKey: "worker-secret-not-for-tasks" }).AWS_SECRET_ACCESS_KEY,
  });
  await worker.waitFor(/consuming hyperflow\.jobs/);
  client = await JobClient.connect(rabbit.url);
}, 90_000);

afterAll(async () => {
  await client?.close();
  worker?.kill("SIGKILL");
  await worker?.exited;
  await rabbit?.stop();
  fs.rmSync(workdir, { recursive: true, force: true });
});

test("every error class gets an error reply, and the worker goes on with the next job", async () => {
  const jobs: Record<string, unknown> = {
    notJson: "{not json",
    noExecutable: { args: ["x"] },
    badInputName: { executable: "/bin/true", inputs: [{ name: "../etc/passwd" }] },
    missingExecutable: { executable: "/nonexistent/tool", args: [] },
    missingInput: { executable: "/bin/cat", args: ["nope.txt"], inputs: [{ name: "nope.txt" }] },
    missingOutput: { executable: "/bin/true", outputs: [{ name: "never.txt" }] },
    timeout: { executable: "/bin/sleep", args: ["30"] },
    exitCode: { executable: "/bin/sh", args: ["-c", "echo out; echo err >&2; exit 7"] },
  };
  const started = Date.now();
  const replies = Object.fromEntries(await Promise.all(Object.entries(jobs).map(async ([k, job]) => [k, await client.run(job)] as const)));
  for (const [k, r] of Object.entries(replies)) {
    expect({ k, success: engineSeesSuccess(r) }).toEqual({ k, success: false });
    expect(r.exceptions.length).toBeGreaterThan(0);
  }
  expect(replies.notJson).toMatchObject({ exit_status: -2, error: "malformed", exceptions: [expect.stringMatching(/malformed job message: not JSON/)] });
  expect(replies.noExecutable).toMatchObject({
    exit_status: -2,
    error: "malformed",
    exceptions: [expect.stringMatching(/executable must be a non-empty string/)],
  });
  expect(replies.badInputName).toMatchObject({ exit_status: -2, error: "malformed", exceptions: [expect.stringMatching(/leaves the storage/)] });
  expect(replies.missingExecutable).toMatchObject({
    exit_status: -1,
    error: "spawn",
    exceptions: [expect.stringMatching(/cannot run \/nonexistent\/tool: not found/)],
  });
  expect(replies.missingInput).toMatchObject({ exit_status: -2, error: "stage_in", exceptions: [expect.stringMatching(/missing input nope\.txt/)] });
  expect(replies.missingOutput).toMatchObject({ exit_status: -2, error: "stage_out", exceptions: ["output never.txt was not produced by the task"] });
  expect(replies.missingOutput.metrics.exit_code).toBe(0);
  expect(replies.timeout).toMatchObject({ exit_status: 124, error: "timeout", exceptions: [expect.stringMatching(/timed out after 1 s/)] });
  expect(replies.timeout.metrics.execution).toBeLessThan(5);
  expect(replies.exitCode).toMatchObject({ exit_status: 7, error: "exit", stdout: "out\n", stderr: "err\n" });
  expect(Date.now() - started).toBeLessThan(15_000);

  // Still consuming: a good job after all of these works, and nothing is left in the queue.
  fs.writeFileSync(path.join(workdir, "in.txt"), "abc");
  const ok = await client.run({ executable: "/bin/cp", args: ["in.txt", "ok.txt"], inputs: [{ name: "in.txt" }], outputs: [{ name: "ok.txt" }] });
  expect(ok).toMatchObject({ exit_status: 0, exceptions: [], stdout: "", stderr: "" });
  expect(ok.error).toBeUndefined();
  expect(engineSeesSuccess(ok)).toBe(true);
  expect(ok.metrics).toMatchObject({ executor: "amqp-test", storage: "local", input_size: 3, output_size: 3, exit_code: 0 });
  expect(fs.readFileSync(path.join(workdir, "ok.txt"), "utf8")).toBe("abc");
  expect(await client.queueState()).toMatchObject({ messageCount: 0, consumerCount: 1 });
}, 60_000);

test("a message that cannot be parsed and has no replyTo is logged and acknowledged once, never requeued", async () => {
  const { id } = client.send("garbage without a reply queue", 5_000, { replyTo: false });
  await worker.waitFor(new RegExp(`job ${id}: message has no replyTo; result logged only \\(exit_status -2: malformed job message: not JSON`));
  // A later job is answered, so the garbage was handled before it; it was seen exactly once.
  expect(engineSeesSuccess(await client.run({ executable: "/bin/true" }))).toBe(true);
  await new Promise((r) => setTimeout(r, 300));
  expect(worker.output().split(`job ${id}: malformed`).length - 1).toBe(1);
  expect(worker.output()).not.toMatch(new RegExp(`job ${id}: redelivered`));
  expect(await client.queueState()).toMatchObject({ messageCount: 0 });
});

test("no shell: arguments reach the program as they are; string args are split on white space only", async () => {
  const r = await client.run({ executable: "/bin/echo", args: ["$HOME", "a b", ";", "rm", "-rf", "`id`", "*"] });
  expect(r.stdout).toBe("$HOME a b ; rm -rf `id` *\n");
  const s = await client.run({ executable: "/bin/echo", args: "  one   $(two)  'three four'  " });
  expect(s.stdout).toBe("one $(two) 'three four'\n");
  const n = await client.run({ executable: "/bin/echo", args: [1, 2.5, true] });
  expect(n.stdout).toBe("1 2.5 true\n");
});

test("tasks get a clean environment plus the message's env; worker secrets and AWS keys from the message do not reach them", async () => {
  const r = await client.run({
    executable: "/usr/bin/env",
    env: { FOO: "from message", PATH: "/usr/bin:/bin", ...credentialsEnv({ accessKeyId: "AKIAFROMMESSAGE", secretAccessKey: "from-message" }) },
  });
  const env = Object.fromEntries(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  expect(env.FOO).toBe("from message");
  expect(env.PATH).toBe("/usr/bin:/bin");
  expect(env.HOME).toBe(workdir);
  for (const k of ["SECRET_IN_WORKER", "AMQP_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"])
    expect({ k, v: env[k] }).toEqual({ k, v: undefined });
  expect(worker.output()).toMatch(
    /ignoring message options: env\.AWS_ACCESS_KEY_ID \(credentials are never taken from job messages\); env\.AWS_SECRET_ACCESS_KEY/,
  );
});

test("stdout and stderr come back as bounded tails", async () => {
  const r = await client.run({
    executable: "/bin/sh",
    args: ["-c", "head -c 200000 /dev/zero | tr '\\0' x; echo END; head -c 50000 /dev/zero | tr '\\0' y >&2"],
  });
  expect(r.exit_status).toBe(0);
  expect(r.stdout.endsWith("xxxxEND\n")).toBe(true);
  expect(r.stdout).toMatch(/^\[… \d+ earlier bytes not kept\]\n/);
  expect(Buffer.byteLength(r.stdout)).toBeLessThan(8192 + 64);
  expect(Buffer.byteLength(r.stderr)).toBeLessThan(8192 + 64);
  expect(r.stderr.endsWith("yyyy")).toBe(true);
});

test("runs at most THREADS jobs at once; the rest wait in the queue (prefetch = THREADS)", async () => {
  const replies = Array.from({ length: 4 }, () => client.run({ executable: "/bin/sleep", args: ["0.7"] }));
  await eventually(async () => (await client.queueState()).messageCount === 2, 5_000, "two jobs delivered, two waiting");
  const rs = await Promise.all(replies);
  const spans = rs.map((r) => [r.metrics.timestamps["execution.started"], r.metrics.timestamps["execution.finished"]] as const);
  const overlapAt = (t: number) => spans.filter(([a, b]) => a <= t && t < b).length;
  expect(Math.max(...spans.map(([a]) => overlapAt(a)))).toBe(2);
});

test("reconnects after the broker goes away and comes back", async () => {
  await client.close();
  const before = worker.output().match(/consuming hyperflow\.jobs/g)!.length;
  await rabbit.kill();
  await worker.waitFor(/amqp: reconnecting in/);
  await rabbit.start();
  await eventually(() => worker.output().match(/consuming hyperflow\.jobs/g)!.length === before + 1, 30_000, "the worker consuming again");
  client = await JobClient.connect(rabbit.url);
  const r = await client.run({ executable: "/bin/echo", args: ["back"] });
  expect(r).toMatchObject({ exit_status: 0, stdout: "back\n" });
}, 60_000);

test("SIGTERM drains: the running job finishes and replies, queued jobs stay for others, exit 0", async () => {
  const queue = "drain-test";
  const drainClient = await JobClient.connect(rabbit.url, queue);
  const w = startWorker({ AMQP_URL: rabbit.url, AMQP_QUEUE: queue, STORAGE: "local", WORKDIR: workdir, THREADS: "1", EXECUTOR_ID: "drainer" });
  try {
    await w.waitFor(/consuming drain-test/);
    const marker = path.join(workdir, "drain-started");
    const first = drainClient.send({ executable: "/bin/sh", args: ["-c", "touch drain-started; sleep 1; echo finished"] }).reply;
    await eventually(() => fs.existsSync(marker), 10_000, "the first job running");
    const second = drainClient.send({ executable: "/bin/echo", args: ["second"] }, 1_000).reply;
    second.catch(() => undefined);
    w.kill("SIGTERM");
    await expect(first).resolves.toMatchObject({ exit_status: 0, stdout: "finished\n" });
    expect(await w.exited).toBe(0);
    expect(w.output()).toMatch(/SIGTERM: draining \(1 running job\(s\)\)/);
    expect(w.output()).toMatch(/drained after 1 job\(s\); exiting/);
    expect(await drainClient.queueState()).toMatchObject({ messageCount: 1, consumerCount: 0 });
    await expect(second).rejects.toThrow(/no reply/);
  } finally {
    w.kill("SIGKILL");
    await drainClient.close();
  }
}, 60_000);

test("an unreachable InfluxDB does not fail or hold up tasks", async () => {
  const queue = "metrics-down";
  const c = await JobClient.connect(rabbit.url, queue);
  const w = startWorker({
    AMQP_URL: rabbit.url,
    AMQP_QUEUE: queue,
    STORAGE: "local",
    WORKDIR: workdir,
    THREADS: "1",
    INFLUXDB_URL: `http://127.0.0.1:${await freePort()}/hyperflow_tests`,
  });
  try {
    await w.waitFor(/consuming metrics-down/);
    const rs = [await c.run({ executable: "/bin/echo", args: ["one"] }), await c.run({ executable: "/bin/echo", args: ["two"] })];
    expect(rs.map((r) => [r.exit_status, r.stdout])).toEqual([
      [0, "one\n"],
      [0, "two\n"],
    ]);
    await w.waitFor(/metrics: write to InfluxDB failed \(2 in a row\): .*ECONNREFUSED/);
  } finally {
    w.kill("SIGKILL");
    await c.close();
  }
});
