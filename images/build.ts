/**
 * Builds this project's container images (images/engine, images/worker) with podman or docker, and a
 * Debian bookworm base image for machines that cannot pull one. Used by the e2e tests and by
 * `npm run images:build -- engine|worker|base [--base REF]`, which prints the image reference.
 *
 * - Tool: HFLOW_CONTAINER_ENGINE=podman|docker, else the first of podman, docker on PATH.
 * - Podman compatibility mode (`--runtime runc` and images/containers.conf through CONTAINERS_CONF,
 *   unless CONTAINERS_CONF is already set): HFLOW_PODMAN_COMPAT=1 or 0 decides; unset, it is on when
 *   /sys/fs/cgroup is not a cgroup v2 mount. On such hosts (cgroup v1, e.g. nested in a container)
 *   podman's default runtime crun fails to create containers and the default nofile ulimit is refused;
 *   on cgroup v2 hosts podman's defaults are used unchanged. Decided here rather than by probing so a
 *   build never half-starts a container to find out.
 * - Tags are immutable: `localhost/hflow-<image>:<12 hex>` from a SHA-256 over every file of the build
 *   context (Containerfile included, by relative path, mode and content), the build arguments and the
 *   base image's local id when it is present. An image
 *   that exists with that tag is not rebuilt; changing any input gives a new tag.
 * - Contexts are assembled in a temporary directory: the engine gets hyperflow/package*.json and the
 *   entrypoint and plugin bundled by esbuild (one file each, Node 18: Debian bookworm's nodejs); the
 *   worker gets dist/executor/hflow-executor.js (`npm run build:executor`) and bin/hflow-concat-fit.
 * - Behind a TLS-inspecting proxy, the engine's npm install trusts HFLOW_BUILD_CA_FILE or
 *   NODE_EXTRA_CA_CERTS (see buildCaFile).
 * - Every command runs with an argument vector (no shell) and a time limit; a failure throws an error
 *   with the command and the end of its output.
 */
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export type ImageName = "engine" | "worker";
export const BASE_IMAGE = "localhost/hflow-debian:bookworm";
export const DEFAULT_BASE = "debian:bookworm-slim";
const CGROUP2_SUPER_MAGIC = 0x63677270;

export class ImageBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageBuildError";
  }
}

export interface ContainerTool {
  readonly engine: "podman" | "docker";
  readonly bin: string;
  /** Arguments before the subcommand (`--runtime runc` in podman compatibility mode). */
  readonly globalArgs: readonly string[];
  /** Environment for every call (CONTAINERS_CONF in compatibility mode). */
  readonly env: NodeJS.ProcessEnv;
  readonly compat: boolean;
}

/** The repository root: the nearest directory above this file with hyperflow-infra's package.json. */
export function repoRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string }).name === "hyperflow-infra") return dir;
    if (path.dirname(dir) === dir) throw new ImageBuildError(`no hyperflow-infra package.json above ${from}`);
  }
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "hyperflow-infra");
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Whether podman needs `--runtime runc` and images/containers.conf on this host (see the header). */
export function podmanCompatNeeded(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.HFLOW_PODMAN_COMPAT;
  if (v === "1") return true;
  if (v === "0") return false;
  if (v !== undefined && v !== "") throw new ImageBuildError(`HFLOW_PODMAN_COMPAT=${JSON.stringify(v)}: allowed: 1, 0 or unset (automatic)`);
  try {
    return fs.statfsSync("/sys/fs/cgroup").type !== CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

export function detectContainerTool(env: NodeJS.ProcessEnv = process.env, root = repoRoot()): ContainerTool {
  const wanted = env.HFLOW_CONTAINER_ENGINE;
  if (wanted !== undefined && wanted !== "" && wanted !== "podman" && wanted !== "docker") {
    throw new ImageBuildError(`HFLOW_CONTAINER_ENGINE=${JSON.stringify(wanted)}: allowed: podman, docker`);
  }
  for (const engine of wanted ? [wanted] : ["podman", "docker"]) {
    const bin = onPath(engine, env);
    if (!bin) continue;
    if (engine === "docker") return { engine, bin, globalArgs: [], env: { ...env }, compat: false };
    const compat = podmanCompatNeeded(env);
    return {
      engine: "podman",
      bin,
      globalArgs: compat ? ["--runtime", "runc"] : [],
      env: compat ? { ...env, CONTAINERS_CONF: env.CONTAINERS_CONF || path.join(root, "images", "containers.conf") } : { ...env },
      compat,
    };
  }
  throw new ImageBuildError(`${wanted ?? "podman or docker"} is not installed (not on PATH): install podman (apt-get install podman runc) or docker`);
}

export interface RunOptions {
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Runs a command (argument vector, no shell); returns stdout, throws with the end of its output. */
export function runCommand(bin: string, args: readonly string[], opts: RunOptions): string {
  const r = spawnSync(bin, args, { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.error || r.status !== 0) {
    const tail = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n");
    const why = r.error ? ((r.error as NodeJS.ErrnoException).code === "ETIMEDOUT" ? `no result within ${opts.timeoutMs / 1000} s` : r.error.message) : `exit code ${r.status ?? r.signal}`;
    throw new ImageBuildError(`${path.basename(bin)} ${args.join(" ")}: ${why}${tail ? `\n${tail}` : ""}`);
  }
  return r.stdout;
}

/** Runs a container tool subcommand with the tool's global arguments and environment. */
export function tool(t: ContainerTool, args: readonly string[], timeoutMs = 120_000): string {
  return runCommand(t.bin, [...t.globalArgs, ...args], { timeoutMs, env: t.env });
}

export function imageExists(t: ContainerTool, ref: string): boolean {
  return spawnSync(t.bin, [...t.globalArgs, "image", "inspect", ref], { env: t.env, stdio: "ignore", timeout: 60_000 }).status === 0;
}

/** The local image id of `ref`, or "" when it is not here (e.g. a base docker has yet to pull). */
export function imageId(t: ContainerTool, ref: string): string {
  const r = spawnSync(t.bin, [...t.globalArgs, "image", "inspect", "--format", "{{.Id}}", ref], { env: t.env, encoding: "utf8", timeout: 60_000 });
  return r.status === 0 ? r.stdout.trim() : "";
}

/**
 * SHA-256 over the context's files (sorted relative paths, modes, sizes, contents), the build arguments
 * and, when known, the base image's id (a rebuilt base under the same name gives new tags).
 */
export function contextHash(dir: string, buildArgs: Readonly<Record<string, string>>, baseId = ""): string {
  const h = crypto.createHash("sha256");
  const walk = (rel: string): string[] =>
    fs
      .readdirSync(path.join(dir, rel), { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.posix.join(rel, e.name)) : [path.posix.join(rel, e.name)]));
  for (const f of walk("").sort()) {
    const abs = path.join(dir, f);
    const content = fs.readFileSync(abs);
    // The executable bit matters to the image (COPY keeps modes).
    const exec = (fs.statSync(abs).mode & 0o111) !== 0 ? "x" : "-";
    h.update(`file\0${f}\0${exec}\0${content.length}\0`).update(content);
  }
  for (const k of Object.keys(buildArgs).sort()) h.update(`arg\0${k}\0${buildArgs[k]}\0`);
  if (baseId) h.update(`base\0${baseId}\0`);
  return h.digest("hex").slice(0, 12);
}

function copy(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  fs.chmodSync(to, fs.statSync(from).mode & 0o777);
}

/** Bundles a TypeScript entry point into one CommonJS file for Debian bookworm's Node.js 18. */
export function bundle(entry: string, outfile: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  const r = esbuild.buildSync({ entryPoints: [entry], outfile, bundle: true, platform: "node", target: "node18", format: "cjs", legalComments: "none", logLevel: "silent", charset: "utf8" });
  if (r.errors.length > 0) throw new ImageBuildError(`esbuild ${entry}: ${r.errors.map((e) => e.text).join("; ")}`);
}

/**
 * Extra CA certificates the engine build's npm install needs behind a TLS-inspecting proxy:
 * HFLOW_BUILD_CA_FILE, else NODE_EXTRA_CA_CERTS (what the host's Node.js already trusts), else none.
 * Used in the install stage only; the final image keeps Debian's CA list.
 */
export function buildCaFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env.HFLOW_BUILD_CA_FILE || env.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  if (!fs.existsSync(file)) throw new ImageBuildError(`${env.HFLOW_BUILD_CA_FILE ? "HFLOW_BUILD_CA_FILE" : "NODE_EXTRA_CA_CERTS"}=${file}: no such file`);
  return file;
}

/** Writes the build context of `image` into `dir` (empty or missing). */
export function assembleContext(image: ImageName, dir: string, root = repoRoot(), env: NodeJS.ProcessEnv = process.env): void {
  const src = path.join(root, "images", image);
  fs.mkdirSync(dir, { recursive: true });
  copy(path.join(src, "Containerfile"), path.join(dir, "Containerfile"));
  if (image === "engine") {
    for (const f of ["package.json", "package-lock.json"]) copy(path.join(src, "hyperflow", f), path.join(dir, "hyperflow", f));
    const ca = buildCaFile(env);
    fs.writeFileSync(path.join(dir, "build-ca.pem"), ca ? fs.readFileSync(ca) : "");
    bundle(path.join(src, "entrypoint.ts"), path.join(dir, "dist", "entrypoint.js"));
    bundle(path.join(src, "hflow-plugin.ts"), path.join(dir, "dist", "hflow-plugin.js"));
  } else {
    const executor = path.join(root, "dist", "executor", "hflow-executor.js");
    if (!fs.existsSync(executor)) {
      throw new ImageBuildError(`dist/executor/hflow-executor.js is missing: run \`npm run build:executor\` first (the worker image runs the HyperFlow executor bundle)`);
    }
    copy(executor, path.join(dir, "hflow-executor.js"));
    copy(path.join(src, "bin", "hflow-concat-fit"), path.join(dir, "bin", "hflow-concat-fit"));
  }
}

export interface BuildOptions {
  /** Base image (BASE build argument). @default "debian:bookworm-slim" */
  readonly base?: string;
  readonly tool?: ContainerTool;
  readonly root?: string;
  /** Progress lines (the build's own output goes nowhere unless the build fails). */
  readonly log?: (line: string) => void;
}

export interface BuiltImage {
  readonly ref: string;
  /** False when an image with this content tag already existed. */
  readonly built: boolean;
  readonly seconds: number;
}

export function buildImage(image: ImageName, opts: BuildOptions = {}): BuiltImage {
  const root = opts.root ?? repoRoot();
  const t = opts.tool ?? detectContainerTool(process.env, root);
  const buildArgs = { BASE: opts.base ?? DEFAULT_BASE };
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), `hflow-${image}-ctx-`));
  const started = Date.now();
  try {
    assembleContext(image, ctx, root);
    const ref = `localhost/hflow-${image}:${contextHash(ctx, buildArgs, imageId(t, buildArgs.BASE))}`;
    if (imageExists(t, ref)) return { ref, built: false, seconds: 0 };
    opts.log?.(`building ${ref} (${t.engine}${t.compat ? ", --runtime runc" : ""}, BASE=${buildArgs.BASE})`);
    const args = ["build", "--network=host", "-f", path.join(ctx, "Containerfile"), "-t", ref];
    for (const [k, v] of Object.entries(buildArgs)) args.push("--build-arg", `${k}=${v}`);
    tool(t, [...args, ctx], 30 * 60_000);
    return { ref, built: true, seconds: (Date.now() - started) / 1000 };
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
}

/** `deb URI SUITE COMPONENTS` lines for bookworm from the host's apt sources (one-line and deb822). */
export function aptSources(files?: readonly string[]): string[] {
  const list =
    files ??
    ["/etc/apt/sources.list", ...(fs.existsSync("/etc/apt/sources.list.d") ? fs.readdirSync("/etc/apt/sources.list.d").map((f) => path.join("/etc/apt/sources.list.d", f)) : [])].filter((f) => fs.existsSync(f));
  const out: string[] = [];
  for (const file of list) {
    const text = fs.readFileSync(file, "utf8");
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (k: string) => stanza.match(new RegExp(`^${k}:\\s*(.+)$`, "mi"))?.[1].trim().split(/\s+/) ?? [];
        if (!field("Types").includes("deb")) continue;
        for (const uri of field("URIs")) for (const suite of field("Suites")) if (suite.startsWith("bookworm")) out.push(`deb ${uri} ${suite} ${field("Components").join(" ")}`);
      }
    } else {
      for (const line of text.split("\n")) {
        const m = line.trim().match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(bookworm\S*)\s+(.+)$/);
        if (m) out.push(`deb ${m[1]} ${m[2]} ${m[3]}`);
      }
    }
  }
  return out.length > 0 ? [...new Set(out)] : ["deb http://deb.debian.org/debian bookworm main"];
}

/**
 * What debian:bookworm-slim leaves out, as dpkg and apt settings written into the root (so packages
 * installed later by the images' RUN steps leave them out too): documentation except copyright files,
 * man pages, translations, info pages; no apt translation downloads.
 */
const SLIM_OPTIONS = [
  "--dpkgopt=path-exclude=/usr/share/doc/*",
  "--dpkgopt=path-include=/usr/share/doc/*/copyright",
  "--dpkgopt=path-exclude=/usr/share/man/*",
  "--dpkgopt=path-exclude=/usr/share/locale/*",
  "--dpkgopt=path-exclude=/usr/share/info/*",
  "--aptopt=Acquire::Languages \"none\"",
];

/**
 * `localhost/hflow-debian:bookworm`: a Debian bookworm root (mmdebstrap --variant=apt, ca-certificates,
 * the host's bookworm apt sources, slimmed like debian:bookworm-slim) imported as an image, for hosts
 * with no registry to pull debian:bookworm-slim from. The tarball is cached in ~/.cache/hyperflow-infra
 * (named by its options and sources); the image is reused while it exists (remove it to rebuild).
 */
export function buildBase(opts: { tool?: ContainerTool; log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {}): string {
  const env = opts.env ?? process.env;
  const t = opts.tool ?? detectContainerTool(env);
  if (imageExists(t, BASE_IMAGE)) return BASE_IMAGE;
  const dir = cacheDir(env);
  const sources = aptSources();
  const args = ["--variant=apt", "--include=ca-certificates", "--format=tar", ...SLIM_OPTIONS, "bookworm"];
  // The cached tarball is named by what made it (options and sources), so changing either makes a new one.
  const key = crypto.createHash("sha256").update(JSON.stringify([args, sources])).digest("hex").slice(0, 12);
  const tar = path.join(dir, `debian-bookworm-apt-${key}.tar`);
  if (!fs.existsSync(tar)) {
    const mmdebstrap = onPath("mmdebstrap", env);
    if (!mmdebstrap) throw new ImageBuildError("mmdebstrap is not installed: apt-get install mmdebstrap (it builds the Debian base image)");
    fs.mkdirSync(dir, { recursive: true });
    const partial = `${tar}.${process.pid}.partial`;
    opts.log?.(`mmdebstrap bookworm → ${tar} (${sources.join("; ")})`);
    try {
      runCommand(mmdebstrap, [...args, partial, ...sources], { timeoutMs: 20 * 60_000, env });
      fs.renameSync(partial, tar);
    } finally {
      fs.rmSync(partial, { force: true });
    }
  }
  opts.log?.(`${t.engine} import ${tar} ${BASE_IMAGE}`);
  tool(t, ["import", tar, BASE_IMAGE], 10 * 60_000);
  return BASE_IMAGE;
}

function usage(): never {
  process.stderr.write("usage: node dist/images/build.js engine|worker|base [--base REF]\n");
  process.exit(2);
}

if (require.main === module) {
  const [what, flag, value] = process.argv.slice(2);
  if (!["engine", "worker", "base"].includes(what ?? "") || (flag !== undefined && (flag !== "--base" || !value))) usage();
  const log = (l: string) => process.stderr.write(`${l}\n`);
  try {
    if (what === "base") process.stdout.write(`${buildBase({ log })}\n`);
    else {
      const r = buildImage(what as ImageName, { base: value, log });
      log(r.built ? `built in ${r.seconds.toFixed(0)} s` : "already built");
      process.stdout.write(`${r.ref}\n`);
    }
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(e instanceof ImageBuildError ? 1 : 70);
  }
}
