/** deploy / diff / destroy: synth, then drive terraform or OpenTofu per stack folder. */
import { STACK_NAMES, type StackName, stackNames } from "../../stacks/app";
import { type GlobalOptions, type Io, UsageError } from "../program";
import { stackDirectory, synthesize } from "../synth";
import { requireTerraform, runTerraform } from "../terraform";
import { loadForCommand } from "./shared";

export type StackAction = "deploy" | "diff" | "destroy";

/** Validates stack names against the stacks the config has, in dependency order (reverse for destroy). */
export function resolveStacks(requested: readonly string[], action: StackAction, available: readonly StackName[] = STACK_NAMES): StackName[] {
  const unknown = requested.filter((s) => s !== "all" && !(STACK_NAMES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new UsageError(`unknown stack ${unknown.map((s) => `"${s}"`).join(", ")}; allowed: ${[...available, "all"].join(", ")}`);
  }
  const disabled = requested.filter((s) => s !== "all" && !(available as readonly string[]).includes(s));
  if (disabled.length > 0) {
    throw new UsageError(`stack ${disabled.map((s) => `"${s}"`).join(", ")} is not part of this configuration (grafana needs "monitoring": { "enabled": true }); available: ${available.join(", ")}`);
  }
  const wanted = requested.includes("all") ? [...available] : available.filter((s) => requested.includes(s));
  return action === "destroy" ? wanted.reverse() : wanted;
}

export async function runStacks(action: StackAction, requested: string[], globals: GlobalOptions, opts: { autoApprove?: boolean }, io: Io): Promise<number> {
  const { config } = loadForCommand(globals, io); // bad config: exit 2 before anything runs
  const stacks = resolveStacks(requested, action, stackNames(config));
  const binary = requireTerraform();
  synthesize(config, globals.out);
  for (const stack of stacks) {
    const cwd = stackDirectory(globals.out, stack);
    io.err(`==> ${stack}: ${binary} init (${cwd})`);
    let code = await runTerraform(binary, ["init", "-input=false"], cwd);
    if (code !== 0) return failed(io, stack, "init", code);
    const approve = opts.autoApprove ? ["-auto-approve"] : [];
    const args = action === "deploy" ? ["apply", "-input=false", ...approve] : action === "destroy" ? ["destroy", "-input=false", ...approve] : ["plan", "-input=false"];
    io.err(`==> ${stack}: ${binary} ${args.join(" ")}`);
    code = await runTerraform(binary, args, cwd);
    if (code !== 0) return failed(io, stack, args[0], code);
  }
  return 0;
}

function failed(io: Io, stack: string, step: string, code: number): number {
  io.err(`${stack}: terraform ${step} failed with exit code ${code}`);
  return 1;
}
