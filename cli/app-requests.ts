/**
 * The requests of `hflow-infra app run` (cli/commands/app.ts): the AWS Batch SubmitJob of one run of a
 * container app, or the Lambda Invoke of its function. Resources are named as the batch stack names them
 * (constructs/batch/names.ts); the command loads this module in its action, so the CLI's start loads no
 * construct module.
 */
import { UsageError } from "../common/errors";
import type { HyperflowConfig } from "../config/schema";
import { appFunctionName, jobDefinitionName, queueKindOf, queueName } from "../constructs/batch/names";

/** The parts of SubmitJob `app run` sends (AWS Batch API, REST-JSON). */
export interface SubmitJobRequest {
  readonly jobName: string;
  readonly jobQueue: string;
  readonly jobDefinition: string;
  readonly parameters: Record<string, string>;
}

const KEY_SEGMENT = /^[A-Za-z0-9!_.*'()-]+$/;

/**
 * The app `name` and the object key of one run's input (`-`: none). `input` is an object key below the
 * app's input prefix, or a name below it (the prefix is added). Bad input throws UsageError naming the value.
 */
export function appInput(config: HyperflowConfig, name: string, input: string | undefined): { app: HyperflowConfig["batch"]["apps"][string]; key: string } {
  const apps = config.batch.apps;
  const app = Object.prototype.hasOwnProperty.call(apps, name) ? apps[name] : undefined;
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
  return { app, key };
}

/**
 * The SubmitJob request for one run of app `name`. `input` is an object key below the app's input
 * prefix, or a name below it (the prefix is added). Bad input throws UsageError naming the value.
 */
export function submitJobRequest(config: HyperflowConfig, name: string, input: string | undefined, now = new Date()): SubmitJobRequest {
  const { app, key } = appInput(config, name, input);
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  return {
    jobName: `${config.batch.name}-${name}-${stamp}`.slice(0, 128),
    jobQueue: queueName(config.batch.name, queueKindOf({ nodes: app.nodes, fargate: app.fargate ?? false })),
    jobDefinition: jobDefinitionName(config.batch.name, name),
    parameters: { input: key },
  };
}

/** The Invoke request for one run of app `name` on Lambda; an app without `lambda: true` is a UsageError. */
export interface InvokeRequest {
  readonly functionName: string;
  /** The event the function receives: the entrypoint's direct form. */
  readonly payload: { readonly input: string };
}

export function invokeRequest(config: HyperflowConfig, name: string, input: string | undefined): InvokeRequest {
  const { app, key } = appInput(config, name, input);
  if (!app.lambda)
    throw new UsageError(`--on lambda: app ${JSON.stringify(name)} has no Lambda function (batch.apps.${name}.lambda is not true); allowed: --on batch`);
  return { functionName: appFunctionName(config.batch.name, name), payload: { input: key } };
}
