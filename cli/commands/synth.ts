import type { GlobalOptions, Io } from "../program";
import { formatTable, synthesize } from "../synth";
import { loadForCommand } from "./shared";

export function synthCommand(globals: GlobalOptions, opts: { json?: boolean }, io: Io): number {
  const { config, file } = loadForCommand(globals, io);
  const started = process.hrtime.bigint();
  const rows = synthesize(config, globals.out);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (opts.json) {
    io.out(JSON.stringify({ config: file ?? null, region: config.region, outdir: globals.out, stacks: rows }, null, 2));
  } else {
    io.out(formatTable(rows));
    io.out(`\nsynthesized ${rows.length} stack(s) into ${globals.out} in ${ms.toFixed(0)} ms (config: ${file ?? "defaults"}, region ${config.region})`);
  }
  return 0;
}
