/**
 * HyperFlow process functions for the ENGINE side, with an `amqpCommand` that fails the run.
 *
 * Why: in @hyperflow/hyperflow 1.7.0 a failed task does not fail the workflow. amqpCommand passes the
 * reply's `exceptions` to its callback as the error (hyperflow-wms/hyperflow functions/amqpCommand.js),
 * but wflib drops it: `f(ins, outs, conf, function(err, outs, options) { … cb(null, ins, outs, options) })`
 * (wflib/index.js, public_invokeProcFunction). The engine then emits the task's outputs as if it had
 * worked, later tasks run on missing files, and `hflow run` exits 0.
 *
 * This module re-exports every core function of the running engine and replaces `amqpCommand` with one
 * that, on an error reply, prints the task and its exceptions and ends the engine with exit code 1.
 * Use it from the workflow directory, either
 *   - as `functions.js` (wflib loads `<workdir>/functions.js` for every process function), or
 *   - under any name, declared in workflow.json: `"functions": [{"name": "amqpCommand", "module": "<file>"}]`.
 *
 * Plain CommonJS without dependencies: it runs inside the engine's Node.js, whatever its version.
 */
"use strict";
const path = require("path");

// The engine's own functions module, found the way wflib finds it (relative to bin/hflow.js).
const mainFile = (require.main && require.main.filename) || process.argv[1] || "";
/** @type {Record<string, Function>} */
const core = require(path.join(path.dirname(mainFile), "..", "functions"));

/**
 * @param {unknown[]} ins
 * @param {unknown[]} outs
 * @param {{name?: string, executor?: {executable?: string}}} config
 * @param {(err: unknown, outs?: unknown) => void} cb
 */
function amqpCommand(ins, outs, config, cb) {
  core.amqpCommand(ins, outs, config, function (/** @type {unknown} */ err, /** @type {unknown} */ result) {
    if (err) {
      const what = (config && config.name) || "?";
      const exe = (config && config.executor && config.executor.executable) || "?";
      process.stderr.write("[hflow] task " + what + " (" + exe + ") failed: " + JSON.stringify(err) + "; stopping the workflow run with exit code 1\n");
      process.exit(1);
    }
    cb(err, result);
  });
}

module.exports = Object.assign({}, core, { amqpCommand: amqpCommand });
