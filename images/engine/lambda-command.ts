/**
 * `lambdaCommand`: a HyperFlow process function that runs a task as one synchronous invocation of the
 * task executor's Lambda function (executor/lambda/handler.ts), through the Lambda Invoke API with the
 * engine's own credentials (the AWS SDK's default chain: the engine task's IAM role on Fargate). The
 * engine image's plugin (hflow-plugin.ts) registers it in the engine's core functions module, so a
 * workflow names it like any other function (`"function": "lambdaCommand"`), and, with
 * HFLOW_EXECUTOR=lambda, also runs `amqpCommand` and `RESTServiceCommand` processes with it, so the
 * workflows made for the ECS path run unchanged.
 *
 * The job is the one amqpCommand sends (hyperflow-wms/hyperflow functions/amqpCommand.js):
 * `{executable, args, env, inputs, outputs, options}`, `options` = `{storage: "s3", bucket: S3_BUCKET,
 * prefix: S3_PATH}` merged with the process's `config.executor.options` (a fresh copy per job).
 * Nothing is read from PATH: hyperflow-wms/hyperflow functions/RESTServiceCommand.config.js and
 * awsLambdaCommand.config.js take their S3 prefix from `process.env.PATH`, i.e. the shell's search path.
 *
 * Outcome: the task succeeded only when Invoke answered without a function error and the reply's
 * exit_status is 0. A function error (X-Amz-Function-Error: a failed task, a timeout, an oversized
 * response, a runtime that could not start), a service error after the SDK's retries (throttling,
 * function not found, request over 6 MB) or an unreadable reply calls back with an Error naming the
 * process, the error type and the reason; the plugin then fails the workflow.
 *
 * Environment: HFLOW_LAMBDA_FUNCTION (function name or ARN, required), AWS_REGION, S3_BUCKET, S3_PATH,
 * AWS_ENDPOINT_URL_LAMBDA (the SDK's own setting; tests point it at a local control plane).
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { NodeHttpHandler } from "@smithy/node-http-handler";

type Callback = (err: unknown, ...rest: unknown[]) => void;

interface ProcessContext {
  readonly name?: string;
  readonly executor?: { executable?: string; args?: unknown; env?: Record<string, unknown>; options?: Record<string, unknown> };
}

/** What went wrong with a task on Lambda; `errorType` is Lambda's (HyperFlow.exit, Sandbox.Timedout, …) or the service error's name. */
export class LambdaTaskError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
    readonly reply?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "LambdaTaskError";
  }
}

let client: LambdaClient | undefined;

function lambda(env: NodeJS.ProcessEnv): LambdaClient {
  // No credentials here: the default chain (the engine task's role). Sockets stay open as long as
  // Lambda's longest invocation (15 minutes) plus a margin; HyperFlow fires many tasks at once.
  client ??= new LambdaClient({
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({ requestTimeout: 16 * 60 * 1000, httpsAgent: { maxSockets: 256 }, httpAgent: { maxSockets: 256 } }),
  });
  return client;
}

/** The job's `options`: where the data is, from the engine's environment, and the process's own. */
export function jobOptions(env: NodeJS.ProcessEnv, own: Record<string, unknown> | undefined): Record<string, unknown> {
  const base: Record<string, unknown> = env.S3_BUCKET ? { storage: "s3", bucket: env.S3_BUCKET, prefix: env.S3_PATH ?? "" } : {};
  return { ...base, ...(own ?? {}) };
}

function text(payload: Uint8Array | undefined): string {
  return payload ? Buffer.from(payload).toString("utf8") : "";
}

function parse(s: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Invokes the function with one job; resolves with the reply, rejects with LambdaTaskError. */
export async function invokeTask(job: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown>> {
  const fn = env.HFLOW_LAMBDA_FUNCTION;
  if (!fn) throw new LambdaTaskError("Config", "HFLOW_LAMBDA_FUNCTION is not set; allowed: the task function's name or ARN (the lambda stack sets it)");
  let out;
  try {
    out = await lambda(env).send(new InvokeCommand({ FunctionName: fn, InvocationType: "RequestResponse", Payload: Buffer.from(JSON.stringify(job)) }));
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    throw new LambdaTaskError(
      err.name || "Error",
      `Invoke ${fn} failed${err.$metadata?.httpStatusCode ? ` (HTTP ${err.$metadata.httpStatusCode})` : ""}: ${err.message}`,
    );
  }
  const body = text(out.Payload);
  const doc = parse(body);
  if (out.FunctionError) {
    const type = typeof doc?.errorType === "string" ? doc.errorType : out.FunctionError;
    const message = typeof doc?.errorMessage === "string" ? doc.errorMessage : body.slice(0, 1000) || "no error message";
    throw new LambdaTaskError(type, `${type}: ${message}`, doc?.reply as Record<string, unknown> | undefined);
  }
  if (!doc) throw new LambdaTaskError("BadReply", `the function answered with something other than a reply: ${body.slice(0, 300)}`);
  // Loose equality as amqpCommand.js (`exit_status == "0"`).
  if (String(doc.exit_status) !== "0") {
    const why = Array.isArray(doc.exceptions) && doc.exceptions.length > 0 ? doc.exceptions.join("; ") : `exit status ${String(doc.exit_status)}`;
    throw new LambdaTaskError("HyperFlow.exit", why, doc);
  }
  return doc;
}

/** The process function (HyperFlow's signature: ins, outs, context, callback). */
export function lambdaCommand(ins: unknown[], outs: unknown[], context: ProcessContext, cb: Callback): void {
  const ex = context.executor ?? {};
  const job = {
    executable: ex.executable,
    args: ex.args ?? [],
    env: ex.env ?? {},
    inputs: ins.map((s) => s),
    outputs: outs.map((s) => s),
    options: jobOptions(process.env, ex.options),
  };
  const name = context.name ?? String(ex.executable);
  console.log(`[lambdaCommand] ${name}: invoking ${process.env.HFLOW_LAMBDA_FUNCTION} for ${String(ex.executable)}`);
  const t0 = Date.now();
  invokeTask(job).then(
    (reply) => {
      const m = reply.metrics as { execution?: number } | undefined;
      console.log(`[lambdaCommand] ${name}: ok in ${((Date.now() - t0) / 1000).toFixed(3)} s (task ${m?.execution?.toFixed(3) ?? "?"} s)`);
      cb(null, outs);
    },
    (e: LambdaTaskError) => {
      console.error(`[lambdaCommand] ${name}: failed: ${e.message}`);
      cb(e);
    },
  );
}
