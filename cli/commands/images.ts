/**
 * `images build` / `images push`: this project's container images (images/engine, images/worker), built
 * with podman or docker (images/build.ts) and pushed to the ECR repositories of the deployed `ecs` stack
 * (images/push.ts). `run` uses ensureImages() to push what its deployment references and ECR lacks.
 */
import type { Command } from "commander";
import { UsageError } from "../../common/errors";
import type { HyperflowConfig } from "../../config/schema";
import type { ContainerTool } from "../../images/build";
import type { ImageTarget, PushOutcome } from "../../images/push";
import type { ImageName } from "../../images/tag";
import { type CommandContext, type GlobalOptions, globalsOf, type ImageDeps, type Io } from "../context";
import { MissingToolError, which } from "../terraform";
import { type ImageServices, imageServices, loadForCommand } from "./shared";

/** Image names in the order `all` handles them (the worker first: the ecs stack runs it). */
const IMAGES: readonly ImageName[] = ["worker", "engine"];
const ENGINES = ["podman", "docker"] as const;

interface ImagesOptions {
  readonly base?: string;
  readonly engine?: string;
}

export function register(program: Command, ctx: CommandContext): void {
  const images = program
    .command("images")
    .description("build this project's engine and worker images and push them to the deployment's ECR repositories")
    .addHelpText("after", "\nExamples:\n  $ hflow-infra images build all\n  $ hflow-infra images push worker --engine docker");
  const common = (c: Command) =>
    c
      .argument("[image]", `${IMAGES.join(", ")} or all`, "all")
      .option("--base <ref>", "base image of the build (BASE build argument; default debian:bookworm-slim)")
      .option("--engine <engine>", "container engine: podman or docker (env HFLOW_CONTAINER_ENGINE; default the first on PATH)");
  common(images.command("build"))
    .description("build the images with content-hash tags (an image already built with its tag is not rebuilt); prints each reference")
    .addHelpText("after", "\nExamples:\n  $ hflow-infra images build\n  $ hflow-infra images build engine --base localhost/hflow-debian:bookworm")
    .action(ctx.action((image: string, opts: ImagesOptions) => buildCommand(image, opts, ctx.io, ctx.deps?.images)));
  common(images.command("push"))
    .description("push the images to the ECR repositories of the deployed ecs stack; a tag already in ECR is skipped, a missing image is built first")
    .addHelpText(
      "after",
      "\nECR tags are immutable: the content tag of an image that is already there is left alone.\n\nExample:\n  $ hflow-infra images push all",
    )
    .action(ctx.action((image: string, opts: ImagesOptions, cmd: Command) => pushCommand(globalsOf(cmd), image, opts, ctx.io, ctx.deps?.images)));
}

/** The images an argument names (`all`: every one); UsageError otherwise. */
export function resolveImages(arg: string | undefined): ImageName[] {
  if (arg === undefined || arg === "all") return [...IMAGES];
  if ((IMAGES as readonly string[]).includes(arg)) return [arg as ImageName];
  throw new UsageError(`unknown image ${JSON.stringify(arg)}; allowed: ${IMAGES.join(", ")}, all`);
}

/**
 * podman or docker as asked (`--engine`, else HFLOW_CONTAINER_ENGINE, else the first on PATH): a bad
 * name is a UsageError (exit 2), none installed a MissingToolError (exit 3).
 */
export async function containerTool(engine: string | undefined, env: NodeJS.ProcessEnv = process.env, root?: string): Promise<ContainerTool> {
  const fromEnv = env.HFLOW_CONTAINER_ENGINE || undefined;
  const wanted = engine ?? fromEnv;
  if (wanted !== undefined && !(ENGINES as readonly string[]).includes(wanted)) {
    throw new UsageError(
      `${engine !== undefined ? "--engine" : "HFLOW_CONTAINER_ENGINE"} ${JSON.stringify(wanted)} is not allowed; allowed: ${ENGINES.join(", ")}`,
    );
  }
  const candidates = wanted ? [wanted] : [...ENGINES];
  if (!candidates.some((c) => which(c, env))) {
    throw new MissingToolError(`${candidates.join(" or ")} not found on PATH: install podman (apt-get install podman runc) or docker to build images`);
  }
  const { detectContainerTool, ImageBuildError, repoRoot } = await import("../../images/build");
  try {
    return detectContainerTool({ ...env, HFLOW_CONTAINER_ENGINE: wanted ?? "" }, root ?? repoRoot());
  } catch (e) {
    // What is left to go wrong is a bad setting (HFLOW_PODMAN_COMPAT).
    if (e instanceof ImageBuildError) throw new UsageError(e.message);
    throw e;
  }
}

export async function buildCommand(image: string, o: ImagesOptions, io: Io, given?: ImageDeps): Promise<number> {
  const names = resolveImages(image);
  const deps = await imageServices(io, given);
  const tool = await containerTool(o.engine, deps.env, deps.root);
  const { buildImage } = await import("../../images/build");
  for (const name of names) {
    const p = deps.progress(`build ${name}`);
    p.update(`${tool.engine}: assembling the context`);
    const b = buildImage(name, { tool, root: deps.root, base: o.base ?? deps.base, log: (l) => p.update(l) });
    p.done(b.built ? `${b.ref} built in ${b.seconds.toFixed(0)} s` : `${b.ref} already built`);
    io.out(b.ref);
  }
  return 0;
}

/**
 * The ECR repository URL of each image, from the `ecs` stack's outputs (`<image>_repository_url`);
 * images without one are left out.
 */
export function repositoryUrls(ecsOutputs: Readonly<Record<string, unknown>>): Partial<Record<ImageName, string>> {
  const urls: Partial<Record<ImageName, string>> = {};
  for (const name of IMAGES) {
    const v = ecsOutputs[`${name}_repository_url`];
    if (typeof v === "string" && v !== "") urls[name] = v;
  }
  return urls;
}

/** The image the config sets for `name` (it wins over the deployment's own repository), if any. */
export function configuredImage(config: HyperflowConfig, name: ImageName): string | undefined {
  return (name === "worker" ? config.ecs.images.worker : config.runner.engineImage) || undefined;
}

/** The `ecs` stack's outputs through terraform; UsageError when it is not deployed. */
async function ecsOutputs(config: HyperflowConfig, outdir: string): Promise<Record<string, unknown>> {
  const { Workspace } = await import("../workspace"); // cdktf and the providers
  const ws = Workspace.withTerraform(config, outdir);
  ws.synth();
  if ((await ws.init("ecs")) !== 0) throw new Error("ecs: terraform init failed");
  const out = await ws.outputs("ecs");
  if (Object.keys(out).length === 0)
    throw new UsageError("the ecs stack is not deployed: its ECR repositories do not exist yet (hflow-infra deploy network ecs)");
  return out;
}

function outcomeLine(o: PushOutcome): string {
  return `${o.remote}  ${o.pushed ? `pushed${o.built ? " (built first)" : ""}` : "already in ECR"}`;
}

export async function pushCommand(globals: GlobalOptions, image: string, o: ImagesOptions, io: Io, given?: ImageDeps): Promise<number> {
  const names = resolveImages(image);
  const deps = await imageServices(io, given);
  const tool = await containerTool(o.engine, deps.env, deps.root);
  const { config } = await loadForCommand(globals, io);
  const urls = repositoryUrls(await ecsOutputs(config, globals.out));
  const missing = names.filter((n) => !urls[n]);
  if (missing.length > 0) {
    throw new UsageError(
      `the deployed ecs stack has no ECR repository for ${missing.join(", ")} (output ${missing.map((n) => `${n}_repository_url`).join(", ")}): deploy it again with this version (hflow-infra deploy ecs)`,
    );
  }
  const { pushImages } = await import("../../images/push");
  const ecr = deps.ecr(config.region);
  try {
    const outcomes = await pushImages(
      names.map((n) => ({ image: n, repositoryUrl: urls[n]! })),
      { tool, ecr, root: deps.root, base: o.base ?? deps.base, progress: deps.progress },
    );
    for (const outcome of outcomes) io.out(outcomeLine(outcome));
    return 0;
  } finally {
    ecr.destroy();
  }
}

/**
 * The images deployed task definitions take from the deployment's own ECR repositories, with the tags
 * they name: `refs` are the image references the stacks output (`worker_image` of the ecs stack,
 * `engine_image` of the runner stack). An image set in the config is not in those repositories, so it
 * is not among them: nothing to build.
 */
export function deployedImages(urls: Partial<Record<ImageName, string>>, refs: Partial<Record<ImageName, unknown>>): ImageTarget[] {
  const targets: ImageTarget[] = [];
  for (const image of IMAGES) {
    const url = urls[image];
    const ref = refs[image];
    if (url && typeof ref === "string" && ref.startsWith(`${url}:`)) targets.push({ image, repositoryUrl: url, tag: ref.slice(url.length + 1) });
  }
  return targets;
}

/** For `run`: builds and pushes the deployed images ECR lacks (see deployedImages), as a step of the run. */
export async function ensureImages(
  region: string,
  targets: readonly ImageTarget[],
  tool: ContainerTool | undefined,
  io: Io,
  deps: ImageServices,
): Promise<PushOutcome[]> {
  if (targets.length === 0) return [];
  io.err(`==> images: ${targets.map((t) => `${t.repositoryUrl}:${t.tag}`).join(", ")}`);
  const { pushImages } = await import("../../images/push");
  const ecr = deps.ecr(region);
  try {
    return await pushImages(targets, {
      tool: tool ?? (await containerTool(undefined, deps.env, deps.root)),
      ecr,
      root: deps.root,
      base: deps.base,
      progress: deps.progress,
    });
  } finally {
    ecr.destroy();
  }
}
