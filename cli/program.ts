/**
 * The `hflow-infra` command line: commander program, one function per command, exit codes
 * 0 ok · 1 a tool or deployment failed · 2 bad input (config, arguments) · 3 a required tool is missing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command, CommanderError, Option } from "commander";
import { ExitCode, exitCodeFor, UsageError } from "../common/errors";
import { describeError } from "../runner/errors";
import type { UploadOptions } from "./commands/job";
import type { EngineDeps } from "./commands/run";

// Commands are loaded when they run: `upload` should not pay for loading cdktf and the providers,
// nor `synth` for the AWS SDK.
const commands = {
  config: () => import("./commands/config"),
  doctor: () => import("./commands/doctor"),
  grafana: () => import("./commands/grafana"),
  job: () => import("./commands/job"),
  run: () => import("./commands/run"),
  stacks: () => import("./commands/stacks"),
  synth: () => import("./commands/synth"),
};

/** Version from package.json, found from both the source tree and dist/. */
function packageVersion(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    const file = path.join(__dirname, rel);
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
  }
  return "unknown";
}

export { UsageError };

export interface GlobalOptions {
  readonly config?: string;
  readonly region?: string;
  readonly out: string;
}

/** Output sinks, so tests can run commands in-process. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
};

/** Our own errors print their message; SDK errors their code and status; anything else its stack. */
function errorText(e: unknown): string {
  if (e && typeof e === "object" && "$metadata" in e) return `error: ${describeError(e)}`;
  if (e instanceof Error && e.constructor !== Error) return e.message;
  return `error: ${(e as Error)?.stack ?? String(e)}`;
}

export function buildProgram(io: Io = processIo, setExitCode: (code: number) => void = (c) => (process.exitCode = c), deps?: EngineDeps): Command {
  const program = new Command("hflow-infra");
  const run =
    <A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) =>
    async (...args: A) => {
      try {
        const code = await fn(...args);
        setExitCode(typeof code === "number" ? code : 0);
      } catch (e) {
        io.err(errorText(e));
        setExitCode(exitCodeFor(e));
      }
    };
  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;

  program
    .description("Deploy the HyperFlow workflow engine to AWS with typed CDKTF stacks.")
    .version(packageVersion())
    .option("-c, --config <file>", "config file (env HFLOW_CONFIG; default ./hyperflow.config.json if present)")
    .option("-r, --region <region>", "AWS region (env HFLOW_REGION; overrides the config file)")
    .option("-o, --out <dir>", "synth output directory", "cdktf.out")
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .addHelpText(
      "after",
      `
Examples:
  $ hflow-infra synth                      synthesize every stack with the defaults
  $ hflow-infra -c prod.json synth         use another config file
  $ hflow-infra deploy all                 terraform init + apply of every stack, in order
  $ hflow-infra run --job-dir ./0.25       upload a job and run it on the cluster
  $ hflow-infra grafana                    where Grafana is and how to log in
  $ TERRAFORM_BINARY_NAME=tofu hflow-infra deploy ecs
  $ hflow-infra config init                write a commented starter hyperflow.config.json
  $ hflow-infra doctor                     check binaries, credentials, region, node

Exit codes: 0 ok, 1 failed, 2 bad input, 3 missing tool.`,
    );

  program
    .command("synth")
    .description("synthesize all stacks in-process into the output directory and print a summary")
    .option("--json", "print the summary as JSON")
    .addHelpText("after", "\nExample:\n  $ hflow-infra synth --json")
    .action(run(async (opts: { json?: boolean }, cmd: Command) => (await commands.synth()).synthCommand(globals(cmd), opts, io)));

  for (const [name, description, example] of [
    ["deploy", "synthesize, then terraform init + apply the stacks in dependency order", "hflow-infra deploy ecs --auto-approve"],
    ["diff", "synthesize, then terraform init + plan the stacks", "hflow-infra diff ecs"],
    ["destroy", "synthesize, then terraform destroy the stacks in reverse dependency order", "hflow-infra destroy ecs"],
  ] as const) {
    const cmd = program
      .command(`${name} <stacks...>`)
      .description(`${description} ("all" for every stack)`)
      .addHelpText("after", `\nUses $TERRAFORM_BINARY_NAME (default terraform; tofu for OpenTofu).\n\nExample:\n  $ ${example}`);
    if (name !== "diff") cmd.option("--auto-approve", "do not ask for confirmation");
    cmd.action(run(async (stacks: string[], opts: { autoApprove?: boolean }, c: Command) => (await commands.stacks()).runStacks(name, stacks, globals(c), opts, io)));
  }

  program
    .command("validate")
    .description("check a job directory: workdir/ with dag.json or workflow.json, input/ with every input the workflow needs")
    .requiredOption("-j, --job-dir <dir>", "job directory (env HFLOW_JOB_DIR)", process.env.HFLOW_JOB_DIR)
    .option("--json", "print the summary as JSON")
    .addHelpText("after", "\nExample:\n  $ hflow-infra validate --job-dir ./montage-0.25")
    .action(run(async (opts: { jobDir: string; json?: boolean }) => (await commands.job()).validateCommand(opts, io)));

  program
    .command("upload")
    .description("validate a job directory and upload workdir/ and input/ to S3, skipping what is already there")
    .requiredOption("-j, --job-dir <dir>", "job directory (env HFLOW_JOB_DIR)", process.env.HFLOW_JOB_DIR)
    .requiredOption("-b, --bucket <name>", "target bucket (env HFLOW_BUCKET)", process.env.HFLOW_BUCKET)
    .option("-p, --prefix <prefix>", "key prefix (default: bucket root)")
    .option("--endpoint <url>", "S3-compatible endpoint, e.g. http://127.0.0.1:7480 (implies --path-style)")
    .option("--path-style", "path-style addressing")
    .option("--delete", "delete remote objects under the prefix that have no local file")
    .option("--dry-run", "show what would be uploaded or deleted; change nothing")
    .option("--concurrency <n>", "files in flight", "16")
    .option("--no-cache", "hash every file again instead of trusting fingerprints of unchanged files (same inode, size, mtime and ctime)")
    .option("--json", "print the result as JSON (no progress output)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ hflow-infra upload -j ./montage-0.25 -b my-bucket\n  $ hflow-infra upload -j ./job -b test --endpoint http://127.0.0.1:7480 --dry-run",
    )
    .action(run(async (opts: UploadOptions, cmd: Command) => (await commands.job()).uploadCommand(globals(cmd), opts, io)));

  program
    .command("run")
    .description("validate the job, deploy what is missing, upload with progress, start the engine and follow it to the end")
    .requiredOption("-j, --job-dir <dir>", "job directory (env HFLOW_JOB_DIR)", process.env.HFLOW_JOB_DIR)
    .option("-y, --yes", "deploy missing stacks without asking")
    .option("--no-follow", "start the engine and return")
    .addHelpText("after", "\nExit code: the workflow's (0 finished, 1 failed), 2 bad input.\n\nExample:\n  $ hflow-infra run --job-dir ./montage-0.25 --yes")
    .action(run(async (opts: { jobDir: string; yes?: boolean; follow?: boolean }, cmd: Command) => (await commands.run()).runCommand(globals(cmd), opts, io, deps)));

  program
    .command("status")
    .description("engine runs in progress in the cluster")
    .addHelpText("after", "\nExample:\n  $ hflow-infra status")
    .action(run(async (_opts: unknown, cmd: Command) => (await commands.run()).statusCommand(globals(cmd), io, deps)));

  program
    .command("grafana")
    .description("print the Grafana URL, how to read the admin password, and the InfluxDB URL")
    .addHelpText("after", "\nExample:\n  $ hflow-infra grafana")
    .action(run(async (_opts: unknown, cmd: Command) => (await commands.grafana()).grafanaCommand(globals(cmd), io)));

  program
    .command("doctor")
    .description("check node, terraform/tofu, AWS credentials, region and the configuration")
    .addHelpText("after", "\nExample:\n  $ hflow-infra doctor")
    .action(run(async (_opts: unknown, cmd: Command) => (await commands.doctor()).doctor(globals(cmd), io)));

  const config = program.command("config").description("show, create or describe the configuration");
  config
    .command("show")
    .description("print the resolved configuration (file + environment + flags + defaults)")
    .addHelpText("after", "\nExample:\n  $ hflow-infra --region eu-west-1 config show")
    .action(run(async (_opts: unknown, cmd: Command) => (await commands.config()).configShow(globals(cmd), io)));
  config
    .command("init [file]")
    .description("write a commented starter config file (default hyperflow.config.json)")
    .addOption(new Option("--force", "overwrite an existing file"))
    .addHelpText("after", "\nExample:\n  $ hflow-infra config init my.config.json")
    .action(run(async (file: string | undefined, opts: { force?: boolean }) => (await commands.config()).configInit(file, opts, io)));
  config
    .command("schema")
    .description("print the JSON Schema of the config file")
    .addHelpText("after", "\nExample:\n  $ hflow-infra config schema > hyperflow.config.schema.json")
    .action(run(async () => (await commands.config()).configSchema(io)));

  config
    .command("docs")
    .description("print the Markdown reference of every config key (docs/config.md)")
    .action(run(async () => (await commands.config()).configDocs(io)));

  return program;
}

/** Parse argv and run; resolves with the exit code. */
export async function main(argv: readonly string[], io: Io = processIo, deps?: EngineDeps): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c), deps);
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      return ExitCode.badInput;
    }
    throw e;
  }
  return code;
}
