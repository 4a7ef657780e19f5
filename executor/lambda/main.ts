/**
 * The executor's Lambda mode (`hflow-executor lambda`, or any start with AWS_LAMBDA_RUNTIME_API set, as
 * Lambda sets it in a container-image function): reads the settings once (a bad one is reported to the
 * Runtime API's init/error, so every invocation fails with `Runtime.ConfigError` naming it), then
 * serves invocations with the task handler until Lambda stops the sandbox.
 */
import { createContext } from "../execute";
import { loadSettings, SettingsError } from "../settings";
import { createLambdaHandler, type LambdaSettings, loadLambdaSettings } from "./handler";
import { FunctionError, runRuntimeLoop, type RuntimeHandler } from "./runtime-api";

export async function serveLambda(log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let handler: RuntimeHandler | undefined;
  return runRuntimeLoop((event, invocation) => handler!(event, invocation), {
    api: env.AWS_LAMBDA_RUNTIME_API,
    log,
    init: () => {
      let lambda: LambdaSettings;
      let settings;
      try {
        settings = loadSettings(env);
        lambda = loadLambdaSettings(env);
      } catch (e) {
        if (e instanceof SettingsError) throw new FunctionError("Runtime.ConfigError", e.message);
        throw e;
      }
      log(
        `lambda runtime: storage ${settings.storage}${settings.bucket ? ` s3://${settings.bucket}/${settings.s3Path ?? "<prefix from job>"}` : ""}, scratch ${settings.scratchDir}, deadline margin ${lambda.deadlineMarginMs / 1000} s`,
      );
      handler = createLambdaHandler(createContext(settings, log), lambda);
    },
  });
}
