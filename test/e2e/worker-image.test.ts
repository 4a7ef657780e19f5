/**
 * The worker image: built with the executor bundled from its sources (images/build.ts); Montage 6.0
 * and hflow-concat-fit inside run the generated Montage workflow to the same bytes as this machine does.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildBase, buildImage, detectContainerTool } from "../../images/build";
import { generateMontageJob, runWorkflowDirectly } from "../../workflows/montage/montage";

// Runs a workflow.json's processes in dependency order in the current directory (inside the image).
const RUN_WORKFLOW_JS = `
const fs = require("fs"), { spawnSync } = require("child_process");
const wf = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const have = new Set(wf.ins); const todo = [...wf.processes];
while (todo.length) {
  const i = todo.findIndex((p) => p.ins.every((s) => have.has(s)));
  if (i < 0) { console.error("stuck"); process.exit(1); }
  const [p] = todo.splice(i, 1);
  const r = spawnSync(p.config.executor.executable, p.config.executor.args, { stdio: "inherit" });
  if (r.status !== 0) { console.error(p.name + " failed: " + (r.error ? r.error.message : r.status)); process.exit(1); }
  p.outs.forEach((s) => have.add(s));
}`;

test("worker image: Montage + hflow-concat-fit + the executor, non-root; same mosaic as this machine", () => {
  const tool = detectContainerTool();
  const base = buildBase({ tool });
  const { ref } = buildImage("worker", { tool, base, log: (l) => process.stderr.write(`${l}\n`) });
  const inImage = (entrypoint: string, args: string[], mounts: string[] = []) =>
    spawnSync(tool.bin, [...tool.globalArgs, "run", "--rm", ...mounts, "--entrypoint", entrypoint, ref, ...args], {
      env: tool.env,
      encoding: "utf8",
      timeout: 600_000,
    });

  const facts = inImage("sh", [
    "-c",
    "id -u; node --version; for t in mProjectPP mDiff mFitplane mBgModel mBackground mAdd mShrink mViewer hflow-concat-fit; do command -v $t; done | wc -l; test -s /opt/hflow/hflow-executor.js && echo executor",
  ]);
  expect(facts.stderr).toBe("");
  const [uid, node, tools, exec] = facts.stdout.trim().split("\n");
  expect(Number(uid)).not.toBe(0);
  expect(node).toMatch(/^v18\./);
  expect(tools.trim()).toBe("9");
  expect(exec).toBe("executor");

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-worker-e2e-"));
  try {
    const job = generateMontageJob(path.join(tmp, "job"), { tiles: 4 });
    const host = path.join(tmp, "host");
    fs.cpSync(path.join(job.jobDir, "input"), host, { recursive: true });
    runWorkflowDirectly(path.join(job.jobDir, "workdir", "workflow.json"), host);
    const inside = path.join(tmp, "inside");
    fs.cpSync(path.join(job.jobDir, "input"), inside, { recursive: true });
    fs.copyFileSync(path.join(job.jobDir, "workdir", "workflow.json"), path.join(inside, "workflow.json"));
    fs.chmodSync(inside, 0o777); // the image's user writes here
    const r = inImage("node", ["-e", RUN_WORKFLOW_JS, "/work/workflow.json"], ["-v", `${inside}:/work`]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    for (const f of ["fits.tbl", "corrections.tbl", "mosaic.fits", "mosaic.png"]) {
      expect({ f, same: fs.readFileSync(path.join(inside, f)).equals(fs.readFileSync(path.join(host, f))) }).toEqual({ f, same: true });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
