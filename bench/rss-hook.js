// @ts-check
// Preloaded into the benchmarked process (node -r): writes its peak RSS (KiB) to HFLOW_RSS_FILE on exit.
"use strict";
const fs = require("node:fs");
process.on("exit", () => {
  if (process.env.HFLOW_RSS_FILE) fs.writeFileSync(process.env.HFLOW_RSS_FILE, String(process.resourceUsage().maxRSS));
});
