/**
 * `npm run bench`: wall time and peak RSS of a full precompiled synth of all stacks (`node dist/main.js`,
 * what `cdktf synth` runs after compiling), several runs in fresh processes.
 * Targets on a 2-core machine: <= 0.9 s and <= 315 MB.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const TARGET_SECONDS = 0.9;
const TARGET_MB = 315;

function main(): void {
  const root = path.resolve(__dirname, "..", "..");
  const app = path.join(root, "dist", "main.js");
  const hook = path.join(root, "dist", "bench", "rss-hook.js");
  const runs = Number(process.env.BENCH_RUNS ?? 7);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-bench-"));
  // Every stack: monitoring on (the grafana stack) and a job directory to upload (the runner's upload).
  const config = path.join(tmp, "hyperflow.config.json");
  fs.writeFileSync(
    config,
    JSON.stringify({ monitoring: { enabled: true }, network: { mode: "new" }, runner: { jobDir: path.join(root, "test", "fixtures", "montage-mini") } }),
  );
  const times: number[] = [];
  const rss: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const out = path.join(tmp, `out-${i}`);
      const rssFile = path.join(tmp, `rss-${i}`);
      const started = process.hrtime.bigint();
      const r = spawnSync(process.execPath, ["-r", hook, app], {
        cwd: root,
        env: { ...process.env, CDKTF_OUTDIR: out, HFLOW_RSS_FILE: rssFile, HFLOW_CONFIG: config, HFLOW_REGION: "", HFLOW_JOB_DIR: "" },
        encoding: "utf8",
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (r.status !== 0) throw new Error(`synth failed (exit ${r.status}):\n${r.stderr}`);
      for (const stack of ["network", "grafana", "ecs", "runner"]) {
        if (!fs.existsSync(path.join(out, "stacks", stack, "cdk.tf.json"))) throw new Error(`synth wrote no ${stack} stack`);
      }
      times.push(seconds);
      rss.push(Number(fs.readFileSync(rssFile, "utf8")) / 1024);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const peak = Math.max(...rss);
  console.log(
    `full synth of all 4 stacks (network, grafana, ecs, runner; node dist/main.js), ${runs} runs on ${os.cpus().length} cores, node ${process.version}`,
  );
  console.log(
    `wall time: median ${median.toFixed(3)} s, min ${sorted[0].toFixed(3)} s, max ${sorted[sorted.length - 1].toFixed(3)} s (target <= ${TARGET_SECONDS} s): ${median <= TARGET_SECONDS ? "ok" : "MISSED"}`,
  );
  console.log(`peak RSS:  ${peak.toFixed(0)} MB (target <= ${TARGET_MB} MB): ${peak <= TARGET_MB ? "ok" : "MISSED"}`);
}

main();
