/**
 * Builds the app image (images/app/Containerfile) with the container tool images/build.ts finds: the
 * context is the Containerfile, the example MPI program and the entrypoint bundled by esbuild into one
 * file (Node 18, Debian bookworm's). Tagged `localhost/hflow-app:<hash>`, the hash over the context and
 * the base image reference, so an unchanged image is not rebuilt.
 *
 *   node dist/images/app/build.js [--base REF]     prints the image reference
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bundle, type ContainerTool, DEFAULT_BASE, detectContainerTool, imageExists, ImageBuildError, repoRoot, tool } from "../build";

/** Writes the build context into `dir`; returns the files' hash (the tag). */
export function assembleAppContext(dir: string, base: string, root = repoRoot()): string {
  const src = path.join(root, "images", "app");
  fs.mkdirSync(path.join(dir, "examples"), { recursive: true });
  fs.copyFileSync(path.join(src, "Containerfile"), path.join(dir, "Containerfile"));
  fs.copyFileSync(path.join(src, "examples", "pi.c"), path.join(dir, "examples", "pi.c"));
  bundle(path.join(src, "entrypoint.ts"), path.join(dir, "hflow-app.js"));
  const hash = crypto.createHash("sha256").update(`hflow-app-image/1\0${base}\0`);
  for (const f of ["Containerfile", "examples/pi.c", "hflow-app.js"])
    hash
      .update(`${f}\0`)
      .update(fs.readFileSync(path.join(dir, f)))
      .update("\0");
  return hash.digest("hex").slice(0, 12);
}

export function buildAppImage(opts: { base?: string; tool?: ContainerTool; log?: (line: string) => void } = {}): string {
  const base = opts.base ?? DEFAULT_BASE;
  const t = opts.tool ?? detectContainerTool();
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-app-ctx-"));
  try {
    const ref = `localhost/hflow-app:${assembleAppContext(ctx, base)}`;
    if (imageExists(t, ref)) return ref;
    opts.log?.(`building ${ref} (BASE=${base})`);
    tool(t, ["build", "--network=host", "--build-arg", `BASE=${base}`, "-f", path.join(ctx, "Containerfile"), "-t", ref, ctx], 30 * 60_000);
    return ref;
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const [flag, value] = process.argv.slice(2);
  if (flag !== undefined && (flag !== "--base" || !value)) {
    process.stderr.write("usage: node dist/images/app/build.js [--base REF]\n");
    process.exit(2);
  }
  try {
    process.stdout.write(`${buildAppImage({ base: value, log: (l) => process.stderr.write(`${l}\n`) })}\n`);
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(e instanceof ImageBuildError ? 1 : 70);
  }
}
