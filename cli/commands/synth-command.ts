/** `synth`: synthesize the stacks the config enables, in-process, and print a summary. */
import type { Command } from "commander";
import { type CommandContext, type GlobalOptions, globalsOf, type Io } from "../context";
import { loadForCommand } from "./shared";

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("synth")
    .description("synthesize the stacks the config enables (in-process) into the output directory and print a summary")
    .option("--json", "print the summary as JSON")
    .addHelpText("after", "\nExample:\n  $ hflow-infra synth --json")
    .action(ctx.action((opts: { json?: boolean }, cmd: Command) => synthCommand(globalsOf(cmd), opts, ctx.io)));
}

export async function synthCommand(globals: GlobalOptions, opts: { json?: boolean }, io: Io): Promise<number> {
  const { config, file } = await loadForCommand(globals, io);
  const { formatTable, Workspace } = await import("../workspace"); // cdktf and the providers
  const started = process.hrtime.bigint();
  const rows = new Workspace(config, globals.out).synth();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (opts.json) {
    io.out(JSON.stringify({ config: file ?? null, region: config.region, outdir: globals.out, stacks: rows }, null, 2));
  } else {
    io.out(formatTable(rows));
    io.out(`\nsynthesized ${rows.length} stack(s) into ${globals.out} in ${ms.toFixed(0)} ms (config: ${file ?? "defaults"}, region ${config.region})`);
  }
  return 0;
}
