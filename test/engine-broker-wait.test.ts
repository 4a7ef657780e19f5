/**
 * The engine image waits for its broker before it starts HyperFlow: amqpCommand (hyperflow-wms/hyperflow
 * functions/amqpCommand.js) connects once, logs a refused connection and then waits forever, so a run
 * started while the broker is still coming up used to hang. The real entrypoint code against a real
 * port: closed, then opened; closed for good. Last, the bundled entrypoint as the image runs it.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { assembleContext, repoRoot } from "../images/build";
import { brokerAddress, waitForBroker } from "../images/engine/entrypoint";
import { parseRunResult, RUN_RESULT_VERSION } from "../images/run-result";
import { freePort } from "./support/rgw";
import { credentialsEnv } from "./support/aws-env";

/** Starts listening on `port` after `delayMs`; `close()` stops it. */
function listenLater(port: number, delayMs: number): { close(): Promise<void> } {
  const server = net.createServer((sock) => sock.end());
  const timer = setTimeout(() => server.listen(port, "127.0.0.1"), delayMs);
  return {
    close: () =>
      new Promise((resolve) => {
        clearTimeout(timer);
        if (server.listening) server.close(() => resolve());
        else resolve();
      }),
  };
}

describe("brokerAddress", () => {
  test("host and port from AMQP_URL, the scheme's port when none is given, HyperFlow's default without one", () => {
    expect(brokerAddress("amqp://hyperflow:s3cret@10.0.1.5:5672")).toEqual({ host: "10.0.1.5", port: 5672 });
    expect(brokerAddress("amqp://u:p@broker.internal")).toEqual({ host: "broker.internal", port: 5672 });
    expect(brokerAddress("amqps://u:p@[fd00::5]")).toEqual({ host: "fd00::5", port: 5671 });
    expect(brokerAddress(undefined)).toEqual({ host: "localhost", port: 5672 });
  });
  test("a bad URL is named without echoing it (it holds the password)", () => {
    expect(() => brokerAddress("not a url s3cret")).toThrow(/^AMQP_URL is not a URL: allowed: amqp:\/\/user:password@host:port/);
    expect(() => brokerAddress("not a url s3cret")).not.toThrow(/s3cret/);
    expect(() => brokerAddress("http://u:s3cret@h:1")).toThrow('AMQP_URL has the scheme "http:": allowed: amqp: or amqps:');
  });
});

describe("waitForBroker", () => {
  test("a port that opens after 1.5 s: one line saying it waits, then it returns", async () => {
    const port = await freePort();
    const server = listenLater(port, 1500);
    const lines: string[] = [];
    try {
      const waited = await waitForBroker({ host: "127.0.0.1", port }, 20_000, { intervalMs: 200, log: (l) => lines.push(l) });
      expect(waited).toBeGreaterThanOrEqual(1400);
      expect(waited).toBeLessThan(10_000);
      expect(lines).toEqual([`the broker at 127.0.0.1:${port} is not reachable yet (ECONNREFUSED): waiting up to 20 s`]);
    } finally {
      await server.close();
    }
  });

  test("an open port: no wait, no line", async () => {
    const port = await freePort();
    const server = listenLater(port, 0);
    await new Promise((r) => setTimeout(r, 100));
    const lines: string[] = [];
    try {
      expect(await waitForBroker({ host: "127.0.0.1", port }, 5_000, { log: (l) => lines.push(l) })).toBeLessThan(1000);
      expect(lines).toEqual([]);
    } finally {
      await server.close();
    }
  });

  test("a port that stays closed: a clear error after the limit, not a hang", async () => {
    const port = await freePort();
    const started = Date.now();
    await expect(waitForBroker({ host: "127.0.0.1", port }, 1500, { intervalMs: 200 })).rejects.toThrow(
      `the broker at 127.0.0.1:${port} did not accept connections within 1.5 s (last: ECONNREFUSED); is the broker service running on the master? (limit: HFLOW_BROKER_TIMEOUT_SECONDS)`,
    );
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(5000);
  });
});

describe("the bundled entrypoint", () => {
  let entrypoint: string;
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-broker-wait-"));
    assembleContext("engine", tmp, repoRoot(__dirname), { ...process.env, HFLOW_BUILD_CA_FILE: "", NODE_EXTRA_CA_CERTS: "" });
    entrypoint = path.join(tmp, "dist", "entrypoint.js");
  }, 120_000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Runs the entrypoint with an S3 endpoint nobody listens on (the run stops at the first S3 call). */
  async function run(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
    const deadS3 = await freePort();
    const child = spawn(process.execPath, [entrypoint], {
      env: {
        PATH: process.env.PATH,
        S3_BUCKET: "wf-bucket",
        S3_PATH: "input/",
        AWS_REGION: "us-east-1",
        HFLOW_S3_ENDPOINT: `http://127.0.0.1:${deadS3}`,
        // The S3 server above is a closed port; credentials only keep the SDK from probing for others.
        ...credentialsEnv({ accessKeyId: "test", secretAccessKey: "test" }),
        HFLOW_HYPERFLOW_DIR: path.dirname(require.resolve("@hyperflow/hyperflow/package.json")),
        HFLOW_RUN_ID: "broker-wait",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    return { code, out };
  }

  test("no broker within HFLOW_BROKER_TIMEOUT_SECONDS: exit 3 in phase broker, before anything is fetched, without the password", async () => {
    const port = await freePort();
    const r = await run({ AMQP_URL: `amqp://hyperflow:s3cret@127.0.0.1:${port}`, HFLOW_BROKER_TIMEOUT_SECONDS: "1" });
    expect(r.code).toBe(3);
    expect(r.out).toContain(`the broker at 127.0.0.1:${port} is not reachable yet (ECONNREFUSED): waiting up to 1 s`);
    expect(r.out).toContain(`failed: the broker at 127.0.0.1:${port} did not accept connections within 1 s`);
    expect(r.out).not.toMatch(/fetched|fetching/);
    expect(r.out).not.toContain("s3cret");
  }, 60_000);

  test("a broker that comes up after 2 s: the entrypoint waits, then goes on to fetch the workdir", async () => {
    const port = await freePort();
    const server = listenLater(port, 2000);
    try {
      const r = await run({ AMQP_URL: `amqp://hyperflow:s3cret@127.0.0.1:${port}`, HFLOW_BROKER_TIMEOUT_SECONDS: "30" });
      expect(r.out).toContain(`the broker at 127.0.0.1:${port} is not reachable yet (ECONNREFUSED): waiting up to 30 s`);
      expect(r.out).toMatch(new RegExp(`the broker at 127\\.0\\.0\\.1:${port} accepts connections \\(after \\d+ s\\)`));
      // Past the broker: the next phase is the fetch, which meets the closed S3 port.
      expect(r.out).toMatch(/failed: fetching s3:\/\/wf-bucket\/workdir\//);
      expect(r.code).toBe(3);
    } finally {
      await server.close();
    }
  }, 60_000);

  test("tasks run in the engine (HF_VAR_function=command): no broker to wait for", async () => {
    const port = await freePort();
    const r = await run({ AMQP_URL: `amqp://u:p@127.0.0.1:${port}`, HF_VAR_function: "command", HFLOW_BROKER_TIMEOUT_SECONDS: "30" });
    expect(r.out).not.toContain("the broker at");
    expect(r.out).toMatch(/failed: fetching s3:\/\/wf-bucket\/workdir\//);
  }, 60_000);
});

test("a result marker of a run that stopped at the broker is one `run` and `status` read", () => {
  const marker = {
    version: RUN_RESULT_VERSION,
    runId: "0123abcd",
    status: "failed",
    exitCode: 3,
    phase: "broker",
    reason: "the broker at 10.0.1.5:5672 did not accept connections within 300 s (last: ECONNREFUSED)",
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:05:00.000Z",
    durationMs: 300_000,
    workflow: { file: "workflow.json", processes: 0, signals: 0 },
    tasks: { started: 0, succeeded: 0, failed: 0 },
    fetched: { files: 0, bytes: 0 },
    engine: { hyperflow: "1.7.0", function: "amqpCommand" },
  };
  expect(parseRunResult(JSON.stringify(marker)).phase).toBe("broker");
  expect(() => parseRunResult(JSON.stringify({ ...marker, phase: "queue" }))).toThrow(
    'run result: phase is "queue"; allowed: "broker", "fetch", "redis" or "engine"',
  );
});
