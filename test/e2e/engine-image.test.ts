/**
 * The engine image for real: built with podman (or docker) on the mmdebstrap base, run on the host
 * network against a real S3 server (Ceph RGW on loopback) with small workflows whose tasks run inside
 * the engine container (`"function": "{{function}}"`, HF_VAR_function=command). A run fetches its
 * workdir, starts Redis, runs the real HyperFlow 1.7.0, exits with the workflow's status and writes the
 * result marker that `run`/`status` read.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { spawnSync } from "node:child_process";
import { buildBase, buildImage, detectContainerTool, type ContainerTool } from "../../images/build";
import { parseRunResult, runResultKey, type RunResult } from "../../images/run-result";
import { RGW_CREDENTIALS, startRgw, type Rgw } from "../support/rgw";

let rgw: Rgw;
let s3: S3Client;
let tool: ContainerTool;
let image: string;
const BUCKET = "engine-e2e";

beforeAll(async () => {
  tool = detectContainerTool();
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const base = buildBase({ tool, log });
  const built = buildImage("engine", { tool, base, log });
  image = built.ref;
  if (built.built) log(`engine image ${image} built in ${built.seconds.toFixed(0)} s`);
  rgw = await startRgw();
  s3 = new S3Client({ region: "us-east-1", endpoint: rgw.endpoint, forcePathStyle: true, credentials: RGW_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 30 * 60_000);

afterAll(() => {
  s3?.destroy();
  rgw?.stop();
});

interface Proc {
  name: string;
  command: string;
  ins: string[];
  outs: string[];
}

/** A workflow of `sh -c` steps in HyperFlow's format (signals by name, converted inputs with data [{}]). */
function workflow(name: string, procs: Proc[], ins: string[], outs: string[]): unknown {
  const signals = [...new Set(procs.flatMap((p) => [...p.ins, ...p.outs]))];
  const idx = (s: string) => signals.indexOf(s);
  return {
    name,
    processes: procs.map((p) => ({
      name: p.name,
      function: "{{function}}",
      type: "dataflow",
      firingLimit: 1,
      config: { executor: { executable: "sh", args: ["-c", p.command] } },
      ins: p.ins.map(idx),
      outs: p.outs.map(idx),
    })),
    signals: signals.map((s) => (ins.includes(s) ? { name: s, data: [{}] } : { name: s })),
    ins: ins.map(idx),
    outs: outs.map(idx),
  };
}

async function put(key: string, body: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

async function marker(prefix: string, runId: string): Promise<RunResult> {
  const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: runResultKey(prefix, runId) }));
  return parseRunResult(await r.Body!.transformToString());
}

function runEngine(
  prefix: string,
  runId: string,
  extraEnv: Record<string, string> = {},
  command: string[] = [],
): { status: number | null; output: string; seconds: number } {
  const env: Record<string, string> = {
    S3_BUCKET: BUCKET,
    S3_PATH: `${prefix}input/`,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey,
    HFLOW_S3_ENDPOINT: rgw.endpoint,
    HFLOW_RUN_ID: runId,
    HF_VAR_function: "command",
    HFLOW_FETCH_INPUT: "1",
    ...extraEnv,
  };
  const started = Date.now();
  const args = [...tool.globalArgs, "run", "--rm", "--network", "host", ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), image, ...command];
  const r = spawnSync(tool.bin, args, { env: tool.env, encoding: "utf8", timeout: 5 * 60_000 });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}`, seconds: (Date.now() - started) / 1000 };
}

test("the image runs as a non-root user and carries HyperFlow 1.7.0 at the task definition's path", () => {
  const r = spawnSync(
    tool.bin,
    [...tool.globalArgs, "run", "--rm", "--entrypoint", "sh", image, "-c", "id -u; /hyperflow/bin/hflow --version; redis-server --version; node --version"],
    { env: tool.env, encoding: "utf8", timeout: 120_000 },
  );
  expect(r.stderr).toBe("");
  const [uid, hflow, redis, node] = r.stdout.trim().split("\n");
  expect(Number(uid)).not.toBe(0);
  expect(hflow).toBe("1.7.0");
  expect(redis).toMatch(/^Redis server v=7\./);
  expect(node).toMatch(/^v18\./);
});

test("a workflow run: fetches workdir and input, runs every task, exits 0 and writes a succeeded marker", async () => {
  const prefix = "ok/";
  await put(`${prefix}input/greeting.txt`, "hello\n");
  await put(
    `${prefix}workdir/workflow.json`,
    JSON.stringify(
      workflow(
        "e2e-ok",
        [
          { name: "greet", command: "cat greeting.txt > hello.txt && echo world >> hello.txt", ins: ["greeting.txt"], outs: ["hello.txt"] },
          { name: "count", command: "wc -l < hello.txt > count.txt", ins: ["hello.txt"], outs: ["count.txt"] },
          { name: "shout", command: "tr a-z A-Z < hello.txt > shout.txt", ins: ["hello.txt"], outs: ["shout.txt"] },
        ],
        ["greeting.txt"],
        ["count.txt", "shout.txt"],
      ),
    ),
  );
  // The runner's task definition passes this command (constructs/runner/engine-task.ts).
  const r = runEngine(prefix, "ok-1", {}, ["/hyperflow/bin/hflow", "run", "/workdir/workflow.json", "-s"]);
  expect(r).toMatchObject({ status: 0, output: expect.stringContaining("[hflow-entrypoint] succeeded (exit 0, 3/3 tasks ok)") });
  expect(r.output).toContain("redis-server ready at redis://127.0.0.1:");
  const m = await marker(prefix, "ok-1");
  expect(m).toMatchObject({
    runId: "ok-1",
    status: "succeeded",
    exitCode: 0,
    phase: "engine",
    workflow: { file: "workflow.json", name: "e2e-ok", processes: 3, signals: 4 },
    tasks: { started: 3, succeeded: 3, failed: 0 },
    fetched: { files: 2 },
    engine: { hyperflow: "1.7.0", function: "command" },
  });
  expect(m.reason).toBeUndefined();
  expect(m.fetched.bytes).toBeGreaterThan(6);
  expect(Date.parse(m.finishedAt)).toBeGreaterThanOrEqual(Date.parse(m.startedAt));
});

test("a failing task: the engine exits 1 within the bound and the marker says failed, naming the task", async () => {
  const prefix = "fail/";
  await put(
    `${prefix}workdir/workflow.json`,
    JSON.stringify(
      workflow(
        "e2e-fail",
        [
          { name: "make", command: "echo 1 > a.txt", ins: ["start"], outs: ["a.txt"] },
          { name: "broken", command: "echo boom >&2; exit 3", ins: ["a.txt"], outs: ["b.txt"] },
          { name: "after", command: "cp b.txt c.txt", ins: ["b.txt"], outs: ["c.txt"] },
        ],
        ["start"],
        ["c.txt"],
      ),
    ),
  );
  // Without the entrypoint's plugin, HyperFlow 1.7.0 would report success for exit 3 and wait forever for b.txt.
  const r = runEngine(prefix, "fail-1", { HFLOW_TIMEOUT_SECONDS: "120" });
  expect(r.status).toBe(1);
  expect(r.seconds).toBeLessThan(90);
  const m = await marker(prefix, "fail-1");
  expect(m).toMatchObject({ status: "failed", exitCode: 1, phase: "engine", tasks: { started: 2, succeeded: 1, failed: 1 } });
  expect(m.reason).toBe("task broken failed: sh exited with code 3");
});

test("a workflow that outlives HFLOW_TIMEOUT_SECONDS is stopped: exit 124, marker failed", async () => {
  const prefix = "slow/";
  await put(
    `${prefix}workdir/dag.json`,
    JSON.stringify(workflow("e2e-slow", [{ name: "sleep", command: "sleep 600", ins: ["start"], outs: ["never"] }], ["start"], ["never"])),
  );
  // Long enough for HyperFlow to start the task on a loaded machine (up to 8 s seen at load 16), far below the task's 600 s.
  const r = runEngine(prefix, "slow-1", { HFLOW_TIMEOUT_SECONDS: "20" });
  expect(r.status).toBe(124);
  expect(r.seconds).toBeGreaterThanOrEqual(20);
  expect(r.seconds).toBeLessThan(80);
  const m = await marker(prefix, "slow-1");
  expect(m).toMatchObject({ status: "failed", exitCode: 124, phase: "engine", workflow: { file: "dag.json" }, tasks: { started: 1, succeeded: 0 } });
  expect(m.reason).toContain("HFLOW_TIMEOUT_SECONDS");
});

test("nothing uploaded at the prefix: exit 3 and a marker naming the fetch", async () => {
  const r = runEngine("missing/", "missing-1");
  expect(r.status).toBe(3);
  const m = await marker("missing/", "missing-1");
  expect(m).toMatchObject({ status: "failed", exitCode: 3, phase: "fetch", fetched: { files: 0 } });
  expect(m.reason).toBe(`s3://${BUCKET}/missing/workdir/ has no workflow.json or dag.json (is the job uploaded to this prefix?)`);
});
