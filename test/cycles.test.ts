/**
 * No import cycles among the project's sources (what eslint's import/no-cycle checks): a cycle makes
 * module load order matter (a class used before its module finished loading is `undefined`) and
 * ties the modules of the cycle together for good.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findCycles, importGraph, importsOf, projectFiles, sourceFiles } from "./support/import-graph";

const root = path.join(__dirname, "..");

describe("import cycles", () => {
  test("none among the project's sources (static imports and import() alike)", () => {
    const files = projectFiles(root);
    // The walk sees the whole project, not a corner of it.
    for (const f of [
      "main.ts",
      "cli/program.ts",
      "cli/commands/run.ts",
      "runner/s3-sync.ts",
      "stacks/app.ts",
      "constructs/engine/engine-task.ts",
      "config/load.ts",
      "common/errors.ts",
    ])
      expect(files).toContain(f);
    const graph = importGraph(root, files);
    expect(graph.get("cli/program.ts")).toEqual(expect.arrayContaining(["cli/commands/run.ts", "cli/context.ts"]));
    const cycles = findCycles(graph).map((c) => c.join(" → "));
    expect(cycles).toEqual([]);
  });

  test("the detector finds every cycle of a graph, and none in a graph without one", () => {
    const graph = new Map<string, string[]>([
      ["a", ["b"]],
      ["b", ["c", "x"]],
      ["c", ["a"]],
      ["d", ["d"]],
      ["e", ["f"]],
      ["f", []],
      ["x", []],
    ]);
    expect(findCycles(graph)).toEqual([
      ["a", "b", "c", "a"],
      ["d", "d"],
    ]);
    expect(
      findCycles(
        new Map([
          ["e", ["f"]],
          ["f", ["g"]],
          ["g", []],
          ["h", ["f", "g"]],
        ]),
      ),
    ).toEqual([]);
    // Two cycles through one file are one component, reported once with a real path.
    const [cycle, ...more] = findCycles(
      new Map([
        ["p", ["q", "r"]],
        ["q", ["p"]],
        ["r", ["p"]],
      ]),
    );
    expect(more).toEqual([]);
    expect(cycle[0]).toBe(cycle[cycle.length - 1]);
    expect(cycle.length).toBe(3);
  });

  test("what counts as an import: value imports, re-exports, import() and require(); not types, strings or comments", () => {
    const src = [
      'import { a } from "./a";',
      'import "./side-effect";',
      'import type { T } from "./types-only";',
      'import { type U, type V } from "./inline-types";',
      'import { type W, w } from "./mixed";',
      'export { b } from "./reexport";',
      'export type { X } from "./type-reexport";',
      '// import { c } from "./in-a-comment";',
      'const s = `import { d } from "./in-a-string"`;',
      'async function f() { return [await import("./dynamic"), require("./required")]; }',
      'import * as fs from "node:fs";',
    ].join("\n");
    expect(importsOf("x.ts", src)).toEqual([
      { specifier: "./a", kind: "static" },
      { specifier: "./side-effect", kind: "static" },
      { specifier: "./mixed", kind: "static" },
      { specifier: "./reexport", kind: "static" },
      { specifier: "./dynamic", kind: "dynamic" },
      { specifier: "./required", kind: "dynamic" },
      { specifier: "node:fs", kind: "static" },
    ]);
  });

  test("it fires on files on disk: a cycle through a dynamic import and a folder index is found and named", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-cycles-"));
    try {
      const write = (rel: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), text);
      };
      write("cli/program.ts", 'import { run } from "./commands";\nexport const UsageError = 1;\n');
      write("cli/commands/index.ts", 'export async function run() { return (await import("./run")).go(); }\n');
      write("cli/commands/run.ts", 'import { UsageError } from "../program";\nexport const go = () => UsageError;\n');
      write("cli/io.ts", 'import type { X } from "./program";\nexport const io = 1;\n');
      const files = sourceFiles(dir, ["cli"]);
      expect(files.sort()).toEqual(["cli/commands/index.ts", "cli/commands/run.ts", "cli/io.ts", "cli/program.ts"]);
      expect(findCycles(importGraph(dir, files))).toEqual([["cli/commands/index.ts", "cli/commands/run.ts", "cli/program.ts", "cli/commands/index.ts"]]);
      // Static imports only: the dynamic edge is gone, and so is the cycle.
      expect(findCycles(importGraph(dir, files, ["static"]))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
