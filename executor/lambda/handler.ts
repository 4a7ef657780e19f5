/**
 * The task executor as a Lambda function: the Runtime API loop (runtime-api.ts) hands each invocation's
 * event to this handler, which runs it with the executor core (execute.ts) exactly as the AMQP worker
 * runs a message: parse, stage in from the workflow bucket into a per-job directory under /tmp (the
 * only writable place in a Lambda sandbox; SCRATCH_DIR defaults to it), run, stage out, reply.
 *
 * The event is HyperFlow's job message, the one amqpCommand sends (hyperflow-wms/hyperflow
 * functions/amqpCommand.js): `{executable, args, env, inputs, outputs, options}`, with
 * `options.bucket`/`options.prefix` naming where the files are (S3_BUCKET/S3_PATH of the function win,
 * see executor/storage.ts). An event from a Lambda Function URL (payload format 2.0: `body`,
 * `isBase64Encoded`, `requestContext.http`) carries the same message as its body, as
 * hyperflow-wms/hyperflow functions/awsLambdaCommand.js posts it.
 *
 * Outcomes:
 * - success (exit status 0, every output stored): the reply `{exit_status: 0, stdout, stderr,
 *   exceptions: [], metrics}` is the function's result;
 * - anything else (non-zero exit, signal, timeout, missing input, executable not found, output not
 *   produced, bad message) is a FAILED invocation: the handler throws, so Invoke's caller gets
 *   `X-Amz-Function-Error` with `errorType` `HyperFlow.<class>` (HyperFlow.exit, HyperFlow.stage_in, …),
 *   the reasons as `errorMessage` and the whole reply under `reply`. Outputs are stored only after the
 *   process succeeded and every output exists, so a failed task writes nothing to the bucket.
 * - Function URL events get an HTTP answer instead: 200 with the reply, or 422 with the failed reply
 *   (a thrown error would be a 502 that says nothing).
 *
 * Deadline: the task's timeout is the smaller of TASK_TIMEOUT and the invocation's remaining time minus
 * LAMBDA_DEADLINE_MARGIN (default 5 s) and the kill grace, so a task that runs too long is killed and
 * reported as a timeout before Lambda itself stops the sandbox (which would report only
 * "Task timed out").
 */
import { type ExecutorContext, executeJob } from "../execute";
import { EXIT_TIMEOUT, isObject, type JobReply } from "../job";
import { SettingsError } from "../settings";
import { FunctionError, type Invocation, type RuntimeHandler } from "./runtime-api";

export interface LambdaSettings {
  /** Milliseconds kept free before the invocation's deadline for killing the task and reporting. */
  readonly deadlineMarginMs: number;
}

export function loadLambdaSettings(env: NodeJS.ProcessEnv = process.env): LambdaSettings {
  const raw = env.LAMBDA_DEADLINE_MARGIN;
  if (raw === undefined || raw.trim() === "") return { deadlineMarginMs: 5000 };
  const n = Number(raw.trim());
  if (!Number.isFinite(n) || n < 0.5 || n > 300) throw new SettingsError("LAMBDA_DEADLINE_MARGIN", raw, "a number of seconds from 0.5 to 300");
  return { deadlineMarginMs: Math.round(n * 1000) };
}

interface FunctionUrlEvent {
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext: { readonly http: { readonly method?: string } };
}

function isFunctionUrlEvent(e: unknown): e is FunctionUrlEvent {
  return isObject(e) && isObject(e.requestContext) && isObject(e.requestContext.http) && "body" in e;
}

/** The error type a failed reply is reported with. */
export function errorType(reply: JobReply): string {
  return `HyperFlow.${reply.error ?? "exit"}`;
}

export function createLambdaHandler(ctx: ExecutorContext, lambda: LambdaSettings): RuntimeHandler {
  return async (event: unknown, invocation: Invocation) => {
    const viaUrl = isFunctionUrlEvent(event);
    const message = viaUrl ? Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8") : event;

    const { settings, log } = ctx;
    const grace = Math.min(settings.killGraceMs, 2000);
    const budget = invocation.remainingMs() - lambda.deadlineMarginMs - grace;
    const byDeadline = budget < settings.taskTimeoutMs;
    const jobCtx: ExecutorContext = {
      ...ctx,
      settings: { ...settings, killGraceMs: grace, taskTimeoutMs: Math.max(100, Math.min(settings.taskTimeoutMs, budget)) },
    };
    const { reply } = await executeJob(message, invocation.requestId, jobCtx);
    let final = reply;
    if (reply.error === "timeout" && byDeadline) {
      const why = `task timed out after ${(jobCtx.settings.taskTimeoutMs / 1000).toFixed(1)} s (the invocation's deadline less ${(lambda.deadlineMarginMs + grace) / 1000} s to report) and was killed`;
      final = { ...reply, exit_status: EXIT_TIMEOUT, exceptions: [why] };
    }
    if (viaUrl) {
      return { statusCode: final.exit_status === 0 ? 200 : 422, headers: { "content-type": "application/json" }, body: JSON.stringify(final) };
    }
    if (final.exit_status !== 0) {
      log(`invocation ${invocation.requestId}: failed: ${final.exceptions.join("; ")}`);
      throw new FunctionError(errorType(final), final.exceptions.join("; ") || `exit status ${final.exit_status}`, { reply: final });
    }
    return final;
  };
}
