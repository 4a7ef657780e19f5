/** Drive terraform or OpenTofu (`TERRAFORM_BINARY_NAME=tofu`) in a synthesized stack folder. */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ExitCode, HflowError } from "../common/errors";

/** terraform (or tofu) is not on PATH. */
export class MissingToolError extends HflowError {
  readonly exitCode = ExitCode.missingTool;
}

/** The binary name cdktf uses too: `TERRAFORM_BINARY_NAME`, else `terraform`. */
export function terraformBinaryName(env: NodeJS.ProcessEnv = process.env): string {
  return env.TERRAFORM_BINARY_NAME || "terraform";
}

/** Absolute path of an executable on PATH (or the path itself if it is one), else undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (name.includes(path.sep)) return isExecutable(name) ? name : undefined;
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `terraform version` first line, e.g. "Terraform v1.11.4" or "OpenTofu v1.10.0". */
export function binaryVersion(binary: string): string | undefined {
  const r = spawnSync(binary, ["version"], { encoding: "utf8", timeout: 20_000 });
  if (r.status !== 0) return undefined;
  return r.stdout.split("\n")[0]?.trim();
}

export function requireTerraform(env: NodeJS.ProcessEnv = process.env): string {
  const name = terraformBinaryName(env);
  const found = which(name, env);
  if (!found) {
    throw new MissingToolError(
      `${name} not found on PATH. Install Terraform >= 1.6 (https://developer.hashicorp.com/terraform/install) ` +
        `or OpenTofu and set TERRAFORM_BINARY_NAME=tofu.`,
    );
  }
  return found;
}

/**
 * Whether terraform may colour its output: only when both our stdout and stderr are terminals (it
 * writes to both, inherited), and not with NO_COLOR (https://no-color.org) or TERM=dumb. Elsewhere
 * (CI logs, a pipe, a file) the escape codes are noise, so the commands get `-no-color`.
 */
export function terraformColor(streams: { stdout: { isTTY?: boolean }; stderr: { isTTY?: boolean } } = process, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(streams.stdout.isTTY && streams.stderr.isTTY) && !env.NO_COLOR && env.TERM !== "dumb";
}

/** Run the binary with inherited stdio; resolves with its exit code. */
export function runTerraform(binary: string, args: readonly string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { cwd, stdio: "inherit", env: { ...process.env, TF_IN_AUTOMATION: process.env.TF_IN_AUTOMATION ?? "1" } });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Run the binary and capture stdout (stderr passes through); rejects on a non-zero exit. */
function captureTerraform(binary: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      cwd,
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, TF_IN_AUTOMATION: process.env.TF_IN_AUTOMATION ?? "1" },
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(binary)} ${args.join(" ")} exited with ${code}`))));
  });
}

/** `terraform output -json` as plain values; empty when the stack has no state yet. */
export async function readOutputs(binary: string, cwd: string): Promise<Record<string, unknown>> {
  const text = (await captureTerraform(binary, ["output", "-json"], cwd)).trim();
  if (!text) return {};
  const parsed = JSON.parse(text) as Record<string, { value: unknown }>;
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v.value]));
}

/** `terraform state list`: the addresses of the resources in the stack's state; empty when nothing is deployed. */
export async function stateResources(binary: string, cwd: string): Promise<string[]> {
  const text = await captureTerraform(binary, ["state", "list"], cwd);
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}
