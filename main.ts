/**
 * The cdktf app (`cdktf synth`, `cdktf deploy ecs`): load the configuration, build the stacks, synth.
 * Bad configuration prints every problem and exits with code 2 before anything is written.
 */
import { ConfigError, loadConfig } from "./config/load";
import { buildApp } from "./stacks/app";

function run(): void {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(ConfigError.EXIT_CODE);
    }
    throw e;
  }
  for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
  buildApp(loaded.config, process.env.CDKTF_OUTDIR ?? "cdktf.out").app.synth();
}

run();
