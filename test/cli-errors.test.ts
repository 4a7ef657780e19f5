/**
 * Errors blame the right place and say enough: a value from a flag or the environment is blamed on it,
 * a map key gets the schema's own words, a config path that names nothing is an error (never a silent
 * fallback to defaults), a bad key prefix is refused before any request, and every command that takes
 * --json prints JSON on every error path.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import { COMMAND_MODULES } from "../cli/program";
import type { CommandContext } from "../cli/context";
import { UsageError } from "../common/errors";
import { ConfigError, loadConfig } from "../config/load";
import { createS3Client } from "../runner/s3-client";
import { syncToS3 } from "../runner/s3-sync";
import { credentialsEnv } from "./support/aws-env";
import { runCli } from "./support/cli";
import { serve } from "./support/http-recorder";

// Created at load: the --json cases below are built (with their config files) while the tests are collected.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-errors-"));
const NO_ENV = { HFLOW_CONFIG: undefined, HFLOW_REGION: undefined, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, HFLOW_JOB_DIR: undefined };
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error("no ConfigError");
}

describe("a value from a flag or the environment is blamed on it", () => {
  test("--region: the flag, not the defaults or the file", async () => {
    const r = await runCli(["-o", path.join(tmp, "never"), "--region", "mars-1", "synth"], NO_ENV);
    expect(r.code).toBe(2);
    expect(r.err).toContain("invalid configuration in --region: 1 problem");
    expect(r.err).toContain('region (from --region): is not an AWS region; allowed: a region name such as us-east-1 or eu-central-1 (got "mars-1")');
    expect(r.err).not.toMatch(/defaults/);
  });
  test("each override names its own origin; problems of the file keep the file's name", () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "cwd-"));
    fs.writeFileSync(path.join(cwd, "c.json"), JSON.stringify({ ecs: { clusterName: "bad name" } }));
    const cases: [Parameters<typeof loadConfig>[0], string][] = [
      [{ cwd, env: { HFLOW_REGION: "x-1" } }, "region (from HFLOW_REGION)"],
      [{ cwd, env: { AWS_REGION: "x-1" } }, "region (from AWS_REGION)"],
      [{ cwd, env: { AWS_DEFAULT_REGION: "x-1" } }, "region (from AWS_DEFAULT_REGION)"],
      [{ cwd, env: {}, region: "x-1", configPath: "c.json" }, "region (from --region)"],
    ];
    for (const [options, blamed] of cases) expect(configError(() => loadConfig(options)).message).toContain(`${blamed}: is not an AWS region`);
    const mixed = configError(() => loadConfig({ cwd, env: {}, region: "x-1", configPath: "c.json" }));
    expect(mixed.message).toContain("invalid configuration in c.json: 2 problems");
    expect(mixed.message).toMatch(/ecs\.clusterName: is not a valid ECS cluster name/);
  });
});

test("a tag key with the aws: prefix gets the schema's own message, naming the key", () => {
  const e = configError(() => loadConfig({ env: {}, cwd: tmp, configPath: writeConfig({ tags: { "aws:owner": "me" } }) }));
  expect(e.message).toContain(
    'tags.aws:owner: the key is not a valid tag key; allowed: 1–128 letters, digits, spaces and _.:/=+-@, not starting with aws: (got "aws:owner")',
  );
  expect(e.message).not.toMatch(/Invalid key in record/);
});

let configNo = 0;
function writeConfig(value: unknown): string {
  const file = path.join(tmp, `config-${++configNo}.json`);
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

describe("a config path that names nothing is an error, never a fallback to defaults", () => {
  test("-c naming a dangling symbolic link, or nothing: exit 2 naming it", async () => {
    const link = path.join(tmp, "dangling.json");
    fs.symlinkSync(path.join(tmp, "gone.json"), link);
    const r = await runCli(["-c", link, "config", "show"], NO_ENV);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`is a symbolic link to ${path.join(tmp, "gone.json")}, which does not exist`);
    expect(r.out).toBe("");
    const missing = await runCli(["-c", path.join(tmp, "nothing.json"), "config", "show"], NO_ENV);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("config file not found");
    const env = await runCli(["config", "show"], { ...NO_ENV, HFLOW_CONFIG: link });
    expect(env.code).toBe(2);
  });
  test("./hyperflow.config.json as a dangling link: an error, not the defaults", () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "cwd-"));
    fs.symlinkSync("elsewhere.json", path.join(cwd, "hyperflow.config.json"));
    expect(configError(() => loadConfig({ cwd, env: {} })).message).toContain(
      "hyperflow.config.json is a symbolic link to elsewhere.json, which does not exist",
    );
    // No file at all still means the defaults.
    expect(loadConfig({ cwd: fs.mkdtempSync(path.join(tmp, "cwd-")), env: {} }).file).toBeUndefined();
  });
});

describe("a bad key prefix is refused before anything reaches S3", () => {
  const job = path.join(__dirname, "fixtures", "montage-mini");
  test.each(["../../", "..", "a/../", "./x/", "a b/"])("upload --prefix %j: exit 2, zero requests", async (prefix) => {
    const s3 = await serve((_req, res) => res.writeHead(500).end());
    try {
      const r = await runCli(["upload", "-j", job, "-b", "bucket", "--endpoint", s3.url, "--prefix", prefix], {
        ...NO_ENV,
        ...credentialsEnv({ accessKeyId: "k", secretAccessKey: "s" }),
      });
      expect(r.code).toBe(2);
      expect(r.err).toContain(`--prefix ${JSON.stringify(prefix)} is not a key prefix; allowed: empty, or segments`);
      expect(s3.seen).toEqual([]);
    } finally {
      await s3.close();
    }
  });
  test("the uploader itself refuses it (every caller): no request", async () => {
    const s3 = await serve((_req, res) => res.writeHead(500).end());
    const client = createS3Client({ region: "us-east-1", endpoint: s3.url, credentials: { accessKeyId: "k", secretAccessKey: "s" } });
    try {
      await expect(syncToS3({ client, bucket: "b", prefix: "../../", files: [] })).rejects.toThrow(UsageError);
      expect(s3.seen).toEqual([]);
    } finally {
      client.destroy();
      await s3.close();
    }
  });
  test("upload --region is checked too", async () => {
    const r = await runCli(["--region", "mars-1", "upload", "-j", job, "-b", "bucket", "--endpoint", "http://127.0.0.1:9"], NO_ENV);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--region "mars-1" is not an AWS region');
  });
});

/** Every command path (`config show`, `validate`) whose command has a --json option, found from the program. */
function jsonCommands(): string[][] {
  const program = new Command("hflow-infra");
  const ctx: CommandContext = { io: { out() {}, err() {} }, action: () => async () => {} };
  for (const m of COMMAND_MODULES) m.register(program, ctx);
  const out: string[][] = [];
  const walk = (c: Command, at: string[]) => {
    for (const sub of c.commands) {
      const p = [...at, sub.name()];
      if (sub.options.some((o) => o.long === "--json")) out.push(p);
      walk(sub, p);
    }
  };
  walk(program, []);
  return out;
}

describe("every command that takes --json prints JSON on every error path", () => {
  const commands = jsonCommands();
  test("the commands are found from the program", () => {
    expect(commands).toEqual(expect.arrayContaining([["validate"], ["upload"], ["synth"], ["cost"]]));
  });
  const badConfig = () => writeConfig({ region: "moon-1", tags: { "aws:x": "y" } });
  const cases: [string, (cmd: string[]) => string[] | undefined][] = [
    ["a missing required option or bad config", (cmd) => ["-c", badConfig(), ...cmd, "--json"]],
    ["a config file that is not there", (cmd) => ["-c", path.join(tmp, "none.json"), ...cmd, "--json"]],
    ["a job directory that is not there", (cmd) => [...cmd, "--json", "--job-dir", path.join(tmp, "no-job"), "-b", "bucket"]],
    ["an unknown option", (cmd) => [...cmd, "--json", "--no-such-option"]],
  ];
  test.each(commands.flatMap((cmd) => cases.map(([what, args]) => [cmd.join(" "), what, args(cmd)] as const)))(
    "%s with %s: exit 2 and a JSON object with errors on stdout",
    async (_cmd, _what, args) => {
      const r = await runCli(args!, NO_ENV);
      expect(r.code).toBe(2);
      const parsed = JSON.parse(r.out);
      expect(parsed).toEqual(expect.objectContaining({ ok: false, exitCode: 2, message: expect.any(String) }));
      expect(parsed.errors.length).toBeGreaterThan(0);
    },
  );
  test("config problems come out one by one with path, message and value", async () => {
    const r = await runCli(["-c", badConfig(), "synth", "--json"], NO_ENV);
    const parsed = JSON.parse(r.out);
    expect(parsed.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: "region", value: "moon-1" }),
        expect.objectContaining({ path: "tags.aws:x", message: expect.stringContaining("not starting with aws:") }),
      ]),
    );
  });
  test("job directory problems come out one by one with file and problem", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "job-"));
    const r = await runCli(["validate", "--json", "--job-dir", dir], NO_ENV);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).errors[0]).toEqual(expect.objectContaining({ file: expect.any(String), problem: expect.any(String) }));
  });
});
