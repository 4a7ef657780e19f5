/**
 * The image build library without building images (fast; the builds are in test/e2e): content-hash
 * tags, apt sources for the base, the podman compatibility decision, the assembled contexts (the
 * engine entrypoint bundle runs and rejects bad settings), the entrypoint's reading of the engine task
 * definition's environment, and the result marker contract.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  aptSources,
  assembleContext,
  BASE_ID_LABEL,
  buildImage,
  type ContainerTool,
  detectContainerTool,
  localImageRef,
  podmanCompatNeeded,
  repoRoot,
} from "../images/build";
import { DEFAULT_BASE, IMAGE_NAMES, imageInputFiles, imageTag } from "../images/tag";
import { readConfig } from "../images/engine/entrypoint";
import { parseRunResult, runResultKey, type RunResult } from "../images/run-result";
import { resultMarker } from "./support/run-result";

const root = repoRoot(__dirname);
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-images-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("image tags: a pure function of repository content", () => {
  /** A second checkout at another path: only the files a tag reads, with other modes and CRLF line ends. */
  const checkout = (name: string): string => {
    const dir = path.join(tmp, name);
    for (const f of ["package.json", "package-lock.json", "images/run-result.ts", "images/engine", "images/worker", "executor", "runner", "common"])
      fs.cpSync(path.join(root, f), path.join(dir, f), { recursive: true });
    fs.chmodSync(path.join(dir, "images", "worker", "bin", "hflow-concat-fit"), 0o600);
    const cf = path.join(dir, "images", "engine", "Containerfile");
    fs.writeFileSync(cf, fs.readFileSync(cf, "utf8").replace(/\n/g, "\r\n"));
    fs.utimesSync(path.join(dir, "executor", "main.ts"), new Date(0), new Date(0));
    return dir;
  };

  test("same sources elsewhere (other path, modes, times, CRLF): same tags; 12 hex digits", () => {
    const other = checkout("same");
    for (const image of IMAGE_NAMES) {
      expect(imageTag(image)).toMatch(/^[0-9a-f]{12}$/);
      expect(imageTag(image, { root: other })).toBe(imageTag(image));
    }
    expect(imageTag("engine")).not.toBe(imageTag("worker"));
  });

  test("an executor source changes the worker's tag only; an entrypoint change the engine's only; the base reference both", () => {
    const other = checkout("edited");
    const worker = imageTag("worker", { root: other });
    const engine = imageTag("engine", { root: other });
    fs.appendFileSync(path.join(other, "executor", "settings.ts"), "\n// edited\n");
    expect(imageTag("worker", { root: other })).not.toBe(worker);
    expect(imageTag("engine", { root: other })).toBe(engine);
    const worker2 = imageTag("worker", { root: other });
    fs.appendFileSync(path.join(other, "images", "engine", "entrypoint.ts"), "\n// edited\n");
    expect(imageTag("engine", { root: other })).not.toBe(engine);
    expect(imageTag("worker", { root: other })).toBe(worker2);
    // A production package's version is in the tag; a development tool's is not.
    const lockFile = path.join(other, "package-lock.json");
    const lock = JSON.parse(fs.readFileSync(lockFile, "utf8"));
    lock.packages["node_modules/jest"].version = "0.0.0-dev-bump";
    fs.writeFileSync(lockFile, JSON.stringify(lock));
    expect(imageTag("worker", { root: other })).toBe(worker2);
    // A dependency no bundle imports (the CLI's Price List client) is not either.
    const engine2 = imageTag("engine", { root: other });
    lock.packages["node_modules/@aws-sdk/client-pricing"].version = "0.0.0-cli-only-bump";
    fs.writeFileSync(lockFile, JSON.stringify(lock));
    expect([imageTag("worker", { root: other }), imageTag("engine", { root: other })]).toEqual([worker2, engine2]);
    // amqplib is bundled into the worker (the executor imports it), not into the engine's bundles.
    lock.packages["node_modules/amqplib"].version = "0.0.0-prod-bump";
    fs.writeFileSync(lockFile, JSON.stringify(lock));
    expect(imageTag("worker", { root: other })).not.toBe(worker2);
    expect(imageTag("engine", { root: other })).toBe(engine2);
    // A package reached only through another (the SDK's own dependencies) counts too.
    const worker3 = imageTag("worker", { root: other });
    lock.packages["node_modules/@smithy/types"].version = "0.0.0-transitive-bump";
    fs.writeFileSync(lockFile, JSON.stringify(lock));
    expect(imageTag("worker", { root: other })).not.toBe(worker3);
    expect(imageTag("worker", { base: "localhost/hflow-debian:bookworm" })).not.toBe(imageTag("worker"));
    expect(imageTag("worker", { base: DEFAULT_BASE })).toBe(imageTag("worker"));
    expect(imageInputFiles("worker")).toEqual(
      expect.arrayContaining(["executor/build.js", "executor/main.ts", "images/worker/Containerfile", "images/worker/bin/hflow-concat-fit"]),
    );
    expect(imageInputFiles("engine")).toEqual(
      expect.arrayContaining([
        "images/engine/Containerfile",
        "images/engine/entrypoint.ts",
        "images/engine/hflow-plugin.ts",
        "images/engine/hyperflow/package-lock.json",
        "images/run-result.ts",
      ]),
    );
    expect(imageInputFiles("engine").some((f) => f.startsWith("executor/"))).toBe(false);
  });

  test("a rebuilt local base keeps the tag: the build rebuilds under the same name (label), and reuses it while the base is unchanged", () => {
    // A container tool that answers like podman: the base's id comes from BASE_ID, the label of the
    // existing image from LABEL; every call is logged.
    const bin = path.join(tmp, "fake-tool");
    fs.mkdirSync(bin, { recursive: true });
    const log = path.join(bin, "calls.log");
    fs.writeFileSync(
      path.join(bin, "podman"),
      `#!/bin/sh
echo "$*" >> "${log}"
case "$*" in
  "image inspect --format {{.Id}} "*) echo "$BASE_ID" ;;
  "image inspect --format {{index .Config.Labels"*) echo "$LABEL" ;;
  "image inspect "*) test -n "$EXISTS" ;;
  build*) exit 0 ;;
  *) exit 9 ;;
esac
`,
      { mode: 0o755 },
    );
    const fake = (env: Record<string, string>): ContainerTool => ({
      engine: "podman",
      bin: path.join(bin, "podman"),
      globalArgs: [],
      env: { PATH: process.env.PATH, ...env },
      compat: false,
    });
    const want = `localhost/hflow-engine:${imageTag("engine")}`;
    expect(localImageRef("engine")).toBe(want);

    const fresh = buildImage("engine", { tool: fake({ BASE_ID: "sha256:aaaa" }) });
    expect(fresh).toMatchObject({ ref: want, built: true });
    expect(fs.readFileSync(log, "utf8")).toMatch(
      new RegExp(`^build .* -t ${want} --label ${BASE_ID_LABEL}=sha256:aaaa --build-arg BASE=debian:bookworm-slim `, "m"),
    );

    fs.rmSync(log);
    expect(buildImage("engine", { tool: fake({ BASE_ID: "sha256:aaaa", LABEL: "sha256:aaaa", EXISTS: "1" }) })).toEqual({
      ref: want,
      built: false,
      seconds: 0,
    });
    expect(fs.readFileSync(log, "utf8")).not.toMatch(/^build/m);

    const rebuilt = buildImage("engine", { tool: fake({ BASE_ID: "sha256:bbbb", LABEL: "sha256:aaaa", EXISTS: "1" }) });
    expect(rebuilt).toMatchObject({ ref: want, built: true });
    expect(fs.readFileSync(log, "utf8")).toMatch(new RegExp(`^build .* -t ${want} --label ${BASE_ID_LABEL}=sha256:bbbb `, "m"));
  });
});

describe("engine context", () => {
  let ctx: string;
  beforeAll(() => {
    ctx = path.join(tmp, "engine");
    assembleContext("engine", ctx, root, { ...process.env, HFLOW_BUILD_CA_FILE: "", NODE_EXTRA_CA_CERTS: "" });
  });

  test("holds the Containerfile, the pinned HyperFlow lock and the two bundles", () => {
    const list = (d: string): string[] =>
      fs.readdirSync(path.join(ctx, d), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? list(path.join(d, e.name)) : [path.join(d, e.name)]));
    expect(list("").sort()).toEqual([
      "Containerfile",
      "build-ca.pem",
      "dist/entrypoint.js",
      "dist/hflow-plugin.js",
      "hyperflow/package-lock.json",
      "hyperflow/package.json",
    ]);
    expect(fs.readFileSync(path.join(ctx, "build-ca.pem"), "utf8")).toBe("");
    const lock = JSON.parse(fs.readFileSync(path.join(ctx, "hyperflow", "package-lock.json"), "utf8"));
    expect(lock.packages["node_modules/@hyperflow/hyperflow"].version).toBe("1.7.0");
    expect(fs.readFileSync(path.join(ctx, "Containerfile"), "utf8")).toMatch(/^ARG BASE=debian:bookworm-slim$/m);
    // One self-contained file: the only package left to require at run time is the SDK's optional CRT
    // signer (loaded in a try/catch); the image has no node_modules for the entrypoint.
    const requires = fs.readFileSync(path.join(ctx, "dist", "entrypoint.js"), "utf8").match(/require\("(@[^"]+|[^".][^":]*)"\)/g) ?? [];
    expect(
      [...new Set(requires)].filter(
        (r) =>
          !/^require\("node:/.test(r) &&
          !/^require\("(fs|path|os|http|https|crypto|stream|url|util|buffer|events|net|tls|child_process|zlib|process|http2|dns|timers|string_decoder|worker_threads|querystring|assert)"\)$/.test(
            r,
          ),
      ),
    ).toEqual(['require("@aws-sdk/signature-v4-crt")']);
  });

  test("the bundled entrypoint exits 3 with one clear line on a bad environment, before any network", () => {
    const run = (env: Record<string, string>, args: string[] = []) =>
      spawnSync(process.execPath, [path.join(ctx, "dist", "entrypoint.js"), ...args], {
        env: { PATH: process.env.PATH, ...env },
        encoding: "utf8",
        timeout: 30_000,
      });
    const noBucket = run({});
    expect(noBucket.status).toBe(3);
    expect(noBucket.stdout).toBe("[hflow-entrypoint] error: S3_BUCKET is not set: the engine task definition passes the workflow bucket's name in it\n");
    const badArgs = run({ S3_BUCKET: "b" }, ["sleep", "5"]);
    expect(badArgs.status).toBe(3);
    expect(badArgs.stdout).toContain('arguments ["sleep","5"]: allowed: none, or "hflow run <workdir>/<workflow>.json [-s]"');
  });
});

test("worker context: the executor bundled from its sources (not dist/), the Montage helper executable", () => {
  const ctx = path.join(tmp, "worker-ctx");
  assembleContext("worker", ctx, root);
  expect(fs.readdirSync(ctx).sort()).toEqual(["Containerfile", "bin", "hflow-executor.js"]);
  expect(fs.statSync(path.join(ctx, "bin", "hflow-concat-fit")).mode & 0o777).toBe(0o755);
  const bundle = fs.readFileSync(path.join(ctx, "hflow-executor.js"), "utf8");
  expect(bundle.startsWith("#!/usr/bin/env node\n")).toBe(true);
  // Self-contained: it runs and rejects a bad setting with the executor's own message.
  const r = spawnSync(process.execPath, [path.join(ctx, "hflow-executor.js")], {
    env: { PATH: process.env.PATH, STORAGE: "ftp" },
    encoding: "utf8",
    timeout: 30_000,
  });
  expect(r.status).toBe(2);
  expect(`${r.stdout}${r.stderr}`).toContain('STORAGE="ftp" is not valid; allowed: cloud (or s3), nfs, local');
});

describe("container tool", () => {
  test("podman compatibility: explicit 1/0, bad values named, automatic = not a cgroup v2 host", () => {
    expect(podmanCompatNeeded({ HFLOW_PODMAN_COMPAT: "1" })).toBe(true);
    expect(podmanCompatNeeded({ HFLOW_PODMAN_COMPAT: "0" })).toBe(false);
    expect(() => podmanCompatNeeded({ HFLOW_PODMAN_COMPAT: "yes" })).toThrow('HFLOW_PODMAN_COMPAT="yes": allowed: 1, 0 or unset (automatic)');
    expect(podmanCompatNeeded({})).toBe(fs.statfsSync("/sys/fs/cgroup").type !== 0x63677270);
  });

  test("compat mode adds --runtime runc and the repo's containers.conf; a missing tool is named", () => {
    const bin = path.join(tmp, "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, "podman"), "#!/bin/sh\n", { mode: 0o755 });
    const t = detectContainerTool({ PATH: bin, HFLOW_PODMAN_COMPAT: "1" }, root);
    expect(t).toMatchObject({ engine: "podman", bin: path.join(bin, "podman"), globalArgs: ["--runtime", "runc"], compat: true });
    expect(t.env.CONTAINERS_CONF).toBe(path.join(root, "images", "containers.conf"));
    expect(fs.readFileSync(t.env.CONTAINERS_CONF!, "utf8")).toMatch(/^\[containers\]\ndefault_ulimits = \[\]$/m);
    expect(detectContainerTool({ PATH: bin, HFLOW_PODMAN_COMPAT: "1", CONTAINERS_CONF: "/etc/mine.conf" }, root).env.CONTAINERS_CONF).toBe("/etc/mine.conf");
    expect(detectContainerTool({ PATH: bin, HFLOW_PODMAN_COMPAT: "0" }, root)).toMatchObject({ globalArgs: [], compat: false });
    expect(() => detectContainerTool({ PATH: bin, HFLOW_CONTAINER_ENGINE: "docker" }, root)).toThrow(/^docker is not installed \(not on PATH\)/);
    expect(() => detectContainerTool({ PATH: bin, HFLOW_CONTAINER_ENGINE: "lxc" }, root)).toThrow('HFLOW_CONTAINER_ENGINE="lxc": allowed: podman, docker');
  });
});

test("apt sources for mmdebstrap: bookworm suites from deb822 and one-line files, deduplicated", () => {
  const a = path.join(tmp, "debian.sources");
  fs.writeFileSync(
    a,
    "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb-src\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: trixie\nComponents: main\n",
  );
  const b = path.join(tmp, "sources.list");
  fs.writeFileSync(
    b,
    "# comment\ndeb [signed-by=/k.gpg] http://sec.example/debian-security bookworm-security main contrib\ndeb http://mirror.example/debian bookworm main\n",
  );
  expect(aptSources([a, b])).toEqual([
    "deb http://mirror.example/debian bookworm main",
    "deb http://mirror.example/debian bookworm-updates main",
    "deb http://sec.example/debian-security bookworm-security main contrib",
  ]);
  expect(aptSources([])).toEqual(["deb http://deb.debian.org/debian bookworm main"]);
});

describe("entrypoint configuration: the engine task definition's environment (constructs/engine/engine-task.ts)", () => {
  const task = { S3_BUCKET: "wf-bucket", S3_PATH: "montage/0.25/input/", REDIS_URL: "redis://127.0.0.1:6379", AWS_REGION: "eu-central-1" };

  test("the prefix comes from S3_PATH; the task's command picks the workflow file and workdir", () => {
    expect(readConfig(task, ["/hyperflow/bin/hflow", "run", "/workdir/dag.json", "-s"])).toMatchObject({
      bucket: "wf-bucket",
      prefix: "montage/0.25/",
      workdir: "/workdir",
      workflowFile: "dag.json",
      region: "eu-central-1",
      externalRedis: false,
      timeoutMs: 0,
      fetchTimeoutMs: 600_000,
      redisTimeoutMs: 20_000,
    });
    expect(readConfig({ ...task, S3_PATH: "input/" }, [])).toMatchObject({ prefix: "", workdir: "/workdir", workflowFile: undefined });
    expect(readConfig({ ...task, HFLOW_PREFIX: "other/" }, [])).toMatchObject({ prefix: "other/" });
    expect(readConfig({ S3_BUCKET: "b", HFLOW_S3_ENDPOINT: "http://127.0.0.1:7480" }, [])).toMatchObject({
      prefix: "",
      endpoint: "http://127.0.0.1:7480",
      region: "us-east-1",
    });
  });

  test("bad values are named with what is allowed", () => {
    expect(() => readConfig({ ...task, S3_PATH: "montage/data/" }, [])).toThrow('S3_PATH="montage/data/": expected "<prefix>input/" (or set HFLOW_PREFIX)');
    expect(() => readConfig({ ...task, HFLOW_PREFIX: "p" }, [])).toThrow('HFLOW_PREFIX="p": allowed: empty or ending in "/"');
    expect(() => readConfig({ ...task, HFLOW_TIMEOUT_SECONDS: "soon" }, [])).toThrow('HFLOW_TIMEOUT_SECONDS="soon": allowed: a number of seconds ≥ 0');
    expect(() => readConfig({ ...task, HFLOW_WORKFLOW_FILE: "../x.json" }, [])).toThrow('workflow file "../x.json": allowed: a .json file name in the workdir');
  });
});

describe("result marker", () => {
  const good: RunResult = resultMarker("0123abcd", {
    status: "failed",
    exitCode: 1,
    reason: "task mDiff_001_002 failed: exit 1",
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    durationMs: 60_000,
    workflow: { file: "dag.json", name: "m", processes: 3, signals: 5 },
    tasks: { started: 2, succeeded: 1, failed: 1 },
    fetched: { files: 1, bytes: 10 },
  });

  test("key layout and run ids", () => {
    expect(runResultKey("montage/", "0123abcd")).toBe("montage/runs/0123abcd/result.json");
    expect(runResultKey("", "run-20260101T000000Z-a1b2c3")).toBe("runs/run-20260101T000000Z-a1b2c3/result.json");
    expect(() => runResultKey("montage", "x")).toThrow('prefix "montage": must be empty or end in "/"');
    expect(() => runResultKey("", "../x")).toThrow(/run id "\.\.\/x": allowed/);
  });

  test("round trip, and a marker that contradicts itself is rejected naming the field", () => {
    expect(parseRunResult(JSON.stringify(good))).toEqual(good);
    expect(() => parseRunResult(JSON.stringify({ ...good, exitCode: 0 }))).toThrow('run result: exitCode is 0; allowed: 0 exactly when status is "succeeded"');
    expect(() => parseRunResult(JSON.stringify({ ...good, status: "done" }))).toThrow('run result: status is "done"; allowed: "succeeded" or "failed"');
    expect(() => parseRunResult(JSON.stringify({ ...good, tasks: { started: 1 } }))).toThrow("run result: tasks.succeeded is undefined; allowed: an integer");
    expect(() => parseRunResult("{")).toThrow(/^run result is not JSON/);
  });
});
