/**
 * Which stacks exist for a configuration and how their outputs feed each other. Both `main.ts`
 * (the cdktf app) and the CLI build the app here, so their cdktf.out is the same.
 */
import { App } from "cdktf";
import type { HyperflowConfig } from "../config/schema";
import { validateJobDir } from "../runner/job-dir";
import type { TerraformStack } from "cdktf";
import { BatchStack } from "./batch";
import { EcsStack } from "./ecs";
import { EksStack } from "./eks";
import { GkeStack } from "./gke";
import { GrafanaStack } from "./grafana";
import { K8sStack } from "./k8s";
import { LambdaStack } from "./lambda";
import { NetworkStack } from "./network";
import { RunnerStack } from "./runner";

/** Stack names in dependency order (a stack only depends on stacks before it). */
export const STACK_NAMES = ["network", "grafana", "ecs", "runner", "lambda", "eks", "gke", "k8s", "batch"] as const;
export type StackName = (typeof STACK_NAMES)[number];

/** The stacks a configuration has, in dependency order (`grafana` only with monitoring.enabled). */
export function stackNames(config: HyperflowConfig): StackName[] {
  const cluster = config.kubernetes.cluster;
  return STACK_NAMES.filter((s) => {
    if (s === "grafana") return config.monitoring.enabled;
    if (s === "lambda") return config.lambda.enabled;
    if (s === "eks" || s === "gke") return cluster === s;
    if (s === "k8s") return cluster !== "none";
    if (s === "batch") return Object.keys(config.batch.apps).length > 0;
    return true;
  });
}

interface BuiltApp {
  readonly app: App;
  readonly stacks: Readonly<
    {
      network: NetworkStack;
      grafana?: GrafanaStack;
      ecs: EcsStack;
      runner: RunnerStack;
      lambda?: LambdaStack;
      eks?: EksStack;
      gke?: GkeStack;
      k8s?: K8sStack;
      batch?: BatchStack;
    } & Partial<Record<StackName, TerraformStack>>
  >;
}

export function buildApp(config: HyperflowConfig, outdir = "cdktf.out"): BuiltApp {
  // Validate the job directory before the App exists: the App creates its output folder, and bad
  // input must leave nothing behind.
  const job = config.runner.jobDir ? validateJobDir(config.runner.jobDir) : undefined;
  const app = new App({ outdir, skipValidation: false });
  const network = new NetworkStack(app, "network", config);
  const grafana = config.monitoring.enabled ? new GrafanaStack(app, "grafana", config, network.network) : undefined;
  grafana?.addDependency(network);
  // An InfluxDB named in config wins; otherwise the grafana stack's, when monitoring is on.
  const metricsUrl = config.ecs.metricsUrl || grafana?.monitoring.influxUrl || "";
  const ecs = new EcsStack(app, "ecs", config, network.network, metricsUrl);
  ecs.addDependency(network);
  if (grafana) ecs.addDependency(grafana);
  const runner = new RunnerStack(app, "runner", config, ecs, job);
  runner.addDependency(ecs);
  // Lambda: the task function and the engine on Fargate; needs only the network stack.
  const lambda = config.lambda.enabled ? new LambdaStack(app, "lambda", config, network.network) : undefined;
  lambda?.addDependency(network);

  // Kubernetes: the cluster stack first, then HyperFlow on it (separate stacks, so the providers of the
  // workload stack are configured from a cluster that already exists).
  const cluster = config.kubernetes.cluster;
  const eks = cluster === "eks" ? new EksStack(app, "eks", config) : undefined;
  const gke = cluster === "gke" ? new GkeStack(app, "gke", config) : undefined;
  const k8s = cluster !== "none" ? new K8sStack(app, "k8s", config, eks) : undefined;
  if (k8s && (eks ?? gke)) k8s.addDependency((eks ?? gke)!);
  // Container apps on Batch (and Lambda): only the network stack's VPC, no cluster.
  const batch = Object.keys(config.batch.apps).length > 0 ? new BatchStack(app, "batch", config, network.network) : undefined;
  batch?.addDependency(network);
  return { app, stacks: { network, grafana, ecs, runner, lambda, eks, gke, k8s, batch } };
}
