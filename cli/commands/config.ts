/** `config show | init | schema | docs`: the resolved configuration, a starter file, its schema and reference. */
import * as fs from "node:fs";
import * as path from "node:path";
import { type Command, Option } from "commander";
import { UsageError } from "../../common/errors";
import { type CommandContext, type GlobalOptions, globalsOf, type Io } from "../context";
import { loadForCommand } from "./shared";

export function register(program: Command, ctx: CommandContext): void {
  const config = program.command("config").description("show, create or describe the configuration");
  config
    .command("show")
    .description("print the resolved configuration (file + environment + flags + defaults)")
    .addHelpText("after", "\nExample:\n  $ hflow-infra --region eu-west-1 config show")
    .action(ctx.action((_opts: unknown, cmd: Command) => configShow(globalsOf(cmd), ctx.io)));
  config
    .command("init [file]")
    .description("write a commented starter config file (default hyperflow.config.json)")
    .addOption(new Option("--force", "overwrite an existing file"))
    .addHelpText("after", "\nExample:\n  $ hflow-infra config init my.config.json")
    .action(ctx.action((file: string | undefined, opts: { force?: boolean }) => configInit(file, opts, ctx.io)));
  config
    .command("schema")
    .description("print the JSON Schema of the config file")
    .addHelpText("after", "\nExample:\n  $ hflow-infra config schema > hyperflow.config.schema.json")
    .action(ctx.action(() => configSchema(ctx.io)));
  config
    .command("docs")
    .description("print the Markdown reference of every config key (docs/config.md)")
    .action(ctx.action(() => configDocs(ctx.io)));
}

// The config modules load zod: imported when a subcommand runs.

export async function configShow(globals: GlobalOptions, io: Io): Promise<number> {
  const { config, file } = await loadForCommand(globals, io);
  io.err(`# resolved from ${file ?? "defaults"}`);
  io.out(JSON.stringify(config, null, 2));
  return 0;
}

export async function configInit(file: string | undefined, opts: { force?: boolean }, io: Io): Promise<number> {
  const [{ DEFAULT_CONFIG_FILE }, { starterConfig }] = await Promise.all([import("../../config/load"), import("../../config/starter")]);
  const target = path.resolve(file ?? DEFAULT_CONFIG_FILE);
  if (fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${target} is a directory; give the name of a file to write`);
  const parent = fs.statSync(path.dirname(target), { throwIfNoEntry: false });
  if (!parent?.isDirectory())
    throw new UsageError(
      `cannot write ${target}: ${path.dirname(target)} ${parent ? "is a file, not a directory" : "does not exist"}; create the directory first`,
    );
  if (fs.existsSync(target) && !opts.force) throw new UsageError(`${target} exists; use --force to overwrite it`);
  fs.writeFileSync(target, starterConfig());
  io.out(`wrote ${target}`);
  return 0;
}

export async function configSchema(io: Io): Promise<number> {
  const { configJsonSchema } = await import("../../config/schema");
  io.out(JSON.stringify(configJsonSchema(), null, 2));
  return 0;
}

export async function configDocs(io: Io): Promise<number> {
  const { configReference } = await import("../../config/reference");
  io.out(configReference());
  return 0;
}
