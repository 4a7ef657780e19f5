import type { LoadedConfig } from "../../config/load";
import type { GlobalOptions, Io } from "../context";

/** Load and validate the configuration for a command, printing its warnings. Throws ConfigError. */
export async function loadForCommand(globals: GlobalOptions, io: Io): Promise<LoadedConfig> {
  const { loadConfig } = await import("../../config/load"); // zod: only for commands that read the config
  const loaded = loadConfig({ configPath: globals.config, region: globals.region });
  for (const w of loaded.warnings) io.err(`warning: ${w}`);
  return loaded;
}
