/**
 * `app run <name> [--input KEY]`: submits one job of a container app of the `batch` stack (config
 * `batch.apps`) to AWS Batch and follows it to its end: the exit code is the app's (0 when the job
 * succeeded, the container's exit code when it failed, 1 when Batch failed it without one, 124 when
 * `--timeout` passed first). What SCAR's `scar run -f batch.yaml` does, without a YAML file.
 *
 * The request goes to the job queue and job definition the stack names deterministically
 * (constructs/batch/compute.ts `queueName`, constructs/batch/app.ts `jobDefinitionName`), with the input
 * key as the job parameter `input` (the same parameter the S3 trigger sets). Batch's endpoint and
 * credentials come from the AWS SDK's defaults (AWS_ENDPOINT_URL_BATCH points it elsewhere).
 */
import type { Command } from "commander";
import { ExitCode, UsageError } from "../../common/errors";
import type { HyperflowConfig } from "../../config/schema";
import { type CommandContext, type GlobalOptions, globalsOf, type Io } from "../context";
import { loadForCommand } from "./shared";

/** The parts of SubmitJob and DescribeJobs this command uses (AWS Batch API, REST-JSON). */
export interface SubmitJobRequest {
  readonly jobName: string;
  readonly jobQueue: string;
  readonly jobDefinition: string;
  readonly parameters: Record<string, string>;
}

export interface JobDetail {
  readonly jobId?: string;
  readonly status?: string;
  readonly statusReason?: string;
  readonly container?: { exitCode?: number; reason?: string; logStreamName?: string };
  readonly attempts?: readonly { container?: { exitCode?: number; reason?: string } }[];
}

const KEY_SEGMENT = /^[A-Za-z0-9!_.*'()-]+$/;

/**
 * The SubmitJob request for one run of app `name`. `input` is an object key below the app's input
 * prefix, or a name below it (the prefix is added). Bad input throws UsageError naming the value.
 */
export function submitJobRequest(config: HyperflowConfig, name: string, input: string | undefined, now = new Date()): SubmitJobRequest {
  const apps = config.batch.apps;
  const app = apps[name];
  const names = Object.keys(apps);
  if (!app)
    throw new UsageError(
      names.length === 0
        ? `app ${JSON.stringify(name)}: no apps are configured; allowed: add one under batch.apps in the config`
        : `app ${JSON.stringify(name)} is not configured; allowed: ${names.join(", ")}`,
    );
  const inputPrefix = app.inputPrefix ?? `apps/${name}/input/`;
  let key = "-";
  if (input !== undefined) {
    key = input.startsWith(inputPrefix) ? input : inputPrefix + input;
    const rest = key.slice(inputPrefix.length);
    if (rest === "" || !rest.split("/").every((s) => KEY_SEGMENT.test(s) && s !== "." && s !== ".."))
      throw new UsageError(
        `--input ${JSON.stringify(input)}: allowed: an object name below ${inputPrefix} (segments of letters, digits and !_.*'()-, no . or ..)`,
      );
  }
  const kind = app.nodes > 1 ? "multinode" : app.fargate ? "fargate" : "ec2";
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  return {
    jobName: `${config.batch.name}-${name}-${stamp}`.slice(0, 128),
    jobQueue: `${config.batch.name}-${kind}`,
    jobDefinition: `${config.batch.name}-${name}`,
    parameters: { input: key },
  };
}

/** Where a job is: done with an exit code, or still going. */
export type JobOutcome =
  { readonly done: false; readonly status: string } | { readonly done: true; readonly status: string; readonly exitCode: number; readonly line: string };

export function jobOutcome(job: JobDetail): JobOutcome {
  const status = job.status ?? "UNKNOWN";
  if (status === "SUCCEEDED") return { done: true, status, exitCode: 0, line: `job ${job.jobId} succeeded` };
  if (status !== "FAILED") return { done: false, status };
  const last = job.attempts?.[job.attempts.length - 1]?.container;
  const exitCode = job.container?.exitCode ?? last?.exitCode;
  const reason = [job.statusReason, job.container?.reason ?? last?.reason].filter(Boolean).join("; ");
  const code = exitCode !== undefined && exitCode !== 0 ? exitCode : ExitCode.failed;
  return {
    done: true,
    status,
    exitCode: code,
    line: `job ${job.jobId} failed${exitCode !== undefined ? ` with exit code ${exitCode}` : ""}${reason ? `: ${reason}` : ""}`,
  };
}

function positiveSeconds(flag: string, raw: string | undefined, def: number): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag} ${JSON.stringify(raw)}: allowed: a number of seconds, 0 or more`);
  return n;
}

interface RunOptions {
  readonly input?: string;
  readonly follow: boolean;
  readonly timeout?: string;
  readonly poll?: string;
}

export function register(program: Command, ctx: CommandContext): void {
  const app = program
    .command("app")
    .description("container apps of the batch stack (config batch.apps) on AWS Batch")
    .addHelpText("after", "\nExample:\n  $ hflow-infra app run architrave --input example.dat");
  app
    .command("run <name>")
    .description("submit one job of an app to AWS Batch and follow it to its exit code")
    .option("-i, --input <key>", "input object: a key or a name below the app's input prefix (default: none)")
    .option("--no-follow", "print the job id and return once the job is submitted")
    .option("--timeout <seconds>", "stop following after this long, exit code 124 (the job keeps running; 0: no limit)")
    .option("--poll <seconds>", "seconds between status checks", "10")
    .addHelpText("after", "\nExamples:\n  $ hflow-infra app run architrave --input example.dat\n  $ hflow-infra app run architrave --no-follow")
    .action(ctx.action((name: string, opts: RunOptions, cmd: Command) => appRun(globalsOf(cmd), ctx.io, name, opts)));
}

export async function appRun(globals: GlobalOptions, io: Io, name: string, opts: RunOptions): Promise<number> {
  const { config } = await loadForCommand(globals, io);
  const request = submitJobRequest(config, name, opts.input);
  const timeoutMs = positiveSeconds("--timeout", opts.timeout, 0) * 1000;
  const pollMs = Math.max(0.05, positiveSeconds("--poll", opts.poll, 10)) * 1000;
  const { BatchClient, SubmitJobCommand, DescribeJobsCommand } = await import("@aws-sdk/client-batch");
  const batch = new BatchClient({ region: config.region });
  try {
    const submitted = await batch.send(new SubmitJobCommand({ ...request, parameters: { ...request.parameters } }));
    const jobId = submitted.jobId!;
    io.err(`submitted ${request.jobName} (job ${jobId}) to queue ${request.jobQueue}, input ${request.parameters.input}`);
    if (!opts.follow) {
      io.out(jobId);
      return 0;
    }
    const started = Date.now();
    let last = "";
    for (;;) {
      const { jobs } = await batch.send(new DescribeJobsCommand({ jobs: [jobId] }));
      const job = jobs?.[0];
      if (!job) throw new UsageError(`job ${jobId} is not known to Batch in ${config.region}`);
      const outcome = jobOutcome(job as JobDetail);
      if (outcome.status !== last) io.err(`${new Date().toISOString()} ${outcome.status}`);
      last = outcome.status;
      if (outcome.done) {
        (outcome.exitCode === 0 ? io.out : io.err)(outcome.line);
        const app = config.batch.apps[name];
        if (outcome.exitCode === 0)
          io.out(`outputs: ${app.outputPrefix ?? `apps/${name}/output/`}${jobId}/ in the batch stack's bucket (terraform output bucket_name)`);
        return outcome.exitCode;
      }
      if (timeoutMs > 0 && Date.now() - started >= timeoutMs) {
        io.err(`job ${jobId} is still ${outcome.status} after ${timeoutMs / 1000} s; it keeps running (aws batch describe-jobs --jobs ${jobId})`);
        return ExitCode.timedOut;
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    batch.destroy();
  }
}
