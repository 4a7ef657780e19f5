/**
 * A throwaway Redis on loopback (Debian's `redis-server`) for the HyperFlow engine: own port, no
 * persistence, its folder removed on stop.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./rgw";

export interface Redis {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<Redis> {
  if (spawnSync("sh", ["-c", "command -v redis-server"]).status !== 0)
    throw new Error("redis-server is not installed: run .ci/run, or apt-get install redis-server");
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-redis-"));
    const child: ChildProcess = spawn(
      "redis-server",
      ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "yes"],
      { stdio: "ignore" },
    );
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const deadline = Date.now() + 10_000;
    let up = false;
    while (!up && child.exitCode === null && Date.now() < deadline) {
      up = await ping(port);
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    const stop = async () => {
      child.kill("SIGKILL");
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    };
    if (up) return { url: `redis://127.0.0.1:${port}`, port, stop };
    await stop();
    if (attempt >= 2) throw new Error("redis-server did not start");
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.once("error", () => done(false));
    s.once("connect", () => s.write("PING\r\n"));
    s.once("data", (d: Buffer) => done(d.toString().startsWith("+PONG")));
  });
}
