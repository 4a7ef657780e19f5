/**
 * The Lambda path on one machine from real parts: the lambda stack's engine task definition as the cdktf
 * app writes it (engine + Redis sidecar, both from our engine image), our worker image as the task
 * function's sandboxes (its own entrypoint, the function's environment, read-only root and /tmp), Ceph
 * RGW for S3 and the control-plane stand-in (test/support/lambda-control-plane.ts) for Lambda's Invoke
 * and Runtime APIs, which only AWS has. The 27-task Montage fixture must finish with exit 0, a succeeded
 * result marker and every task a successful invocation; the mosaic lands in the bucket.
 *
 * Replaced, as test/support/ecs-local.ts `localize` does for ECS: the bucket, region and credentials,
 * plus the function-name reference (→ the stand-in's function), Redis's port (6379 → a free one: the
 * containers share the host's network here, a Fargate task its own) and AWS_ENDPOINT_URL_LAMBDA added.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { buildBase, buildImage, type ContainerTool, detectContainerTool } from "../../images/build";
import { parseRunResult, runResultKey } from "../../images/run-result";
import { createS3Client } from "../../runner/s3-client";
import { type ContainerDefinition, LocalContainers, localize, type TaskDefinition } from "../support/ecs-local";
import { LambdaControlPlane } from "../support/lambda-control-plane";
import { freePort, RGW_CREDENTIALS, type Rgw, startRgw } from "../support/rgw";
import { only, synthConfig } from "../support/stack-json";

const FIXTURE = path.resolve(__dirname, "..", "fixtures", "montage-mini");
const BUCKET = "lambda-path";
const PREFIX = "montage/";
const FUNCTION = "hyperflow-lambda";

let tool: ContainerTool;
let images: { engine: string; worker: string };
let rgw: Rgw;
let plane: LambdaControlPlane;
let s3: S3Client;
let local: LocalContainers;
const sandboxes: { name: string; child: ChildProcess }[] = [];

beforeAll(async () => {
  tool = detectContainerTool();
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const base = buildBase({ tool, log });
  images = { engine: buildImage("engine", { tool, base, log }).ref, worker: buildImage("worker", { tool, base, log }).ref };
  [rgw, plane] = await Promise.all([startRgw(), LambdaControlPlane.start()]);
  s3 = createS3Client({ region: "us-east-1", endpoint: rgw.endpoint, forcePathStyle: true, credentials: RGW_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (const sub of ["workdir", "input"])
    for (const f of fs.readdirSync(path.join(FIXTURE, sub)))
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${sub}/${f}`, Body: fs.readFileSync(path.join(FIXTURE, sub, f)) }));
  local = new LocalContainers(tool, `hflow-lambda-path-${process.pid}`);
}, 30 * 60_000);

afterAll(async () => {
  for (const s of sandboxes) spawnSync(tool.bin, [...tool.globalArgs, "rm", "-f", s.name], { env: tool.env });
  local?.removeAll();
  s3?.destroy();
  await plane?.close();
  rgw?.stop();
});

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => (s.end(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("Montage through the lambda stack's engine task and the worker image as the function: exit 0, every task an invocation", async () => {
  const { json } = synthConfig({ runner: { prefix: PREFIX }, lambda: { enabled: true, name: FUNCTION } });
  const stack = json.lambda;
  const fnRef = /\$\{aws_lambda_function\.[\w-]+\.function_name\}/g;
  const td = only(stack, "aws_ecs_task_definition");
  const redisPort = await freePort();
  const defs = (JSON.parse(td.container_definitions) as ContainerDefinition[]).map((c) =>
    JSON.parse(
      JSON.stringify(c)
        .replace(fnRef, FUNCTION)
        .replace(/\b6379\b/g, String(redisPort)),
    ),
  ) as ContainerDefinition[];
  const task: TaskDefinition = { stack: "lambda", family: td.family, networkMode: td.network_mode, volumes: [], containers: defs };
  const target = { amqpUrl: "", bucket: BUCKET, s3Endpoint: rgw.endpoint, region: "us-east-1", credentials: RGW_CREDENTIALS };

  // The function's sandboxes: the worker image with the function's environment, as Lambda starts it.
  const fn = only(stack, "aws_lambda_function");
  const api = await plane.addFunction(FUNCTION, { timeoutSeconds: fn.timeout });
  const fnEnv = Object.entries(fn.environment.variables as Record<string, string>).map(
    ([k, v]) => `${k}=${v.replace(/^\$\{aws_s3_bucket\.[\w-]+\.bucket\}$/, BUCKET)}`,
  );
  for (let i = 0; i < 2; i++) {
    const name = `hflow-lambda-path-${process.pid}-sandbox${i}`;
    const args = [...tool.globalArgs, "run", "--rm", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp"];
    for (const e of [
      ...fnEnv,
      `AWS_LAMBDA_RUNTIME_API=${api}`,
      "AWS_REGION=us-east-1",
      `AWS_ENDPOINT_URL_S3=${rgw.endpoint}`,
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
    ])
      args.push("-e", e);
    const child = spawn(tool.bin, [...args, images.worker], {
      env: { ...tool.env, AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey },
      stdio: "ignore",
    });
    sandboxes.push({ name, child });
  }

  // The engine task: the Redis sidecar first (the engine depends on it being healthy), then the engine.
  const redisDef = defs.find((c) => c.name === "redis")!;
  const engineDef = defs.find((c) => c.name === "hyperflow-engine")!;
  expect(redisDef.entryPoint).toEqual(["redis-server"]);
  local.start("redis", localize(task, redisDef, { ...target, image: images.engine }));
  await waitForPort(redisPort, 30_000);
  const engine = localize(task, engineDef, { ...target, image: images.engine });
  expect(engine.env).toMatchObject({ HF_VAR_function: "lambdaCommand", HFLOW_EXECUTOR: "lambda", HFLOW_LAMBDA_FUNCTION: FUNCTION, HFLOW_REDIS: "external" });
  local.start("engine", { ...engine, env: { ...engine.env, AWS_ENDPOINT_URL_LAMBDA: plane.endpoint, HFLOW_RUN_ID: "lambda-e2e" } });
  const exit = await local.wait("engine", 600_000);
  expect({ exit: exit.exitCode, logs: exit.exitCode === 0 ? "" : local.logs("engine").slice(-4000) }).toEqual({ exit: 0, logs: "" });

  const marker = parseRunResult(
    await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: runResultKey(PREFIX, "lambda-e2e") }))).Body!.transformToString(),
  );
  expect(marker).toMatchObject({ status: "succeeded", exitCode: 0, tasks: { started: 27, succeeded: 27, failed: 0 }, engine: { function: "lambdaCommand" } });
  expect(plane.invocations.map((c) => c.outcome)).toEqual(Array(27).fill("success"));
  const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}input/` }))).Contents ?? []).map((o) => o.Key);
  expect(keys).toEqual(expect.arrayContaining([`${PREFIX}input/mosaic.fits`, `${PREFIX}input/mosaic.png`]));
}, 900_000);
