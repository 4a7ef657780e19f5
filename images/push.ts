/**
 * Pushes this project's images (images/build.ts) to their ECR repositories, which the `ecs` stack
 * creates: for each image, ask ECR whether its content tag (images/tag.ts, the tag the task definitions
 * name) is already there (ECR tags are immutable, and the same tag means the same content), and only if
 * not build it (when it is not built locally), log in and push `<repository url>:<tag>`.
 *
 * - ECR's control plane (GetAuthorizationToken, DescribeImages) sits behind EcrApi, in the SDK's own
 *   request and response shapes; images/ecr.ts is the real one. This module loads no SDK.
 * - Login: the token's password goes to `<engine> login --username AWS --password-stdin <registry>` on
 *   stdin; it is never an argument, never printed, and blanked out of any error text.
 * - A registry on a loopback address is spoken to without TLS verification (podman `--tls-verify=false`;
 *   docker treats 127.0.0.0/8 as insecure by itself); every other registry with it.
 * - Commands run asynchronously (argument vector, no shell, time limit) so progress can show.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import type {
  DescribeImagesCommandInput,
  DescribeImagesCommandOutput,
  GetAuthorizationTokenCommandInput,
  GetAuthorizationTokenCommandOutput,
} from "@aws-sdk/client-ecr";
import type { StepProgress } from "../runner/progress";
import { buildImage, type ContainerTool, ImageBuildError } from "./build";
import { imageTag, type ImageName } from "./tag";

/** The two ECR calls a push needs, as the SDK's ECRClient answers them. */
export interface EcrApi {
  getAuthorizationToken(input: GetAuthorizationTokenCommandInput): Promise<GetAuthorizationTokenCommandOutput>;
  describeImages(input: DescribeImagesCommandInput): Promise<DescribeImagesCommandOutput>;
}

export interface Repository {
  /** Registry host (and port), e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`. */
  readonly registry: string;
  /** Repository name inside the registry, e.g. `hyperflow/worker`. */
  readonly name: string;
  /** The account of an ECR registry host; undefined for other hosts. */
  readonly registryId?: string;
}

/** Splits a repository URL (`<registry>/<name>`, as the `ecs` stack outputs it). */
export function parseRepositoryUrl(url: string): Repository {
  const m = /^([A-Za-z0-9.-]+(?::\d+)?|\[[0-9a-fA-F:]+\](?::\d+)?)\/([a-z0-9]+(?:[._/-][a-z0-9]+)*)$/.exec(url);
  if (!m)
    throw new ImageBuildError(
      `repository URL ${JSON.stringify(url)}: expected <registry host>/<repository name>, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/hyperflow/worker`,
    );
  const account = /^(\d{12})\.dkr\.ecr\./.exec(m[1]);
  return { registry: m[1], name: m[2], registryId: account?.[1] };
}

/** Whether a registry host is on this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith("[") ? registry.slice(1, registry.indexOf("]")) : registry.replace(/:\d+$/, "");
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `--tls-verify=false` for a loopback registry with podman; nothing otherwise. */
function tlsArgs(t: ContainerTool, registry: string): string[] {
  return t.engine === "podman" && isLoopbackRegistry(registry) ? ["--tls-verify=false"] : [];
}

export interface ExecOptions {
  readonly timeoutMs: number;
  /** Written to the command's stdin (a password): never an argument. */
  readonly input?: string;
  /** Each non-empty line the command writes (stdout and stderr). */
  readonly onLine?: (line: string) => void;
  /** Text blanked out of the error message should the command fail. */
  readonly secret?: string;
}

/** Runs a container tool subcommand (global arguments and environment of the tool); resolves with stdout. */
export function execTool(t: ContainerTool, args: readonly string[], o: ExecOptions): Promise<string> {
  const argv = [...t.globalArgs, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(t.bin, argv, { env: t.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let all = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, o.timeoutMs);
    const lines = (chunk: Buffer, toStdout: boolean) => {
      const text = chunk.toString();
      if (toStdout) stdout += text;
      all += text;
      if (all.length > 64 * 1024) all = all.slice(-32 * 1024);
      for (const l of text.split(/[\r\n]+/)) if (l.trim()) o.onLine?.(l.trim());
    };
    child.stdout.on("data", (c: Buffer) => lines(c, true));
    child.stderr.on("data", (c: Buffer) => lines(c, false));
    child.stdin.on("error", () => {}); // a command that exits before reading its stdin
    child.stdin.end(o.input ?? "");
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new ImageBuildError(`${path.basename(t.bin)} ${argv.join(" ")}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(stdout);
      const scrub = (s: string) => (o.secret ? s.split(o.secret).join("***") : s);
      const tail = scrub(all).trim().split("\n").slice(-15).join("\n");
      const why = timedOut ? `no result within ${o.timeoutMs / 1000} s` : `exit code ${code ?? signal}`;
      reject(new ImageBuildError(`${path.basename(t.bin)} ${argv.join(" ")}: ${why}${tail ? `\n${tail}` : ""}`));
    });
  });
}

/** Whether the repository holds an image with this tag (DescribeImages; ImageNotFoundException: no). */
export async function imageInRepository(ecr: EcrApi, repo: Repository, tag: string): Promise<boolean> {
  try {
    const r = await ecr.describeImages({ repositoryName: repo.name, registryId: repo.registryId, imageIds: [{ imageTag: tag }] });
    return (r.imageDetails ?? []).some((d) => (d.imageTags ?? []).includes(tag));
  } catch (e) {
    const name = (e as { name?: string }).name;
    if (name === "ImageNotFoundException") return false;
    if (name === "RepositoryNotFoundException")
      throw new ImageBuildError(`ECR repository ${repo.name} does not exist in ${repo.registry}: deploy the ecs stack (hflow-infra deploy ecs)`);
    throw e;
  }
}

/** Logs the container tool in to the registry with an ECR token (password on stdin only). */
export async function registryLogin(t: ContainerTool, ecr: EcrApi, repo: Repository): Promise<void> {
  const r = await ecr.getAuthorizationToken(repo.registryId ? { registryIds: [repo.registryId] } : {});
  const token = r.authorizationData?.[0]?.authorizationToken;
  if (!token) throw new ImageBuildError(`ECR GetAuthorizationToken returned no token for ${repo.registry}`);
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) throw new ImageBuildError(`ECR GetAuthorizationToken for ${repo.registry}: the token is not <user>:<password> in base64`);
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  await execTool(t, ["login", "--username", user, "--password-stdin", ...tlsArgs(t, repo.registry), repo.registry], {
    timeoutMs: 120_000,
    input: password,
    secret: password,
  });
}

export interface ImageTarget {
  readonly image: ImageName;
  /** `<registry>/<repository>` without a tag. */
  readonly repositoryUrl: string;
  /**
   * The tag to push: what a deployment references. The build must give the image this tag (its
   * sources and base unchanged since the deployment was synthesized). @default imageTag(image, { base, root })
   */
  readonly tag?: string;
}

export interface PushOptions {
  readonly tool: ContainerTool;
  readonly ecr: EcrApi;
  /** Repository root the images are built from. @default repoRoot() */
  readonly root?: string;
  /** Base image (BASE build argument). @default "debian:bookworm-slim" */
  readonly base?: string;
  /** Progress of one step ("build worker", "push worker"). */
  readonly progress: (label: string) => StepProgress;
}

export interface PushOutcome {
  readonly image: ImageName;
  /** `<repository url>:<tag>`. */
  readonly remote: string;
  /** False: the repository already had this tag, nothing was built or pushed. */
  readonly pushed: boolean;
  /** The image was built for this push (not already built locally). */
  readonly built: boolean;
  readonly seconds: number;
}

/** Builds (if needed) and pushes each image whose tag its repository lacks; logs in once per registry. */
export async function pushImages(targets: readonly ImageTarget[], o: PushOptions): Promise<PushOutcome[]> {
  const loggedIn = new Set<string>();
  const outcomes: PushOutcome[] = [];
  for (const target of targets) {
    const started = Date.now();
    const repo = parseRepositoryUrl(target.repositoryUrl);
    const tag = target.tag ?? imageTag(target.image, { base: o.base, root: o.root });
    const remote = `${target.repositoryUrl}:${tag}`;
    const push = o.progress(`push ${target.image}`);
    push.update(`looking for ${remote}`);
    if (await imageInRepository(o.ecr, repo, tag)) {
      push.done(`${remote} is already in the repository: skipped`);
      outcomes.push({ image: target.image, remote, pushed: false, built: false, seconds: (Date.now() - started) / 1000 });
      continue;
    }
    const local = imageTag(target.image, { base: o.base, root: o.root });
    if (local !== tag) {
      throw new ImageBuildError(
        `${remote} is not in the repository, and these sources build ${target.image} with tag ${local} (the deployment was synthesized from other sources or another base): deploy the current images (hflow-infra deploy ecs runner), or push that tag from the checkout it was made from`,
      );
    }
    const build = o.progress(`build ${target.image}`);
    const b = buildImage(target.image, { tool: o.tool, root: o.root, base: o.base, log: (l) => build.update(l) });
    build.done(b.built ? `${b.ref} built in ${b.seconds.toFixed(0)} s` : `${b.ref} already built`);
    if (!loggedIn.has(repo.registry)) {
      push.update(`${o.tool.engine} login ${repo.registry}`);
      await registryLogin(o.tool, o.ecr, repo);
      loggedIn.add(repo.registry);
    }
    await execTool(o.tool, ["tag", b.ref, remote], { timeoutMs: 60_000 });
    await execTool(o.tool, ["push", ...tlsArgs(o.tool, repo.registry), remote], { timeoutMs: 30 * 60_000, onLine: (l) => push.update(l) });
    const seconds = (Date.now() - started) / 1000;
    push.done(`pushed ${remote} in ${seconds.toFixed(0)} s`);
    outcomes.push({ image: target.image, remote, pushed: true, built: b.built, seconds });
  }
  return outcomes;
}
