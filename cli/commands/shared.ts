import { type LoadedConfig, loadConfig } from "../../config/load";
import type { GlobalOptions, Io } from "../program";

/** Load and validate the configuration for a command, printing its warnings. Throws ConfigError. */
export function loadForCommand(globals: GlobalOptions, io: Io): LoadedConfig {
  const loaded = loadConfig({ configPath: globals.config, region: globals.region });
  for (const w of loaded.warnings) io.err(`warning: ${w}`);
  return loaded;
}
