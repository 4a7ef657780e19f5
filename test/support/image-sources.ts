/**
 * A stand-in repository root for image tests: what images/tag.ts hashes and images/build.ts assembles
 * (images/<image>/ with its Containerfile, hflow-concat-fit and the engine's hyperflow/ package files
 * and entry points, images/run-result.ts, executor/ sources with executor/build.js's esbuild options,
 * package-lock.json), but tiny Containerfiles `FROM scratch` that only copy files, so a build takes a
 * second and a push a few kilobytes. `salt` makes the content (and so the tags) unique to one test
 * run; images/containers.conf is the real one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type ContainerTool, tool } from "../../images/build";

const repo = path.join(__dirname, "..", "..");

function write(file: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
}

export function imageSources(root: string, salt: string): string {
  write(path.join(root, "package.json"), JSON.stringify({ name: "hyperflow-infra", private: true }));
  write(path.join(root, "package-lock.json"), JSON.stringify({ name: "hyperflow-infra", lockfileVersion: 3, packages: {} }));
  write(path.join(root, "images", "run-result.ts"), "export const RUN_RESULT_VERSION = 1;\n");
  write(path.join(root, "executor", "main.ts"), `console.log(${JSON.stringify(`test executor ${salt}`)});\n`);
  write(
    path.join(root, "executor", "build.js"),
    'const path = require("path");\nmodule.exports = { options: { entryPoints: [path.join(__dirname, "main.ts")], bundle: true, platform: "node", target: "node18", format: "cjs" } };\n',
  );
  fs.mkdirSync(path.join(root, "images"), { recursive: true });
  fs.copyFileSync(path.join(repo, "images", "containers.conf"), path.join(root, "images", "containers.conf"));
  const w = path.join(root, "images", "worker");
  write(
    path.join(w, "Containerfile"),
    "ARG BASE=scratch\nFROM ${BASE}\nCOPY hflow-executor.js /opt/hflow/hflow-executor.js\nCOPY bin/hflow-concat-fit /usr/local/bin/hflow-concat-fit\n",
  );
  write(path.join(w, "bin", "hflow-concat-fit"), "#!/bin/sh\necho concat\n", 0o755);
  const e = path.join(root, "images", "engine");
  write(
    path.join(e, "Containerfile"),
    "ARG BASE=scratch\nFROM ${BASE}\nCOPY dist/entrypoint.js dist/hflow-plugin.js /opt/hflow/\nCOPY hyperflow/package.json /opt/hyperflow/package.json\n",
  );
  write(path.join(e, "hyperflow", "package.json"), JSON.stringify({ name: "engine-test", version: "0.0.0", private: true }));
  write(path.join(e, "hyperflow", "package-lock.json"), JSON.stringify({ name: "engine-test", lockfileVersion: 3, packages: {} }));
  write(path.join(e, "entrypoint.ts"), `export const salt: string = ${JSON.stringify(salt)};\nconsole.log(salt);\n`);
  write(path.join(e, "hflow-plugin.ts"), "export const plugin = 1;\n");
  return root;
}

/** Removes images by exact reference (what a test built and tagged), ignoring ones already gone. */
export function removeImages(t: ContainerTool, refs: readonly string[]): void {
  if (refs.length > 0) tool(t, ["rmi", "--force", ...(t.engine === "podman" ? ["--ignore"] : []), ...refs]);
}
