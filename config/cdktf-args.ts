/**
 * The cdktf app's own arguments: `cdktf deploy runner -- --jobDir DIR`.
 *
 * cdktf-cli never hands them to the app. It parses its command line with yargs (cdktf-cli
 * `bundle/bin/cdktf.js`), which puts whatever follows `--` into `argv._`, where no command reads it;
 * then it runs cdktf.json's "app" through a shell with no arguments at all (hashicorp/terraform-cdk
 * `packages/@cdktf/cli-core/src/lib/synth-stack.js`: `shell(command, [], { shell: true, env: {
 * CDKTF_OUTDIR, CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS, … } })`). So the app reads them where they
 * still are: on the command line of the cdktf process that started it. It walks up its ancestors
 * (`/proc/<pid>/stat` and `/proc/<pid>/cmdline` on Linux, `ps -o ppid=,args= -p <pid>` elsewhere), takes
 * the nearest one that is the cdktf CLI (node running a script named `cdktf` or `cdktf.js`), and parses
 * what follows its first `--`.
 *
 * Accepted after `--`: `--jobDir DIR`, `--jobDir=DIR`, `--job-dir DIR`, `--job-dir=DIR` (the first is the
 * form cdktf users know, the second the `hflow-infra --job-dir` flag), once. Anything else is an error
 * (exit 2, nothing synthesized): an argument the app does not understand must never be dropped silently.
 * `--jobDir` *before* `--` is an error too, since cdktf's yargs accepts and ignores it there.
 *
 * When cdktf's command line cannot be read (no /proc and no `ps`, e.g. Windows) the app cannot know
 * whether arguments were given; it then says so in a warning (run under cdktf only) and goes on with
 * HFLOW_JOB_DIR / `runner.jobDir`, rather than refusing every `cdktf synth` on such a platform.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { UsageError } from "../common/errors";

/** One process as the process table shows it. */
export interface ProcessEntry {
  readonly ppid: number;
  readonly argv: readonly string[];
  /** The arguments were split on whitespace (`ps` joins them with spaces): quoting is lost. */
  readonly lossy: boolean;
}

/** Reads one process; throws when it cannot (gone, not visible, no tool). */
export type ProcessTable = (pid: number) => ProcessEntry;

/** Linux: `/proc/<pid>/stat` for the parent, `/proc/<pid>/cmdline` for the exact arguments. */
export function procTable(root = "/proc"): ProcessTable {
  return (pid) => {
    const stat = fs.readFileSync(`${root}/${pid}/stat`, "utf8");
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    if (!Number.isInteger(ppid)) throw new Error(`${root}/${pid}/stat: no parent pid in ${JSON.stringify(stat.slice(0, 80))}`);
    const cmdline = fs.readFileSync(`${root}/${pid}/cmdline`, "utf8");
    const argv = cmdline.split("\0");
    if (argv[argv.length - 1] === "") argv.pop(); // every argument ends with NUL
    return { ppid, argv, lossy: false };
  };
}

/** Runs `ps` with the given arguments and returns its stdout; throws when ps fails. */
export type PsRunner = (args: readonly string[]) => string;

const runPs: PsRunner = (args) => execFileSync("ps", [...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 });

/** macOS and other systems without /proc: `ps -ww -o ppid=,args= -p <pid>` (-ww: never cut the line). */
export function psTable(run: PsRunner = runPs): ProcessTable {
  return (pid) => parsePsLine(pid, run(["-ww", "-o", "ppid=,args=", "-p", String(pid)]));
}

/** One line of `ps -o ppid=,args=`: the parent pid, then the arguments joined by spaces. */
export function parsePsLine(pid: number, output: string): ProcessEntry {
  const line = output.split("\n").find((l) => l.trim() !== "");
  const m = line === undefined ? null : /^\s*(\d+)(?:\s+(.*?))?\s*$/.exec(line);
  if (!m) throw new Error(`ps shows no process ${pid}${line === undefined ? "" : `: ${JSON.stringify(line)}`}`);
  return { ppid: Number(m[1]), argv: m[2] ? m[2].split(/\s+/) : [], lossy: true };
}

/** The process table of this platform, or undefined where there is none to read (Windows). */
export function systemProcessTable(platform: NodeJS.Platform = process.platform): ProcessTable | undefined {
  if (platform === "linux" || platform === "android") return procTable();
  if (platform === "win32") return undefined;
  return psTable();
}

const NODE = /^(node|nodejs|bun)(\d+(\.\d+)*)?(\.exe)?$/i;
const CDKTF = /^cdktf(\.js|\.exe)?$/i;
/** Node options that take their value as the next argument, before the script. */
const NODE_OPTIONS_WITH_VALUE = new Set([
  "-r",
  "--require",
  "--import",
  "--loader",
  "--experimental-loader",
  "-C",
  "--conditions",
  "--title",
  "--env-file",
  "--input-type",
]);

function baseName(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

/**
 * The arguments of the cdktf CLI (what follows the script: `synth -- --jobDir DIR`) when `argv` is
 * the cdktf CLI, else undefined: node (or bun) running a script named `cdktf` / `cdktf.js`
 * (`node_modules/.bin/cdktf`, `cdktf-cli/bundle/bin/cdktf`, a global `cdktf` on PATH), or a binary named
 * `cdktf`. `npm exec`/`npx` rename their process title, and their shell (`sh -c 'cdktf' …`) is not
 * node, so neither is mistaken for it.
 */
export function cdktfArgsOf(argv: readonly string[]): string[] | undefined {
  if (argv.length === 0) return undefined;
  const exe = baseName(argv[0]);
  if (CDKTF.test(exe)) return argv.slice(1);
  if (!NODE.test(exe)) return undefined;
  let i = 1;
  while (i < argv.length && argv[i].startsWith("-")) i += NODE_OPTIONS_WITH_VALUE.has(argv[i]) ? 2 : 1;
  if (i >= argv.length || !CDKTF.test(baseName(argv[i]))) return undefined;
  return argv.slice(i + 1);
}

export type AncestorSearch =
  /** The nearest cdktf CLI among the ancestors, with its arguments. */
  | { readonly kind: "found"; readonly pid: number; readonly args: readonly string[]; readonly lossy: boolean }
  /** Every ancestor up to the root was read; none is cdktf. */
  | { readonly kind: "none" }
  /** An ancestor could not be read before cdktf was found. */
  | { readonly kind: "unreadable"; readonly reason: string };

/** Walk from `pid` (the app's parent) up to init (whose parent is 0) and stop at the first cdktf CLI. */
export function findCdktfAncestor(table: ProcessTable | undefined, pid: number, maxDepth = 64): AncestorSearch {
  if (!table) return { kind: "unreadable", reason: "no process table on this platform (no /proc, no ps)" };
  const seen = new Set<number>();
  for (let cur = pid; cur > 0 && !seen.has(cur) && seen.size < maxDepth;) {
    seen.add(cur);
    let entry: ProcessEntry;
    try {
      entry = table(cur);
    } catch (e) {
      return { kind: "unreadable", reason: `process ${cur}: ${(e as Error).message.split("\n")[0]}` };
    }
    const args = cdktfArgsOf(entry.argv);
    if (args) return { kind: "found", pid: cur, args, lossy: entry.lossy };
    cur = entry.ppid;
  }
  return { kind: "none" };
}

const ALLOWED = "--jobDir DIR, --jobDir=DIR, --job-dir DIR, --job-dir=DIR";
const JOB_DIR_FLAG = /^--(jobDir|job-dir)(=(.*))?$/s;

/** What the arguments after `--` ask for. */
interface AppArgs {
  readonly jobDir?: string;
}

/**
 * Parse the cdktf CLI's arguments (`deploy runner -- --jobDir DIR`): only what follows the first `--` is
 * the app's. Throws UsageError (exit 2) for anything not understood, naming it and what is allowed.
 * `lossy`: the arguments were split on whitespace (`ps`), so the message says why a path with spaces fails.
 */
export function parseAppArgs(cdktfArgs: readonly string[], lossy = false): AppArgs {
  const dashes = cdktfArgs.indexOf("--");
  const before = dashes < 0 ? cdktfArgs : cdktfArgs.slice(0, dashes);
  const misplaced = before.find((a) => /^--job-?dir(=|$)/i.test(a));
  if (misplaced !== undefined) {
    throw new UsageError(`cdktf command line: ${misplaced} before \`--\` is ignored by cdktf; write it after \`--\` (cdktf deploy runner -- --jobDir DIR)`);
  }
  if (dashes < 0) return {};
  const after = cdktfArgs.slice(dashes + 1);
  const hint = lossy
    ? " (the cdktf command line was read with `ps`, which drops quoting: a directory with spaces cannot be passed this way, use HFLOW_JOB_DIR)"
    : "";
  let jobDir: string | undefined;
  for (let i = 0; i < after.length; i++) {
    const m = JOB_DIR_FLAG.exec(after[i]);
    if (!m) throw new UsageError(`cdktf command line: ${JSON.stringify(after[i])} after \`--\` is not understood; allowed after \`--\`: ${ALLOWED}${hint}`);
    let value = m[3];
    if (value === undefined) {
      const next = after[i + 1];
      value = next === undefined || next.startsWith("-") ? "" : next;
      if (value !== "") i++;
    }
    if (value === "") throw new UsageError(`cdktf command line: ${after[i]} after \`--\` needs a directory; allowed: ${ALLOWED}`);
    if (jobDir !== undefined)
      throw new UsageError(
        `cdktf command line: the job directory is given twice after \`--\` (${JSON.stringify(jobDir)}, ${JSON.stringify(value)}); give it once`,
      );
    jobDir = value;
  }
  return jobDir === undefined ? {} : { jobDir };
}

/** What the app learnt about the cdktf run that started it. */
export interface CdktfCommandLine {
  /** Started by the cdktf CLI (found among the ancestors, or cdktf's environment variable is set). */
  readonly underCdktf: boolean;
  /** `-- --jobDir DIR` from cdktf's command line. */
  readonly jobDir?: string;
  /** Things to tell the user (already worded; print with a `warning:` prefix). */
  readonly warnings: readonly string[];
}

interface CommandLineOptions {
  /** Default: this platform's (`systemProcessTable()`). */
  readonly table?: ProcessTable;
  /** Where the walk starts. Default: process.ppid. */
  readonly ppid?: number;
  /** Default: process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Set by cdktf-cli for the app it runs, and only there (hashicorp/terraform-cdk
 * `packages/@cdktf/cli-core/src/lib/synth-stack.js`); unlike CDKTF_OUTDIR, which people and tests set.
 */
const CDKTF_ENV_MARKER = "CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS";

/**
 * The cdktf app's view of its command line: find the cdktf CLI among the ancestors and parse its
 * arguments after `--`. Throws UsageError (exit 2) on arguments it does not understand.
 */
export function readCdktfCommandLine(options: CommandLineOptions = {}): CdktfCommandLine {
  const env = options.env ?? process.env;
  const table = "table" in options ? options.table : systemProcessTable();
  const markedByCdktf = env[CDKTF_ENV_MARKER] !== undefined;
  const search = findCdktfAncestor(table, options.ppid ?? process.ppid);
  if (search.kind !== "found") {
    if (!markedByCdktf) return { underCdktf: false, warnings: [] };
    const why = search.kind === "unreadable" ? `cannot read the cdktf command line (${search.reason})` : "no cdktf process among the app's ancestors";
    return {
      underCdktf: true,
      warnings: [`${why}: arguments after \`--\` (such as --jobDir) are not used; set the job directory with HFLOW_JOB_DIR or runner.jobDir.`],
    };
  }
  const { jobDir } = parseAppArgs(search.args, search.lossy);
  const warnings: string[] = [];
  if (jobDir !== undefined && env.HFLOW_JOB_DIR && env.HFLOW_JOB_DIR !== jobDir) {
    warnings.push(`-- --jobDir ${jobDir} overrides HFLOW_JOB_DIR=${env.HFLOW_JOB_DIR}.`);
  }
  return jobDir === undefined ? { underCdktf: true, warnings } : { underCdktf: true, jobDir, warnings };
}
