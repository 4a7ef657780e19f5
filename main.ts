/**
 * The cdktf app (`cdktf synth`, `cdktf deploy ecs`): load the configuration, build the stacks, synth.
 * Bad configuration prints every problem and exits with code 2 before anything is written.
 */
import { HflowError } from "./common/errors";
import { loadConfig } from "./config/load";
import { buildApp } from "./stacks/app";

function run(): void {
  try {
    const loaded = loadConfig();
    for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
    // Build every stack first: a bad job directory fails here, before anything is written.
    const { app } = buildApp(loaded.config, process.env.CDKTF_OUTDIR ?? "cdktf.out");
    app.synth();
  } catch (e) {
    // Ours (bad config, bad job directory, …) print their message and exit with their code, as in the CLI.
    if (e instanceof HflowError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(e.exitCode);
    }
    throw e;
  }
}

run();
