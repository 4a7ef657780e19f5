/**
 * Deep provider imports only: `import { X } from "@cdktf/provider-aws/lib/x"`. The barrel
 * (importing the package root) makes a trivial app take ~23 s and 3 GB. Also: no ts-node anywhere.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.join(__dirname, "..");
const SKIP = new Set(["node_modules", "dist", "cdktf.out", ".git", "coverage"]);

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name)) return [];
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) ? [p] : [];
  });
}

function barrelImports(text: string): string[] {
  const found: string[] = [];
  const re = /(?:from\s+|require\(\s*|import\(\s*)["'](@cdktf\/provider-[a-z0-9-]+|@cdktn\/provider-[a-z0-9-]+)["']/g;
  for (let m = re.exec(text); m; m = re.exec(text)) found.push(m[1]);
  return found;
}

describe("imports", () => {
  // This file holds barrel imports as detector fixtures; everything else must have none.
  const files = sourceFiles(root).filter((f) => f !== __filename);

  test("the scan sees the project's sources", () => {
    expect(files.some((f) => f.endsWith(path.join("constructs", "ecs", "broker.ts")))).toBe(true);
  });

  test("no barrel import of a prebuilt provider", () => {
    const offenders = files.flatMap((f) => barrelImports(fs.readFileSync(f, "utf8")).map((b) => `${path.relative(root, f)}: ${b}`));
    expect(offenders).toEqual([]);
  });

  test("the detector catches barrel imports in every form", () => {
    // Built by concatenation so that repository-wide greps for barrel imports do not flag the fixtures.
    const aws = "@cdktf/" + "provider-aws";
    const google = "@cdktf/" + "provider-google";
    expect(barrelImports(`import { EcsCluster } from "${aws}";`)).toEqual([aws]);
    expect(barrelImports(`import * as aws from '${aws}'`)).toEqual([aws]);
    expect(barrelImports(`const g = require("${google}")`)).toEqual([google]);
    expect(barrelImports('import { X } from "@cdktf/provider-aws/lib/ecs-cluster";')).toEqual([]);
  });

  test("cdktf.json runs precompiled JavaScript, never ts-node", () => {
    const cdktf = JSON.parse(fs.readFileSync(path.join(root, "cdktf.json"), "utf8"));
    expect(cdktf.app).not.toMatch(/ts-node/);
    expect(cdktf.app).toMatch(/node dist\/main\.js$/);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    expect(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })).not.toContain("ts-node");
  });

  test("pinned toolchain: typescript ~5.9, constructs < 10.8, cdktf 0.21.0", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8"));
    const installed = (name: string) => lock.packages[`node_modules/${name}`].version as string;
    expect(installed("typescript")).toMatch(/^5\.9\./);
    expect(installed("cdktf")).toBe("0.21.0");
    const [maj, min] = installed("constructs").split(".").map(Number);
    expect(maj === 10 && min < 8).toBe(true);
    expect(pkg.dependencies.cdktf).toBe("0.21.0");
  });
});
