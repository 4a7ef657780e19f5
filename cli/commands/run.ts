/**
 * `run`: validate → deploy what is missing → upload with progress → start the engine → follow its state
 * and logs → print the result. `status`: engine runs in progress.
 */
import type { Command } from "commander";
import { ExitCode } from "../../common/errors";
import { validateJobDir } from "../../runner/job-dir";
import { HashCache } from "../../runner/hash-cache";
import { formatSeconds, progressFor } from "../../runner/progress";
import type { StackName } from "../../stacks/app";
import { type CommandContext, type EngineDeps, type GlobalOptions, globalsOf, type Io } from "../context";
import { resultText } from "./job";
import { loadForCommand } from "./shared";

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("run")
    .description("validate the job, deploy what is missing, upload with progress, start the engine and follow it to the end")
    .requiredOption("-j, --job-dir <dir>", "job directory (env HFLOW_JOB_DIR)", process.env.HFLOW_JOB_DIR)
    .option("-y, --yes", "deploy missing stacks without asking")
    .option("--no-follow", "start the engine and return")
    .option("--timeout <duration>", "stop following the engine after this long (3600, 90m, 25h, 2d; 0: never); the task keeps running (default: runner.followTimeoutSeconds, 25 h)")
    .addHelpText("after", "\nExit code: the workflow's (0 finished, 1 failed), 2 bad input, 124 gave up following (--timeout).\n\nExample:\n  $ hflow-infra run --job-dir ./montage-0.25 --yes")
    .action(ctx.action((opts: RunOptions, cmd: Command) => runCommand(globalsOf(cmd), opts, ctx.io, ctx.deps)));

  program
    .command("status")
    .description("engine runs in progress in the cluster")
    .addHelpText("after", "\nExample:\n  $ hflow-infra status")
    .action(ctx.action((_opts: unknown, cmd: Command) => statusCommand(globalsOf(cmd), ctx.io, ctx.deps)));
}

/** The real AWS services (the AWS SDK is loaded here, when a command needs it). */
export async function awsDeps(): Promise<EngineDeps> {
  const [{ awsEngineApis }, { createS3Client }, { maxSocketsFor }] = await Promise.all([import("../../runner/engine"), import("../../runner/s3-client"), import("../../runner/s3-sync")]);
  return {
    apis: awsEngineApis,
    s3: (region, concurrency) => createS3Client({ region, maxSockets: maxSocketsFor({ concurrency }) }),
    progress: (label) => progressFor(label),
    pollMs: 5000,
  };
}

export interface RunOptions {
  readonly jobDir: string;
  readonly yes?: boolean;
  readonly follow?: boolean;
  readonly timeout?: string;
}

/** Only what an ECS run needs: not the Kubernetes stacks, even when the config has them. */
const RUN_STACKS: readonly StackName[] = ["network", "grafana", "ecs", "runner"];

export async function runCommand(globals: GlobalOptions, o: RunOptions, io: Io, given?: EngineDeps): Promise<number> {
  // 1. Validate: bad input stops here (exit 2) before anything is deployed or uploaded.
  const job = validateJobDir(o.jobDir);
  const loaded = await loadForCommand(globals, io);
  const limits = await import("../../runner/run-limits");
  const followSeconds = o.timeout !== undefined ? limits.parseTimeout(o.timeout) : loaded.config.runner.followTimeoutSeconds;
  // The run uploads itself (with progress), so the synthesized runner carries no deploy-time upload.
  const config = { ...loaded.config, runner: { ...loaded.config.runner, jobDir: undefined } };
  io.err(`job ${job.jobDir}: ${job.processes} processes, ${job.files.length} files`);
  const [{ Workspace }, { SYNC_DEFAULTS, syncToS3 }, { followEngine, logStream, taskId }, { ENGINE_CONTAINER, engineCommand }, { placementFor }, deps] = await Promise.all([
    import("../workspace"),
    import("../../runner/s3-sync"),
    import("../../runner/engine"),
    import("../../constructs/engine/engine-task"),
    import("../../constructs/ecs/instances"),
    given ?? awsDeps(),
  ]);

  // 2. Deploy what is missing (a stack without outputs has not been deployed).
  const ws = Workspace.withTerraform(config, globals.out);
  ws.synth();
  const outputs: Partial<Record<StackName, Record<string, unknown>>> = {};
  for (const stack of ws.stacks.filter((s) => RUN_STACKS.includes(s))) {
    if ((await ws.init(stack)) !== 0) return failed(io, `${stack}: terraform init failed`);
    let out = await ws.outputs(stack);
    if (Object.keys(out).length === 0) {
      io.err(`==> ${stack} is not deployed yet: terraform apply`);
      if ((await ws.apply(stack, { autoApprove: o.yes })) !== 0) return failed(io, `${stack}: terraform apply failed`);
      out = await ws.outputs(stack);
    }
    outputs[stack] = out;
  }
  const r = outputs.runner!;
  const bucket = String(r.bucket_name);
  const prefix = String(r.job_prefix ?? "");
  const cluster = String(r.cluster_name);

  // 3. Upload with progress; only what changed goes over the wire.
  const s3 = deps.s3(config.region, SYNC_DEFAULTS.concurrency);
  try {
    const up = await syncToS3({ client: s3, bucket, prefix, files: job.files, progress: deps.progress("upload"), cache: HashCache.forJob(job.jobDir) });
    io.err(resultText(up));
    if (up.failed.length > 0) return failed(io, "upload failed; nothing was started (run again to resume)");
  } finally {
    s3.destroy();
  }

  // 4. Start the engine on the master and follow it.
  const { ecs, logs, destroy } = deps.apis(config.region);
  try {
    // Retried while the master has not joined the cluster (a run right after `deploy ecs`).
    const taskArn = await limits.startEngineTask(
      ecs,
      {
        cluster,
        taskDefinition: String(r.engine_task_definition),
        placementExpression: placementFor("master").expression,
        engineContainer: ENGINE_CONTAINER,
        engineCommand: engineCommand(job.workflowFile.slice("workdir/".length)),
      },
      { clock: deps.clock, onWait: (reason, ms) => io.err(`the master has not joined cluster ${cluster} yet (${reason}); trying again for up to ${limits.formatDuration(ms)}`) },
    );
    const logGroup = String(r.engine_log_group);
    const stream = logStream(ENGINE_CONTAINER, taskArn);
    io.out(`started engine task ${taskId(taskArn)} in cluster ${cluster}`);
    if (o.follow === false) {
      io.out(`follow it with: hflow-infra status · logs: aws logs tail ${logGroup} --log-stream-names ${stream} --follow`);
      return 0;
    }
    const result = await followEngine(ecs, logs, {
      cluster,
      taskArn,
      engineContainer: ENGINE_CONTAINER,
      logGroup,
      pollMs: deps.pollMs,
      timeoutMs: followSeconds > 0 ? followSeconds * 1000 : undefined,
      now: deps.clock?.now,
      sleep: deps.clock?.sleep,
      onStatus: (status) => io.err(`[${new Date().toISOString().slice(11, 19)}] engine task ${status}`),
      onLog: (e) => io.out(`engine | ${e.message}`),
    });
    if (result.timedOut) {
      const source = o.timeout !== undefined ? "--timeout" : "runner.followTimeoutSeconds";
      io.out(limits.gaveUpLines({ afterMs: result.seconds * 1000, source, cluster, taskId: taskId(taskArn), logGroup, stream }).join("\n"));
      return ExitCode.timedOut;
    }
    const ok = result.exitCode === 0;
    io.out(
      [
        ok ? `workflow finished: exit code 0 in ${formatSeconds(result.seconds)}` : `workflow FAILED: ${result.exitCode === undefined ? result.reason : `exit code ${result.exitCode}${result.reason ? ` (${result.reason})` : ""}`} after ${formatSeconds(result.seconds)}`,
        `outputs: s3://${bucket}/${prefix}input/ (the executors write results next to the inputs)`,
        `logs:    CloudWatch ${logGroup}, stream ${stream} (aws logs tail ${logGroup} --log-stream-names ${stream})`,
      ].join("\n"),
    );
    return ok ? 0 : 1;
  } finally {
    destroy();
  }
}

export async function statusCommand(globals: GlobalOptions, io: Io, given?: EngineDeps): Promise<number> {
  const { loadConfig } = await import("../../config/load");
  const { config } = loadConfig({ configPath: globals.config, region: globals.region });
  const [{ taskId }, { engineFamily }, deps] = await Promise.all([import("../../runner/engine"), import("../../constructs/engine/engine-task"), given ?? awsDeps()]);
  const { ecs, destroy } = deps.apis(config.region);
  try {
    const tasks = await ecs.listRunning(config.ecs.clusterName, engineFamily(config.ecs.clusterName));
    if (tasks.length === 0) {
      io.out(`no engine runs in progress in cluster ${config.ecs.clusterName}`);
      return 0;
    }
    const rows = tasks.map((t) => {
      const since = t.startedAt ?? t.createdAt;
      return [taskId(t.taskArn), t.lastStatus, since ? since.toISOString().replace("T", " ").slice(0, 19) : "-", since ? formatSeconds((Date.now() - since.getTime()) / 1000) : "-"];
    });
    const header = ["task", "status", "started (UTC)", "running for"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const line of [header, ...rows]) io.out(line.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
    return 0;
  } finally {
    destroy();
  }
}

function failed(io: Io, message: string): number {
  io.err(message);
  return 1;
}
