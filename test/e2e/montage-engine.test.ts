/**
 * The generated Montage workflow through the real HyperFlow engine on this machine (`hflow run` of
 * @hyperflow/hyperflow 1.7.0 with `"function": "command"` via HF_VAR_function, a local redis-server)
 * gives byte-identical files to running the same commands directly: every file either run makes,
 * mosaic.fits and mosaic.png included. Byte identity is the right bar because the run is deterministic
 * (Montage 6.0 writes no dates into these FITS headers, which come from region.hdr; mViewer's PNG has no
 * time chunk; image order comes from the lists, not the directory) — checked here, not assumed.
 * Needs montage and redis-server (apt-get install montage redis-server).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { generateMontageJob, montagePath, runWorkflowDirectly } from "../../workflows/montage/montage";
import { freePort } from "../support/rgw";

const root = path.resolve(__dirname, "..", "..");
const HFLOW = path.join(root, "node_modules", "@hyperflow", "hyperflow", "bin", "hflow.js");
let tmp: string;
let redis: ChildProcess;
let redisUrl: string;

async function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("error", () => resolve(false));
    s.once("connect", () => s.write("PING\r\n"));
    s.once("data", (d) => {
      s.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
  });
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-montage-e2e-"));
  const port = await freePort();
  redis = spawn("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const deadline = Date.now() + 15_000;
  while (!(await pong(port))) {
    if (Date.now() > deadline) throw new Error("redis-server did not answer PING within 15 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  redisUrl = `redis://127.0.0.1:${port}`;
});

afterAll(() => {
  redis?.kill("SIGKILL");
  fs.rmSync(tmp, { recursive: true, force: true });
});

function files(dir: string): Map<string, Buffer> {
  return new Map(
    fs
      .readdirSync(dir)
      .filter((f) => f !== "workflow.json")
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(dir, f))]),
  );
}

test("hflow run (function command) makes the same mosaic, byte for byte, as the direct run", () => {
  const job = generateMontageJob(path.join(tmp, "job"), { tiles: 5 });
  expect(job).toMatchObject({ tiles: 5, outputs: ["mosaic.fits", "mosaic.png"] });
  expect(job.overlaps).toBeGreaterThanOrEqual(4);

  const direct = path.join(tmp, "direct");
  fs.cpSync(path.join(job.jobDir, "input"), direct, { recursive: true });
  const order = runWorkflowDirectly(path.join(job.jobDir, "workdir", "workflow.json"), direct);
  expect(order).toHaveLength(job.processes);
  expect(order.at(-1)).toBe("mViewer");

  const engine = path.join(tmp, "engine");
  fs.cpSync(path.join(job.jobDir, "input"), engine, { recursive: true });
  fs.copyFileSync(path.join(job.jobDir, "workdir", "workflow.json"), path.join(engine, "workflow.json"));
  const started = Date.now();
  const r = spawnSync(process.execPath, [HFLOW, "run", path.join(engine, "workflow.json"), "-s"], {
    cwd: engine,
    env: { ...process.env, PATH: montagePath(), REDIS_URL: redisUrl, HF_VAR_function: "command", AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: "1" },
    encoding: "utf8",
    timeout: 300_000,
  });
  expect({ status: r.status, tail: r.stdout.split("\n").slice(-3).join("\n") }).toEqual({
    status: 0,
    tail: expect.stringMatching(/Workflow \[\d+\] finished/),
  });
  expect(Date.now() - started).toBeLessThan(120_000);
  // Every process ran once under the engine too.
  expect(r.stdout.match(/exiting with code:0/g)).toHaveLength(job.processes);
  expect(r.stdout).not.toMatch(/exiting with code:[1-9]/);

  const a = files(direct);
  const b = files(engine);
  expect([...b.keys()]).toEqual([...a.keys()]);
  const differing = [...a.keys()].filter((f) => !a.get(f)!.equals(b.get(f)!));
  expect(differing).toEqual([]);

  const mosaic = a.get("mosaic.fits")!;
  expect(mosaic.subarray(0, 30).toString()).toBe("SIMPLE  =                    T");
  expect(mosaic.toString("latin1", 0, 2880)).not.toMatch(/DATE/);
  expect(a.get("mosaic.png")!.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  // The background matching did something: the fit table has one row per overlap.
  expect(a.get("fits.tbl")!.toString().trim().split("\n")).toHaveLength(2 + job.overlaps);
});

test("the committed fixture is what the generator makes (deterministic, regenerable)", () => {
  const again = generateMontageJob(path.join(tmp, "fixture-again"), { tiles: 4, tilePixels: 32, workflowFile: "dag.json" });
  const fixture = path.join(root, "test", "fixtures", "montage-mini");
  for (const sub of ["input", "workdir"]) {
    const want = files(path.join(fixture, sub));
    const got = files(path.join(again.jobDir, sub));
    expect([...got.keys()]).toEqual([...want.keys()]);
    expect([...got.keys()].filter((f) => !got.get(f)!.equals(want.get(f)!))).toEqual([]);
  }
});

test("hflow-concat-fit: a fit for an image not in images.tbl is an error naming it", () => {
  const dir = path.join(tmp, "concat");
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "images.tbl"), "| cntr |  fname    |\n| int  |  char     |\n      0  a.fits    \n      1  b.fits    \n");
  fs.writeFileSync(
    path.join(dir, "fit.txt"),
    '[struct stat="OK", module="mFitplane", a=1, b=2, c=3, crpix1=1, crpix2=1, xmin=0, xmax=1, ymin=0, ymax=1, xcenter=0, ycenter=0, npixel=4, rms=0.1, boxx=0, boxy=0, boxwidth=1, boxheight=1, boxang=0]\n',
  );
  const bad = spawnSync("hflow-concat-fit", ["images.tbl", "fits.tbl", "a.fits", "c.fits", "fit.txt"], {
    cwd: dir,
    env: { ...process.env, PATH: montagePath() },
    encoding: "utf8",
  });
  expect(bad.status).toBe(1);
  expect(bad.stderr).toBe("hflow-concat-fit: c.fits is not in images.tbl\n");
  const ok = spawnSync("hflow-concat-fit", ["images.tbl", "fits.tbl", "a.fits", "b.fits", "fit.txt"], {
    cwd: dir,
    env: { ...process.env, PATH: montagePath() },
    encoding: "utf8",
  });
  expect(ok.status).toBe(0);
  const rows = fs.readFileSync(path.join(dir, "fits.tbl"), "utf8").trim().split("\n");
  expect(
    rows[0]
      .split("|")
      .map((c) => c.trim())
      .filter(Boolean)
      .slice(0, 5),
  ).toEqual(["plus", "minus", "a", "b", "c"]);
  expect(rows[2].trim().split(/\s+/).slice(0, 5)).toEqual(["0", "1", "1", "2", "3"]);
});
