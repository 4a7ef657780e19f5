/**
 * `hflow-executor`: the ECS worker's main. Reads the environment (settings.ts), consumes jobs from
 * RabbitMQ (amqp.ts), runs them with the executor core (execute.ts) and writes metrics when
 * INFLUXDB_URL is set. SIGTERM (how ECS stops a task) and SIGINT drain: no new jobs, running ones
 * finish and reply, exit 0. A second signal exits at once (unacknowledged jobs are redelivered).
 * A bad setting exits 2 with one line naming the variable, its value and what is allowed.
 *
 * The same bundle (and so the same worker image) is also a Lambda function: with AWS_LAMBDA_RUNTIME_API
 * set (Lambda sets it in every container-image function) or the argument `lambda`, it serves the Lambda
 * Runtime API instead of consuming from RabbitMQ (executor/lambda/main.ts); `amqp` forces the worker.
 */
import { AmqpWorker, redactUrl } from "./amqp";
import { serveLambda } from "./lambda/main";
import { createContext } from "./execute";
import { InfluxWriter } from "./metrics";
import { loadSettings, type Settings, SettingsError } from "./settings";

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

function describe(s: Settings): string {
  const where =
    s.storage === "s3" ? `s3://${s.bucket ?? "<bucket from job>"}/${s.s3Path ?? "<prefix from job>"}` : s.storage === "nfs" ? s.nfsMount : s.workdir;
  return [
    `executor ${s.executorId}`,
    `broker ${redactUrl(s.amqpUrl)} queue ${s.queue}`,
    `threads ${s.threads}`,
    `storage ${s.storage} ${where}`,
    `timeout ${s.taskTimeoutMs / 1000} s`,
    `metrics ${s.influxUrl ? redactUrl(s.influxUrl) : "off"}`,
  ].join(", ");
}

/** `amqp` or `lambda`: the argument, else `lambda` when the Lambda Runtime API is there. */
function mode(): "amqp" | "lambda" {
  const arg = process.argv[2];
  if (arg === undefined) return process.env.AWS_LAMBDA_RUNTIME_API ? "lambda" : "amqp";
  if (arg === "amqp" || arg === "lambda") return arg;
  process.stderr.write(
    `hflow-executor: unknown mode ${JSON.stringify(arg)}; allowed: amqp, lambda (default: lambda when AWS_LAMBDA_RUNTIME_API is set, else amqp)\n`,
  );
  process.exit(2);
}

async function main(): Promise<void> {
  // The bundled AWS SDK warns on every Node.js below 22; the worker images run Debian's Node 18.20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  if (mode() === "lambda") {
    // Runs until Lambda stops the sandbox; a bad setting is reported through the Runtime API, then exit 2.
    await serveLambda(log).catch((e: Error) => {
      process.stderr.write(`hflow-executor: ${e.message}\n`);
      process.exit(e.name === "FunctionError" ? 2 : 1);
    });
    return;
  }
  let settings: Settings;
  try {
    settings = loadSettings();
  } catch (e) {
    if (e instanceof SettingsError) {
      process.stderr.write(`hflow-executor: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  log(`starting: ${describe(settings)}`);
  if (settings.featureDownload) log("FEATURE_DOWNLOAD is set but not implemented by this executor: every job downloads its inputs");

  const ctx = createContext(settings, log);
  const worker = new AmqpWorker({
    ctx,
    metrics: settings.influxUrl ? new InfluxWriter(settings.influxUrl, log) : undefined,
    reconnectMaxMs: settings.reconnectMaxMs,
  });

  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log(`${signal} again: exiting now; unfinished jobs go back to the queue`);
      process.exit(signal === "SIGINT" ? 130 : 143);
    }
    log(`${signal}: draining (${worker.active} running job(s))`);
    worker.drain().then(
      () => {
        log(`drained after ${worker.handled} job(s); exiting`);
        process.exit(0);
      },
      (e: Error) => {
        log(`drain failed: ${e.message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await worker.start();
}

main().catch((e: Error) => {
  process.stderr.write(`hflow-executor: ${e?.stack ?? String(e)}\n`);
  process.exit(1);
});
