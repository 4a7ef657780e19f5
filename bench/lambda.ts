/**
 * `npm run bench:lambda`: invocation overhead of the Lambda task handler (executor/lambda/) on
 * Montage-sized tasks (mProjectPP on the 2MASS tiles of test/fixtures/montage-mini), measured locally:
 *
 * - direct: mProjectPP run by Node.js in a directory that already holds its inputs (spawn → exit);
 * - warm: one Invoke of an already running sandbox (the worker bundle in Lambda mode, served by the local
 *   control plane test/support/lambda-control-plane.ts) → its response: Runtime API round trip, stage-in
 *   from S3 (Ceph RGW on loopback), the run, stage-out, the reply;
 * - cold: the same with a new sandbox process started at the Invoke (Node.js start, bundle load, SDK
 *   set-up), as Lambda's cold start adds them (without Lambda's own image pull and microVM start).
 *
 * Printed: medians and the 90th percentile, the overhead (handler − direct) and the ratio handler / direct.
 * BENCH_WARM (default 30) warm and BENCH_COLD (default 5) cold invocations.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "../runner/s3-client";
import { credentialsEnv } from "../test/support/aws-env";
import { LambdaControlPlane } from "../test/support/lambda-control-plane";
import { RGW_CREDENTIALS, startRgw } from "../test/support/rgw";

// The bundled SDK warns on Node.js below 22 at every client; not what is measured here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const WARM = Number(process.env.BENCH_WARM ?? 30);
const COLD = Number(process.env.BENCH_COLD ?? 5);
const BUNDLE = path.resolve(__dirname, "..", "executor", "hflow-executor.js");
const FIXTURE = [
  path.resolve(__dirname, "..", "..", "test", "fixtures", "montage-mini", "input"),
  path.resolve(__dirname, "..", "test", "fixtures", "montage-mini", "input"),
].find((d) => fs.existsSync(d))!;
const BUCKET = "bench-lambda";
const TILES = ["tile_001.fits", "tile_002.fits", "tile_003.fits", "tile_004.fits"];

const job = (i: number) => {
  const tile = TILES[i % TILES.length];
  return {
    executable: "mProjectPP",
    args: ["-X", tile, `p_${tile}`, "region.hdr"],
    inputs: [{ name: tile }, { name: "region.hdr" }],
    outputs: [{ name: `p_${tile}` }, { name: `p_${tile.replace(".fits", "_area.fits")}` }],
    options: { bucket: BUCKET, prefix: "bench/" },
  };
};

function post(url: string, body: string): Promise<{ status: number; error?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let b = "";
      res.on("data", (c) => (b += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, error: res.headers["x-amz-function-error"] as string | undefined, body: b }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (x: number) => `${x.toFixed(1).padStart(7)} ms`;

async function direct(n: number): Promise<number[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-direct-"));
  for (const f of [...TILES, "region.hdr"]) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const { args } = job(i);
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const p = spawn("mProjectPP", args, { cwd: dir, stdio: "ignore" });
      p.once("error", reject);
      p.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`mProjectPP exited with ${code}`))));
    });
    out.push(ms(t0));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

async function main(): Promise<void> {
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: npm run build`);
  process.stderr.write("starting Ceph RGW and the Lambda control-plane stand-in …\n");
  const rgw = await startRgw();
  const plane = await LambdaControlPlane.start();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "bench-lambda-"));
  const children: ChildProcess[] = [];
  const s3 = createS3Client({ region: "us-east-1", endpoint: rgw.endpoint, forcePathStyle: true, credentials: RGW_CREDENTIALS });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (const f of [...TILES, "region.hdr"])
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `bench/${f}`, Body: fs.readFileSync(path.join(FIXTURE, f)) }));
    const sandbox = (api: string) => {
      const c = spawn(process.execPath, [BUNDLE], {
        env: {
          PATH: process.env.PATH,
          AWS_LAMBDA_RUNTIME_API: api,
          AWS_REGION: "us-east-1",
          AWS_ENDPOINT_URL_S3: rgw.endpoint,
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
          AWS_CONFIG_FILE: "/nonexistent",
          SCRATCH_DIR: scratch,
          ...credentialsEnv(RGW_CREDENTIALS),
        },
        stdio: "ignore",
      });
      children.push(c);
      return c;
    };
    type Timed = { total: number; execution: number; stage_in: number; stage_out: number; duration: number };
    const invoke = async (fn: string, i: number): Promise<Timed> => {
      const t0 = process.hrtime.bigint();
      const r = await post(`${plane.endpoint}/2015-03-31/functions/${fn}/invocations`, JSON.stringify(job(i)));
      const t = ms(t0);
      if (r.status !== 200 || r.error) throw new Error(`invocation failed: ${r.body.slice(0, 300)}`);
      const reply = JSON.parse(r.body) as { metrics: { execution: number; stage_in: number; stage_out: number; duration: number } };
      return { total: t, ...reply.metrics };
    };

    // Warm: one sandbox, a first call to warm it, then WARM timed calls.
    const warmApi = await plane.addFunction("warm", { timeoutSeconds: 60 });
    sandbox(warmApi);
    await invoke("warm", 0);
    const warm: Timed[] = [];
    for (let i = 0; i < WARM; i++) warm.push(await invoke("warm", i));

    // Cold: a new sandbox process per invocation, started when the Invoke is sent.
    const cold: Timed[] = [];
    for (let i = 0; i < COLD; i++) {
      const api = await plane.addFunction(`cold${i}`, { timeoutSeconds: 60 });
      const t0 = process.hrtime.bigint();
      const pending = invoke(`cold${i}`, i);
      const child = sandbox(api);
      const r = await pending;
      cold.push({ ...r, total: ms(t0) });
      child.kill("SIGKILL");
    }

    const base = await direct(Math.max(WARM, 10));
    const d = pct(base, 50);
    const w = pct(
      warm.map((x) => x.total),
      50,
    );
    const c = pct(
      cold.map((x) => x.total),
      50,
    );
    const inner = (k: "stage_in" | "stage_out" | "execution") =>
      pct(
        warm.map((x) => x[k] * 1000),
        50,
      );
    const lines = [
      `Lambda task handler, mProjectPP on a 2MASS tile (${fs.statSync(path.join(FIXTURE, TILES[0])).size} B in, S3 = Ceph RGW on loopback), node ${process.version}, ${os.cpus().length} CPUs`,
      `  direct (spawn → exit, ${base.length} runs)        median ${fmt(d)}   p90 ${fmt(pct(base, 90))}`,
      `  warm invocation (${warm.length} runs)            median ${fmt(w)}   p90 ${fmt(
        pct(
          warm.map((x) => x.total),
          90,
        ),
      )}`,
      `    of which stage-in ${fmt(inner("stage_in"))}, run ${fmt(inner("execution"))}, stage-out ${fmt(inner("stage_out"))}`,
      `  cold invocation (${cold.length} runs, new sandbox) median ${fmt(c)}   p90 ${fmt(
        pct(
          cold.map((x) => x.total),
          90,
        ),
      )}`,
      `  overhead warm: ${fmt(w - d)} per task, ratio warm / direct ${(w / d).toFixed(2)}`,
      `  overhead cold: ${fmt(c - d)} per task, ratio cold / direct ${(c / d).toFixed(2)}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    for (const c of children) c.kill("SIGKILL");
    s3.destroy();
    await plane.close();
    rgw.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`bench:lambda: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
