/** Synthesize stacks for a config once and give tests the JSON, parsed and as text. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as jsonc from "jsonc-parser";
import { validateConfig } from "../../config/load";
import type { HyperflowConfig } from "../../config/schema";
import { buildApp, type StackName, stackNames } from "../../stacks/app";
import type { Json } from "./json";

export type TfJson = {
  resource?: Record<string, Record<string, Json>>;
  data?: Record<string, Record<string, Json>>;
  output?: Record<string, Json>;
  variable?: Record<string, Json>;
  locals?: Record<string, Json>;
  module?: Record<string, Json>;
  provider?: Record<string, Json>;
  terraform?: Record<string, Json>;
};

interface SynthResult {
  readonly config: HyperflowConfig;
  readonly text: Record<StackName, string>;
  readonly json: Record<StackName, TfJson>;
}

export function synthConfig(input: unknown = {}): SynthResult {
  const { config } = validateConfig(input);
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-synth-"));
  try {
    // A full app synth, as deploys see it: cross-stack references become remote state and outputs only here.
    buildApp(config, outdir).app.synth();
    const text = {} as Record<StackName, string>;
    const json = {} as Record<StackName, TfJson>;
    for (const name of stackNames(config)) {
      text[name] = fs.readFileSync(path.join(outdir, "stacks", name, "cdk.tf.json"), "utf8");
      json[name] = JSON.parse(text[name]);
    }
    return { config, text, json };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** Every resource of a type, as a list. */
export function resources(json: TfJson, type: string): Json[] {
  return Object.values(json.resource?.[type] ?? {});
}

/** The single resource of a type (fails the test when there is not exactly one). */
export function only(json: TfJson, type: string): Json {
  const list = resources(json, type);
  if (list.length !== 1) throw new Error(`expected exactly one ${type}, found ${list.length}`);
  return list[0];
}

/** Container definitions of a task definition resource. */
export function containers(taskDefinition: Json): Json[] {
  return JSON.parse(taskDefinition.container_definitions);
}

/** A small Montage-shaped job directory committed with the tests. */
export const FIXTURE_JOB = path.join(__dirname, "..", "fixtures", "montage-mini");

/** The example configurations shipped in examples/ (JSON with comments), by file name. */
const EXAMPLES_DIR = path.join(__dirname, "..", "..", "examples");

function loadExample(name: string): Record<string, unknown> {
  const errors: jsonc.ParseError[] = [];
  const value = jsonc.parse(fs.readFileSync(path.join(EXAMPLES_DIR, name), "utf8"), errors, { allowTrailingComma: true });
  if (errors.length > 0 || value === null || typeof value !== "object") throw new Error(`examples/${name} is not a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Configurations the policy, reference and address checks run over: every example in examples/.
 * Examples with a `runner` section also get the committed Montage job, so the deploy-time upload is covered.
 */
export const CONFIG_VARIANTS: Record<string, Record<string, unknown>> = Object.fromEntries(
  fs
    .readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const input = loadExample(f);
      const runner = input.runner as Record<string, unknown> | undefined;
      return [f.replace(/\.json$/, ""), runner ? { ...input, runner: { ...runner, jobDir: FIXTURE_JOB } } : input];
    }),
);
