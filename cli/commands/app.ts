/**
 * `app run <name> [--input KEY] [--on batch|lambda]`: runs one job of a container app of the `batch`
 * stack (config `batch.apps`) and follows it to its end.
 *
 * On AWS Batch (the default): SubmitJob, then DescribeJobs until the job ends; the exit code is the
 * app's (0 when the job succeeded, the container's exit code when it failed, 1 when Batch failed it
 * without one, 124 when `--timeout` passed first). What SCAR's `scar run -f batch.yaml` does, without a
 * YAML file. The request goes to the job queue and job definition the stack names deterministically
 * (constructs/batch/names.ts `queueName`, `jobDefinitionName`), with the input key as the job parameter
 * `input` (the same parameter the S3 trigger sets).
 *
 * On Lambda (`--on lambda`, for an app with `lambda: true`): one synchronous Invoke (RequestResponse) of
 * the app's function (constructs/batch/names.ts `appFunctionName`) with the payload `{"input": KEY}`,
 * the direct form the app entrypoint accepts next to an S3 upload event (images/app/entrypoint.ts
 * `eventInput`); `--no-follow` invokes asynchronously (Event). A function error prints its type and
 * message and exits with the run's exit code from the error document (`exitCode`), else 1. The SDK does
 * not retry the Invoke (a retry would run the app twice).
 *
 * Endpoints and credentials come from the AWS SDK's defaults (AWS_ENDPOINT_URL_BATCH and
 * AWS_ENDPOINT_URL_LAMBDA point them elsewhere); no credentials at all is exit 2 before any request.
 */
import type { Command } from "commander";
import { ExitCode, UsageError } from "../../common/errors";
import type { HyperflowConfig } from "../../config/schema";
import type { InvokeRequest } from "../app-requests";
import { type CommandContext, type GlobalOptions, globalsOf, type Io } from "../context";
import { requireAwsCredentials } from "../credentials";
import { loadForCommand } from "./shared";

/** The parts of DescribeJobs this command uses (AWS Batch API, REST-JSON). */
export interface JobDetail {
  readonly jobId?: string;
  readonly status?: string;
  readonly statusReason?: string;
  readonly container?: { exitCode?: number; reason?: string; logStreamName?: string };
  readonly attempts?: readonly { container?: { exitCode?: number; reason?: string } }[];
}

/** Where `app run` runs an app: AWS Batch (every app), Lambda (an app with `lambda: true`). */
export const RUN_ON = ["batch", "lambda"] as const;

/** What a synchronous Invoke's answer means: the line to print and the exit code. */
export function invokeOutcome(
  functionName: string,
  requestId: string | undefined,
  functionError: string | undefined,
  payload: string,
): { exitCode: number; line: string; outputs: string[] } {
  let doc: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(payload);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) doc = parsed as Record<string, unknown>;
  } catch {
    /* not JSON: shown as text */
  }
  const req = requestId ? ` (request ${requestId})` : "";
  if (functionError !== undefined) {
    const type = typeof doc?.errorType === "string" ? doc.errorType : functionError;
    const message = typeof doc?.errorMessage === "string" ? doc.errorMessage : payload.trim().slice(0, 500);
    const code = doc?.exitCode;
    const exitCode = typeof code === "number" && Number.isInteger(code) && code > 0 && code < 256 ? code : ExitCode.failed;
    return { exitCode, line: `function ${functionName} failed${req}: ${type}: ${message.split("\n")[0]}`, outputs: [] };
  }
  const outputs = Array.isArray(doc?.outputs) ? doc.outputs.filter((o): o is string => typeof o === "string") : [];
  return { exitCode: 0, line: `function ${functionName} succeeded${req}`, outputs };
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
  readonly on?: string;
  readonly follow: boolean;
  readonly timeout?: string;
  readonly poll?: string;
}

export function register(program: Command, ctx: CommandContext): void {
  const app = program
    .command("app")
    .description("container apps of the batch stack (config batch.apps) on AWS Batch or Lambda")
    .addHelpText("after", "\nExample:\n  $ hflow-infra app run architrave --input example.dat");
  app
    .command("run <name>")
    .description("run one job of an app on AWS Batch (or its Lambda function) and follow it to its exit code")
    .option("-i, --input <key>", "input object: a key or a name below the app's input prefix (default: none)")
    .option("--on <service>", `where to run it: ${RUN_ON.join(" or ")} (lambda: an app with "lambda": true)`, "batch")
    .option("--no-follow", "print the job id (Lambda: the request id of an asynchronous invocation) and return once submitted")
    .option("--timeout <seconds>", "Batch: stop following after this long, exit code 124 (the job keeps running; 0: no limit)")
    .option("--poll <seconds>", "Batch: seconds between status checks", "10")
    .addHelpText(
      "after",
      "\nExamples:\n  $ hflow-infra app run architrave --input example.dat\n  $ hflow-infra app run architrave --no-follow\n  $ hflow-infra app run architrave-small --on lambda --input example.dat",
    )
    .action(ctx.action((name: string, opts: RunOptions, cmd: Command) => appRun(globalsOf(cmd), ctx.io, name, opts)));
}

export async function appRun(globals: GlobalOptions, io: Io, name: string, opts: RunOptions): Promise<number> {
  const { config } = await loadForCommand(globals, io);
  const on = opts.on ?? "batch";
  if (!(RUN_ON as readonly string[]).includes(on)) throw new UsageError(`--on ${JSON.stringify(on)}: allowed: ${RUN_ON.join(", ")}`);
  // The requests name resources as the constructs do (constructs/batch/names.ts): loaded here, not at start.
  const { invokeRequest, submitJobRequest } = await import("../app-requests");
  if (on === "lambda") return lambdaRun(config, io, name, opts, invokeRequest(config, name, opts.input));
  const request = submitJobRequest(config, name, opts.input);
  const timeoutMs = positiveSeconds("--timeout", opts.timeout, 0) * 1000;
  const pollMs = Math.max(0.05, positiveSeconds("--poll", opts.poll, 10)) * 1000;
  await requireAwsCredentials("app run"); // before the SDK is started
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

/** `app run --on lambda`: one Invoke of the app's function. */
async function lambdaRun(config: HyperflowConfig, io: Io, name: string, opts: RunOptions, request: InvokeRequest): Promise<number> {
  if (opts.timeout !== undefined)
    throw new UsageError(`--timeout ${JSON.stringify(opts.timeout)}: allowed only with --on batch (an invocation ends at the function's own timeout)`);
  await requireAwsCredentials("app run"); // before the SDK is started
  const app = config.batch.apps[name];
  const outputPrefix = app.outputPrefix ?? `apps/${name}/output/`;
  const { LambdaClient, InvokeCommand } = await import("@aws-sdk/client-lambda");
  // One attempt: a retried Invoke would run the app again.
  const lambda = new LambdaClient({ region: config.region, maxAttempts: 1 });
  try {
    const invocationType = opts.follow ? "RequestResponse" : "Event";
    io.err(`invoking ${request.functionName} (${invocationType}), input ${request.payload.input}`);
    const r = await lambda
      .send(new InvokeCommand({ FunctionName: request.functionName, InvocationType: invocationType, Payload: Buffer.from(JSON.stringify(request.payload)) }))
      .catch((e: { name?: string }) => {
        if (e.name === "ResourceNotFoundException")
          throw new UsageError(
            `function ${request.functionName} does not exist in ${config.region}; allowed: an app whose batch stack is deployed (hflow-infra deploy network batch)`,
          );
        throw e;
      });
    const requestId = r.$metadata.requestId;
    if (!opts.follow) {
      io.out(requestId ?? "");
      io.err(`outputs: ${outputPrefix}${requestId ?? "<request id>"}/ in the batch stack's bucket (terraform output bucket_name) when it succeeds`);
      return 0;
    }
    const outcome = invokeOutcome(request.functionName, requestId, r.FunctionError, r.Payload ? Buffer.from(r.Payload).toString("utf8") : "");
    if (outcome.exitCode !== 0) {
      io.err(outcome.line);
      return outcome.exitCode;
    }
    io.out(outcome.line);
    for (const o of outcome.outputs) io.out(`output ${o}`);
    io.out(`outputs: ${outputPrefix}${requestId}/ in the batch stack's bucket (terraform output bucket_name)`);
    return 0;
  } finally {
    lambda.destroy();
  }
}
