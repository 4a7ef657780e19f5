/**
 * How the CLI starts: every command module registers its commands, and registering stays cheap. cdktf
 * with the providers, the AWS SDK and zod load inside the actions that need them, so `upload` never
 * loads cdktf and `synth` never loads the AWS SDK.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import type { Io } from "../cli/context";
import { COMMAND_MODULES, main } from "../cli/program";
import { importGraph, importsOf, projectFiles, reachable } from "./support/import-graph";

const root = path.join(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-cli-start-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: Io = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) };
  return { code: await main(args, io), out, err };
}

/** Each module's commands, registered on a bare program. */
function registered(): { name: string; description: string }[] {
  const program = new Command("t");
  const ctx = { io: { out() {}, err() {} }, action: () => async () => {} };
  for (const m of COMMAND_MODULES) m.register(program, ctx);
  return program.commands.map((c) => ({ name: c.name(), description: c.description() }));
}

const HEAVY = /^(cdktf|constructs|zod|@cdktf\/|@aws-sdk\/|@smithy\/)/;

describe("command registration", () => {
  test("every command of every module is in --help, with its description, in the order of the modules", async () => {
    const commands = registered();
    expect(commands.map((c) => c.name)).toEqual([
      "synth",
      "deploy",
      "diff",
      "destroy",
      "cost",
      "validate",
      "upload",
      "run",
      "status",
      "app",
      "images",
      "grafana",
      "doctor",
      "config",
    ]);
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    const listed = [...help.out.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]);
    expect(listed).toEqual([...commands.map((c) => c.name), "help"]);
    for (const c of commands) expect(c.description.length).toBeGreaterThan(10);
  });

  test("every command has its own --help with an example (config: each subcommand but docs)", async () => {
    const names = registered()
      .map((c) => c.name)
      .filter((n) => n !== "config");
    for (const n of [...names.map((x) => [x]), ["config", "show"], ["config", "init"], ["config", "schema"], ["images", "build"], ["images", "push"]]) {
      const r = await cli([...n, "--help"]);
      expect([n.join(" "), r.code]).toEqual([n.join(" "), 0]);
      expect(r.out).toMatch(new RegExp(`Examples?:\\n {2}\\$ (TERRAFORM_BINARY_NAME=\\S+ )?hflow-infra `));
    }
  });
});

describe("lazy loading", () => {
  test("what the CLI loads at start (static imports from cli/index.ts) imports no cdktf, construct, AWS SDK or zod", () => {
    const files = projectFiles(root);
    const startup = reachable(importGraph(root, files, ["static"]), "cli/index.ts");
    // Every command module registers at start…
    for (const f of [
      "cli/program.ts",
      "cli/commands/synth-command.ts",
      "cli/commands/job.ts",
      "cli/commands/run.ts",
      "cli/commands/stacks.ts",
      "cli/commands/cost.ts",
      "cli/commands/images.ts",
    ])
      expect(startup).toContain(f);
    // …and none of them pulls a heavy package in with it.
    const heavy = [...startup].flatMap((f) =>
      importsOf(f, fs.readFileSync(path.join(root, f), "utf8"))
        .filter((i) => i.kind === "static" && HEAVY.test(i.specifier))
        .map((i) => `${f} imports ${i.specifier}`),
    );
    expect(heavy).toEqual([]);
    expect([...startup].filter((f) => /^(stacks|constructs|config)\//.test(f))).toEqual([]);
  });

  /** Node's loaded modules after running the compiled CLI: counts per heavy package family. */
  function loaded(args: string[]): { status: number | null; families: Record<string, number> } {
    const hook = path.join(tmp, "hook.js");
    const report = path.join(tmp, `loaded-${args.join("-").replace(/[^a-z]/g, "")}.json`);
    fs.writeFileSync(hook, `process.on("exit", () => require("fs").writeFileSync(process.env.REPORT, JSON.stringify(Object.keys(require.cache))));\n`);
    const r = spawnSync(process.execPath, ["-r", hook, path.join(root, "dist", "cli", "index.js"), ...args], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, REPORT: report, HFLOW_CONFIG: "", HFLOW_REGION: "" },
    });
    const modules = JSON.parse(fs.readFileSync(report, "utf8")) as string[];
    const count = (re: RegExp) => modules.filter((m) => re.test(m)).length;
    return {
      status: r.status,
      families: {
        cdktf: count(/node_modules\/(cdktf|@cdktf\/provider-[^/]+)\//),
        awsSdk: count(/node_modules\/@aws-sdk\//),
        zod: count(/node_modules\/zod\//),
      },
    };
  }

  test("--help of upload, synth, cost and images push loads neither cdktf, the AWS SDK nor zod (compiled CLI)", () => {
    if (!fs.existsSync(path.join(root, "dist", "cli", "index.js"))) throw new Error("dist/ missing: npm test builds it first (npm run build)");
    for (const args of [["upload", "--help"], ["synth", "--help"], ["cost", "--help"], ["images", "push", "--help"], ["--help"]]) {
      expect([args.join(" "), loaded(args)]).toEqual([args.join(" "), { status: 0, families: { cdktf: 0, awsSdk: 0, zod: 0 } }]);
    }
  });

  test("synth loads cdktf but not the AWS SDK; upload loads the AWS SDK but not cdktf", () => {
    const synth = loaded(["-o", path.join(tmp, "out"), "synth"]);
    expect(synth.status).toBe(0);
    expect(synth.families.cdktf).toBeGreaterThan(0);
    expect(synth.families.awsSdk).toBe(0);
    // A closed port: the listing fails at once (exit 1), after the uploader and the SDK are loaded.
    const job = path.join(__dirname, "fixtures", "montage-mini");
    const upload = loaded(["upload", "-j", job, "-b", "some-bucket", "--endpoint", "http://127.0.0.1:9", "--dry-run", "--json"]);
    expect(upload.status).toBe(1);
    expect(upload.families.awsSdk).toBeGreaterThan(0);
    expect(upload.families.cdktf).toBe(0);
  });

  test("an AWS SDK command prints no Node version warning of the SDK (compiled CLI)", () => {
    const job = path.join(__dirname, "fixtures", "montage-mini");
    const run = (extra: Record<string, string>) => {
      const env: NodeJS.ProcessEnv = { ...process.env, HFLOW_CONFIG: "", HFLOW_REGION: "", AWS_REGION: "us-east-1", ...extra };
      if (!("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED" in extra)) delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
      const args = ["upload", "-j", job, "-b", "some-bucket", "--endpoint", "http://127.0.0.1:9", "--dry-run", "--json"];
      return spawnSync(process.execPath, [path.join(root, "dist", "cli", "index.js"), ...args], { cwd: root, encoding: "utf8", env });
    };
    const r = run({});
    expect(r.status).toBe(1); // the closed port, after an S3 client was made
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript|Warning:/);
    // A user who asks for the warning still gets it (the SDK warns below Node 22 only).
    const kept = run({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "false" });
    if (Number(process.versions.node.split(".")[0]) < 22) expect(kept.stderr).toMatch(/NodeVersionSupportWarning: The AWS SDK for JavaScript \(v3\)/);
    else expect(kept.stderr).not.toMatch(/NodeVersionSupportWarning/);
  });
});
