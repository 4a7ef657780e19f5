/**
 * `cost [stacks...]`: what the synthesized stacks will run, per hour and per month (730 h) at min /
 * desired / max scale, from the AWS Price List API, its cache or the embedded table (cost/). `deploy`
 * and `run` show the same table before they apply.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Command } from "commander";
import { UsageError } from "../../common/errors";
import type { CostReport } from "../../cost/model";
import type { PriceMode } from "../../cost/pricing-client";
import { type CommandContext, type GlobalOptions, globalsOf, type Io } from "../context";
import { credentialsCheck } from "./doctor";
import { loadForCommand } from "./shared";

const MODES: readonly PriceMode[] = ["auto", "api", "embedded"];

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("cost [stacks...]")
    .description("estimate what the stacks will run: per hour and per month (730 h) at min / desired / max scale")
    .option("--json", "print the estimate as JSON")
    .option(
      "--prices <source>",
      `auto (the AWS Price List API with credentials, else the cache and the embedded table), api (ask the API, refresh the cache) or embedded (env HFLOW_PRICES)`,
    )
    .addHelpText(
      "after",
      `
Synthesizes, then prices every resource of the stacks ("all" when none are named). Usage-based items
(data, requests, logs) and items without a price are listed, never counted as zero. Prices are cached
in $XDG_CACHE_HOME (or ~/.cache)/hyperflow-infra/prices.json with the day they were retrieved.

Examples:
  $ hflow-infra cost
  $ hflow-infra cost ecs runner --json
  $ hflow-infra cost --prices embedded`,
    )
    .action(ctx.action((stacks: string[], opts: CostOptions, cmd: Command) => costCommand(stacks, globalsOf(cmd), opts, ctx.io)));
}

export interface CostOptions {
  readonly json?: boolean;
  readonly prices?: string;
}

function priceMode(value: string | undefined, from: string): PriceMode {
  const v = value === undefined || value === "" ? "auto" : value;
  if (!(MODES as readonly string[]).includes(v)) throw new UsageError(`${from} ${JSON.stringify(v)} is not allowed; allowed: ${MODES.join(", ")}`);
  return v as PriceMode;
}

export async function costCommand(requested: string[], globals: GlobalOptions, o: CostOptions, io: Io): Promise<number> {
  const mode = o.prices !== undefined ? priceMode(o.prices, "--prices") : priceMode(process.env.HFLOW_PRICES, "HFLOW_PRICES");
  const { config } = await loadForCommand(globals, io);
  const { resolveStacks, Workspace } = await import("../workspace"); // cdktf and the providers
  const stacks = resolveStacks(requested.length > 0 ? requested : ["all"], "deploy", Workspace.stacksOf(config));
  const ws = new Workspace(config, globals.out);
  ws.synth();
  const report = await estimateStacks(ws, stacks, config.region, mode);
  const { formatCostJson, formatCostTable } = await import("../../cost/format");
  io.out(o.json ? formatCostJson(report) : formatCostTable(report));
  return 0;
}

/** The estimate of synthesized stacks (their cdk.tf.json in the workspace's folders). */
async function estimateStacks(ws: { dir(stack: string): string }, stacks: readonly string[], region: string, mode: PriceMode): Promise<CostReport> {
  const [{ estimateCost }, { defaultPriceCacheFile }] = await Promise.all([import("../../cost/report"), import("../../cost/pricing-client")]);
  const jsons = stacks.map((stack) => ({ stack, json: JSON.parse(fs.readFileSync(path.join(ws.dir(stack), "cdk.tf.json"), "utf8")) }));
  return estimateCost(jsons, region, { mode, hasCredentials: credentialsCheck().ok, cacheFile: defaultPriceCacheFile() });
}

/**
 * Before `deploy` and `run` apply: the estimate of the stacks they are about to apply, on stderr
 * (terraform asks to go ahead next, unless --auto-approve / --yes). It never stops the deploy.
 */
export async function showCost(ws: { dir(stack: string): string }, stacks: readonly string[], region: string, io: Io): Promise<void> {
  if (stacks.length === 0) return;
  try {
    const report = await estimateStacks(ws, stacks, region, priceMode(process.env.HFLOW_PRICES, "HFLOW_PRICES"));
    const { formatCostTable } = await import("../../cost/format");
    io.err(formatCostTable(report));
  } catch (e) {
    io.err(`warning: no cost estimate: ${(e as Error).message}`);
  }
}
