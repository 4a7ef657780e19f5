/**
 * The app image (images/app) as AWS Batch runs it: a real MPI program (images/app/examples/pi.c,
 * compiled with Debian's mpicc in the image) across 3 containers on a podman network this test
 * creates, with Batch's multi-node environment variables set as Batch sets them (the main node has no
 * AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS; the others have the main node's address). Inputs and
 * outputs go through Ceph RGW.
 *
 * RGW listens on the host's loopback, which a container on a bridge network cannot reach; the test
 * forwards the network's gateway address (the host side of the bridge) to RGW, so every container
 * reaches S3 at http://<gateway>:<port> (AWS_ENDPOINT_URL_S3), as nodes reach S3 over their VPC.
 */
import { execFile, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as net from "node:net";
import { promisify } from "node:util";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { buildAppImage } from "../../images/app/build";
import { buildBase, type ContainerTool, detectContainerTool, tool as runTool } from "../../images/build";
import { LambdaControlPlane } from "../support/lambda-control-plane";
import { RGW_CREDENTIALS, type Rgw, startRgw } from "../support/rgw";

const BUCKET = "apps";
const IN = "apps/pi/input/";
const OUT = "apps/pi/output/";
const RUN = crypto.randomBytes(3).toString("hex");
const NETWORK = `hflow-batch-e2e-${RUN}`;
const execFileAsync = promisify(execFile);

let t: ContainerTool;
let image: string;
let rgw: Rgw;
let s3: S3Client;
let forwarder: net.Server;
let endpoint: string;
let gateway: string;
const containers: string[] = [];

beforeAll(async () => {
  t = detectContainerTool();
  const log = (l: string) => process.stderr.write(`${l}\n`);
  image = buildAppImage({ tool: t, base: buildBase({ tool: t, log }), log });
  rgw = await startRgw();
  s3 = new S3Client({ region: "us-east-1", endpoint: rgw.endpoint, forcePathStyle: true, credentials: RGW_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${IN}n.txt`, Body: "30000\n" }));
  runTool(t, ["network", "create", NETWORK]);
  const gw = (JSON.parse(runTool(t, ["network", "inspect", NETWORK]))[0] as { subnets?: { gateway?: string }[] }).subnets?.[0]?.gateway;
  if (!gw) throw new Error(`podman network inspect ${NETWORK} names no gateway`);
  // CNI gives the bridge its gateway address when the first container joins: one that only sleeps keeps it there.
  containers.push(`keeper-${RUN}`);
  runTool(t, ["run", "-d", "--name", `keeper-${RUN}`, "--network", NETWORK, "--entrypoint", "sleep", image, "3600"]);
  gateway = gw;
  forwarder = await forward(gw, rgw.port);
  endpoint = `http://${gw}:${(forwarder.address() as net.AddressInfo).port}`;
}, 30 * 60_000);

afterAll(async () => {
  for (const c of containers) spawnSync(t.bin, [...t.globalArgs, "rm", "-f", c], { env: t.env, stdio: "ignore" });
  spawnSync(t.bin, [...t.globalArgs, "network", "rm", "-f", NETWORK], { env: t.env, stdio: "ignore" });
  await new Promise((r) => (forwarder ? forwarder.close(() => r(undefined)) : r(undefined)));
  s3?.destroy();
  rgw?.stop();
});

/** A TCP forwarder from the network's gateway address (reachable from the containers) to a loopback port of this machine. */
async function forward(host: string, port: number): Promise<net.Server> {
  const server = net.createServer((c) => {
    const up = net.connect(port, "127.0.0.1");
    c.pipe(up).pipe(c);
    c.on("error", () => up.destroy());
    up.on("error", () => c.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, host, resolve));
  return server;
}

interface NodeRun {
  readonly name: string;
}

/** Starts one node of a job (detached) with the app's environment and Batch's, as the job definition sets them. */
function startNode(name: string, env: Record<string, string>, args: string[]): NodeRun {
  const full = `${name}-${RUN}`;
  const all: Record<string, string> = {
    HFLOW_APP_NAME: "pi",
    HFLOW_APP_BUCKET: BUCKET,
    HFLOW_APP_INPUT_PREFIX: IN,
    HFLOW_APP_OUTPUT_PREFIX: OUT,
    HFLOW_APP_OUTPUTS: "pi.txt",
    HFLOW_APP_JOIN_TIMEOUT_SECONDS: "60",
    HFLOW_APP_SLOTS_PER_NODE: "1",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: endpoint,
    ...env,
  };
  containers.push(full);
  runTool(t, ["run", "-d", "--name", full, "--network", NETWORK, ...Object.entries(all).flatMap(([k, v]) => ["-e", `${k}=${v}`]), image, ...args]);
  return { name: full };
}

function addressOf(n: NodeRun): string {
  const out = runTool(t, ["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", n.name]).trim();
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(out)) throw new Error(`no address for ${n.name}: ${out}`);
  return out;
}

/**
 * Waits for a node to exit; its status and its log (stdout and stderr). Asynchronous: the forwarder to
 * RGW runs in this process, and a synchronous wait would stall the nodes' S3 requests.
 */
async function finish(n: NodeRun): Promise<{ status: number; log: string }> {
  const { stdout } = await execFileAsync(t.bin, [...t.globalArgs, "wait", n.name], { env: t.env, timeout: 10 * 60_000 });
  const logs = await execFileAsync(t.bin, [...t.globalArgs, "logs", n.name], { env: t.env, maxBuffer: 64 * 1024 * 1024 });
  return { status: Number(stdout.trim()), log: `${logs.stdout}${logs.stderr}` };
}

async function outputsOf(jobId: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${OUT}${jobId}/` }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

async function text(key: string): Promise<string> {
  return (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
}

const PI_ARGS = ["--input", `${IN}n.txt`, "--", "/opt/app/pi", "{input}", "pi.txt"];

/** Batch's variables for node `index` of a job of `nodes` whose main node is 0. */
function batchEnv(jobId: string, nodes: number, index: number, mainAddress?: string): Record<string, string> {
  return {
    AWS_BATCH_JOB_ID: `${jobId}#${index}`,
    AWS_BATCH_JOB_NUM_NODES: String(nodes),
    AWS_BATCH_JOB_NODE_INDEX: String(index),
    AWS_BATCH_JOB_MAIN_NODE_INDEX: "0",
    ...(mainAddress ? { AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS: mainAddress } : {}),
  };
}

test("the image: non-root, no SSH host keys baked in, no sudo, OpenMPI and the example program", () => {
  const r = spawnSync(
    t.bin,
    [
      ...t.globalArgs,
      "run",
      "--rm",
      "--entrypoint",
      "sh",
      image,
      "-c",
      "id -u; ls /etc/ssh/ | grep -c ssh_host_ || true; command -v sudo || echo no-sudo; mpirun --version | head -1; test -x /opt/app/pi && echo pi",
    ],
    { env: t.env, encoding: "utf8", timeout: 120_000 },
  );
  const [uid, hostKeys, sudo, mpi, pi] = r.stdout.trim().split("\n");
  expect(Number(uid)).not.toBe(0);
  expect(hostKeys).toBe("0");
  expect(sudo).toBe("no-sudo");
  expect(mpi).toMatch(/Open MPI\) 4\./);
  expect(pi).toBe("pi");
});

test("3 nodes with Batch's variables run pi under mpirun and upload the same result as a single-process run", async () => {
  const single = await finish(startNode("single", { AWS_BATCH_JOB_ID: `single-${RUN}` }, PI_ARGS));
  expect(single).toEqual({ status: 0, log: expect.stringContaining("pi: 1 ranks") });

  const job = `mpi-${RUN}`;
  const main = startNode("main", batchEnv(job, 3, 0), PI_ARGS);
  const address = addressOf(main);
  const children = [1, 2].map((i) => startNode(`child${i}`, batchEnv(job, 3, i, address), PI_ARGS));
  const m = await finish(main);
  expect({ status: m.status, ranks: /pi: (\d+) ranks/.exec(m.log)?.[1] }).toEqual({ status: 0, ranks: "3" });
  for (const c of children) expect((await finish(c)).status).toBe(0);

  expect(await outputsOf(job)).toEqual([`${OUT}${job}/pi.txt`]);
  const multi = await text(`${OUT}${job}/pi.txt`);
  expect(multi).toMatch(/^30000 \d+ 3\.14\d+\n$/);
  expect(multi).toBe(await text(`${OUT}single-${RUN}/pi.txt`));
});

test("a node that never joins: the main node fails with a clear error after the deadline and uploads nothing", async () => {
  const job = `late-${RUN}`;
  const env = { HFLOW_APP_JOIN_TIMEOUT_SECONDS: "8" };
  const main = startNode("late-main", { ...batchEnv(job, 3, 0), ...env }, PI_ARGS);
  const child = startNode("late-child1", { ...batchEnv(job, 3, 1, addressOf(main)), ...env }, PI_ARGS);
  const m = await finish(main);
  expect(m.status).toBe(1);
  expect(m.log).toContain("hflow-app: node 2 of 3 did not join within 8 s (nothing run, nothing uploaded)");
  expect((await finish(child)).status).toBe(0);
  expect(await outputsOf(job)).toEqual([]);
});

describe("bad input: one clear line, a failed status, nothing under the output prefix", () => {
  test.each([
    [
      "a missing input object",
      ["--input", "nope.txt", "--", "/opt/app/pi", "{input}", "pi.txt"],
      {},
      1,
      `hflow-app: input s3://${BUCKET}/${IN}nope.txt does not exist`,
    ],
    [
      "an executable not found",
      ["--input", "n.txt", "--", "/opt/app/nope", "{input}"],
      {},
      127,
      'hflow-app: executable "/opt/app/nope" not found or not executable',
    ],
    [
      "an output not produced (the one that was is not uploaded either)",
      PI_ARGS,
      { HFLOW_APP_OUTPUTS: "pi.txt,extra.txt" },
      1,
      "hflow-app: output extra.txt not produced by the app (nothing uploaded)",
    ],
    [
      "a failing program",
      ["--input", "n.txt", "--", "sh", "-c", "echo partial > pi.txt; exit 3"],
      {},
      3,
      "hflow-app: sh exited with status 3 (nothing uploaded)",
    ],
  ])("%s", async (_what, args, env, status, line) => {
    const job = `bad-${crypto.randomBytes(3).toString("hex")}`;
    const r = await finish(startNode(job, { AWS_BATCH_JOB_ID: job, ...env }, args));
    expect(r.status).toBe(status);
    expect(r.log).toContain(line);
    expect(await outputsOf(job)).toEqual([]);
  });
});

test("the same image as a Lambda function: an upload event runs pi and uploads the same result; a missing input is a failed invocation", async () => {
  const plane = await LambdaControlPlane.start();
  const api = await plane.addFunction("pi", { timeoutSeconds: 120 });
  const runtime = await forward(gateway, Number(api.split(":")[1]));
  try {
    const fn = startNode(
      "lambda",
      { AWS_LAMBDA_RUNTIME_API: `${gateway}:${(runtime.address() as net.AddressInfo).port}`, HFLOW_APP_WORKDIR: "/tmp/hflow-app" },
      // The function's image command (constructs/batch/app.ts: the job command with no input).
      ["--input", "-", "--", "/opt/app/pi", "{input}", "pi.txt"],
    );
    const invoke = async (payload: unknown) => {
      const r = await fetch(`${plane.endpoint}/2015-03-31/functions/pi/invocations`, { method: "POST", body: JSON.stringify(payload) });
      return { error: r.headers.get("x-amz-function-error"), body: (await r.json()) as Record<string, unknown> };
    };
    const ok = await invoke({ "detail-type": "Object Created", detail: { bucket: { name: BUCKET }, object: { key: `${IN}n.txt` } } });
    expect({ error: ok.error, message: ok.body.errorMessage }).toEqual({ error: null, message: undefined });
    const [url] = ok.body.outputs as string[];
    const key = url.slice(`s3://${BUCKET}/`.length);
    expect(await text(key)).toBe(await text(`${OUT}single-${RUN}/pi.txt`));
    const missing = await invoke({ input: `${IN}absent.txt` });
    expect(missing).toMatchObject({ error: "Unhandled", body: { errorMessage: `input s3://${BUCKET}/${IN}absent.txt does not exist` } });
    runTool(t, ["rm", "-f", fn.name]);
  } finally {
    await new Promise((r) => runtime.close(() => r(undefined)));
    await plane.close();
  }
});
