import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_CONFIG_FILE } from "../../config/load";
import { configReference } from "../../config/reference";
import { configJsonSchema } from "../../config/schema";
import { starterConfig } from "../../config/starter";
import { type GlobalOptions, type Io, UsageError } from "../program";
import { loadForCommand } from "./shared";

export function configShow(globals: GlobalOptions, io: Io): number {
  const { config, file } = loadForCommand(globals, io);
  io.err(`# resolved from ${file ?? "defaults"}`);
  io.out(JSON.stringify(config, null, 2));
  return 0;
}

export function configInit(file: string | undefined, opts: { force?: boolean }, io: Io): number {
  const target = path.resolve(file ?? DEFAULT_CONFIG_FILE);
  if (fs.existsSync(target) && !opts.force) throw new UsageError(`${target} exists; use --force to overwrite it`);
  fs.writeFileSync(target, starterConfig());
  io.out(`wrote ${target}`);
  return 0;
}

export function configSchema(io: Io): number {
  io.out(JSON.stringify(configJsonSchema(), null, 2));
  return 0;
}

export function configDocs(io: Io): number {
  io.out(configReference());
  return 0;
}
