/** deploy / diff / destroy: synth, then drive terraform or OpenTofu per stack folder. */
import { STACK_NAMES, type StackName } from "../../stacks/app";
import { type GlobalOptions, type Io, UsageError } from "../program";
import { stackDirectory, synthesize } from "../synth";
import { requireTerraform, runTerraform } from "../terraform";
import { loadForCommand } from "./shared";

export type StackAction = "deploy" | "diff" | "destroy";

/** Validates stack names and puts them in dependency order (reverse for destroy). */
export function resolveStacks(requested: readonly string[], action: StackAction): StackName[] {
  const unknown = requested.filter((s) => s !== "all" && !(STACK_NAMES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new UsageError(`unknown stack ${unknown.map((s) => `"${s}"`).join(", ")}; allowed: ${[...STACK_NAMES, "all"].join(", ")}`);
  }
  const wanted = requested.includes("all") ? [...STACK_NAMES] : STACK_NAMES.filter((s) => requested.includes(s));
  return action === "destroy" ? wanted.reverse() : wanted;
}

export async function runStacks(action: StackAction, requested: string[], globals: GlobalOptions, opts: { autoApprove?: boolean }, io: Io): Promise<number> {
  const stacks = resolveStacks(requested, action);
  const { config } = loadForCommand(globals, io); // bad config: exit 2 before anything runs
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
