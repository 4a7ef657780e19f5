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
 * - Tags are immutable: `localhost/hflow-<image>:<imageTag(image, { base })>` (images/tag.ts: a hash of
 *   the repository files the image is made from, the build arguments and the base image's reference;
 *   the stacks reference the same tag in ECR). An image that exists with that tag is not rebuilt, unless
 *   the base image's local id differs from the one recorded in the image's label
 *   io.hyperflow-infra.base-id (a re-pulled or rebuilt base): then it is rebuilt under the same tag.
 * - Contexts are assembled in a temporary directory from the sources (modes set here, not taken from
 *   the checkout): the engine gets hyperflow/package*.json and the entrypoint and plugin bundled by
 *   esbuild (one file each, Node 18: Debian bookworm's nodejs); the worker gets the executor bundled
 *   with executor/build.js's options (what `npm run build:executor` makes) and bin/hflow-concat-fit.
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
import { buildArgs, DEFAULT_BASE, ENGINE_BUNDLE_OPTIONS, imageTag, type ImageName, repoRoot } from "./tag";

export { DEFAULT_BASE, imageTag, repoRoot, type ImageName };
export const BASE_IMAGE = "localhost/hflow-debian:bookworm";
/** Label of a built image: the local id of the base image it was built on. */
export const BASE_ID_LABEL = "io.hyperflow-infra.base-id";
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
    const why = r.error
      ? (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT"
        ? `no result within ${opts.timeoutMs / 1000} s`
        : r.error.message
      : `exit code ${r.status ?? r.signal}`;
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

/** The local value of a label of `ref`, or "" when the image or the label is not there. */
export function imageLabel(t: ContainerTool, ref: string, label: string): string {
  const r = spawnSync(t.bin, [...t.globalArgs, "image", "inspect", "--format", `{{index .Config.Labels ${JSON.stringify(label)}}}`, ref], {
    env: t.env,
    encoding: "utf8",
    timeout: 60_000,
  });
  const v = r.status === 0 ? r.stdout.trim() : "";
  return v === "<no value>" ? "" : v;
}

/** Copies a file with a mode chosen here (0644, or 0755 for executables), not the checkout's. */
function copy(from: string, to: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  fs.chmodSync(to, mode);
}

/** Bundles a TypeScript entry point into one CommonJS file for Debian bookworm's Node.js 18. */
export function bundle(entry: string, outfile: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  const r = esbuild.buildSync({ ...ENGINE_BUNDLE_OPTIONS, entryPoints: [entry], outfile });
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
    fs.writeFileSync(path.join(dir, "build-ca.pem"), ca ? fs.readFileSync(ca) : "", { mode: 0o644 });
    bundle(path.join(src, "entrypoint.ts"), path.join(dir, "dist", "entrypoint.js"));
    bundle(path.join(src, "hflow-plugin.ts"), path.join(dir, "dist", "hflow-plugin.js"));
  } else {
    // The executor bundled from its sources with `npm run build:executor`'s options (not a copy of
    // dist/executor/, which may be older than the sources the tag hashes).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { options } = require(path.join(root, "executor", "build.js")) as { options: import("esbuild").BuildOptions };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require("esbuild") as typeof import("esbuild");
    const out = path.join(dir, "hflow-executor.js");
    const r = esbuild.buildSync({ ...options, outfile: out, logLevel: "silent" });
    if (r.errors.length > 0) throw new ImageBuildError(`esbuild executor/main.ts: ${r.errors.map((e) => e.text).join("; ")}`);
    fs.chmodSync(out, 0o755);
    copy(path.join(src, "bin", "hflow-concat-fit"), path.join(dir, "bin", "hflow-concat-fit"), 0o755);
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

/** `localhost/hflow-<image>:<imageTag>`: the local name of a build (push it under the ECR repository's URL with the same tag). */
export function localImageRef(image: ImageName, opts: { base?: string; root?: string } = {}): string {
  return `localhost/hflow-${image}:${imageTag(image, opts)}`;
}

export function buildImage(image: ImageName, opts: BuildOptions = {}): BuiltImage {
  const root = opts.root ?? repoRoot();
  const t = opts.tool ?? detectContainerTool(process.env, root);
  const args0 = buildArgs({ base: opts.base });
  const ref = localImageRef(image, { base: opts.base, root });
  const baseId = imageId(t, args0.BASE);
  if (imageExists(t, ref)) {
    const builtOn = imageLabel(t, ref, BASE_ID_LABEL);
    // Unknown on either side (a base docker had yet to pull, an image built before the label): keep it.
    if (baseId === "" || builtOn === "" || builtOn === baseId) return { ref, built: false, seconds: 0 };
    opts.log?.(`${ref} was built on ${args0.BASE} ${builtOn.slice(0, 19)}, which is now ${baseId.slice(0, 19)}: rebuilding`);
  }
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), `hflow-${image}-ctx-`));
  const started = Date.now();
  try {
    assembleContext(image, ctx, root);
    opts.log?.(`building ${ref} (${t.engine}${t.compat ? ", --runtime runc" : ""}, BASE=${args0.BASE})`);
    const args = ["build", "--network=host", "-f", path.join(ctx, "Containerfile"), "-t", ref];
    if (baseId !== "") args.push("--label", `${BASE_ID_LABEL}=${baseId}`);
    for (const [k, v] of Object.entries(args0)) args.push("--build-arg", `${k}=${v}`);
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
    [
      "/etc/apt/sources.list",
      ...(fs.existsSync("/etc/apt/sources.list.d") ? fs.readdirSync("/etc/apt/sources.list.d").map((f) => path.join("/etc/apt/sources.list.d", f)) : []),
    ].filter((f) => fs.existsSync(f));
  const out: string[] = [];
  for (const file of list) {
    const text = fs.readFileSync(file, "utf8");
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (k: string) =>
          stanza
            .match(new RegExp(`^${k}:\\s*(.+)$`, "mi"))?.[1]
            .trim()
            .split(/\s+/) ?? [];
        if (!field("Types").includes("deb")) continue;
        for (const uri of field("URIs"))
          for (const suite of field("Suites")) if (suite.startsWith("bookworm")) out.push(`deb ${uri} ${suite} ${field("Components").join(" ")}`);
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
  '--aptopt=Acquire::Languages "none"',
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
  const key = crypto
    .createHash("sha256")
    .update(JSON.stringify([args, sources]))
    .digest("hex")
    .slice(0, 12);
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
