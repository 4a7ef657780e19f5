/**
 * Execution metrics in InfluxDB 1.x line protocol over HTTP, under the measurements our dashboards
 * show (grafana/dashboards.ts: "Task execution times", "Execution log", "Execution sub-stages") and
 * with the field and tag names the executor the workers ran before wrote (the fork
 * krystianpawlik/hyperflow-amqp-executor, lib/hyperflow-amqp-executor/database_loger.rb):
 *
 *   execution_times          fields runing_time (sic), downloading_time, execution_time, uploading_time
 *                            (seconds, floats); tags wfid, hfId, workerId, jobId, procId
 *   execution_log            fields stage ("running"/"idle"), workflow_stage (executable), stage_name
 *                            ("start"/"finish"); tags as above plus workflow_stage
 *   execution_log_sub_stage  same fields with stage = init / stage_in / execution / stage_out
 *
 * A job's points are sent in one request after its reply is out; a failed or slow write is logged
 * and dropped, and never fails or delays the task. The database is created once when InfluxDB says it
 * does not exist (the statement is idempotent).
 */
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";

export interface Point {
  readonly measurement: string;
  readonly tags: Readonly<Record<string, string | undefined>>;
  readonly fields: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Nanoseconds since the epoch. */
  readonly time: bigint;
}

const escapeKey = (s: string) => s.replace(/[,= \\]/g, (c) => `\\${c}`).replace(/\n/g, "\\n");
const escapeMeasurement = (s: string) => s.replace(/[, \\]/g, (c) => `\\${c}`).replace(/\n/g, "\\n");
const escapeString = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n")}"`;

export function toLine(p: Point): string | undefined {
  const tags = Object.entries(p.tags)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== "")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `,${escapeKey(k)}=${escapeKey(v)}`)
    .join("");
  const fields = Object.entries(p.fields)
    .filter((e): e is [string, string | number | boolean] => e[1] !== undefined && !(typeof e[1] === "number" && !Number.isFinite(e[1])))
    .map(([k, v]) => {
      // Numbers are always floats: one type per field, whatever the value (InfluxDB rejects a type change).
      const value = typeof v === "number" ? (Number.isInteger(v) ? `${v}.0` : String(v)) : typeof v === "boolean" ? String(v) : escapeString(v);
      return `${escapeKey(k)}=${value}`;
    })
    .join(",");
  if (fields === "") return undefined;
  return `${escapeMeasurement(p.measurement)}${tags} ${fields} ${p.time}`;
}

let lastNs = 0n;
/** Wall-clock nanoseconds, strictly increasing within this process (two events never share a point). */
function nowNs(): bigint {
  const ns = BigInt(Date.now()) * 1_000_000n;
  lastNs = ns > lastNs ? ns : lastNs + 1n;
  return lastNs;
}

export interface MetricsSink {
  write(points: readonly Point[]): Promise<void>;
}

export type Log = (line: string) => void;

/** Writes to InfluxDB 1.x: POST /write?db=<path of the URL>&precision=ns. */
export class InfluxWriter implements MetricsSink {
  private readonly base: URL;
  private readonly db: string;
  private createdDb = false;
  private failures = 0;

  constructor(
    url: string,
    private readonly log: Log,
    private readonly timeoutMs = 5_000,
  ) {
    const u = new URL(url);
    this.db = decodeURIComponent(path.posix.basename(u.pathname.replace(/\/+$/, "")));
    this.base = new URL(u.origin);
    if (u.username) this.base.searchParams.set("u", decodeURIComponent(u.username));
    if (u.password) this.base.searchParams.set("p", decodeURIComponent(u.password));
  }

  async write(points: readonly Point[]): Promise<void> {
    const body = points
      .map(toLine)
      .filter((l): l is string => l !== undefined)
      .join("\n");
    if (body === "") return;
    try {
      let r = await this.post("/write", { db: this.db, precision: "ns" }, body);
      if (r.status === 404 && /database not found/i.test(r.text) && !this.createdDb) {
        this.createdDb = true;
        await this.post("/query", { q: `CREATE DATABASE "${this.db.replace(/"/g, '\\"')}"` }, "");
        r = await this.post("/write", { db: this.db, precision: "ns" }, body);
      }
      if (r.status !== 204) throw new Error(`HTTP ${r.status}: ${r.text.trim().slice(0, 200)}`);
      this.failures = 0;
    } catch (e) {
      // Logged, never thrown: metrics must not fail a task. Repeated failures are logged sparsely.
      this.failures++;
      if (this.failures <= 3 || this.failures % 100 === 0) this.log(`metrics: write to InfluxDB failed (${this.failures} in a row): ${(e as Error).message}`);
    }
  }

  private post(pathname: string, params: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
    const u = new URL(pathname, this.base);
    for (const [k, v] of this.base.searchParams) u.searchParams.set(k, v);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    const mod = u.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        u,
        { method: "POST", headers: { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) }, timeout: this.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }
}

/** Labels of one job's points. */
interface JobLabels {
  readonly workerId: string;
  readonly jobId: string;
  readonly executable: string;
  readonly wfid?: string;
  readonly hfId?: string;
  readonly procId?: string;
}

type Stage = "init" | "stage_in" | "execution" | "stage_out";

/** Collects one job's points as it goes (the fork's stage/sub-stage protocol) and times the stages. */
export class JobRecorder {
  readonly points: Point[] = [];
  /** Monotonic, like the stage clocks: the job's running time is never less than its stages' sum (wall-clock ms would be). */
  private readonly startedHr = process.hrtime.bigint();
  private stage: Stage | "idle" = "idle";
  private stageStart = process.hrtime.bigint();
  private readonly seconds: Partial<Record<Stage, number>> = {};
  private readonly tags: Record<string, string | undefined>;
  private readonly workflowStage: string;

  constructor(l: JobLabels) {
    this.workflowStage = l.executable;
    this.tags = { wfid: l.wfid, hfId: l.hfId, workerId: l.workerId, jobId: l.jobId, procId: l.procId };
    this.event("execution_log", "running", "start");
    this.enter("init");
  }

  /** Ends the current sub-stage and starts `next`. */
  enter(next: Stage): void {
    this.close();
    this.stage = next;
    this.stageStart = process.hrtime.bigint();
    this.event("execution_log_sub_stage", next, "start");
  }

  /** Ends the job: closes the sub-stage and adds the execution_times point. */
  finish(): void {
    this.close();
    this.stage = "idle";
    this.event("execution_log", "running", "finish");
    this.points.push({
      measurement: "execution_times",
      tags: this.tags,
      fields: {
        runing_time: Number(process.hrtime.bigint() - this.startedHr) / 1e9,
        downloading_time: this.seconds.stage_in,
        execution_time: this.seconds.execution,
        uploading_time: this.seconds.stage_out,
      },
      time: nowNs(),
    });
  }

  private close(): void {
    if (this.stage === "idle") return;
    this.seconds[this.stage] = (this.seconds[this.stage] ?? 0) + Number(process.hrtime.bigint() - this.stageStart) / 1e9;
    this.event("execution_log_sub_stage", this.stage, "finish");
  }

  private event(measurement: string, stage: string, startOrFinish: "start" | "finish"): void {
    this.points.push({
      measurement,
      tags: { ...this.tags, workflow_stage: this.workflowStage },
      fields: { stage, workflow_stage: this.workflowStage, stage_name: startOrFinish },
      time: nowNs(),
    });
  }
}
