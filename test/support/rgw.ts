/**
 * A real S3 server for tests and benchmarks: a throwaway Ceph cluster (1 mon, 1 memstore OSD) with
 * radosgw on loopback, from Debian's packages (`apt-get install radosgw ceph-mon ceph-osd`).
 * Start once per test file (about 13 s); keys TESTKEY / TESTSECRET.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const RGW_CREDENTIALS = { accessKeyId: "TESTKEY", secretAccessKey: "TESTSECRET" };

export interface Rgw {
  readonly endpoint: string;
  readonly port: number;
  /** The daemons' process ids (mon, osd, radosgw), e.g. to account for their CPU. */
  readonly pids: readonly number[];
  stop(): void;
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/** `n` distinct free loopback ports (all held open until every one is known). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => resolve());
      });
      servers.push(s);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
  }
}

/** Pids of the daemons a (possibly half-started) cluster in `dir` wrote. */
function daemonPids(dir: string): number[] {
  const run = path.join(dir, "run");
  const files = fs.existsSync(run) ? fs.readdirSync(run).filter((f) => f.endsWith(".pid")) : [];
  return files.map((f) => Number(fs.readFileSync(path.join(run, f), "utf8").trim())).filter((p) => Number.isInteger(p) && p > 0);
}

/** The programs a cluster needs; the first one missing from PATH, or undefined. */
export function missingRgwTool(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return ["radosgw", "ceph-mon", "ceph-osd", "uuidgen", "curl"].find((tool) => spawnSync("sh", ["-c", `command -v ${tool}`], { env }).status !== 0);
}

/** Thrown when the server cannot start; every test that needs it fails with this one message. */
export class RgwUnavailable extends Error {
  constructor(reason: string) {
    super(`no S3 server for this test: ${reason}`);
    this.name = "RgwUnavailable";
  }
}

export async function startRgw(env: NodeJS.ProcessEnv = process.env): Promise<Rgw> {
  const tool = missingRgwTool(env);
  if (tool !== undefined) {
    throw new RgwUnavailable(
      `${tool} is not installed: run .ci/run, or apt-get install radosgw ceph-mon ceph-osd uuid-runtime curl (as root, after apt-get update)`,
    );
  }
  // Next to this file in the source tree; dist/test/support/rgw.js (used by the benchmark) finds it there too.
  const script = [path.join(__dirname, "start-ceph-rgw.sh"), path.resolve(__dirname, "..", "..", "..", "test", "support", "start-ceph-rgw.sh")].find((p) =>
    fs.existsSync(p),
  )!;
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-rgw-"));
    const [port, monPort] = await freePorts(2);
    try {
      execFileSync("bash", [script, dir, String(port), String(monPort)], { stdio: "pipe", timeout: 90_000 });
      const pids = daemonPids(dir);
      return {
        endpoint: `http://127.0.0.1:${port}`,
        port,
        pids,
        stop() {
          killAndWait(pids);
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim().split("\n").slice(-5).join("\n");
      lastError = new Error(`${(e as Error).message}${stderr ? `\n${stderr}` : ""}`);
      // A start can fail while an earlier OSD is still going away ('wrong fsid'): stop every daemon this
      // attempt started (their pid files appear as they start), keep the logs, wait, and try again.
      killAndWait(daemonPids(dir));
      keepFailureLogs(dir, attempt, e);
      fs.rmSync(dir, { recursive: true, force: true });
      process.stderr.write(
        `Ceph RGW start attempt ${attempt + 1} failed, retrying: ${String((lastError as Error).message)
          .split("\n")
          .slice(-2)
          .join(" ")}\n`,
      );
      await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
    }
  }
  throw new RgwUnavailable(`Ceph RGW did not start: ${(lastError as Error)?.message}`);
}

/** SIGKILL the daemons and wait until they are gone, so the next cluster does not meet a dying OSD. */
function killAndWait(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && pids.some(alive)) spawnSync("sleep", ["0.05"]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Saves what a failed start printed and the daemons' logs to <tmp>/hflow-rgw-failure-<n>.log. */
function keepFailureLogs(dir: string, attempt: number, e: unknown): void {
  try {
    const err = e as { stdout?: Buffer; stderr?: Buffer; message?: string };
    const parts = [`# ${err.message ?? String(e)}`, "## stdout", err.stdout?.toString() ?? "", "## stderr", err.stderr?.toString() ?? ""];
    const logDir = path.join(dir, "log");
    for (const f of fs.existsSync(logDir) ? fs.readdirSync(logDir) : []) {
      parts.push(`## ${f}`, fs.readFileSync(path.join(logDir, f), "utf8").split("\n").slice(-60).join("\n"));
    }
    fs.writeFileSync(path.join(os.tmpdir(), `hflow-rgw-failure-${attempt + 1}.log`), parts.join("\n"));
  } catch {
    /* diagnostics only */
  }
}
