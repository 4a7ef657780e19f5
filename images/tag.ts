/**
 * The tags of this project's images (images/engine, images/worker): a pure function of repository
 * content, so `cdktf synth` on any machine names the same image and the build (images/build.ts) tags
 * what it builds with the same name. No container tool is asked and nothing is built here.
 *
 * A tag is the first 12 hex digits of a SHA-256 over:
 * - the image's directory images/<image>/ (Containerfile and every file in it; node_modules skipped),
 * - the sources of what the build generates into the context: every repository file the bundles'
 *   entry points import by relative path, transitively (`sourceClosure`: for the engine
 *   images/run-result.ts, for the worker executor/*.ts with runner/s3-client.ts and runner/errors.ts),
 *   plus the esbuild options of the engine's bundles and executor/build.js (the executor bundle's),
 * - the packages that can end up in the image's bundles, as package-lock.json resolves them (name,
 *   version, integrity): what the bundled sources import, with everything those packages depend on,
 *   and esbuild itself. Other dependencies (the CLI's SDK clients, eslint, jest…) are not in it, so
 *   bumping one does not name new images,
 * - the build arguments, BASE being the base image REFERENCE as written (e.g. debian:bookworm-slim).
 *
 * Not in it: file modes and times (the build sets modes itself, images/build.ts `assembleContext`),
 * CRLF versus LF line ends (a Windows checkout gives the same tag), the absolute path of the checkout,
 * the base image's local id (a rebuilt or re-pulled base is noticed by the build through a label, not
 * by a new tag), and the extra CA file of a TLS-inspecting proxy (a build-machine setting).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export type ImageName = "engine" | "worker";
export const IMAGE_NAMES: readonly ImageName[] = ["engine", "worker"];
/** Base image of both images unless a build names another (BASE build argument). */
export const DEFAULT_BASE = "debian:bookworm-slim";

/** esbuild options of the engine image's bundles (entrypoint.ts, hflow-plugin.ts): Node 18 is Debian bookworm's. */
export const ENGINE_BUNDLE_OPTIONS = {
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  legalComments: "none",
  logLevel: "silent",
  charset: "utf8",
} as const;

/** Bumped when the recipe of a tag changes in a way the inputs below do not show. */
const TAG_SCHEME = "hflow-image-tag/1";

/** The repository root: the nearest directory above `from` with hyperflow-infra's package.json. */
export function repoRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string }).name === "hyperflow-infra") return dir;
    if (path.dirname(dir) === dir) throw new Error(`no hyperflow-infra package.json above ${from}`);
  }
}

/** Files below `dir` (relative to `root`, "/"-separated), optionally only those `keep` accepts. */
function filesBelow(root: string, dir: string, keep: (rel: string) => boolean = () => true): string[] {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) {
    throw new Error(`${dir}/ is missing below ${root}: image tags are computed from the repository's sources (a git checkout of hyperflow-infra)`);
  }
  const walk = (rel: string): string[] =>
    fs
      .readdirSync(path.join(root, rel), { withFileTypes: true })
      .filter((e) => e.name !== "node_modules")
      .flatMap((e) => (e.isDirectory() ? walk(path.posix.join(rel, e.name)) : e.isFile() ? [path.posix.join(rel, e.name)] : []));
  return walk(dir).filter(keep);
}

type LockPackage = {
  version?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};

/** The packages a source file imports by bare name (`@scope/pkg/sub` → `@scope/pkg`; `node:` built-ins left out). */
export function importedPackages(text: string): string[] {
  const names = new Set<string>();
  const re = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["']([^"'./][^"']*)["']/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const spec = m[1];
    if (spec.startsWith("node:")) continue;
    const parts = spec.split("/");
    names.add(spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]);
  }
  return [...names];
}

/**
 * `name@version integrity` of every package the image's bundles can contain, sorted: the bare imports of
 * `sources` and, through package-lock.json (v2/v3 `packages`), everything they depend on, resolved the
 * way Node does (nearest node_modules first); plus esbuild, whose version shapes the bundle.
 */
export function bundledPackages(sources: readonly string[], root = repoRoot()): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8")) as { packages?: Record<string, LockPackage> };
  const packages = lock.packages ?? {};
  const seen = new Map<string, LockPackage>();
  const resolve = (name: string, from: string): string | undefined => {
    for (let dir = from; ; dir = dir.includes("/node_modules/") ? dir.slice(0, dir.lastIndexOf("/node_modules/")) : "") {
      const key = `${dir ? `${dir}/` : ""}node_modules/${name}`;
      if (packages[key]) return key;
      if (!dir) return undefined;
    }
  };
  const visit = (name: string, from: string): void => {
    const key = resolve(name, from);
    if (!key || seen.has(key)) return;
    const p = packages[key];
    seen.set(key, p);
    for (const dep of Object.keys({ ...p.dependencies, ...p.optionalDependencies, ...p.peerDependencies })) visit(dep, key);
  };
  const roots = new Set(["esbuild", ...sources.flatMap((f) => importedPackages(fs.readFileSync(path.join(root, f), "utf8")))]);
  for (const name of roots) visit(name, "");
  return [...seen].map(([key, p]) => `${key}@${p.version ?? ""} ${p.integrity ?? ""}`).sort();
}

/** The relative imports of a source file (`./x`, `../y`), as written. */
function relativeImports(text: string): string[] {
  const specs: string[] = [];
  const re = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']*)["']/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) specs.push(m[1]);
  return specs;
}

/**
 * `entries` and every repository source they import by relative path, transitively (what esbuild puts
 * into the bundle besides packages): e.g. the executor's runner/s3-client.ts. Type-only imports count
 * too (harmless: a tag changes more often, never less).
 */
export function sourceClosure(entries: readonly string[], root = repoRoot()): string[] {
  const seen = new Set<string>();
  const visit = (rel: string) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    for (const spec of relativeImports(fs.readFileSync(path.join(root, rel), "utf8"))) {
      const base = path.posix.join(path.posix.dirname(rel), spec);
      const found = [`${base}.ts`, `${base}/index.ts`, base].find((c) => c.endsWith(".ts") && fs.existsSync(path.join(root, c)));
      // A spec with another extension (`./x.js`, `./y.json`) is no source of ours that esbuild would follow here.
      if (!found && /\.[a-z]+$/i.test(spec) && !spec.endsWith(".ts")) continue;
      if (!found) throw new Error(`${rel} imports ${spec}, which is missing below ${root}: image tags are computed from the repository's sources`);
      visit(found);
    }
  };
  for (const e of entries) {
    if (!fs.existsSync(path.join(root, e))) throw new Error(`${e} is missing below ${root}: image tags are computed from the repository's sources`);
    visit(e);
  }
  return [...seen];
}

/** The entry points esbuild bundles into each image. */
const BUNDLE_ENTRIES: Record<ImageName, readonly string[]> = {
  engine: ["images/engine/entrypoint.ts", "images/engine/hflow-plugin.ts"],
  worker: ["executor/main.ts"],
};

/** The repository files a tag of `image` hashes (sorted, relative to the root, "/"-separated). */
export function imageInputFiles(image: ImageName, root = repoRoot()): string[] {
  const files = [...filesBelow(root, `images/${image}`), ...sourceClosure(BUNDLE_ENTRIES[image], root)];
  if (image === "worker") files.push("executor/build.js");
  return [...new Set(files)].sort();
}

/** The TypeScript sources esbuild bundles into the image (their imports decide which packages count). */
function bundleSources(image: ImageName, root: string): string[] {
  return imageInputFiles(image, root).filter((f) => f.endsWith(".ts"));
}

export interface ImageTagOptions {
  /** Base image reference (BASE build argument). @default "debian:bookworm-slim" */
  readonly base?: string;
  /** @default - the repository this module is in */
  readonly root?: string;
}

/** The build arguments of an image build (what the tag hashes and the build passes). */
export function buildArgs(opts: ImageTagOptions = {}): Readonly<Record<string, string>> {
  return { BASE: opts.base ?? DEFAULT_BASE };
}

/** The immutable tag of `image`: 12 hex digits, a pure function of repository content and `base`. */
export function imageTag(image: ImageName, opts: ImageTagOptions = {}): string {
  if (!IMAGE_NAMES.includes(image)) throw new Error(`image ${JSON.stringify(image)}: allowed: ${IMAGE_NAMES.join(", ")}`);
  const root = opts.root ?? repoRoot();
  const h = crypto.createHash("sha256");
  h.update(`${TAG_SCHEME}\0image\0${image}\0`);
  for (const f of imageInputFiles(image, root)) {
    const raw = fs.readFileSync(path.join(root, f));
    // Text files hash with LF line ends whatever the checkout made of them; binaries (with NUL) as they are.
    const content = raw.includes(0) ? raw : Buffer.from(raw.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
    h.update(`file\0${f}\0${content.length}\0`).update(content);
  }
  for (const p of bundledPackages(bundleSources(image, root), root)) h.update(`package\0${p}\0`);
  const args = buildArgs(opts);
  for (const k of Object.keys(args).sort()) h.update(`arg\0${k}\0${args[k]}\0`);
  if (image === "engine") h.update(`bundle\0${JSON.stringify(ENGINE_BUNDLE_OPTIONS)}\0`);
  return h.digest("hex").slice(0, 12);
}
