/**
 * The cdktf app (`cdktf synth`, `cdktf deploy runner -- --jobDir DIR`): read the arguments after `--`
 * from the cdktf process that started it (config/cdktf-args.ts), load the configuration, build the
 * stacks, synth. Bad configuration or arguments print every problem and exit with code 2 before
 * anything is written.
 */
import { describeFsError, ExitCode, HflowError, isUserFsError } from "./common/errors";
import { readCdktfCommandLine } from "./config/cdktf-args";
import { loadConfig } from "./config/load";
import { buildApp } from "./stacks/app";

function run(): void {
  try {
    const cmd = readCdktfCommandLine();
    // `-- --jobDir` wins over HFLOW_JOB_DIR, which wins over runner.jobDir (as `--job-dir` in the CLI).
    const loaded = loadConfig(cmd.jobDir === undefined ? {} : { jobDir: cmd.jobDir });
    // cdktf shows everything the app writes to stderr as a red `[ERROR]` line, and stdout as it is:
    // under cdktf, warnings go to stdout so they read as warnings; errors stay on stderr.
    const warn = (line: string) => (cmd.underCdktf ? process.stdout : process.stderr).write(line);
    for (const w of [...cmd.warnings, ...loaded.warnings]) warn(`warning: ${w}\n`);
    // Build every stack first: a bad job directory fails here, before anything is written.
    const { app } = buildApp(loaded.config, process.env.CDKTF_OUTDIR ?? "cdktf.out");
    app.synth();
  } catch (e) {
    // Ours (bad config, bad arguments, bad job directory, …) print their message and exit with their code, as in the CLI.
    if (e instanceof HflowError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(e.exitCode);
    }
    // A path that cannot be used (an output directory that is a file, …): one line, bad input.
    if (isUserFsError(e)) {
      process.stderr.write(`error: ${describeFsError(e)}\n`);
      process.exit(ExitCode.badInput);
    }
    throw e;
  }
}

run();
