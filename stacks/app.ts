/**
 * Which stacks exist for a configuration and how their outputs feed each other. Both `main.ts`
 * (the cdktf app) and the CLI build the app here, so their cdktf.out is the same.
 */
import { App } from "cdktf";
import type { HyperflowConfig } from "../config/schema";
import { validateJobDir } from "../runner/job-dir";
import type { AwsStack } from "./base";
import { EcsStack } from "./ecs";
import { NetworkStack } from "./network";
import { RunnerStack } from "./runner";

/** Stack names in dependency order (a stack only depends on stacks before it). */
export const STACK_NAMES = ["network", "ecs", "runner"] as const;
export type StackName = (typeof STACK_NAMES)[number];

export interface BuiltApp {
  readonly app: App;
  readonly stacks: Readonly<{ network: NetworkStack; ecs: EcsStack; runner: RunnerStack } & Record<StackName, AwsStack>>;
}

export function buildApp(config: HyperflowConfig, outdir = "cdktf.out"): BuiltApp {
  // Validate the job directory before the App exists: the App creates its output folder, and bad
  // input must leave nothing behind.
  const job = config.runner.jobDir ? validateJobDir(config.runner.jobDir) : undefined;
  const app = new App({ outdir, skipValidation: false });
  const network = new NetworkStack(app, "network", config);
  const ecs = new EcsStack(app, "ecs", config, network.network);
  ecs.addDependency(network);
  const runner = new RunnerStack(app, "runner", config, ecs, job);
  runner.addDependency(ecs);
  return { app, stacks: { network, ecs, runner } };
}
