/**
 * The executor bundle: one file with everything but Node.js built-ins, for node18, that starts on its
 * own (copied to a folder with no node_modules anywhere above it), reports bad settings with exit code 2
 * and one line, and drains on SIGTERM.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { builtinModules } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import * as esbuild from "esbuild";
import { ENGINE_BUNDLE_OPTIONS, imageInputFiles } from "../images/tag";
import { ensureExecutorBundle } from "./support/executor";
import { freePort } from "./support/rgw";

const { options } = require("../executor/build.js") as { options: esbuild.BuildOptions };

let isolated: string;
let bundle: string;
beforeAll(() => {
  isolated = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-bundle-"));
  bundle = path.join(isolated, "hflow-executor.js");
  fs.copyFileSync(ensureExecutorBundle(), bundle);
});
afterAll(() => fs.rmSync(isolated, { recursive: true, force: true }));

test("every import is bundled except Node.js built-ins; target node18; one output file", async () => {
  expect(options.target).toBe("node18");
  const r = await esbuild.build({ ...options, write: false, metafile: true, logLevel: "silent" });
  const outputs = Object.entries(r.metafile!.outputs);
  expect(outputs).toHaveLength(1);
  const external = outputs[0][1].imports.filter((i) => i.external).map((i) => i.path.replace(/^node:/, ""));
  expect(external.filter((p) => !builtinModules.includes(p))).toEqual([]);
  const inputs = Object.keys(r.metafile!.inputs);
  for (const pkg of ["@aws-sdk/client-s3", "@aws-sdk/credential-provider-node", "@aws-sdk/lib-storage", "amqplib"])
    expect({ pkg, bundled: inputs.some((i) => i.includes(`node_modules/${pkg}/`)) }).toEqual({ pkg, bundled: true });
});

test("every repository file the image bundles contain is an input of the image's tag (a change to it names a new image)", async () => {
  const root = path.resolve(__dirname, "..");
  const ownSources = (m: esbuild.Metafile) => Object.keys(m.inputs).filter((i) => !i.includes("node_modules/"));
  const worker = await esbuild.build({ ...options, absWorkingDir: root, write: false, metafile: true, logLevel: "silent" });
  const workerSources = ownSources(worker.metafile!);
  // The executor's bundle reaches beyond executor/: the S3 client and error text of runner/.
  expect(workerSources).toEqual(expect.arrayContaining(["executor/main.ts", "executor/cache.ts", "runner/s3-client.ts", "runner/errors.ts"]));
  expect(imageInputFiles("worker", root)).toEqual(expect.arrayContaining(workerSources));
  const engine = await esbuild.build({
    ...ENGINE_BUNDLE_OPTIONS,
    entryPoints: ["images/engine/entrypoint.ts", "images/engine/hflow-plugin.ts"].map((f) => path.join(root, f)),
    outdir: path.join(isolated, "engine"),
    absWorkingDir: root,
    write: false,
    metafile: true,
  });
  const engineSources = ownSources(engine.metafile!);
  expect(engineSources).toEqual(expect.arrayContaining(["images/engine/entrypoint.ts", "images/run-result.ts"]));
  expect(imageInputFiles("engine", root)).toEqual(expect.arrayContaining(engineSources));
  expect(imageInputFiles("engine", root).some((f) => f.startsWith("executor/") || f.startsWith("runner/"))).toBe(false);
});

test("a bad setting: exit code 2 and one line naming the variable, its value and what is allowed", () => {
  expect(fs.existsSync(path.join(os.tmpdir(), "node_modules"))).toBe(false);
  const r = spawnSync(process.execPath, [bundle], { cwd: isolated, env: { PATH: process.env.PATH, STORAGE: "nfs", NFS_MOUNT: "shared" }, encoding: "utf8" });
  expect({ status: r.status, stderr: r.stderr, stdout: r.stdout }).toEqual({
    status: 2,
    stderr: 'hflow-executor: NFS_MOUNT="shared" is not valid; allowed: an absolute directory path\n',
    stdout: "",
  });
});

test("starts on its own, retries an absent broker, and exits 0 on SIGTERM", async () => {
  const child = spawn(process.execPath, [bundle], {
    cwd: isolated,
    env: {
      PATH: process.env.PATH,
      STORAGE: "local",
      WORKDIR: isolated,
      AMQP_URL: `amqp://user:pw@127.0.0.1:${await freePort()}`,
      AMQP_RECONNECT_MAX_DELAY: "0.2",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b) => (out += b));
  child.stderr!.on("data", (b) => (out += b));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const deadline = Date.now() + 15_000;
  while ((out.match(/reconnecting in/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  expect(out).toMatch(/starting: executor .*broker amqp:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/? queue hyperflow\.jobs/);
  expect(out).toMatch(/cannot connect to .*ECONNREFUSED/);
  expect(out).toMatch(/SIGTERM: draining \(0 running job\(s\)\)/);
  expect(out).not.toMatch(/pw@/);
});
