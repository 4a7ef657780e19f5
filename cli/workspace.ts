/**
 * The synthesized stacks and terraform (or OpenTofu) in their folders: synthesize in-process with a
 * summary, then init / plan / apply / destroy a stack and read its outputs. `synth`, `deploy`/`diff`/
 * `destroy`, `grafana` and `run` all go through it.
 *
 * Loads cdktf and the providers: commands import it inside their actions, never at start.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PathError, UsageError } from "../common/errors";
import type { HyperflowConfig } from "../config/schema";
import { buildApp, STACK_NAMES, type StackName, stackNames } from "../stacks/app";
import { readOutputs, requireTerraform, runTerraform, stateResources, terraformColor } from "./terraform";

export type StackAction = "deploy" | "diff" | "destroy";

/** Validates stack names against the stacks the config has, in dependency order (reverse for destroy). */
export function resolveStacks(requested: readonly string[], action: StackAction, available: readonly StackName[] = STACK_NAMES): StackName[] {
  const unknown = requested.filter((s) => s !== "all" && !(STACK_NAMES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw new UsageError(`unknown stack ${unknown.map((s) => `"${s}"`).join(", ")}; allowed: ${[...available, "all"].join(", ")}`);
  }
  const disabled = requested.filter((s) => s !== "all" && !(available as readonly string[]).includes(s));
  if (disabled.length > 0) {
    throw new UsageError(
      `stack ${disabled.map((s) => `"${s}"`).join(", ")} is not part of this configuration (grafana needs "monitoring": { "enabled": true }, batch an app in "batch": { "apps": { … } }); available: ${available.join(", ")}`,
    );
  }
  const wanted = requested.includes("all") ? [...available] : available.filter((s) => requested.includes(s));
  return action === "destroy" ? wanted.reverse() : wanted;
}

/** What `synth` prints per stack. */
interface StackSummary {
  readonly stack: StackName;
  readonly resources: number;
  readonly dataSources: number;
  readonly outputs: readonly string[];
  readonly directory: string;
}

export function formatTable(rows: readonly StackSummary[]): string {
  const header = ["stack", "resources", "data sources", "outputs"];
  const body = rows.map((r) => [r.stack, String(r.resources), String(r.dataSources), r.outputs.join(", ")]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

export type TerraformStep = "init" | "plan" | "apply" | "destroy";

interface StepOptions {
  /** apply / destroy without asking. */
  readonly autoApprove?: boolean;
  /** Let terraform colour its output; default: only when stdout and stderr are terminals (terraformColor). */
  readonly color?: boolean;
}

/** terraform's arguments for a step, e.g. `apply -input=false -auto-approve -no-color`. */
export function terraformArgs(step: TerraformStep, o: StepOptions = {}): string[] {
  const approve = o.autoApprove && (step === "apply" || step === "destroy") ? ["-auto-approve"] : [];
  const color = o.color ?? terraformColor();
  return [step, "-input=false", ...approve, ...(color ? [] : ["-no-color"])];
}

/**
 * Checks the output directory (`-o`) before anything is written: it is a directory or can be created
 * (its nearest existing ancestor is a writable directory). Throws PathError (exit 2) naming the path.
 */
export function checkOutdir(outdir: string): void {
  const flag = `output directory (-o) ${outdir}`;
  let dir = path.resolve(outdir);
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Missing (or below a file, ENOTDIR): look at the parent.
      if (code !== "ENOENT" && code !== "ENOTDIR") throw new PathError(flag, `cannot read ${dir} (${code ?? (e as Error).message})`);
    }
    if (st) {
      if (!st.isDirectory()) throw new PathError(flag, dir === path.resolve(outdir) ? "is a file, not a directory" : `${dir} is a file, not a directory`);
      try {
        fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
      } catch (e) {
        throw new PathError(flag, `cannot write to ${dir} (${(e as NodeJS.ErrnoException).code ?? "not writable"})`);
      }
      return;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

export class Workspace {
  /** The stacks of this configuration, in dependency order. */
  readonly stacks: readonly StackName[];

  /** A workspace to synthesize only (`synth`); `withTerraform` for one that also runs terraform. */
  constructor(
    readonly config: HyperflowConfig,
    readonly outdir: string,
    private readonly terraformBinary?: string,
  ) {
    this.stacks = Workspace.stacksOf(config);
  }

  /** The stacks a configuration has, in dependency order (`grafana` only with monitoring, …). */
  static stacksOf(config: HyperflowConfig): StackName[] {
    return stackNames(config);
  }

  /**
   * A workspace that runs terraform, or OpenTofu with `TERRAFORM_BINARY_NAME=tofu`. A missing binary
   * throws MissingToolError (exit 3) here, before anything is synthesized.
   */
  static withTerraform(config: HyperflowConfig, outdir: string, env: NodeJS.ProcessEnv = process.env): Workspace {
    return new Workspace(config, outdir, requireTerraform(env));
  }

  /** Path of the terraform or tofu binary. */
  get binary(): string {
    if (!this.terraformBinary) throw new Error("this workspace runs no terraform: open it with Workspace.withTerraform");
    return this.terraformBinary;
  }

  /** Synthesizes every stack in-process into the output directory; a summary per stack. */
  synth(): StackSummary[] {
    checkOutdir(this.outdir);
    buildApp(this.config, this.outdir).app.synth();
    return this.stacks.map((stack) => this.summarize(stack));
  }

  /** The stack's folder, where terraform runs. */
  dir(stack: StackName): string {
    return path.join(this.outdir, "stacks", stack);
  }

  /** Runs a terraform step in the stack's folder (stdio inherited); resolves with its exit code. */
  step(stack: StackName, step: TerraformStep, o: StepOptions = {}): Promise<number> {
    return runTerraform(this.binary, terraformArgs(step, o), this.dir(stack));
  }

  init(stack: StackName): Promise<number> {
    return this.step(stack, "init");
  }

  plan(stack: StackName): Promise<number> {
    return this.step(stack, "plan");
  }

  apply(stack: StackName, o: StepOptions = {}): Promise<number> {
    return this.step(stack, "apply", o);
  }

  destroy(stack: StackName, o: StepOptions = {}): Promise<number> {
    return this.step(stack, "destroy", o);
  }

  /** The stack's outputs as plain values; empty when it has not been deployed. */
  outputs(stack: StackName): Promise<Record<string, unknown>> {
    return readOutputs(this.binary, this.dir(stack));
  }

  /** Addresses of the resources in the stack's state (after init); empty when nothing of it is deployed. */
  resources(stack: StackName): Promise<string[]> {
    return stateResources(this.binary, this.dir(stack));
  }

  private summarize(stack: StackName): StackSummary {
    const directory = this.dir(stack);
    const json = JSON.parse(fs.readFileSync(path.join(directory, "cdk.tf.json"), "utf8"));
    const count = (block: Record<string, Record<string, unknown>> | undefined) =>
      Object.values(block ?? {}).reduce((n, byName) => n + Object.keys(byName).length, 0);
    // cdktf's generated cross-stack outputs are wiring, not something to show.
    const outputs = Object.keys(json.output ?? {}).filter((o) => !o.startsWith("cross-stack-output-"));
    return { stack, resources: count(json.resource), dataSources: count(json.data), outputs, directory };
  }
}
