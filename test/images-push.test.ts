/**
 * `hflow-infra images build|push` with podman against a real registry (Debian's docker-registry, the
 * CNCF distribution registry, on loopback with htpasswd auth), an ECR stand-in for the control plane
 * (GetAuthorizationToken, DescribeImages in the SDK's shapes) and a terraform stand-in for the ecs
 * stack's outputs. The images come from tiny stand-in sources (test/support/image-sources.ts).
 */
import type * as ChildProcess from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Io } from "../cli/context";
import { main } from "../cli/program";
import { type ContainerTool, detectContainerTool, imageExists } from "../images/build";
import { isLoopbackRegistry, parseRepositoryUrl } from "../images/push";
import { imageTag } from "../images/tag";
import { imageSources, removeImages } from "./support/image-sources";
import { fakeEcr, type Registry, startRegistry } from "./support/registry";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-images-"));
const salt = crypto.randomBytes(6).toString("hex");
const root = imageSources(path.join(tmp, "src"), salt);
const state = path.join(tmp, "tf-state");
const bin = path.join(tmp, "bin");
let registry: Registry;
let tool: ContainerTool;
let env: NodeJS.ProcessEnv;
const created: string[] = [];

/** Every command line spawned (spawn and spawnSync), as an argument vector. */
const spawned: string[][] = [];
// The module object itself (an `import * as` namespace cannot be spied on): what images/*.ts call into.

const childProcess = require("node:child_process") as typeof ChildProcess;
const realSpawn = childProcess.spawn;
const realSpawnSync = childProcess.spawnSync;

beforeAll(async () => {
  registry = await startRegistry();
  // Credentials of this test only, not the user's.
  env = { ...process.env, REGISTRY_AUTH_FILE: path.join(tmp, "auth.json") };
  tool = detectContainerTool(env, root);
  fs.mkdirSync(state, { recursive: true });
  fs.mkdirSync(bin, { recursive: true });
  // A terraform stand-in: the ecs stack's outputs are those in $state/ecs.json once it exists.
  fs.writeFileSync(
    path.join(bin, "tf"),
    `#!/bin/sh
stack=$(basename "$PWD")
case "$1" in
  output) if [ -f "${state}/$stack.json" ]; then cat "${state}/$stack.json"; else echo '{}'; fi ;;
esac
exit 0
`,
    { mode: 0o755 },
  );
  jest.spyOn(childProcess, "spawn").mockImplementation(((cmd: string, args: readonly string[], opts: ChildProcess.SpawnOptions) => {
    spawned.push([cmd, ...(args ?? [])]);
    return realSpawn(cmd, args, opts);
  }) as typeof childProcess.spawn);
  jest.spyOn(childProcess, "spawnSync").mockImplementation(((cmd: string, args: readonly string[], opts: ChildProcess.SpawnSyncOptions) => {
    spawned.push([cmd, ...(args ?? [])]);
    return realSpawnSync(cmd, args, opts);
  }) as typeof childProcess.spawnSync);
});

afterAll(async () => {
  jest.restoreAllMocks();
  try {
    if (tool) removeImages(tool, created);
  } finally {
    await registry?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

beforeEach(() => {
  spawned.length = 0;
});

function deployEcs(outputs: Record<string, string> | undefined): void {
  const file = path.join(state, "ecs.json");
  if (outputs === undefined) fs.rmSync(file, { force: true });
  else fs.writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { value: v }]))));
}

const repoUrls = () => ({
  cluster_name: "lab",
  worker_repository_url: `${registry.host}/hyperflow/worker`,
  engine_repository_url: `${registry.host}/hyperflow/engine`,
});

async function cli(args: string[], images: Record<string, unknown>): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: Io = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) };
  const saved = process.env.TERRAFORM_BINARY_NAME;
  process.env.TERRAFORM_BINARY_NAME = path.join(bin, "tf");
  try {
    return { code: await main(["-o", path.join(tmp, "out"), ...args], io, { images }), out, err };
  } finally {
    if (saved === undefined) delete process.env.TERRAFORM_BINARY_NAME;
    else process.env.TERRAFORM_BINARY_NAME = saved;
  }
}

/** The lines of stderr that are not config warnings. */
const errLines = (err: string) =>
  err
    .trim()
    .split("\n")
    .filter((l) => l && !l.startsWith("warning: "));

describe("images push to a real registry", () => {
  let ecr: ReturnType<typeof fakeEcr>;
  beforeEach(() => {
    ecr = fakeEcr(registry);
  });
  const deps = () => ({ root, env, base: "scratch", ecr: () => ecr });

  test("a missing image is built, the token goes to login on stdin only, the image lands in the registry", async () => {
    deployEcs(repoUrls());
    const tag = imageTag("worker", { root, base: "scratch" });
    created.push(`localhost/hflow-worker:${tag}`, `${registry.host}/hyperflow/worker:${tag}`);
    expect(await registry.digest("hyperflow/worker", tag)).toBeUndefined();

    const r = await cli(["images", "push", "worker"], deps());
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(`${registry.host}/hyperflow/worker:${tag}  pushed (built first)`);
    expect(await registry.digest("hyperflow/worker", tag)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ecr.calls.map((c) => c.op)).toEqual(["DescribeImages", "GetAuthorizationToken"]);
    expect(ecr.calls[0].input).toEqual({ repositoryName: "hyperflow/worker", registryId: undefined, imageIds: [{ imageTag: tag }] });

    // The spawned commands: build, login (user and --password-stdin, no password), tag, push.
    const sub = (argv: string[]) => argv.slice(1 + tool.globalArgs.length);
    const podman = spawned.filter((a) => a[0] === tool.bin).map(sub);
    expect(podman.find((a) => a[0] === "login")).toEqual(["login", "--username", "AWS", "--password-stdin", "--tls-verify=false", registry.host]);
    expect(podman.filter((a) => ["build", "tag", "push"].includes(a[0])).map((a) => a[0])).toEqual(["build", "tag", "push"]);
    expect(podman.find((a) => a[0] === "push")).toEqual(["push", "--tls-verify=false", `${registry.host}/hyperflow/worker:${tag}`]);
    const token = Buffer.from(`AWS:${registry.password}`).toString("base64");
    for (const secret of [registry.password, token]) {
      expect(spawned.filter((a) => a.some((x) => x.includes(secret)))).toEqual([]);
      expect(r.out + r.err).not.toContain(secret);
    }
    // The login went through: podman keeps the credentials in this test's auth file.
    expect(Object.keys((JSON.parse(fs.readFileSync(path.join(tmp, "auth.json"), "utf8")) as { auths: object }).auths)).toEqual([registry.host]);
    // Progress, plain lines (not a terminal): the build, then the push.
    expect(r.err).toMatch(/build worker: building localhost\/hflow-worker:[0-9a-f]{12} \(podman/);
    expect(r.err).toMatch(new RegExp(`push worker: pushed ${registry.host.replace(/\./g, "\\.")}/hyperflow/worker:${tag} in \\d+ s`));
  });

  test("a tag already in ECR is skipped: nothing built, no login, no push; `all` pushes only what is missing", async () => {
    deployEcs(repoUrls());
    const r = await cli(["images", "push", "worker"], deps());
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\/hyperflow\/worker:[0-9a-f]{12} {2}already in ECR\n$/);
    expect(ecr.calls.map((c) => c.op)).toEqual(["DescribeImages"]);
    expect(spawned.filter((a) => a[0] === tool.bin).map((a) => a[1 + tool.globalArgs.length])).not.toEqual(expect.arrayContaining(["build"]));
    expect(spawned.some((a) => a.includes("login") || a.includes("push"))).toBe(false);

    const engineTag = imageTag("engine", { root, base: "scratch" });
    created.push(`localhost/hflow-engine:${engineTag}`, `${registry.host}/hyperflow/engine:${engineTag}`);
    const all = await cli(["images", "push", "all"], deps());
    expect(all.code).toBe(0);
    expect(all.out.trim().split("\n")).toEqual([
      expect.stringMatching(/worker:[0-9a-f]{12} {2}already in ECR$/),
      `${registry.host}/hyperflow/engine:${engineTag}  pushed (built first)`,
    ]);
    expect(ecr.calls.map((c) => c.op)).toEqual(["DescribeImages", "DescribeImages", "DescribeImages", "GetAuthorizationToken"]);
    expect(await registry.digest("hyperflow/engine", engineTag)).toMatch(/^sha256:/);
  });

  test("images build prints the reference and does not rebuild an image it has", async () => {
    const salt2 = crypto.randomBytes(6).toString("hex");
    const root2 = imageSources(path.join(tmp, "src2"), salt2);
    const tag = imageTag("engine", { root: root2, base: "scratch" });
    created.push(`localhost/hflow-engine:${tag}`);
    const first = await cli(["images", "build", "engine"], { root: root2, env, base: "scratch" });
    expect(first.code).toBe(0);
    expect(first.out).toBe(`localhost/hflow-engine:${tag}\n`);
    expect(imageExists(tool, `localhost/hflow-engine:${tag}`)).toBe(true);
    expect(first.err).toMatch(/build engine: localhost\/hflow-engine:[0-9a-f]{12} built in \d+ s/);
    const again = await cli(["images", "build", "engine"], { root: root2, env, base: "scratch" });
    expect(again.out).toBe(first.out);
    expect(again.err).toMatch(/already built/);
    expect(spawned.filter((a) => a.includes("build"))).toEqual([expect.arrayContaining(["build"])]);
  });
});

describe("images: bad input is one line, exit 2 (3 for a missing container engine)", () => {
  const deps = () => ({ root, env, base: "scratch", ecr: () => fakeEcr(registry) });

  test.each([
    [["images", "build", "broker"], /^unknown image "broker"; allowed: worker, engine, all$/],
    [["images", "push", "nope"], /^unknown image "nope"; allowed: worker, engine, all$/],
    [["images", "build", "--engine", "containerd"], /^--engine "containerd" is not allowed; allowed: podman, docker$/],
  ])("%j", async (args, message) => {
    const r = await cli(args, deps());
    expect(r.code).toBe(2);
    expect(errLines(r.err)).toEqual([expect.stringMatching(message)]);
    expect(spawned).toEqual([]);
  });

  test("no podman or docker on PATH: exit 3", async () => {
    const empty = path.join(tmp, "empty-path");
    fs.mkdirSync(empty, { recursive: true });
    const r = await cli(["images", "build", "worker"], { root, env: { ...env, PATH: empty }, base: "scratch" });
    expect(r.code).toBe(3);
    expect(errLines(r.err)).toEqual(["podman or docker not found on PATH: install podman (apt-get install podman runc) or docker to build images"]);
    const docker = await cli(["images", "build", "--engine", "docker"], { root, env: { ...env, PATH: empty } });
    expect(docker.code).toBe(3);
    expect(errLines(docker.err)).toEqual([expect.stringMatching(/^docker not found on PATH/)]);
  });

  test("ecs stack not deployed, or deployed without repositories: exit 2 before anything is built", async () => {
    deployEcs(undefined);
    const r = await cli(["images", "push"], deps());
    expect(r.code).toBe(2);
    expect(errLines(r.err)).toEqual(["the ecs stack is not deployed: its ECR repositories do not exist yet (hflow-infra deploy network ecs)"]);
    deployEcs({ cluster_name: "lab" });
    const old = await cli(["images", "push", "engine"], deps());
    expect(old.code).toBe(2);
    expect(errLines(old.err)).toEqual([expect.stringMatching(/^the deployed ecs stack has no ECR repository for engine \(output engine_repository_url\)/)]);
    expect(spawned.filter((a) => a[0] === tool.bin)).toEqual([]);
  });
});

describe("repository URLs", () => {
  test("ECR and loopback registries", () => {
    expect(parseRepositoryUrl("123456789012.dkr.ecr.eu-west-1.amazonaws.com/hyperflow/worker")).toEqual({
      registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      name: "hyperflow/worker",
      registryId: "123456789012",
    });
    expect(parseRepositoryUrl("127.0.0.1:5000/w")).toEqual({ registry: "127.0.0.1:5000", name: "w", registryId: undefined });
    expect(() => parseRepositoryUrl("hyperflow/Worker:tag")).toThrow(/expected <registry host>\/<repository name>/);
    expect(["127.0.0.1:5000", "localhost:5000", "[::1]:5000", "127.3.2.1"].map(isLoopbackRegistry)).toEqual([true, true, true, true]);
    expect(["123456789012.dkr.ecr.eu-west-1.amazonaws.com", "10.0.0.1:5000", "127.example.com"].map(isLoopbackRegistry)).toEqual([false, false, false]);
  });
});
