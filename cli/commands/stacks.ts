/** deploy / diff / destroy: synth, then drive terraform or OpenTofu per stack folder. */
import type { Command } from "commander";
import { type CommandContext, type GlobalOptions, globalsOf, type Io } from "../context";
import type { StackAction, TerraformStep } from "../workspace";
import { showCost } from "./cost";
import { requireAwsCredentials, stacksNeedAws } from "../credentials";
import { loadForCommand } from "./shared";

const ACTIONS: readonly { name: StackAction; description: string; example: string }[] = [
  { name: "deploy", description: "synthesize, then terraform init + apply the stacks in dependency order", example: "hflow-infra deploy ecs --auto-approve" },
  { name: "diff", description: "synthesize, then terraform init + plan the stacks", example: "hflow-infra diff ecs" },
  { name: "destroy", description: "synthesize, then terraform destroy the stacks in reverse dependency order", example: "hflow-infra destroy ecs" },
];

/** The terraform step after init for each action. */
const STEP: Record<StackAction, TerraformStep> = { deploy: "apply", diff: "plan", destroy: "destroy" };

export function register(program: Command, ctx: CommandContext): void {
  for (const { name, description, example } of ACTIONS) {
    const cmd = program
      .command(`${name} <stacks...>`)
      .description(`${description} ("all" for every stack)`)
      .addHelpText("after", `\nUses $TERRAFORM_BINARY_NAME (default terraform; tofu for OpenTofu).\n\nExample:\n  $ ${example}`);
    if (name !== "diff") cmd.option("--auto-approve", "do not ask for confirmation");
    cmd.action(ctx.action((stacks: string[], opts: { autoApprove?: boolean }, c: Command) => runStacks(name, stacks, globalsOf(c), opts, ctx.io)));
  }
}

export async function runStacks(action: StackAction, requested: string[], globals: GlobalOptions, opts: { autoApprove?: boolean }, io: Io): Promise<number> {
  const { config } = await loadForCommand(globals, io); // bad config: exit 2 before anything runs
  const { resolveStacks, terraformArgs, Workspace } = await import("../workspace"); // cdktf and the providers
  const stacks = resolveStacks(requested, action, Workspace.stacksOf(config));
  // Before terraform: without credentials it would fail deep inside init or the provider.
  if (stacksNeedAws(stacks, config)) await requireAwsCredentials(`${action} ${stacks.join(" ")}`);
  const ws = Workspace.withTerraform(config, globals.out);
  ws.synth();
  if (action === "deploy") await showCost(ws, stacks, config.region, io); // before terraform asks to go ahead
  const step = STEP[action];
  let destroyed = 0;
  for (const stack of stacks) {
    io.err(`==> ${stack}: ${ws.binary} init (${ws.dir(stack)})`);
    let code = await ws.init(stack);
    if (code !== 0) return failed(io, stack, "init", code);
    // terraform destroy on an empty state asks for confirmation and then destroys nothing: skip it.
    if (action === "destroy" && (await ws.resources(stack)).length === 0) {
      io.err(`==> ${stack}: nothing deployed (no resources in its state), skipped`);
      continue;
    }
    destroyed++;
    io.err(`==> ${stack}: ${ws.binary} ${terraformArgs(step, opts).join(" ")}`);
    code = await ws.step(stack, step, opts);
    if (code !== 0) return failed(io, stack, step, code);
  }
  if (action === "destroy" && destroyed === 0) io.out(`Nothing to destroy: none of ${stacks.join(", ")} is deployed.`);
  return 0;
}

function failed(io: Io, stack: string, step: string, code: number): number {
  io.err(`${stack}: terraform ${step} failed with exit code ${code}`);
  return 1;
}
