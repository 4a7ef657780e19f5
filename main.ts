/**
 * The cdktf app (`cdktf synth`, `cdktf deploy ecs`): load the configuration, build the stacks, synth.
 * Bad configuration prints every problem and exits with code 2 before anything is written.
 */
import { ConfigError, loadConfig } from "./config/load";
import { JobDirError } from "./runner/job-dir";
import { buildApp } from "./stacks/app";

function run(): void {
  try {
    const loaded = loadConfig();
    for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
    // Build every stack first: a bad job directory fails here, before anything is written.
    const { app } = buildApp(loaded.config, process.env.CDKTF_OUTDIR ?? "cdktf.out");
    app.synth();
  } catch (e) {
    if (e instanceof ConfigError || e instanceof JobDirError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

run();
