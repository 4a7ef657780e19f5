/**
 * The import graph of the project's sources, read with the TypeScript parser (so imports inside strings
 * or comments do not count), and the cycles in it. What eslint's import/no-cycle checks, without eslint.
 *
 * An edge is a relative import that exists at run time: `import … from "./x"`, `import "./x"`,
 * `export … from "./x"`, `import("./x")` and `require("./x")`. Type-only imports (`import type`,
 * `export type`, `import { type A }` with every name a type) are erased by the compiler and skipped.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

interface ImportRef {
  readonly specifier: string;
  /** `static`: import/export declarations, loaded with the module; `dynamic`: import() and require(), loaded when that code runs. */
  readonly kind: "static" | "dynamic";
}

/** The run-time imports of one source file (relative and package specifiers alike). */
export function importsOf(fileName: string, text: string): ImportRef[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, false, fileName.endsWith(".js") ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const out: ImportRef[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && !isTypeOnlyImport(node)) {
      out.push({ specifier: node.moduleSpecifier.text, kind: "static" });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !isTypeOnlyExport(node)) {
      out.push({ specifier: node.moduleSpecifier.text, kind: "static" });
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      !node.isTypeOnly &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      out.push({ specifier: node.moduleReference.expression.text, kind: "static" });
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1 && ts.isStringLiteralLike(node.arguments[0])) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === "require")) {
        out.push({ specifier: node.arguments[0].text, kind: "dynamic" });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import "./x"`: a side effect
  if (clause.isTypeOnly) return true;
  if (clause.name) return false; // a default import
  const bindings = clause.namedBindings;
  // `import { type A, type B } from` is erased like `import type` (not `import {} from`: that stays).
  return !!bindings && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

function isTypeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return !!clause && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly);
}

const SOURCE = /\.(ts|js)$/;

/** Every .ts and .js file (not .d.ts) under the given files and folders of `root`, as paths relative to it. */
export function sourceFiles(root: string, include: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    if (fs.statSync(abs).isDirectory()) {
      for (const e of fs.readdirSync(abs).sort()) if (!["node_modules", "dist", "cdktf.out"].includes(e)) walk(path.join(rel, e));
    } else if (SOURCE.test(rel) && !rel.endsWith(".d.ts")) out.push(rel.split(path.sep).join("/"));
  };
  for (const i of include) walk(i);
  return out;
}

/** The project's sources: what tsconfig.json includes. */
export function projectFiles(root: string): string[] {
  const tsconfig = JSON.parse(fs.readFileSync(path.join(root, "tsconfig.json"), "utf8")) as { include: string[] };
  return sourceFiles(root, tsconfig.include);
}

/** The file a relative specifier names, among `files`; undefined for packages and anything not found. */
function resolveRelative(from: string, specifier: string, files: ReadonlySet<string>): string | undefined {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  return [base, `${base}.ts`, `${base}.js`, `${base}/index.ts`, `${base}/index.js`].find((c) => files.has(c));
}

type Graph = ReadonlyMap<string, readonly string[]>;

/** File → the project files it imports at run time (`kinds` picks static and/or dynamic imports). */
export function importGraph(root: string, files: readonly string[], kinds: readonly ImportRef["kind"][] = ["static", "dynamic"]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const targets = importsOf(f, fs.readFileSync(path.join(root, f), "utf8"))
      .filter((i) => kinds.includes(i.kind))
      .map((i) => resolveRelative(f, i.specifier, known))
      .filter((t): t is string => t !== undefined);
    graph.set(f, [...new Set(targets)]);
  }
  return graph;
}

/**
 * The import cycles: one per strongly connected component with more than one file (or a file importing
 * itself), each as a path that starts and ends at the same file, e.g. [a, b, a].
 */
export function findCycles(graph: Graph): string[][] {
  // Tarjan's strongly connected components, iterative (no recursion limit on long chains).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const nodes = new Set<string>([...graph.keys(), ...[...graph.values()].flat()]);
  for (const start of [...nodes].sort()) {
    if (index.has(start)) continue;
    const work: { node: string; i: number }[] = [{ node: start, i: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const succ = graph.get(top.node) ?? [];
      if (top.i < succ.length) {
        const w = succ[top.i++];
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== top.node);
        const selfLoop = component.length === 1 && (graph.get(w) ?? []).includes(w);
        if (component.length > 1 || selfLoop) components.push(component.sort());
      }
    }
  }
  return components.map((c) => cycleIn(graph, new Set(c), c[0])).sort((a, b) => a[0].localeCompare(b[0]));
}

/** A shortest path from `start` back to itself inside one component (breadth-first). */
function cycleIn(graph: Graph, component: ReadonlySet<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const w of graph.get(node) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        // Walk back from `node` to `start`: the cycle is start → … → node → start.
        const back: string[] = [];
        for (let n = node; n !== start; n = previous.get(n)!) back.unshift(n);
        return [start, ...back, start];
      }
      if (!previous.has(w)) {
        previous.set(w, node);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** Every file reachable from `entry` through the graph (the entry included). */
export function reachable(graph: Graph, entry: string): Set<string> {
  const seen = new Set<string>([entry]);
  const todo = [entry];
  while (todo.length > 0) {
    for (const w of graph.get(todo.pop()!) ?? []) {
      if (seen.has(w)) continue;
      seen.add(w);
      todo.push(w);
    }
  }
  return seen;
}
