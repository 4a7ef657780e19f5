/**
 * `run`: validate → deploy what is missing → upload with progress → start the engine → follow its state
 * and logs → print the result. `status`: engine runs in progress.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../../config/load";
import type { HyperflowConfig } from "../../config/schema";
import { ENGINE_CONTAINER, WORKDIR_MOUNT } from "../../constructs/runner/engine-task";
import { placementFor } from "../../constructs/ecs/instances";
import { awsEngineApis, type EcsApi, followEngine, type LogsApi, logStream, taskId } from "../../runner/engine";
import { HashCache } from "../../runner/hash-cache";
import { validateJobDir } from "../../runner/job-dir";
import { formatSeconds, progressFor, type SyncProgress } from "../../runner/progress";
import { createS3Client } from "../../runner/s3-client";
import { syncToS3 } from "../../runner/s3-sync";
import { type StackName, stackNames } from "../../stacks/app";
import { type GlobalOptions, type Io } from "../program";
import { stackDirectory, synthesize } from "../synth";
import { readOutputs, requireTerraform, runTerraform } from "../terraform";
import { resultText } from "./job";

/** What `run` and `status` talk to; tests replace the AWS parts. */
export interface EngineDeps {
  apis(region: string): { ecs: EcsApi; logs: LogsApi; destroy(): void };
  s3(region: string, concurrency: number): S3Client;
  progress(label: string): SyncProgress;
  pollMs: number;
}

export function awsDeps(): EngineDeps {
  return {
    apis: awsEngineApis,
    s3: (region, concurrency) => createS3Client({ region, maxSockets: concurrency * 2 + 8 }),
    progress: (label) => progressFor(label),
    pollMs: 5000,
  };
}

export interface RunOptions {
  readonly jobDir: string;
  readonly yes?: boolean;
  readonly follow?: boolean;
}

function engineFamily(config: HyperflowConfig): string {
  return `${config.ecs.clusterName}-hyperflow-engine`;
}

export async function runCommand(globals: GlobalOptions, o: RunOptions, io: Io, deps: EngineDeps = awsDeps()): Promise<number> {
  // 1. Validate: bad input stops here (exit 2) before anything is deployed or uploaded.
  const job = validateJobDir(o.jobDir);
  const loaded = loadConfig({ configPath: globals.config, region: globals.region });
  for (const w of loaded.warnings) io.err(`warning: ${w}`);
  // The run uploads itself (with progress), so the synthesized runner carries no deploy-time upload.
  const config: HyperflowConfig = { ...loaded.config, runner: { ...loaded.config.runner, jobDir: undefined } };
  io.err(`job ${job.jobDir}: ${job.processes} processes, ${job.files.length} files`);

  // 2. Deploy what is missing (a stack without outputs has not been deployed).
  const binary = requireTerraform();
  synthesize(config, globals.out);
  const outputs: Partial<Record<StackName, Record<string, unknown>>> = {};
  // Only what an ECS run needs: not the Kubernetes stacks, even when the config has them.
  const needed: readonly StackName[] = ["network", "grafana", "ecs", "runner"];
  for (const stack of stackNames(config).filter((s) => needed.includes(s))) {
    const cwd = stackDirectory(globals.out, stack);
    if ((await runTerraform(binary, ["init", "-input=false"], cwd)) !== 0) return failed(io, `${stack}: terraform init failed`);
    let out = await readOutputs(binary, cwd);
    if (Object.keys(out).length === 0) {
      io.err(`==> ${stack} is not deployed yet: terraform apply`);
      if ((await runTerraform(binary, ["apply", "-input=false", ...(o.yes ? ["-auto-approve"] : [])], cwd)) !== 0) return failed(io, `${stack}: terraform apply failed`);
      out = await readOutputs(binary, cwd);
    }
    outputs[stack] = out;
  }
  const r = outputs.runner!;
  const bucket = String(r.bucket_name);
  const prefix = String(r.job_prefix ?? "");
  const cluster = String(r.cluster_name);

  // 3. Upload with progress; only what changed goes over the wire.
  const s3 = deps.s3(config.region, 16);
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
    const workflowPath = `${WORKDIR_MOUNT}/${job.workflowFile.slice("workdir/".length)}`;
    const taskArn = await ecs.runTask({
      cluster,
      taskDefinition: String(r.engine_task_definition),
      placementExpression: placementFor("master").expression,
      engineContainer: ENGINE_CONTAINER,
      engineCommand: ["/hyperflow/bin/hflow", "run", workflowPath, "-s"],
    });
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
      onStatus: (status) => io.err(`[${new Date().toISOString().slice(11, 19)}] engine task ${status}`),
      onLog: (e) => io.out(`engine | ${e.message}`),
    });
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

export async function statusCommand(globals: GlobalOptions, io: Io, deps: EngineDeps = awsDeps()): Promise<number> {
  const { config } = loadConfig({ configPath: globals.config, region: globals.region });
  const { ecs, destroy } = deps.apis(config.region);
  try {
    const tasks = await ecs.listRunning(config.ecs.clusterName, engineFamily(config));
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
