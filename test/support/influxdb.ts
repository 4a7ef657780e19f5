/**
 * A real InfluxDB 1.x on loopback (Debian's `influxdb` package), with its data in a temporary folder.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePorts } from "./rgw";
import type { Json } from "./json";

export interface Influx {
  readonly url: string;
  query(db: string, q: string): Promise<Json>;
  write(db: string, lines: string): Promise<void>;
  stop(): void;
}

export async function startInfluxdb(): Promise<Influx> {
  if (spawnSync("sh", ["-c", "command -v influxd"]).status !== 0) throw new Error("influxd is not installed: run .ci/run, or apt-get install influxdb");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-influx-"));
  const [http, rpc] = await freePorts(2);
  fs.writeFileSync(
    path.join(dir, "influxdb.conf"),
    [
      "reporting-disabled = true",
      `bind-address = "127.0.0.1:${rpc}"`,
      "[meta]",
      `  dir = "${dir}/meta"`,
      "[data]",
      `  dir = "${dir}/data"`,
      `  wal-dir = "${dir}/wal"`,
      "  query-log-enabled = false",
      "[http]",
      `  bind-address = "127.0.0.1:${http}"`,
      "  log-enabled = false",
      "[monitor]",
      "  store-enabled = false",
      "",
    ].join("\n"),
  );
  const child = spawn("influxd", ["-config", path.join(dir, "influxdb.conf")], { stdio: "ignore", detached: false });
  const url = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/ping`)).status === 204) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("influxd did not start within 30 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async query(db, q) {
      const res = await fetch(`${url}/query?db=${encodeURIComponent(db)}&epoch=s&q=${encodeURIComponent(q)}`, { method: "POST" });
      return res.json();
    },
    async write(db, lines) {
      const res = await fetch(`${url}/write?db=${encodeURIComponent(db)}&precision=s`, { method: "POST", body: lines });
      if (res.status !== 204) throw new Error(`write failed: ${res.status} ${await res.text()}`);
    },
    stop() {
      child.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
