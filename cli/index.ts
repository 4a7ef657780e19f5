#!/usr/bin/env node
/** Entry point of `hflow-infra`. */
import { main } from "./program";

// The AWS SDK v3 warns on every run under Node < 22 that releases after early 2027 will need Node 22
// (aws/aws-sdk-js-v3 packages/core, emitWarningIfUnsupportedVersion in its client submodule): nine
// lines of stderr per command, nothing the user of this CLI can act on (doctor checks node). That
// function's own switch turns it off; a user who sets the variable keeps their choice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
