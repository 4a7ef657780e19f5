/**
 * A real RabbitMQ broker on loopback for tests and benchmarks, from Debian's `rabbitmq-server` package.
 *
 * Each broker is its own world: AMQP, Erlang distribution and epmd ports picked free on 127.0.0.1, its
 * own node name, Erlang cookie (in its own HOME), data, log and config files in a temporary folder, and
 * no plugins unless asked for the management plugin (`{ management: true }`: its HTTP API on a free
 * loopback port, statistics every 500 ms). Several can run side by side (parallel jest workers, other projects on the machine), and
 * none touches /var/lib/rabbitmq or the system's epmd on 4369. Start takes about 5 s.
 *
 * `stop()` shuts it down gracefully and removes everything; `kill()` SIGKILLs it (a crash: connections
 * drop without a close) and keeps its data so `start()` brings the same broker back on the same port,
 * which is how reconnect tests take the broker away. A process-exit hook SIGKILLs whatever is still
 * running if a test file dies without calling `stop()`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { freePorts } from "./rgw";

export interface RabbitMq {
  /** `amqp://guest:guest@127.0.0.1:<port>` (guest may log in from loopback only, RabbitMQ's default). */
  readonly url: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>` of the management API (guest:guest), with `{ management: true }` only. */
  readonly managementUrl?: string;
  readonly nodeName: string;
  /** Data, logs and config of this broker. */
  readonly dir: string;
  /** True while the broker process runs. */
  running(): boolean;
  /** Starts the broker again after `kill()` or `stop({ keepData: true })`: same port, node and data. */
  start(): Promise<void>;
  /** SIGKILL the broker (an abrupt outage); data stays for `start()`. */
  kill(): Promise<void>;
  /** Graceful stop (SIGTERM, SIGKILL after `timeoutMs`), then epmd is stopped and the folder removed. */
  stop(opts?: { keepData?: boolean; timeoutMs?: number }): Promise<void>;
  /** Last lines of the broker's log (for failure messages). */
  logTail(lines?: number): string;
  /** Runs `rabbitmqctl ARGS` against this broker (its node name, cookie and epmd); returns stdout, throws on failure. */
  ctl(args: readonly string[], timeoutMs?: number): string;
}

const SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server";
// Not /usr/sbin/rabbitmqctl: Debian's wrapper switches to the rabbitmq user and /var/lib/rabbitmq.
const CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl";
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) killGroup(child, "SIGKILL");
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal); // spawned detached: the shell wrapper and beam share a process group
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Settings of a broker beyond the defaults above. */
interface BrokerSettings {
  /** More lines for its rabbitmq.conf. @default none */
  readonly config?: readonly string[];
  /** More arguments for the Erlang VM (RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS, after this file's own). @default none */
  readonly erlArgs?: string;
}

/** Starts a broker and waits until it accepts AMQP connections. */
export async function startRabbitMq(opts: { startTimeoutMs?: number; management?: boolean } & BrokerSettings = {}): Promise<RabbitMq> {
  if (!fs.existsSync(SERVER) || spawnSync("sh", ["-c", "command -v epmd"]).status !== 0) {
    throw new Error("rabbitmq-server is not installed: run .ci/run, or apt-get install rabbitmq-server");
  }
  installExitHook();
  let lastError: unknown;
  // A free port can be taken by someone else between probing and binding: try again with new ports.
  for (let attempt = 0; attempt < 3; attempt++) {
    const broker = new Broker(await freePorts(opts.management ? 4 : 3), opts.startTimeoutMs ?? 60_000, opts);
    try {
      await broker.start();
      return broker;
    } catch (e) {
      lastError = e;
      await broker.stop({ timeoutMs: 2_000 }).catch(() => undefined);
    }
  }
  throw lastError;
}

class Broker implements RabbitMq {
  readonly url: string;
  readonly port: number;
  readonly distPort: number;
  readonly epmdPort: number;
  readonly managementUrl?: string;
  readonly nodeName: string;
  readonly dir: string;
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    [port, distPort, epmdPort, managementPort]: number[],
    private readonly startTimeoutMs: number,
    private readonly settings: BrokerSettings = {},
  ) {
    this.port = port;
    if (managementPort !== undefined) this.managementUrl = `http://127.0.0.1:${managementPort}`;
    this.distPort = distPort;
    this.epmdPort = epmdPort;
    this.url = `amqp://guest:guest@127.0.0.1:${port}`;
    const id = crypto.randomBytes(4).toString("hex");
    this.nodeName = `hflow-test-${process.pid}-${id}@localhost`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-rabbitmq-"));
    for (const d of ["mnesia", "log", "home"]) fs.mkdirSync(path.join(this.dir, d));
    fs.writeFileSync(path.join(this.dir, "enabled_plugins"), managementPort !== undefined ? "[rabbitmq_management].\n" : "[].\n");
    fs.writeFileSync(
      path.join(this.dir, "rabbitmq.conf"),
      [
        `listeners.tcp.default = 127.0.0.1:${port}`,
        "log.console = false",
        "log.file.level = info",
        // The test machine's disk may be nearly full of other helpers' data; a broker that blocks
        // publishers on a disk alarm would look like a hung test.
        "disk_free_limit.absolute = 1MB",
        ...(managementPort !== undefined
          ? ["management.tcp.ip = 127.0.0.1", `management.tcp.port = ${managementPort}`, "collect_statistics_interval = 500"]
          : []),
        ...(settings.config ?? []),
        "",
      ].join("\n"),
    );
    const cookie = path.join(this.dir, "home", ".erlang.cookie");
    fs.writeFileSync(cookie, crypto.randomBytes(20).toString("hex").toUpperCase());
    fs.chmodSync(cookie, 0o400);
  }

  private env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      LANG: "C.UTF-8",
      HOME: path.join(this.dir, "home"), // the Erlang cookie lives here
      RABBITMQ_CONF_ENV_FILE: "/dev/null", // not /etc/rabbitmq/rabbitmq-env.conf
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: path.join(this.dir, "mnesia"),
      RABBITMQ_LOG_BASE: path.join(this.dir, "log"),
      RABBITMQ_CONFIG_FILE: path.join(this.dir, "rabbitmq"),
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(this.dir, "advanced.config"),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(this.dir, "enabled_plugins"),
      RABBITMQ_PID_FILE: path.join(this.dir, "rabbitmq.pid"),
      // Erlang distribution and epmd on loopback, epmd on a port of its own (not the shared 4369).
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: ["-kernel inet_dist_use_interface {127,0,0,1}", this.settings.erlArgs].filter(Boolean).join(" "),
      ERL_EPMD_PORT: String(this.epmdPort),
      ERL_EPMD_ADDRESS: "127.0.0.1",
    };
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const out = fs.openSync(path.join(this.dir, "log", "stdout.log"), "a");
    const child = spawn(SERVER, [], { cwd: this.dir, env: this.env(), stdio: ["ignore", out, out], detached: true });
    fs.closeSync(out);
    this.child = child;
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        live.delete(child);
        resolve();
      });
      child.once("error", () => {
        live.delete(child);
        resolve();
      });
    });
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if (!this.running()) throw new Error(`rabbitmq-server exited during start (code ${child.exitCode}, signal ${child.signalCode})\n${this.logTail()}`);
      if ((await amqpHandshake(this.port)) && (this.managementUrl === undefined || (await managementAnswers(this.managementUrl)))) return;
      if (Date.now() > deadline) {
        killGroup(child, "SIGKILL");
        throw new Error(`rabbitmq-server did not accept AMQP connections within ${this.startTimeoutMs} ms\n${this.logTail()}`);
      }
      await sleep(150);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running()) return;
    killGroup(child, "SIGKILL");
    await this.exited;
    // Mnesia keeps the node's data; a dead node's epmd registration goes when its socket closes.
  }

  async stop(opts: { keepData?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const child = this.child;
    if (child && this.running()) {
      killGroup(child, "SIGTERM"); // rabbitmq-server's wrapper and the VM both stop gracefully on TERM
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        this.exited!.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), opts.timeoutMs ?? 15_000))),
      ]);
      clearTimeout(timer);
      if (!done) {
        killGroup(child, "SIGKILL");
        await this.exited;
      }
    }
    // The VM's wrapper script can exit before the VM does: make sure nothing of this group is left.
    if (child) killGroup(child, "SIGKILL");
    if (!opts.keepData) {
      spawnSync("epmd", ["-kill"], { env: { ...this.env() }, stdio: "ignore", timeout: 5_000 });
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  ctl(args: readonly string[], timeoutMs = 60_000): string {
    const r = spawnSync(CTL, ["-n", this.nodeName, ...args], { cwd: this.dir, env: this.env(), encoding: "utf8", timeout: timeoutMs });
    if (r.error || r.status !== 0)
      throw new Error(`rabbitmqctl ${args.join(" ")}: ${r.error?.message ?? `exit code ${r.status}`}\n${`${r.stdout ?? ""}${r.stderr ?? ""}`.trim()}`);
    return r.stdout;
  }

  logTail(lines = 30): string {
    const logDir = path.join(this.dir, "log");
    if (!fs.existsSync(logDir)) return "";
    return fs
      .readdirSync(logDir)
      .filter((f) => f.endsWith(".log"))
      .map((f) => `## ${f}\n${fs.readFileSync(path.join(logDir, f), "utf8").split("\n").slice(-lines).join("\n")}`)
      .join("\n");
  }
}

/** True when the management API answers an authenticated request. */
async function managementAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/overview`, {
      headers: { authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}` },
      signal: AbortSignal.timeout(2_000),
    });
    return res.status === 200;
  } catch {
    return false;
  }
}

/** True when the port answers the AMQP 0-9-1 protocol header with a connection.start frame. */
function amqpHandshake(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("connect", () => socket.write(Buffer.from("AMQP\x00\x00\x09\x01", "latin1")));
    // Frame type 1 (method), channel 0, class 10 (connection) method 10 (start).
    socket.once("data", (d: Buffer) => finish(d.length >= 11 && d[0] === 1 && d.readUInt16BE(7) === 10 && d.readUInt16BE(9) === 10));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
