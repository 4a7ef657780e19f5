/**
 * `npm run workflow:montage -- generate DIR [--tiles N] [--tile-pixels PX] [--function F] [--workflow-file dag.json]` writes a
 * Montage job directory (workflows/montage/montage.ts); `… direct JOB_DIR OUT_DIR` runs it without the
 * engine (the reference result: OUT_DIR gets the inputs and every file the workflow makes).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { generateMontageJob, runWorkflowDirectly } from "./montage";

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

function main(argv: string[]): void {
  const [command, ...rest] = argv;
  if (command === "generate") {
    const dir = rest.find((a, i) => !a.startsWith("--") && (i === 0 || !rest[i - 1].startsWith("--")));
    if (!dir) fail("usage: generate DIR [--tiles N] [--tile-pixels PX] [--function F] [--workflow-file dag.json]");
    const opt = (name: string) => {
      const i = rest.indexOf(name);
      return i >= 0 ? rest[i + 1] : undefined;
    };
    const num = (name: string) => {
      const v = opt(name);
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v)) fail(`${name} ${JSON.stringify(v)}: allowed: a whole number`);
      return Number(v);
    };
    try {
      const file = opt("--workflow-file");
      if (file !== undefined && file !== "workflow.json" && file !== "dag.json")
        fail(`--workflow-file ${JSON.stringify(file)}: allowed: workflow.json, dag.json`);
      const job = generateMontageJob(dir, { tiles: num("--tiles"), tilePixels: num("--tile-pixels"), function: opt("--function"), workflowFile: file });
      process.stdout.write(`${job.jobDir}: ${job.tiles} tiles, ${job.overlaps} overlaps, ${job.processes} processes\n`);
    } catch (e) {
      fail((e as Error).message);
    }
  } else if (command === "direct") {
    const [jobDir, out] = rest;
    if (!jobDir || !out) fail("usage: direct JOB_DIR OUT_DIR");
    fs.mkdirSync(out, { recursive: true });
    fs.cpSync(path.join(jobDir, "input"), out, { recursive: true });
    const wf = ["workflow.json", "dag.json"].map((f) => path.join(jobDir, "workdir", f)).find((f) => fs.existsSync(f));
    if (!wf) fail(`${jobDir}/workdir has no workflow.json or dag.json`);
    const order = runWorkflowDirectly(wf, out);
    process.stdout.write(`${order.length} processes run in ${out}\n`);
  } else fail("usage: generate DIR [--tiles N] [--tile-pixels PX] [--function F] [--workflow-file dag.json] | direct JOB_DIR OUT_DIR");
}

main(process.argv.slice(2));
