/**
 * `npm run build:executor`: bundles the task executor into one file, dist/executor/hflow-executor.js
 * (Node 18, the version of Debian bookworm that the worker images use; the AWS SDK and amqplib inside),
 * and copies the engine-side strict-functions.js next to it.
 */
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const outfile = path.join(root, "dist", "executor", "hflow-executor.js");

/** @type {import("esbuild").BuildOptions} */
const options = {
  entryPoints: [path.join(root, "executor", "main.ts")],
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  outfile,
  banner: { js: "#!/usr/bin/env node" },
  legalComments: "none",
  logLevel: "warning",
};

async function build() {
  await require("esbuild").build(options);
  fs.chmodSync(outfile, 0o755);
  fs.copyFileSync(path.join(root, "executor", "engine", "strict-functions.js"), path.join(path.dirname(outfile), "strict-functions.js"));
}

module.exports = { options, outfile };

if (require.main === module) {
  build().catch((/** @type {Error} */ e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
