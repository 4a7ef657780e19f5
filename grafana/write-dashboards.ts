/** `npm run docs` writes the generated dashboards into grafana/dashboards/ (a test keeps them in sync). */
import * as fs from "node:fs";
import * as path from "node:path";
import { dashboardFiles } from "./dashboards";

const dir = path.resolve(__dirname, "..", "..", "grafana", "dashboards");
fs.mkdirSync(dir, { recursive: true });
for (const [name, json] of Object.entries(dashboardFiles())) fs.writeFileSync(path.join(dir, name), json);
console.log(`wrote ${Object.keys(dashboardFiles()).length} dashboards to ${dir}`);
