/**
 * `npm run bench:e2e`: the generated Montage workflow distributed as on ECS, against the same DAG run
 * locally by the same engine, in one run, on one machine.
 *
 * - distributed: the engine and worker task definitions the cdktf app synthesizes, run with podman from
 *   our images (engine → RabbitMQ → 2 workers → Ceph RGW; test/support/local-ecs.ts). Wall time: engine
 *   container start → exit (fetching workdir/, Redis, HyperFlow, every task with its S3 transfers, the
 *   result marker). The job is uploaded before, by our uploader (timed separately).
 * - local: HyperFlow 1.7.0 (the engine image's version, from this repository's node_modules) runs the same
 *   workflow file with `HF_VAR_function=command` in a folder holding the inputs, Redis on loopback. Wall
 *   time: `hflow run` start → exit.
 * Both must produce the same mosaic bytes. Printed: both wall times, the ratio and whether it meets the
 * target (distributed ≤ 1.3 × local, on the medians' ratio), then the executor's per-task overhead on
 * BENCH_TASKS trivial tasks (bench/executor.ts).
 *
 * Placement (BENCH_PLACEMENT; default "split,shared", each repetition runs both):
 * - split: as deployed, where each worker is an ECS task with vCPUs of its own and S3, the broker and the
 *   engine run elsewhere. The tasks get the first BENCH_TASK_CORES cores (default: all but one): the worker
 *   containers (executors included) through `--cpuset-cpus`, the local run's processes through
 *   `taskset -c` in their command. The engine, Redis, the broker, the S3 stand-in and this benchmark get
 *   the other cores. Both runs have the same cores for their tasks; the distributed one pays for its
 *   executors on them. This is the placement the target is about.
 * - shared: everything on every core, S3 stand-in and broker included, which on few cores charges the
 *   distributed run for work that AWS does elsewhere.
 *
 * Each repetition (BENCH_REPEAT, default 3) runs local then distributed; the distributed run gets its own
 * bucket and two fresh worker containers, so nothing cached by the workers of an earlier run helps it.
 * Printed per run: both wall times, the ratio and the breakdown of the distributed run (engine start to
 * first job, job time on the workers split into processes, stage-in, stage-out and the rest, inputs
 * served from the workers' stage cache); then the medians.
 *
 * CPU: each run also prints the CPU seconds spent meanwhile (bench/cpu.ts): the local run's (the whole
 * machine), and the distributed run's split into the executors themselves, the tasks they ran, the
 * engine container, the S3 stand-in (RGW with its OSD and monitor), the broker and the rest. From them,
 * the least ratio the work allows on the cores it runs on (split: the executors' and tasks' CPU seconds
 * spread over the task cores; shared: all CPU seconds over all cores), also with the executors' share
 * taken as zero and (shared) with S3 and the broker off these cores: the target can be out of reach of any
 * executor that makes the same S3 requests, and these lines say when.
 *
 * Settings: BENCH_TILES (default 16), BENCH_TILE_PIXELS (default 400), BENCH_TASKS (default 200),
 * BENCH_REPEAT (default 3), BENCH_PLACEMENT and BENCH_TASK_CORES (above), BENCH_SKIP_EXECUTOR=1 (no executor overhead part). For comparisons:
 * BENCH_THREADS (the config's ecs.workers.threads, i.e. the workers' THREADS; default: unset, the
 * executor's default) and BENCH_STAGE_CACHE_MB (the workers' STAGE_CACHE_MB; 0 turns the cache off).
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generateMontageJob, montagePath } from "../workflows/montage/montage";
import { JOB_QUEUE, LocalEcs } from "../test/support/local-ecs";
import { startRedis } from "../test/support/redis";
import { cgroupSeconds, cgroupUsageFile, machineBusySeconds, processesSeconds, processSeconds, total } from "./cpu";
import { benchExecutor } from "./executor";

// The SDK (uploader, S3 checks) warns on Node.js below 22 at every client; not what is measured here (as bench/lambda.ts).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const TARGET_RATIO = 1.3;
const ROOT = path.resolve(__dirname, "..", "..");
const HFLOW = path.join(ROOT, "node_modules", "@hyperflow", "hyperflow", "bin", "hflow.js");

function setting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`${name}=${JSON.stringify(raw)}: allowed: a whole number from ${min} to ${max}\n`);
    process.exit(2);
  }
  return n;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Where the processes run.
 * - shared: everything on every core of this machine.
 * - split: as on AWS, where each worker is an ECS task with vCPUs of its own and S3, the broker and the
 *   engine run elsewhere. The tasks get `taskCpus` (distributed: the worker containers, executors
 *   included, through `--cpuset-cpus`; local: each process the engine starts, through `taskset`); the
 *   engine, Redis, the broker, the S3 stand-in and this benchmark get the other cores. Both runs then have
 *   the same cores for their tasks, and the distributed run pays for its executors on them.
 */
interface Placement {
  readonly name: "shared" | "split";
  readonly taskCpus?: string;
  readonly serviceCpus?: string;
  /** Cores the tasks have (shared: all of them). */
  readonly taskCores: number;
}

/** CPU ids this process may run on (Cpus_allowed_list in /proc/self/status, e.g. "0-3,6"). */
function allowedCpus(): number[] {
  const list = /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1] ?? "";
  return list.split(",").flatMap((r) => {
    const [a, b = a] = r.split("-").map(Number);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

/** Sets the CPU affinity of every thread of `pid` (taskset -a -p). */
function pin(pid: number, cpus: string): void {
  const r = spawnSync("taskset", ["-a", "-c", "-p", cpus, String(pid)], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`taskset -a -c -p ${cpus} ${pid}: ${r.error?.message ?? r.stderr.trim()}`);
}

/** The workflow with each process's executable started through `taskset -c cpus` (the local run in split placement). */
function pinnedWorkflow(file: string, cpus: string): void {
  const wf = JSON.parse(fs.readFileSync(file, "utf8")) as { processes: { config?: { executor?: { executable: string; args?: string[] } } }[] };
  for (const p of wf.processes) {
    const e = p.config?.executor;
    if (!e) throw new Error(`${file}: a process without config.executor`);
    p.config!.executor = { executable: "taskset", args: ["-c", cpus, e.executable, ...(e.args ?? [])] };
  }
  fs.writeFileSync(file, JSON.stringify(wf));
}

/** Runs `hflow run` with the command function in `dir`; resolves with its wall time and the machine's CPU time meanwhile, in seconds. */
async function runLocally(workflow: string, dir: string, processes: number): Promise<{ seconds: number; cpu: number }> {
  const redis = await startRedis();
  try {
    const cpu0 = machineBusySeconds();
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [HFLOW, "run", workflow, "-s"], {
      cwd: dir,
      env: { ...process.env, PATH: montagePath(), REDIS_URL: redis.url, HF_VAR_function: "command", AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = machineBusySeconds() - cpu0;
    // HyperFlow's command function reports success whatever the exit code: count the clean exits.
    const ok = (out.match(/exiting with code:0/g) ?? []).length;
    if (code !== 0 || ok !== processes)
      throw new Error(`local hflow run: exit ${code}, ${ok}/${processes} processes exited 0\n${out.split("\n").slice(-20).join("\n")}`);
    return { seconds, cpu };
  } finally {
    await redis.stop();
  }
}

interface Distributed {
  readonly seconds: number;
  readonly engineRun: number;
  readonly upload: number;
  readonly perWorker: number[];
  readonly firstJob: number;
  /** The entrypoint's own setup (Node.js start, broker check, workdir fetch alongside Redis's start), seconds. */
  readonly setup: number;
  readonly afterLast: number;
  readonly jobWall: number;
  readonly processTime: number;
  readonly stageIn: number;
  readonly stageOut: number;
  readonly cachedInputs: number;
  /** Bytes the jobs staged in (cached ones included) and out. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly inputs: number;
  readonly cpu: CpuShares;
}

/**
 * CPU seconds spent during a distributed run (engine start → exit), all cores: the machine in all
 * (/proc/stat), the two worker containers (their cgroups) split into the executor process itself and
 * the tasks it ran (the rest of the containers' CPU), the engine container (its cgroup, sampled every 200 ms
 * while it runs, so up to the last 200 ms are missing), the S3 stand-in (RGW, its OSD and monitor) and
 * the broker (/proc/<pid>/stat); the rest is podman, conmon and the kernel.
 */
interface CpuShares {
  readonly total: number;
  readonly executors?: number;
  readonly tasks?: number;
  readonly engine?: number;
  readonly s3?: number;
  readonly broker?: number;
}

/** One distributed run in its own bucket with two fresh workers (nothing cached from an earlier run). */
async function runDistributed(
  ecs: LocalEcs,
  jobDir: string,
  rep: number,
  placement: Placement,
  processes: number,
  outputs: readonly string[],
  local: string,
): Promise<Distributed> {
  const bucket = `bench-e2e-${placement.name}-${rep}`;
  const up = Date.now();
  await ecs.upload(bucket, jobDir);
  const upload = (Date.now() - up) / 1000;
  const workers = [`${placement.name}${rep}-worker-1`, `${placement.name}${rep}-worker-2`];
  for (const w of workers) {
    const c = { ...ecs.workerContainer(bucket), cpus: placement.taskCpus };
    const cacheMb = process.env.BENCH_STAGE_CACHE_MB;
    ecs.containers.start(w, cacheMb === undefined || cacheMb === "" ? c : { ...c, env: { ...c.env, STAGE_CACHE_MB: cacheMb } });
    await ecs.containers.waitForLog(w, /amqp: consuming/, 60_000);
  }
  log(`distributed run ${rep} (${placement.name}) …`);
  const workerPids = workers.map((w) => ecs.containers.pid(w));
  const workerFiles = workerPids.map((p) => cgroupUsageFile(p));
  const workerCpu = () => total(workerFiles.map((f) => cgroupSeconds(f)));
  const executorCpu = () => processesSeconds(workerPids);
  const s3Cpu = () => processesSeconds(ecs.rgw.pids);
  const brokerPid = Number(fs.readFileSync(path.join(ecs.rabbit.dir, "rabbitmq.pid"), "utf8").trim());
  const brokerCpu = () => processSeconds(brokerPid);
  const before = { total: machineBusySeconds(), workers: workerCpu(), executors: executorCpu(), s3: s3Cpu(), broker: brokerCpu() };
  const engineStart = Date.now();
  const engine = `${placement.name}${rep}-engine`;
  ecs.containers.start(engine, { ...ecs.engineContainer(bucket), cpus: placement.serviceCpus });
  let engineCpu: number | undefined;
  const engineFile = cgroupUsageFile(ecs.containers.pid(engine));
  const sampler = setInterval(() => (engineCpu = cgroupSeconds(engineFile) ?? engineCpu), 200);
  const exit = await ecs.containers.wait(engine, 60 * 60_000).finally(() => clearInterval(sampler));
  const delta = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a - b);
  const workersNow = workerCpu();
  const executorsNow = executorCpu();
  const cpu: CpuShares = {
    total: machineBusySeconds() - before.total,
    executors: delta(executorsNow, before.executors),
    tasks: delta(delta(workersNow, before.workers), delta(executorsNow, before.executors)),
    engine: engineCpu,
    s3: delta(s3Cpu(), before.s3),
    broker: delta(brokerCpu(), before.broker),
  };
  if (exit.exitCode !== 0) throw new Error(`engine container exited ${exit.exitCode}\n${ecs.containers.logs(engine).split("\n").slice(-20).join("\n")}`);
  const marker = await ecs.result(bucket);
  if (marker.tasks.succeeded !== processes) throw new Error(`marker: ${marker.tasks.succeeded}/${processes} tasks succeeded`);
  for (const f of outputs) {
    const remote = await ecs.getObject(bucket, `${ecs.jobPrefix}input/${f}`);
    if (!remote.equals(fs.readFileSync(path.join(local, f)))) throw new Error(`${f} differs between the distributed and the local run`);
  }
  // Where the distributed time goes: the engine's start and end (tapped from the broker), and per job
  // the executor's wall time split into stage-in, process, stage-out and the rest (directory, spawn, reply).
  const jobs = ecs.tap.published(JOB_QUEUE, engineStart);
  const replies = ecs.tap.messages.filter((m) => m.kind === "publish" && m.target === "" && m.at >= engineStart && !m.routingKeys.includes(JOB_QUEUE));
  const perWorker: number[] = [];
  let jobWall = 0;
  let processTime = 0;
  let stageIn = 0;
  let stageOut = 0;
  let cachedInputs = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  for (const w of workers) {
    const done = [
      ...ecs.containers
        .logs(w)
        .matchAll(
          / ok in ([\d.]+) s \(run ([\d.]+) s, stage in ([\d.]+) s, stage out ([\d.]+) s; in (\d+) B(?:, (\d+) of them from the stage cache)?, out (\d+) B/g,
        ),
    ];
    perWorker.push(done.length);
    for (const m of done) {
      jobWall += Number(m[1]);
      processTime += Number(m[2]);
      stageIn += Number(m[3]);
      stageOut += Number(m[4]);
      bytesIn += Number(m[5]);
      cachedInputs += Number(m[6] ?? 0);
      bytesOut += Number(m[7]);
    }
    ecs.containers.remove(w);
  }
  const wf = JSON.parse(fs.readFileSync(path.join(jobDir, "workdir", ecs.workflowFile ?? "workflow.json"), "utf8")) as { processes: { ins: unknown[] }[] };
  return {
    seconds: exit.seconds,
    engineRun: marker.durationMs / 1000,
    upload,
    perWorker,
    firstJob: (jobs[0].at - engineStart) / 1000,
    setup: Number(/setup done (\d+) ms/.exec(ecs.containers.logs(engine))?.[1] ?? NaN) / 1000,
    afterLast: exit.seconds - (Math.max(...replies.map((m) => m.at)) - engineStart) / 1000,
    jobWall,
    processTime,
    stageIn,
    stageOut,
    cachedInputs,
    bytesIn,
    bytesOut,
    inputs: wf.processes.reduce((n, p) => n + p.ins.length, 0),
    cpu,
  };
}

const f1 = (n: number | undefined) => (n === undefined ? "n/a" : n.toFixed(1));

/** "CPU 14.7 s = executors 5.0 + tasks' processes 4.5 + engine container 2.2 + S3 stand-in (RGW) 2.1 + broker 0.2 + the rest (podman, kernel) 0.6". */
function cpuLine(c: CpuShares): string {
  const known = total([c.executors, c.tasks, c.engine, c.s3, c.broker]);
  const rest = known === undefined ? undefined : c.total - known;
  return `CPU ${f1(c.total)} s = executors ${f1(c.executors)} + tasks' processes ${f1(c.tasks)} + engine container ${f1(c.engine)} + S3 stand-in (RGW) ${f1(c.s3)} + broker ${f1(c.broker)} + the rest (podman, kernel) ${f1(rest)}`;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const f2 = (n: number) => n.toFixed(2);

/** Both runs of one repetition in one placement, and the least ratios their CPU work allows. */
interface Round {
  readonly local: number;
  readonly localCpu: number;
  readonly d: Distributed;
  readonly ratio: number;
  /** Least ratio the work allows on the cores it runs on (all its CPU spread over them). */
  readonly floor: number;
  /** The same with the executors' own CPU taken as zero. */
  readonly freeExecutor?: number;
  /** shared placement: the same without the S3 stand-in and the broker, which on AWS run elsewhere. */
  readonly elsewhere?: number;
}

function placements(cpus: readonly number[]): Placement[] {
  const raw = process.env.BENCH_PLACEMENT?.trim() || "split,shared";
  const names = raw.split(",").map((n) => n.trim());
  const bad = names.find((n) => n !== "split" && n !== "shared");
  if (bad !== undefined || names.length === 0) {
    process.stderr.write(`BENCH_PLACEMENT=${JSON.stringify(raw)}: allowed: split, shared, or both separated by a comma\n`);
    process.exit(2);
  }
  const out: Placement[] = [];
  for (const name of [...new Set(names)]) {
    if (name === "shared") out.push({ name, taskCores: cpus.length });
    else if (cpus.length < 2) log("split placement needs at least 2 cores: skipped");
    else {
      const t = setting("BENCH_TASK_CORES", cpus.length - 1, 1, cpus.length - 1);
      out.push({ name: "split", taskCpus: cpus.slice(0, t).join(","), serviceCpus: cpus.slice(t).join(","), taskCores: t });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const tiles = setting("BENCH_TILES", 16, 2, 400);
  const tilePixels = setting("BENCH_TILE_PIXELS", 400, 16, 4096);
  const tasks = setting("BENCH_TASKS", 200, 1, 100_000);
  const repeat = setting("BENCH_REPEAT", 3, 1, 20);
  const threads = setting("BENCH_THREADS", 0, 0, 256);
  const cpus = allowedCpus();
  const plan = placements(cpus);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-bench-e2e-"));
  const lines: string[] = [];
  let ecs: LocalEcs | undefined;
  try {
    const config = { region: "us-east-1", runner: { prefix: "bench/" }, ...(threads > 0 ? { ecs: { workers: { threads } } } : {}) };
    ecs = await LocalEcs.start({ config, log });
    const workflowFile = ecs.workflowFile ?? "workflow.json";
    if (workflowFile !== "workflow.json" && workflowFile !== "dag.json") throw new Error(`the engine task definition runs ${workflowFile}`);
    const job = generateMontageJob(path.join(tmp, "job"), { tiles, tilePixels, workflowFile });
    const inputBytes = fs.readdirSync(path.join(job.jobDir, "input")).reduce((n, f) => n + fs.statSync(path.join(job.jobDir, "input", f)).size, 0);
    lines.push(
      `Montage ${tiles} tiles of ${tilePixels}² px: ${job.processes} tasks, ${job.overlaps} overlaps, ${(inputBytes / 1e6).toFixed(1)} MB of inputs; ${cpus.length} cores, load ${os.loadavg()[0].toFixed(1)}; ${repeat} alternating repetition(s); worker THREADS ${threads || "default"}, STAGE_CACHE_MB ${process.env.BENCH_STAGE_CACHE_MB || "default"}`,
    );
    const brokerPid = Number(fs.readFileSync(path.join(ecs.rabbit.dir, "rabbitmq.pid"), "utf8").trim());
    const rounds = new Map<Placement, Round[]>(plan.map((p) => [p, []]));
    for (let rep = 1; rep <= repeat; rep++) {
      for (const placement of plan) {
        // This process (and so Redis, hflow and podman started from it), the broker and RGW: on the service
        // cores in split placement, on every core otherwise.
        const services = placement.serviceCpus ?? cpus.join(",");
        for (const pid of [process.pid, brokerPid, ...ecs.rgw.pids]) pin(pid, services);
        // Local first, while the broker and RGW sit idle; each repetition in a fresh folder.
        const local = path.join(tmp, `local-${placement.name}-${rep}`);
        fs.cpSync(path.join(job.jobDir, "input"), local, { recursive: true });
        fs.copyFileSync(path.join(job.jobDir, "workdir", workflowFile), path.join(local, workflowFile));
        if (placement.taskCpus !== undefined) pinnedWorkflow(path.join(local, workflowFile), placement.taskCpus);
        log(`local run ${rep} (${placement.name}) …`);
        const { seconds: localSeconds, cpu: localCpu } = await runLocally(path.join(local, workflowFile), local, job.processes);
        const d = await runDistributed(ecs, job.jobDir, rep, placement, job.processes, job.outputs, local);
        fs.rmSync(local, { recursive: true, force: true });
        const c = d.cpu;
        const onTaskCores = placement.name === "split" ? total([c.executors, c.tasks]) : c.total;
        const round: Round = {
          local: localSeconds,
          localCpu,
          d,
          ratio: d.seconds / localSeconds,
          floor: (onTaskCores ?? NaN) / placement.taskCores / localSeconds,
          freeExecutor: onTaskCores === undefined || c.executors === undefined ? undefined : (onTaskCores - c.executors) / placement.taskCores / localSeconds,
          elsewhere:
            placement.name === "shared" && c.s3 !== undefined && c.broker !== undefined
              ? (c.total - c.s3 - c.broker) / placement.taskCores / localSeconds
              : undefined,
        };
        rounds.get(placement)!.push(round);
        lines.push(...roundLines(placement, rep, round, job.processes));
      }
    }
    for (const [placement, rs] of rounds) lines.push(...summaryLines(placement, rs));
    lines.push(`  mosaic.fits and mosaic.png identical in every run`);
  } finally {
    await ecs?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  if (process.env.BENCH_SKIP_EXECUTOR === "1") return;
  log("executor overhead …");
  const exec = await benchExecutor(tasks);
  process.stdout.write(`${exec.lines.join("\n")}\n`);
}

function where(p: Placement): string {
  return p.name === "split" ? `tasks on CPU ${p.taskCpus}, engine, Redis, broker and S3 stand-in on CPU ${p.serviceCpus}` : `everything on all cores`;
}

function roundLines(placement: Placement, rep: number, r: Round, processes: number): string[] {
  const d = r.d;
  const other = d.jobWall - d.processTime - d.stageIn - d.stageOut;
  const cores = `${placement.taskCores} ${placement.name === "split" ? "task " : ""}core${placement.taskCores === 1 ? "" : "s"}`;
  const opt = (n: number | undefined) => (n === undefined ? "n/a" : f2(n));
  return [
    `  run ${rep} (${placement.name}): local ${f2(r.local)} s, distributed ${f2(d.seconds)} s (engine's own run ${f2(d.engineRun)} s; jobs per worker ${d.perWorker.join(" + ")}; upload before it ${f2(d.upload)} s): ratio ${f2(r.ratio)}×`,
    `    local CPU ${f1(r.localCpu)} s; distributed ${cpuLine(d.cpu)}; on ${cores} that work alone takes ≥ ${f2(r.floor)}× the local wall time (≥ ${opt(r.freeExecutor)}× with executors that cost nothing${r.elsewhere === undefined ? "" : `; ≥ ${f2(r.elsewhere)}× with S3 and the broker off these cores`})`,
    `    engine container start → first job ${f2(d.firstJob)} s (of which the entrypoint's setup ${f2(d.setup)} s: Node.js, broker check, workdir fetch ∥ Redis); last reply → exit ${f2(d.afterLast)} s; job time on the workers ${d.jobWall.toFixed(1)} s = processes ${d.processTime.toFixed(1)} s + stage-in ${d.stageIn.toFixed(1)} s + stage-out ${d.stageOut.toFixed(1)} s + other ${other.toFixed(1)} s (directory, spawn); ${(((d.jobWall - d.processTime) / processes) * 1000).toFixed(0)} ms per job beyond the process; ${d.cachedInputs} of ${d.inputs} inputs from the stage cache; staged in ${(d.bytesIn / 1e6).toFixed(0)} MB, out ${(d.bytesOut / 1e6).toFixed(0)} MB`,
  ];
}

function summaryLines(placement: Placement, rs: readonly Round[]): string[] {
  const ratio = median(rs.map((r) => r.ratio));
  const free = rs.flatMap((r) => (r.freeExecutor === undefined ? [] : [r.freeExecutor]));
  const elsewhere = rs.flatMap((r) => (r.elsewhere === undefined ? [] : [r.elsewhere]));
  return [
    `  ${placement.name} placement (${where(placement)}):`,
    `    local (hflow run, function command): median ${f2(median(rs.map((r) => r.local)))} s (${rs.map((r) => f2(r.local)).join(", ")})`,
    `    distributed (engine container → RabbitMQ → 2 workers → RGW): median ${f2(median(rs.map((r) => r.d.seconds)))} s (${rs.map((r) => f2(r.d.seconds)).join(", ")})`,
    `    ratio distributed / local: median ${f2(ratio)}× (${rs.map((r) => f2(r.ratio)).join(", ")}) — target ≤ ${TARGET_RATIO}×: ${ratio <= TARGET_RATIO ? "met" : "NOT met"}`,
    `    CPU: local median ${f1(median(rs.map((r) => r.localCpu)))} s, distributed median ${f1(median(rs.map((r) => r.d.cpu.total)))} s (executors ${f1(median(rs.flatMap((r) => (r.d.cpu.executors === undefined ? [] : [r.d.cpu.executors]))))} s); least ratio that work allows on the ${placement.name === "split" ? "task cores" : "machine's cores"}: median ${f2(median(rs.map((r) => r.floor)))}×${free.length ? `; ${f2(median(free))}× if the executors cost no CPU at all` : ""}${elsewhere.length ? `; ${f2(median(elsewhere))}× with S3 and the broker off these cores` : ""}`,
  ];
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
