/**
 * The `hflow-infra` command line: the commander program with its global options, and the command
 * modules of cli/commands/, each of which registers its own commands. Exit codes (common/errors.ts):
 * 0 ok · 1 a tool or deployment failed · 2 bad input (config, arguments) · 3 a required tool is missing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command, CommanderError } from "commander";
import { describeFsError, ExitCode, exitCodeFor, isUserFsError, UsageError } from "../common/errors";
import { describeError } from "../runner/errors";
import * as app from "./commands/app";
import * as config from "./commands/config";
import * as cost from "./commands/cost";
import * as doctor from "./commands/doctor";
import * as grafana from "./commands/grafana";
import * as images from "./commands/images";
import * as job from "./commands/job";
import * as run from "./commands/run";
import * as stacks from "./commands/stacks";
import * as synth from "./commands/synth-command";
import type { ActionBody, CommandContext, CommandModule, EngineDeps, Io } from "./context";
import { processIo } from "./context";

/** Every command module, in the order of `--help`. */
export const COMMAND_MODULES: readonly CommandModule[] = [synth, stacks, cost, job, run, app, images, grafana, doctor, config];

/** Version from package.json, found from both the source tree and dist/. */
function packageVersion(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    const file = path.join(__dirname, rel);
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
  }
  return "unknown";
}

/**
 * Our own errors print their message; SDK errors their code and status; a filesystem error on a path
 * (ENOENT, ENOTDIR, EACCES, …: the user gave a path that cannot be used) one line naming the path and
 * what is wrong; anything else its stack.
 */
export function errorText(e: unknown): string {
  if (e && typeof e === "object" && "$metadata" in e) return `error: ${describeError(e)}`;
  if (isUserFsError(e)) return `error: ${describeFsError(e)}`;
  if (e instanceof Error && e.constructor !== Error) return e.message;
  return `error: ${(e as Error)?.stack ?? String(e)}`;
}

/**
 * An error as JSON, for commands run with `--json`: `{ ok: false, exitCode, errors: [...] }` on stdout,
 * so a script reading stdout gets JSON on every path. Errors with a list of problems (ConfigError: path,
 * message, value, origin; JobDirError: file, problem) give one entry each, others one `{ message }`.
 */
export function errorJson(e: unknown, exitCode: number): string {
  const problems = (e as { problems?: unknown })?.problems;
  const text = errorText(e).replace(/^error: /, "");
  const errors = Array.isArray(problems) && problems.length > 0 ? problems.map((p: object) => ({ ...p })) : [{ message: text }];
  return JSON.stringify({ ok: false, exitCode, message: text.split("\n")[0], errors }, null, 2);
}

/** Whether a command's action was called with `--json` (its Command is the action's last argument). */
function wantsJson(args: readonly unknown[]): boolean {
  const cmd = args[args.length - 1];
  return cmd instanceof Command && (cmd.opts() as { json?: boolean }).json === true;
}

function buildProgram(io: Io = processIo, setExitCode: (code: number) => void = (c) => (process.exitCode = c), deps?: Partial<EngineDeps>): Command {
  const ctx: CommandContext = {
    io,
    deps,
    action:
      <A extends unknown[]>(body: ActionBody<A>) =>
      async (...args: A) => {
        try {
          const code = await body(...args);
          setExitCode(typeof code === "number" ? code : ExitCode.ok);
        } catch (e) {
          io.err(errorText(e));
          setExitCode(exitCodeFor(e));
          if (wantsJson(args)) io.out(errorJson(e, exitCodeFor(e)));
        }
      },
  };

  const program = new Command("hflow-infra");
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
  $ hflow-infra synth                      synthesize the stacks the config enables
  $ hflow-infra -c prod.json synth         use another config file
  $ hflow-infra deploy all                 terraform init + apply of every stack, in order
  $ hflow-infra cost                       what the stacks will cost per hour and per month (estimate)
  $ hflow-infra run --job-dir ./0.25       upload a job and run it on the cluster
  $ hflow-infra images push all            build and push the engine and worker images to ECR
  $ hflow-infra grafana                    where Grafana is and how to log in
  $ TERRAFORM_BINARY_NAME=tofu hflow-infra deploy ecs
  $ hflow-infra config init                write a commented starter hyperflow.config.json
  $ hflow-infra doctor                     check binaries, credentials, region, node

Exit codes: 0 ok, 1 failed, 2 bad input, 3 missing tool, 75 the S3 endpoint stopped answering (run again), 124 run gave up following.`,
    );
  for (const m of COMMAND_MODULES) m.register(program, ctx);
  return program;
}

/** Parse argv and run; resolves with the exit code. */
export async function main(argv: readonly string[], io: Io = processIo, deps?: Partial<EngineDeps>): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c), deps);
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return ExitCode.ok;
      // A usage error (a missing required option, an unknown one) of a command run with --json: JSON too.
      if (argv.includes("--json")) io.out(errorJson(new UsageError(e.message.replace(/^error: /, "")), ExitCode.badInput));
      return ExitCode.badInput;
    }
    throw e;
  }
  return code;
}
