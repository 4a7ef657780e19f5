/**
 * `run`: validate → deploy what is missing → build and push the images ECR lacks → upload with progress
 * → start the engine → follow its state and logs → print the result (from the run's result marker).
 * `--executor ecs` (default): the engine on the ECS master, tasks on the AMQP workers (stacks network,
 * grafana, ecs, runner). `--executor lambda`: the engine as a Fargate task, tasks as Lambda invocations
 * (stacks network, lambda; config lambda.enabled); the same steps, outputs and result.
 * `status`: engine runs in progress and the latest finished runs.
 */
import type { Command } from "commander";
import { ExitCode, UsageError } from "../../common/errors";
import { validateJobDir } from "../../runner/job-dir";
import { HashCache } from "../../runner/hash-cache";
import { formatSeconds } from "../../runner/progress";
import type { StackName } from "../../stacks/app";
import { type CommandContext, type EngineDeps, type GlobalOptions, globalsOf, type Io } from "../context";
import { requireAwsCredentials } from "../credentials";
import { showCost } from "./cost";
import { configuredImage, containerTool, deployedImages, ensureImages, repositoryUrls } from "./images";
import { resultText } from "./job";
import { engineDeps, loadForCommand } from "./shared";

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("run")
    .description("validate the job, deploy what is missing, upload with progress, start the engine and follow it to the end")
    .requiredOption("-j, --job-dir <dir>", "job directory (env HFLOW_JOB_DIR)", process.env.HFLOW_JOB_DIR)
    .option("-y, --yes", "deploy missing stacks without asking")
    .option("--no-follow", "start the engine and return")
    .option(
      "-e, --executor <executor>",
      "where tasks run: ecs (AMQP workers on the ECS cluster) or lambda (the lambda stack's function; needs lambda.enabled)",
      "ecs",
    )
    .option(
      "--timeout <duration>",
      "stop following the engine after this long (3600, 90m, 25h, 2d; 0: never); the task keeps running (default: runner.followTimeoutSeconds, 25 h)",
    )
    .addHelpText(
      "after",
      "\nExit code: the workflow's (0 finished, 1 failed), 2 bad input, 75 the S3 endpoint stopped answering during the upload (runner.uploadOutageSeconds; run again), 124 gave up following (--timeout).\n\nExamples:\n  $ hflow-infra run --job-dir ./montage-0.25 --yes\n  $ hflow-infra run --job-dir ./montage-0.25 --executor lambda --yes",
    )
    .action(ctx.action((opts: RunOptions, cmd: Command) => runCommand(globalsOf(cmd), opts, ctx.io, ctx.deps)));

  program
    .command("status")
    .description("engine runs in progress in the cluster and the latest finished runs (from their result markers)")
    .option("-n, --last <n>", "finished runs to show", "5")
    .addHelpText("after", "\nExample:\n  $ hflow-infra status --last 10")
    .action(ctx.action((opts: StatusOptions, cmd: Command) => statusCommand(globalsOf(cmd), opts, ctx.io, ctx.deps)));
}

export interface RunOptions {
  readonly jobDir: string;
  readonly yes?: boolean;
  readonly follow?: boolean;
  readonly timeout?: string;
  /** @default "ecs" */
  readonly executor?: string;
}

type Executor = "ecs" | "lambda";
/** Only what a run needs: not the Kubernetes stacks (nor the other executor's), even when the config has them. */
const RUN_STACKS: Readonly<Record<Executor, readonly StackName[]>> = {
  ecs: ["network", "grafana", "ecs", "runner"],
  lambda: ["network", "lambda"],
};
/** The stack whose outputs name the bucket, the engine task definition and its cluster. */
const ENGINE_STACK: Readonly<Record<Executor, StackName>> = { ecs: "runner", lambda: "lambda" };

export async function runCommand(globals: GlobalOptions, o: RunOptions, io: Io, given?: Partial<EngineDeps>): Promise<number> {
  // 1. Validate: bad input stops here (exit 2) before anything is deployed or uploaded.
  const executor = (o.executor ?? "ecs") as Executor;
  if (!(executor in RUN_STACKS)) throw new UsageError(`--executor ${JSON.stringify(o.executor)} is not allowed; allowed: ecs, lambda`);
  const job = validateJobDir(o.jobDir, { target: executor });
  const loaded = await loadForCommand(globals, io);
  if (executor === "lambda" && !loaded.config.lambda.enabled) {
    throw new UsageError(
      "--executor lambda needs the lambda stack: lambda.enabled is false in the configuration; allowed: set lambda.enabled to true (see docs/config.md, section lambda)",
    );
  }
  await requireAwsCredentials("run"); // before anything is deployed or uploaded
  const limits = await import("../../runner/run-limits");
  const followSeconds = o.timeout !== undefined ? limits.parseTimeout(o.timeout) : loaded.config.runner.followTimeoutSeconds;
  // The run uploads itself (with progress), so the synthesized runner carries no deploy-time upload.
  const config = { ...loaded.config, runner: { ...loaded.config.runner, jobDir: undefined } };
  io.err(`job ${job.jobDir}: ${job.processes} processes, ${job.files.length} files`);
  const [
    { Workspace },
    { SYNC_DEFAULTS, syncToS3 },
    { followEngine, logStream, readRunResult, runResultLines, s3MarkerStore, taskId },
    { ENGINE_CONTAINER, engineCommand },
    { placementFor },
    deps,
  ] = await Promise.all([
    import("../workspace"),
    import("../../runner/s3-sync"),
    import("../../runner/engine"),
    import("../../constructs/engine/engine-task"),
    import("../../constructs/ecs/instances"),
    engineDeps(io, given),
  ]);
  const ws = Workspace.withTerraform(config, globals.out);
  // Images the deployment builds itself need podman or docker: a missing one stops the run before anything is deployed.
  const tool = (["worker", "engine"] as const).some((n) => executor === "lambda" || !configuredImage(config, n))
    ? await containerTool(undefined, deps.images.env, deps.images.root)
    : undefined;

  // 2. Deploy what is missing (a stack without outputs has not been deployed); once a stack is, build
  //    and push the images its task definitions name that their ECR repositories lack (the worker's
  //    after the ecs stack, the engine's after the runner stack: before the engine starts).
  ws.synth();
  const outputs: Partial<Record<StackName, Record<string, unknown>>> = {};
  for (const stack of ws.stacks.filter((s) => RUN_STACKS[executor].includes(s))) {
    if ((await ws.init(stack)) !== 0) return failed(io, `${stack}: terraform init failed`);
    let out = await ws.outputs(stack);
    if (Object.keys(out).length === 0) {
      io.err(`==> ${stack} is not deployed yet: terraform apply`);
      await showCost(ws, [stack], config.region, io); // before terraform asks to go ahead (or --yes applies)
      if ((await ws.apply(stack, { autoApprove: o.yes })) !== 0) return failed(io, `${stack}: terraform apply failed`);
      out = await ws.outputs(stack);
    }
    outputs[stack] = out;
    const refs =
      stack === "ecs"
        ? { worker: out.worker_image }
        : stack === "runner"
          ? { engine: out.engine_image }
          : stack === "lambda"
            ? { worker: out.worker_image, engine: out.engine_image }
            : {};
    await ensureImages(config.region, deployedImages(repositoryUrls((stack === "lambda" ? outputs.lambda : outputs.ecs) ?? {}), refs), tool, io, deps.images);
  }
  const r = outputs[ENGINE_STACK[executor]]!;
  const bucket = String(r.bucket_name);
  const prefix = String(r.job_prefix ?? "");
  const cluster = String(r.cluster_name);

  // 3. Upload with progress; only what changed goes over the wire.
  const s3 = deps.s3(config.region, SYNC_DEFAULTS.concurrency);
  try {
    const up = await syncToS3({
      client: s3,
      bucket,
      prefix,
      files: job.files,
      progress: deps.progress("upload"),
      cache: HashCache.forJob(job.jobDir),
      outageSeconds: config.runner.uploadOutageSeconds,
    });
    io.err(resultText(up));
    if (up.failed.length > 0) return failed(io, "upload failed; nothing was started (run again to resume)");

    // 4. Start the engine (on the master, or on Fargate for lambda) and follow it.
    const { ecs, logs, destroy } = deps.apis(config.region);
    try {
      // Retried while the master has not joined the cluster (a run right after `deploy ecs`).
      const taskArn = await limits.startEngineTask(
        ecs,
        {
          cluster,
          taskDefinition: String(r.engine_task_definition),
          ...(executor === "lambda"
            ? {
                fargate: {
                  subnets: String(r.engine_subnets ?? "")
                    .split(",")
                    .filter((x) => x !== ""),
                  securityGroups: [String(r.engine_security_group)],
                  assignPublicIp: r.engine_assign_public_ip === "ENABLED",
                },
              }
            : { placementExpression: placementFor("master").expression }),
          engineContainer: ENGINE_CONTAINER,
          engineCommand: engineCommand(job.workflowFile.slice("workdir/".length)),
        },
        {
          clock: deps.clock,
          onWait: (reason, ms) => io.err(`the master has not joined cluster ${cluster} yet (${reason}); trying again for up to ${limits.formatDuration(ms)}`),
        },
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

      // 5. The result: the run's marker (written by the engine image) when there is one, else the container's exit code.
      const marker = await readRunResult(s3MarkerStore(s3, bucket), prefix, taskId(taskArn));
      const lines = marker.result
        ? runResultLines(marker.result)
        : [
            result.exitCode === 0
              ? `workflow finished: exit code 0 in ${formatSeconds(result.seconds)}`
              : `workflow FAILED: ${result.exitCode === undefined ? result.reason : `exit code ${result.exitCode}${result.reason ? ` (${result.reason})` : ""}`} after ${formatSeconds(result.seconds)}`,
            `result:  no marker at s3://${bucket}/${marker.key} (${marker.problem === "missing" ? "the engine wrote none" : marker.problem}): the container's exit code counts`,
          ];
      const exitCode = marker.result ? marker.result.exitCode : result.exitCode;
      io.out(
        [
          ...lines,
          `outputs: s3://${bucket}/${prefix}input/ (the executors write results next to the inputs)`,
          `logs:    CloudWatch ${logGroup}, stream ${stream} (aws logs tail ${logGroup} --log-stream-names ${stream})`,
        ].join("\n"),
      );
      return exitCode === 0 ? 0 : 1;
    } finally {
      destroy();
    }
  } finally {
    s3.destroy();
  }
}

export interface StatusOptions {
  readonly last?: string;
}

export async function statusCommand(globals: GlobalOptions, o: StatusOptions, io: Io, given?: Partial<EngineDeps>): Promise<number> {
  const last = o.last === undefined ? 5 : Number(o.last);
  if (!Number.isInteger(last) || last < 0 || last > 1000) throw new UsageError(`--last ${JSON.stringify(o.last)} is not allowed; allowed: 0 to 1000`);
  const { config } = await loadForCommand(globals, io);
  await requireAwsCredentials("status"); // before the SDK or terraform is started
  const [{ Workspace }, { latestRunResults, s3MarkerStore, taskId }, { engineFamily }, deps] = await Promise.all([
    import("../workspace"),
    import("../../runner/engine"),
    import("../../constructs/engine/engine-task"),
    engineDeps(io, given),
  ]);
  const ws = Workspace.withTerraform(config, globals.out);
  // Where engine runs are: the ECS cluster (runner stack) and, with lambda.enabled, the lambda stack's
  // own Fargate cluster (constructs/lambda/fargate-engine.ts: the same task family name).
  const places: { stack: StackName; cluster: string }[] = [
    { stack: "runner", cluster: config.ecs.clusterName },
    ...(config.lambda.enabled ? [{ stack: "lambda" as const, cluster: config.lambda.name }] : []),
  ];

  // Runs in progress (ECS).
  const { ecs, destroy } = deps.apis(config.region);
  try {
    for (const { stack, cluster } of places) {
      const tasks = await ecs.listRunning(cluster, engineFamily(cluster));
      if (tasks.length === 0) {
        io.out(`no engine runs in progress in cluster ${cluster}`);
        continue;
      }
      if (places.length > 1) io.out(`engine runs in progress in cluster ${cluster} (${stack} stack):`);
      table(
        io,
        ["task", "status", "started (UTC)", "running for"],
        tasks.map((t) => {
          const since = t.startedAt ?? t.createdAt;
          return [taskId(t.taskArn), t.lastStatus, since ? utc(since) : "-", since ? formatSeconds((Date.now() - since.getTime()) / 1000) : "-"];
        }),
      );
    }
  } finally {
    destroy();
  }
  if (last === 0) return 0;

  // Finished runs: the result markers in each stack's bucket.
  ws.synth();
  for (const { stack } of places) {
    if ((await ws.init(stack)) !== 0) return failed(io, `${stack}: terraform init failed`);
    const r = await ws.outputs(stack);
    if (!r.bucket_name) {
      io.out(`finished runs: none (the ${stack} stack is not deployed: hflow-infra deploy ${stack})`);
      continue;
    }
    const bucket = String(r.bucket_name);
    const prefix = String(r.job_prefix ?? "");
    const s3 = deps.s3(config.region, 4);
    try {
      const runs = await latestRunResults(s3MarkerStore(s3, bucket), prefix, last);
      io.out("");
      if (runs.length === 0) {
        io.out(`finished runs: none yet (no result markers under s3://${bucket}/${prefix}runs/)`);
        continue;
      }
      io.out(`finished runs (latest ${runs.length}, s3://${bucket}/${prefix}runs/):`);
      table(
        io,
        ["run", "status", "tasks ok/failed/started", "took", "finished (UTC)", "workflow", "reason"],
        runs.map(({ runId, result: m, problem }) =>
          m
            ? [
                runId,
                m.status,
                `${m.tasks.succeeded}/${m.tasks.failed}/${m.tasks.started}`,
                formatSeconds(m.durationMs / 1000),
                utc(new Date(m.finishedAt)),
                m.workflow.name ?? m.workflow.file,
                m.status === "failed" ? `${m.phase}: ${m.reason ?? `exit code ${m.exitCode}`}` : "",
              ]
            : [runId, "unreadable", "-", "-", "-", "-", problem ?? ""],
        ),
      );
    } finally {
      s3.destroy();
    }
  }
  return 0;
}

function utc(d: Date): string {
  return d.toISOString().replace("T", " ").slice(0, 19);
}

function table(io: Io, header: readonly string[], rows: readonly string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const line of [header, ...rows])
    io.out(
      line
        .map((c, i) => c.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    );
}

function failed(io: Io, message: string): number {
  io.err(message);
  return 1;
}
