/**
 * The worker image as a Lambda container image: started the way Lambda starts a container-image function
 * (the image's own entrypoint, AWS_LAMBDA_RUNTIME_API set, a read-only root file system with a writable
 * /tmp, credentials in the environment), it serves the Runtime API of the local control plane
 * (test/support/lambda-control-plane.ts) and runs Montage's mProjectPP against Ceph RGW.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { buildBase, buildImage, type ContainerTool, detectContainerTool } from "../../images/build";
import { createS3Client } from "../../runner/s3-client";
import { LambdaControlPlane } from "../support/lambda-control-plane";
import { RGW_CREDENTIALS, type Rgw, startRgw } from "../support/rgw";

const FIXTURE = path.resolve(__dirname, "..", "fixtures", "montage-mini", "input");
const BUCKET = "lambda-image";

let tool: ContainerTool;
let ref: string;
let rgw: Rgw;
let plane: LambdaControlPlane;
let s3: S3Client;
let container: ChildProcess | undefined;
let logs = "";
const name = `hflow-lambda-e2e-${process.pid}`;

function invoke(fn: string, job: object): Promise<{ status: number; error?: string; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${plane.endpoint}/2015-03-31/functions/${fn}/invocations`, { method: "POST" }, (res) => {
      let b = "";
      res.on("data", (c) => (b += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, error: res.headers["x-amz-function-error"] as string | undefined, body: JSON.parse(b) }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(job));
  });
}

beforeAll(async () => {
  tool = detectContainerTool();
  ({ ref } = buildImage("worker", { tool, base: buildBase({ tool }), log: (l) => process.stderr.write(`${l}\n`) }));
  [rgw, plane] = await Promise.all([startRgw(), LambdaControlPlane.start()]);
  s3 = createS3Client({ region: "us-east-1", endpoint: rgw.endpoint, forcePathStyle: true, credentials: RGW_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (const f of ["tile_001.fits", "region.hdr"])
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `run/${f}`, Body: fs.readFileSync(path.join(FIXTURE, f)) }));
  const api = await plane.addFunction("tasks", { timeoutSeconds: 60 });
  container = spawn(
    tool.bin,
    [
      ...tool.globalArgs,
      "run",
      "--rm",
      "--name",
      name,
      "--network",
      "host",
      "--read-only",
      "--tmpfs",
      "/tmp",
      "-e",
      `AWS_LAMBDA_RUNTIME_API=${api}`,
      "-e",
      "AWS_REGION=us-east-1",
      "-e",
      `AWS_ENDPOINT_URL_S3=${rgw.endpoint}`,
      "-e",
      "AWS_ACCESS_KEY_ID",
      "-e",
      "AWS_SECRET_ACCESS_KEY",
      "-e",
      `S3_BUCKET=${BUCKET}`,
      "-e",
      "SCRATCH_DIR=/tmp/hflow-jobs",
      ref,
    ],
    {
      env: { ...tool.env, AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  container.stdout!.on("data", (b) => (logs += b));
  container.stderr!.on("data", (b) => (logs += b));
}, 900_000);

afterAll(async () => {
  if (container) {
    spawnSync(tool.bin, [...tool.globalArgs, "kill", name], { env: tool.env });
    await new Promise((r) => (container!.exitCode !== null ? r(null) : container!.once("exit", r)));
  }
  s3?.destroy();
  await plane?.close();
  rgw?.stop();
});

test("the image's own entrypoint serves the Runtime API: mProjectPP runs, its outputs land in the bucket", async () => {
  const r = await invoke("tasks", {
    executable: "mProjectPP",
    args: ["-X", "tile_001.fits", "p_tile_001.fits", "region.hdr"],
    inputs: [{ name: "tile_001.fits" }, { name: "region.hdr" }],
    outputs: [{ name: "p_tile_001.fits" }, { name: "p_tile_001_area.fits" }],
    options: { prefix: "run/" },
  });
  expect({ status: r.status, error: r.error, exit: r.body.exit_status, logs: r.error ? logs : "" }).toEqual({
    status: 200,
    error: undefined,
    exit: 0,
    logs: "",
  });
  expect(logs).toMatch(/lambda runtime: storage s3 s3:\/\/lambda-image\/<prefix from job>, scratch \/tmp\/hflow-jobs/);
  const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "run/" }))).Contents ?? []).map((o) => o.Key).sort();
  expect(keys).toEqual(["run/p_tile_001.fits", "run/p_tile_001_area.fits", "run/region.hdr", "run/tile_001.fits"]);
  const fits = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "run/p_tile_001.fits" }))).Body!.transformToByteArray();
  expect(Buffer.from(fits).subarray(0, 6).toString()).toBe("SIMPLE");
}, 120_000);

test("in the same sandbox, a failing task is a function error with its reply; nothing is stored", async () => {
  const r = await invoke("tasks", {
    executable: "mProjectPP",
    args: ["-X", "missing.fits", "p_missing.fits", "region.hdr"],
    inputs: [{ name: "region.hdr" }],
    outputs: [{ name: "p_missing.fits" }],
    options: { prefix: "run/" },
  });
  expect([r.status, r.error, r.body.errorType]).toEqual([200, "Unhandled", "HyperFlow.exit"]);
  expect(r.body.errorMessage).toMatch(/^mProjectPP exited with status \d+$/);
  const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "run/p_missing" }))).Contents ?? []).length;
  expect(keys).toBe(0);
}, 120_000);
