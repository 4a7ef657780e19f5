/**
 * Which stacks exist for a configuration and how their outputs feed each other. Both `main.ts`
 * (the cdktf app) and the CLI build the app here, so their cdktf.out is the same.
 */
import { App } from "cdktf";
import type { HyperflowConfig } from "../config/schema";
import type { AwsStack } from "./base";
import { EcsStack } from "./ecs";
import { RunnerStack } from "./runner";

/** Stack names in dependency order (a stack only depends on stacks before it). */
export const STACK_NAMES = ["ecs", "runner"] as const;
export type StackName = (typeof STACK_NAMES)[number];

export interface BuiltApp {
  readonly app: App;
  readonly stacks: Readonly<{ ecs: EcsStack; runner: RunnerStack } & Record<StackName, AwsStack>>;
}

export function buildApp(config: HyperflowConfig, outdir = "cdktf.out"): BuiltApp {
  const app = new App({ outdir, skipValidation: false });
  const ecs = new EcsStack(app, "ecs", config);
  const runner = new RunnerStack(app, "runner", config, ecs);
  runner.addDependency(ecs);
  return { app, stacks: { ecs, runner } };
}
