/**
 * The ECS deployment end to end on one machine, real parts only: the engine and worker task
 * definitions that the cdktf app synthesizes (found in cdktf.out by family), run with podman from our
 * engine and worker images on the host network, with Debian's RabbitMQ as the broker and Ceph RGW as
 * S3. Only what points at AWS is replaced (test/support/ecs-local.ts): the broker secret, the bucket
 * reference, the region, the S3 endpoint, the image tags; credentials are container environment
 * variables only, standing in for the task role. The Montage job is generated (workflows/montage),
 * uploaded by our uploader, run by the engine and TWO workers, and compared byte for byte with the
 * same commands run directly in a folder.
 *
 * Also: a failing task ends the engine container non-zero within FAILURE_BOUND_S with a failed marker;
 * a worker SIGKILLed mid-job (`podman kill`) does not stop the workflow (the broker redelivers its job
 * to the other worker); no message through the broker carries credentials (read from RabbitMQ's
 * firehose, test/support/broker-tap.ts) and the bucket refuses requests without them.
 * Needs podman (or docker), mmdebstrap, montage, rabbitmq-server, radosgw (see .ci/run).
 * E2E_TILES (default 4) sets the size of the Montage job.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { imageTag } from "../../images/tag";
import { generateMontageJob, runWorkflowDirectly, type MontageJob } from "../../workflows/montage/montage";
import type { TappedMessage } from "../support/broker-tap";
import { JOB_QUEUE, LOCAL_REGION, LocalEcs } from "../support/local-ecs";
import { RGW_CREDENTIALS } from "../support/rgw";

const TILES = Number(process.env.E2E_TILES ?? 4);
/** Longest a run with a failing task may take from engine start to container exit. */
const FAILURE_BOUND_S = 30;
/** The deployment under test: a region other than the local one, so replacing it is visible; a job prefix. */
const CONFIG = { region: "eu-central-1", runner: { prefix: "jobs/montage-e2e/" } };

let ecs: LocalEcs;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-montage-ecs-"));
  ecs = await LocalEcs.start({ config: CONFIG, log: (l) => process.stderr.write(`${l}\n`) });
  process.stderr.write(
    `montage-ecs: images ${ecs.timings.images.toFixed(0)} s, synth ${ecs.timings.synth.toFixed(1)} s, RGW + RabbitMQ ${ecs.timings.services.toFixed(1)} s\n`,
  );
}, 40 * 60_000);

afterAll(async () => {
  await ecs?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

afterEach(async () => {
  // Workers of a scenario do not outlive it; jobs a failed run left behind are dropped.
  if (!ecs) return;
  ecs.containers.removeAll();
  await ecs.purgeJobs();
});

interface PreparedJob extends MontageJob {
  /** Every file the direct run made (inputs excluded), by name. */
  readonly reference: Map<string, Buffer>;
}

/** Generates a Montage job (optionally changed by `edit`), and runs it directly for the reference result. */
function prepareJob(
  name: string,
  options: { tilePixels?: number } = {},
  edit?: (wf: { processes: { name: string; config: { executor: { args: string[] } } }[] }) => void,
): PreparedJob {
  const workflowFile = ecs.workflowFile ?? "workflow.json";
  if (workflowFile !== "workflow.json" && workflowFile !== "dag.json") throw new Error(`engine command runs ${workflowFile}`);
  const job = generateMontageJob(path.join(tmp, name, "job"), { tiles: TILES, workflowFile, ...options });
  const wfPath = path.join(job.jobDir, "workdir", workflowFile);
  if (edit) {
    const wf = JSON.parse(fs.readFileSync(wfPath, "utf8"));
    edit(wf);
    fs.writeFileSync(wfPath, `${JSON.stringify(wf, null, 2)}\n`);
  }
  const reference = new Map<string, Buffer>();
  if (!edit) {
    const direct = path.join(tmp, name, "direct");
    fs.cpSync(path.join(job.jobDir, "input"), direct, { recursive: true });
    runWorkflowDirectly(wfPath, direct);
    const inputs = new Set(fs.readdirSync(path.join(job.jobDir, "input")));
    for (const f of fs.readdirSync(direct).sort()) if (!inputs.has(f)) reference.set(f, fs.readFileSync(path.join(direct, f)));
  }
  return { ...job, reference };
}

/** Names of files in the bucket's data prefix (`<prefix>input/`) whose bytes differ from the direct run. */
async function differingFromDirect(bucket: string, job: PreparedJob): Promise<string[]> {
  const dataPrefix = `${ecs.jobPrefix}input/`;
  const remote = new Set((await ecs.keys(bucket, dataPrefix)).map((k) => k.slice(dataPrefix.length)));
  const differing: string[] = [];
  for (const [f, want] of job.reference) {
    if (!remote.has(f)) differing.push(`${f} (missing)`);
    else if (!(await ecs.getObject(bucket, dataPrefix + f)).equals(want)) differing.push(f);
  }
  return differing;
}

const KEY_LIKE = /key|secret|token|passw|credential|auth|session/i;

/** Paths of object keys in `value` that look like credentials (`options.secretAccessKey`, …). */
function keyLikeFields(value: unknown, at = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => keyLikeFields(v, `${at}[${i}]`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => [...(KEY_LIKE.test(k) ? [`${at}.${k}`] : []), ...keyLikeFields(v, `${at}.${k}`)]);
}

/** Workers' per-job log lines (`job <id>: <executable> ok in …`). */
const okJobs = (logs: string) => logs.split("\n").filter((l) => / ok in \d/.test(l)).length;

test("the synthesized task definitions: our images at this checkout's tags, one engine container, no credentials; only AWS parts are replaced", () => {
  const { engine, worker } = ecs.tasks;
  // The engine task is one container of our engine image (no fetch or Redis sidecars), the workers one of our worker image.
  expect(engine.containers.map((c) => c.name)).toEqual(["hyperflow-engine"]);
  expect(worker.containers.map((c) => c.name)).toEqual(["hyperflow-worker"]);
  // Both name the ECR repository with the tag images/tag.ts computes from this checkout (what a push sends).
  expect(engine.containers[0].image).toMatch(new RegExp(`^\\$\\{[^}]*engine[^}]*repository_url\\}:${imageTag("engine")}$`, "i"));
  expect(worker.containers[0].image).toMatch(new RegExp(`^\\$\\{[^}]*worker[^}]*repository_url\\}:${imageTag("worker")}$`, "i"));
  for (const c of [...engine.containers, ...worker.containers]) {
    const names = [...(c.environment ?? []).map((e) => e.name), ...(c.secrets ?? []).map((x) => x.name)];
    expect(names.filter((n) => /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$/.test(n))).toEqual([]);
  }
  // Workers are not pinned to a bucket or prefix: jobs say where the data is (the engine image's plugin).
  expect((worker.containers[0].environment ?? []).map((e) => e.name)).not.toEqual(expect.arrayContaining(["S3_BUCKET"]));
  expect((worker.containers[0].environment ?? []).map((e) => e.name)).not.toEqual(expect.arrayContaining(["S3_PATH"]));

  const e = ecs.engineContainer("some-bucket");
  const w = ecs.workerContainer("some-bucket");
  // What the task definitions set is kept; the secret, region, endpoint and keys are the local ones.
  expect(e.env).toEqual({
    S3_BUCKET: "some-bucket",
    S3_PATH: `${CONFIG.runner.prefix}input/`,
    HF_VAR_function: "amqpCommand",
    HFLOW_TIMEOUT_SECONDS: expect.stringMatching(/^\d+$/),
    AMQP_URL: ecs.rabbit.url,
    AWS_REGION: LOCAL_REGION,
    AWS_ENDPOINT_URL_S3: ecs.rgw.endpoint,
    AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey,
  });
  expect(e.command).toEqual(["/hyperflow/bin/hflow", "run", `/workdir/${ecs.workflowFile}`, "-s"]);
  expect(w.env).toMatchObject({ STORAGE: "cloud", AMQP_URL: ecs.rabbit.url, AWS_REGION: LOCAL_REGION, AWS_ENDPOINT_URL_S3: ecs.rgw.endpoint });
  expect([...e.replaced].sort()).toEqual(["AMQP_URL", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_SECRET_ACCESS_KEY"]);
  for (const c of [e, w]) expect(JSON.stringify(c)).not.toMatch(/\$\{|amazonaws\.com|arn:aws/);
  expect(e.image).toBe(ecs.images.engine);
  expect(w.image).toBe(ecs.images.worker);
});

test(`Montage (${TILES} tiles) through engine → RabbitMQ → 2 workers → RGW equals the direct run; exit 0; marker succeeded`, async () => {
  const bucket = "montage-ok";
  const job = prepareJob("ok");
  expect(job.reference.has("mosaic.fits") && job.reference.has("mosaic.png")).toBe(true);
  await ecs.upload(bucket, job.jobDir);
  await ecs.startWorker("worker-1", bucket);
  await ecs.startWorker("worker-2", bucket);
  const since = Date.now();
  ecs.startEngine("engine", bucket);
  const exit = await ecs.containers.wait("engine", 10 * 60_000);
  const engineLogs = ecs.containers.logs("engine");
  expect({ exit: exit.exitCode, ok: engineLogs.includes(`[hflow-entrypoint] succeeded (exit 0, ${job.processes}/${job.processes} tasks ok)`) }).toEqual({
    exit: 0,
    ok: true,
  });

  const marker = await ecs.result(bucket);
  expect(marker).toMatchObject({
    status: "succeeded",
    exitCode: 0,
    phase: "engine",
    workflow: { file: ecs.workflowFile ?? "workflow.json", processes: job.processes },
    tasks: { started: job.processes, succeeded: job.processes, failed: 0 },
    engine: { hyperflow: "1.7.0", function: "amqpCommand" },
  });
  expect(await differingFromDirect(bucket, job)).toEqual([]);

  // Both workers took jobs, and together every one exactly once.
  const perWorker = ["worker-1", "worker-2"].map((w) => okJobs(ecs.containers.logs(w)));
  expect(perWorker.every((n) => n > 0)).toBe(true);
  expect(perWorker[0] + perWorker[1]).toBe(job.processes);

  // Every job went through the broker, and no message (jobs, replies) carries credentials.
  const jobs = ecs.tap.published(JOB_QUEUE, since);
  expect(jobs).toHaveLength(job.processes);
  const all = ecs.tap.messages.filter((m) => m.at >= since);
  const secrets = [RGW_CREDENTIALS.accessKeyId, RGW_CREDENTIALS.secretAccessKey, ecs.rabbit.url];
  const leaks = (m: TappedMessage) => secrets.filter((s) => m.body.toString("latin1").includes(s) || JSON.stringify(m.properties).includes(s));
  expect(all.flatMap(leaks)).toEqual([]);
  const parsed = jobs.map((m) => JSON.parse(m.body.toString("utf8")) as { executable: string; env: Record<string, string>; options: Record<string, unknown> });
  expect(parsed.flatMap((j) => keyLikeFields(j))).toEqual([]);
  expect(parsed.flatMap((j) => Object.keys(j.env ?? {}).filter((k) => k.startsWith("AWS_")))).toEqual([]);
  expect(new Set(parsed.map((j) => j.executable))).toContain("mProjectPP");
  // Where the data is travels in the job (the workers' task definition names no bucket); who may read it does not.
  for (const j of parsed) expect(j.options).toEqual({ storage: "s3", bucket, prefix: `${ecs.jobPrefix}input/` });

  // The workers had credentials only in their environment, and the bucket needs them.
  for (const w of ["worker-1", "worker-2"]) expect(ecs.containers.environment(w)).toMatchObject({ AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId });
  const anonymous = await fetch(`${ecs.rgw.endpoint}/${bucket}/${ecs.jobPrefix}input/mosaic.fits`);
  expect(anonymous.status).toBe(403);
});

test.each([
  ["a bad argument", "bad-arg"],
  ["a missing input", "missing-input"],
])(`a task failing on %s: the engine container exits non-zero within ${FAILURE_BOUND_S} s and the marker says failed`, async (_what, variant) => {
  const bucket = `montage-${variant}`;
  const job = prepareJob(variant, {}, (wf) => {
    if (variant === "bad-arg") wf.processes.find((p) => p.name === "mProjectPP_002")!.config.executor.args[3] = "no-such-region.hdr";
  });
  await ecs.upload(bucket, job.jobDir);
  if (variant === "missing-input") await ecs.deleteObject(bucket, `${ecs.jobPrefix}input/tile_002.fits`);
  await ecs.startWorker("worker-1", bucket);
  await ecs.startWorker("worker-2", bucket);
  ecs.startEngine("engine", bucket);
  const exit = await ecs.containers.wait("engine", 5 * 60_000);
  expect(exit.exitCode).toBe(1);
  expect(exit.seconds).toBeLessThan(FAILURE_BOUND_S);
  const marker = await ecs.result(bucket);
  expect(marker).toMatchObject({ status: "failed", exitCode: 1, phase: "engine", tasks: { failed: 1 } });
  expect(marker.tasks.succeeded).toBeLessThan(job.processes);
  expect(marker.reason).toMatch(/^task mProjectPP_002 failed: /);
  // The executor's reply, as amqpCommand passes it on: the exit status, or the input it could not fetch.
  expect(marker.reason).toContain(
    variant === "bad-arg"
      ? "mProjectPP exited with status 1"
      : `missing input tile_002.fits: s3://${bucket}/${ecs.jobPrefix}input/tile_002.fits does not exist`,
  );
});

test("a worker killed mid-job: the other worker gets the redelivered job and the workflow completes", async () => {
  const bucket = "montage-kill";
  // Bigger tiles: a projection takes long enough to be killed in the middle of it.
  const job = prepareJob("kill", { tilePixels: 800 });
  await ecs.upload(bucket, job.jobDir);
  const before = new Set(ecs.connections());
  await ecs.startWorker("victim", bucket);
  const victim = ecs.connections().filter((c) => !before.has(c));
  expect(victim).toHaveLength(1);
  await ecs.startWorker("survivor", bucket);
  const since = Date.now();
  ecs.startEngine("engine", bucket);

  // Kill the victim as soon as the broker hands it a job (the job is then unacknowledged).
  await ecs.tap.waitFor((m) => m.kind === "deliver" && m.target === JOB_QUEUE && m.at >= since && m.connection === victim[0], 120_000);
  ecs.containers.kill("victim");
  expect((await ecs.containers.wait("victim", 60_000)).exitCode).toBe(137);

  const exit = await ecs.containers.wait("engine", 10 * 60_000);
  expect(exit.exitCode).toBe(0);
  const marker = await ecs.result(bucket);
  expect(marker).toMatchObject({ status: "succeeded", tasks: { started: job.processes, succeeded: job.processes, failed: 0 } });
  expect(await differingFromDirect(bucket, job)).toEqual([]);

  // The broker redelivered what the victim held, to the survivor, which says so.
  const redelivered = ecs.tap.delivered(JOB_QUEUE, since).filter((m) => m.redelivered);
  expect(redelivered.length).toBeGreaterThan(0);
  expect(redelivered.filter((m) => m.connection === victim[0])).toEqual([]);
  expect(ecs.containers.logs("survivor")).toMatch(/redelivered \(an earlier worker did not finish it\)/);
  expect(okJobs(ecs.containers.logs("victim"))).toBeLessThan(job.processes);
});
