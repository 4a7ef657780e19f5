/**
 * `npm run build:executor`: bundles the task executor into one file, dist/executor/hflow-executor.js
 * (Node 18, the version of Debian bookworm that the worker images use; the AWS SDK and amqplib inside).
 * images/build.ts bundles the worker image's copy with the same options.
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
}

module.exports = { options, outfile };

if (require.main === module) {
  build().catch((/** @type {Error} */ e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
