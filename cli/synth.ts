/** In-process synth and a summary of what was synthesized. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { HyperflowConfig } from "../config/schema";
import { buildApp, type StackName, stackNames } from "../stacks/app";

export interface StackSummary {
  readonly stack: StackName;
  readonly resources: number;
  readonly dataSources: number;
  readonly outputs: readonly string[];
  readonly directory: string;
}

export function synthesize(config: HyperflowConfig, outdir: string): StackSummary[] {
  buildApp(config, outdir).app.synth();
  return stackNames(config).map((stack) => summarize(outdir, stack));
}

export function stackDirectory(outdir: string, stack: string): string {
  return path.join(outdir, "stacks", stack);
}

function summarize(outdir: string, stack: StackName): StackSummary {
  const directory = stackDirectory(outdir, stack);
  const json = JSON.parse(fs.readFileSync(path.join(directory, "cdk.tf.json"), "utf8"));
  const count = (block: Record<string, Record<string, unknown>> | undefined) =>
    Object.values(block ?? {}).reduce((n, byName) => n + Object.keys(byName).length, 0);
  // cdktf's generated cross-stack outputs are wiring, not something to show.
  const outputs = Object.keys(json.output ?? {}).filter((o) => !o.startsWith("cross-stack-output-"));
  return { stack, resources: count(json.resource), dataSources: count(json.data), outputs, directory };
}

export function formatTable(rows: readonly StackSummary[]): string {
  const header = ["stack", "resources", "data sources", "outputs"];
  const body = rows.map((r) => [r.stack, String(r.resources), String(r.dataSources), r.outputs.join(", ")]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}
