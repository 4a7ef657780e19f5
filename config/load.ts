/**
 * File + environment + flags → a validated configuration, or one ConfigError that lists every problem.
 *
 * Precedence, highest first: flags (`--region`), `HFLOW_REGION`, the config file, `AWS_REGION` /
 * `AWS_DEFAULT_REGION`, the schema default. The runner's job directory: `--job-dir` (in the cdktf app:
 * `cdktf … -- --jobDir DIR`, read by config/cdktf-args.ts), `HFLOW_JOB_DIR`, then `runner.jobDir`. The config path comes from `--config`, then `HFLOW_CONFIG`,
 * then `./hyperflow.config.json` if it exists; without a file every default applies.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as jsonc from "jsonc-parser";
import { ExitCode, HflowError, PathError, USER_FS_ERRORS } from "../common/errors";
import { configJsonSchema, configSchema, type HyperflowConfig, isCrossKeyIssue, seedImagesIn } from "./schema";

export const DEFAULT_CONFIG_FILE = "hyperflow.config.json";

/** One problem in the configuration: where, what was there, and what is allowed. */
interface ConfigProblem {
  /** Dotted key path, e.g. `ecs.asg.min`; `(root)` for the top level. */
  readonly path: string;
  /** What is wrong, including what is allowed. */
  readonly message: string;
  /** The offending value as written, when there is one. */
  readonly value?: unknown;
  /** Where the value came from when not from the file: a flag (`--region`) or an environment variable. */
  readonly origin?: string;
}

/** Thrown for any invalid configuration; carries every problem found, not only the first. */
export class ConfigError extends HflowError {
  readonly exitCode = ExitCode.badInput;
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(formatProblems(source, problems));
    this.name = "ConfigError";
  }
}

function formatProblems(source: string, problems: readonly ConfigProblem[]): string {
  const noun = problems.length === 1 ? "problem" : "problems";
  const lines = problems.map((p) => {
    const shown = p.value === undefined ? "" : ` (got ${JSON.stringify(p.value)})`;
    const from = p.origin === undefined ? "" : ` (from ${p.origin})`;
    return `  - ${p.path}${from}: ${p.message}${shown}`;
  });
  return `invalid configuration in ${source}: ${problems.length} ${noun}\n${lines.join("\n")}`;
}

interface LoadOptions {
  /** Path of the config file (`--config`). */
  readonly configPath?: string;
  /** Region override (`--region`). */
  readonly region?: string;
  /** Job directory override (`--job-dir`); else `HFLOW_JOB_DIR`, else `runner.jobDir` in the file. */
  readonly jobDir?: string;
  /** Environment to read `HFLOW_CONFIG`, `HFLOW_REGION`, `AWS_REGION`, `AWS_DEFAULT_REGION` from. Default: process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Directory a relative config path and the default file are resolved against. Default: process.cwd(). */
  readonly cwd?: string;
}

export interface LoadedConfig {
  readonly config: HyperflowConfig;
  /** Absolute path of the file that was read, or undefined when only defaults applied. */
  readonly file?: string;
  /** Things that are allowed but worth saying (e.g. an admin CIDR open to the world). */
  readonly warnings: readonly string[];
}

/** Load, merge and validate the configuration. Throws ConfigError listing every problem. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.configPath ?? env.HFLOW_CONFIG;
  let file: string | undefined;
  let raw: unknown = {};
  if (explicit) {
    file = path.resolve(cwd, explicit);
    const missing = missingFile(file);
    if (missing) throw new ConfigError(explicit, [{ path: "(file)", message: missing }]);
  } else {
    // The default file: absent means defaults, but a link to nothing is a mistake, never a silent fallback.
    const candidate = path.join(cwd, DEFAULT_CONFIG_FILE);
    if (fs.lstatSync(candidate, { throwIfNoEntry: false })) {
      const missing = missingFile(candidate);
      if (missing) throw new ConfigError(DEFAULT_CONFIG_FILE, [{ path: "(file)", message: missing }]);
      file = candidate;
    }
  }
  if (file) raw = readJson(file);

  const source = file ? path.relative(cwd, file) || file : "flags, environment and defaults";
  // Values from flags and the environment replace the file's; a problem with one names where it came from.
  const origins: Record<string, string> = {};
  const regionOrigin = options.region ? "--region" : env.HFLOW_REGION ? "HFLOW_REGION" : undefined;
  const ambientOrigin = env.AWS_REGION ? "AWS_REGION" : env.AWS_DEFAULT_REGION ? "AWS_DEFAULT_REGION" : undefined;
  const withRegion = applyRegion(raw, options.region ?? env.HFLOW_REGION, env.AWS_REGION ?? env.AWS_DEFAULT_REGION);
  if (regionOrigin) origins.region = regionOrigin;
  else if (isPlainObject(raw) && raw.region === undefined && ambientOrigin) origins.region = ambientOrigin;
  const jobDirOrigin = options.jobDir ? "--job-dir" : env.HFLOW_JOB_DIR ? "HFLOW_JOB_DIR" : undefined;
  if (jobDirOrigin) origins["runner.jobDir"] = jobDirOrigin;
  const input = applyJobDir(withRegion, options.jobDir ?? env.HFLOW_JOB_DIR);
  try {
    return { ...validateConfig(input, source), file };
  } catch (e) {
    if (!(e instanceof ConfigError) || Object.keys(origins).length === 0) throw e;
    const problems = e.problems.map((p) => (origins[p.path] ? { ...p, origin: origins[p.path] } : p));
    const fromOverrides = problems.every((p) => p.origin !== undefined);
    throw new ConfigError(fromOverrides ? [...new Set(problems.map((p) => p.origin))].join(", ") : source, problems);
  }
}

/** Why a config path names no readable file (missing, or a symbolic link to nothing), or undefined. */
function missingFile(file: string): string | undefined {
  if (fs.existsSync(file)) return undefined;
  const link = fs.lstatSync(file, { throwIfNoEntry: false });
  if (link?.isSymbolicLink()) return `config file ${file} is a symbolic link to ${fs.readlinkSync(file)}, which does not exist`;
  return `config file not found: ${file}`;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    // A directory, a file without read permission, …: one line naming the file.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && code in USER_FS_ERRORS) throw new PathError(`config file ${file}`, `${USER_FS_ERRORS[code]} (${code})`);
    throw new ConfigError(file, [{ path: "(file)", message: `cannot read: ${(e as Error).message}` }]);
  }
  // JSON with comments and trailing commas, so the starter file can explain itself.
  const errors: jsonc.ParseError[] = [];
  const value: unknown = jsonc.parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    throw new ConfigError(
      file,
      errors.map((e) => {
        const { line, column } = lineColumn(text, e.offset);
        return { path: "(file)", message: `is not valid JSON: ${jsonc.printParseErrorCode(e.error)} at line ${line}, column ${column}` };
      }),
    );
  }
  return value;
}

function applyJobDir(raw: unknown, jobDir: string | undefined): unknown {
  if (!jobDir || !isPlainObject(raw)) return raw;
  const runner = isPlainObject(raw.runner) ? raw.runner : {};
  return { ...raw, runner: { ...runner, jobDir } };
}

function applyRegion(raw: unknown, override: string | undefined, ambient: string | undefined): unknown {
  if (!isPlainObject(raw)) return raw;
  if (override) return { ...raw, region: override };
  if (raw.region === undefined && ambient) return { ...raw, region: ambient };
  return raw;
}

/** Validate an already-parsed configuration object (file contents with overrides applied). */
export function validateConfig(input: unknown, source = "configuration"): { config: HyperflowConfig; warnings: string[] } {
  const problems: ConfigProblem[] = [];
  if (!isPlainObject(input)) {
    throw new ConfigError(source, [{ path: "(root)", message: "must be a JSON object", value: input }]);
  }
  // Constraints between keys (min <= desired <= max, low < high, …) are refinements of the schema that
  // read parsed values; they are listed after the problems of single keys.
  const crossKey: ConfigProblem[] = [];
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const keyPath = issue.path.map(String);
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          problems.push({
            path: joinPath([...keyPath, key]),
            message: `unknown key; allowed here: ${allowedKeys(keyPath).join(", ")}`,
          });
        }
        continue;
      }
      if (isCrossKeyIssue(issue)) {
        const { value } = issue.params;
        crossKey.push(value === undefined ? { path: joinPath(keyPath), message: issue.message } : { path: joinPath(keyPath), message: issue.message, value });
        continue;
      }
      if (issue.code === "invalid_key") {
        // A map key the key schema refuses (a tag key starting with aws:): the key schema's own words, and the key itself.
        const inner = issue.issues.map((i) => describeIssue(i as Parameters<typeof describeIssue>[0]));
        problems.push({ path: joinPath(keyPath), message: `the key ${inner.join("; ")}`, value: keyPath[keyPath.length - 1] });
        continue;
      }
      problems.push({ path: joinPath(keyPath), message: describeIssue(issue), value: valueAt(input, keyPath) });
    }
  }
  problems.push(...crossKey);
  if (problems.length > 0) throw new ConfigError(source, dedupe(problems));
  const config = parsed.data as HyperflowConfig;
  return { config, warnings: warningsFor(config) };
}

function describeIssue(issue: {
  code: string;
  message: string;
  expected?: unknown;
  values?: unknown[];
  minimum?: unknown;
  maximum?: unknown;
  inclusive?: boolean;
}): string {
  switch (issue.code) {
    case "invalid_type":
      return `${issue.message.endsWith("received undefined") ? "required" : "wrong type"}; allowed: ${String(issue.expected)}`;
    // zod's own words start with "Too"; a rule's message (config/schema/common.ts `checked`) says what is allowed itself.
    case "too_small":
      return /^Too /.test(issue.message) ? `too small; allowed: ${issue.inclusive === false ? ">" : ">="} ${String(issue.minimum)}` : issue.message;
    case "too_big":
      return /^Too /.test(issue.message) ? `too big; allowed: ${issue.inclusive === false ? "<" : "<="} ${String(issue.maximum)}` : issue.message;
    case "invalid_value":
      return `not allowed; allowed: ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_union":
      return issue.message.startsWith("Invalid input") ? "not one of the allowed forms; see the schema" : issue.message;
    default:
      return issue.message;
  }
}

function warningsFor(config: HyperflowConfig): string[] {
  const warnings: string[] = [];
  for (const c of config.adminCidrs) {
    if (/\/0$/.test(c)) warnings.push(`adminCidrs contains ${c}: the RabbitMQ management UI is open to the whole internet.`);
  }
  for (const [key, ref] of Object.entries(seedImagesIn(config))) {
    warnings.push(
      `${key} is ${ref}, which is only published as \`latest\`; pin it by digest (repo@sha256:…) for repeatable ${key === "runner.engineImage" ? "runs" : "deployments"}.`,
    );
  }
  return warnings;
}

/** The parts of a JSON Schema node that the key listing walks. */
interface SchemaNode {
  readonly properties?: Record<string, SchemaNode>;
  readonly anyOf?: readonly SchemaNode[];
  readonly oneOf?: readonly SchemaNode[];
}

function allowedKeys(keyPath: string[]): string[] {
  // Walk the schema's JSON form: the simplest way to list keys through defaults, unions and refinements.
  let node: SchemaNode | undefined = configSchemaShape() as SchemaNode;
  for (const key of keyPath) {
    const inAlternative = (alts?: readonly SchemaNode[]) => alts?.find((s) => s?.properties?.[key])?.properties?.[key];
    node = node?.properties?.[key] ?? inAlternative(node?.anyOf) ?? inAlternative(node?.oneOf);
  }
  const keys = new Set<string>(Object.keys(node?.properties ?? {}));
  for (const alt of [...(node?.anyOf ?? []), ...(node?.oneOf ?? [])]) for (const k of Object.keys(alt?.properties ?? {})) keys.add(k);
  return [...keys].sort();
}

let shapeCache: unknown;
function configSchemaShape(): unknown {
  shapeCache ??= configJsonSchema(); // only needed to explain unknown keys
  return shapeCache;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function joinPath(keyPath: readonly string[]): string {
  return keyPath.length === 0 ? "(root)" : keyPath.join(".");
}

function valueAt(obj: unknown, keyPath: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const key of keyPath) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}
