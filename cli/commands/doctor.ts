/** `doctor`: checks what a deploy needs, without calling any network service. */
import * as os from "node:os";
import type { Command } from "commander";
import { type CommandContext, type GlobalOptions, globalsOf, type Io } from "../context";
import { CREDENTIALS_HINT, credentialSources } from "../credentials";
import { binaryVersion, terraformBinaryName, which } from "../terraform";

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("doctor")
    .description("check node, terraform/tofu, AWS credentials, region and the configuration")
    .addHelpText("after", "\nExample:\n  $ hflow-infra doctor")
    .action(ctx.action((_opts: unknown, cmd: Command) => doctor(globalsOf(cmd), ctx.io)));
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** A failed required check makes doctor exit 1. */
  readonly required: boolean;
}

export function nodeCheck(version = process.versions.node): Check {
  const [major, minor] = version.split(".").map(Number);
  const ok = major > 20 || (major === 20 && minor >= 9);
  return { name: "node", ok, detail: `v${version}${ok ? "" : " (need >= 20.9)"}`, required: true };
}

export function terraformCheck(env: NodeJS.ProcessEnv = process.env): Check {
  const name = terraformBinaryName(env);
  const found = which(name, env);
  if (!found)
    return { name: "terraform", ok: false, detail: `${name} not on PATH (install Terraform >= 1.6 or OpenTofu; TERRAFORM_BINARY_NAME=tofu)`, required: true };
  const version = binaryVersion(found) ?? "version unknown";
  const m = /v(\d+)\.(\d+)/.exec(version);
  const ok = !m || Number(m[1]) > 1 || (Number(m[1]) === 1 && Number(m[2]) >= 6);
  return { name: "terraform", ok, detail: `${found}: ${version}${ok ? "" : " (need >= 1.6)"}`, required: true };
}

export function credentialsCheck(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): Check {
  const sources = credentialSources(env, home);
  return {
    name: "aws credentials",
    ok: sources.length > 0,
    detail:
      sources.length > 0
        ? `found: ${sources.join(", ")} (not verified; no network call)`
        : `none found (${CREDENTIALS_HINT}; an instance role is not checked here: no network call)`,
    required: false,
  };
}

export async function doctor(globals: GlobalOptions, io: Io): Promise<number> {
  const checks: Check[] = [nodeCheck(), terraformCheck(), credentialsCheck()];
  const { ConfigError, loadConfig } = await import("../../config/load"); // zod
  try {
    const { config, file, warnings } = loadConfig({ configPath: globals.config, region: globals.region });
    checks.push({ name: "config", ok: true, detail: `${file ?? "defaults"}${warnings.length ? ` (${warnings.length} warning(s))` : ""}`, required: true });
    for (const w of warnings) checks.push({ name: "config warning", ok: false, detail: w, required: false });
    checks.push({ name: "region", ok: true, detail: config.region, required: true });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    checks.push({ name: "config", ok: false, detail: e.message, required: true });
  }
  for (const c of checks) io.out(`${c.ok ? "ok  " : c.required ? "FAIL" : "warn"}  ${c.name.padEnd(16)} ${c.detail}`);
  return checks.some((c) => c.required && !c.ok) ? 1 : 0;
}
