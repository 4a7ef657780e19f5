/**
 * A HyperFlow job directory: `workdir/` with the workflow (`dag.json` or `workflow.json`) and `input/`
 * with the files the workflow reads. Validation reports every problem, each naming its file:
 * - the workflow's shape (processes, signals, references by index or name);
 * - every workflow input that is a file must be in input/: signals without `data`, and converted
 *   inputs whose `data` is only empty objects (`"data": [{}]`, as hflow-convert-dax writes them,
 *   hyperflow-wms/hyperflow's converter); inputs with real inline data or `control` are not files;
 * - every process names a function the target can run (ECS: amqpCommand, or `{{function}}`, which
 *   the engine image sets to amqpCommand; Kubernetes: k8sCommand or `{{function}}`, which the k8s
 *   engine sets to k8sCommand; Lambda: lambdaCommand, `{{function}}`, and the functions the engine
 *   image's plugin runs on Lambda with HFLOW_EXECUTOR=lambda: amqpCommand, RESTServiceCommand,
 *   awsLambdaCommand);
 * - no process waits for a signal that no process produces and the workflow does not take as input
 *   (HyperFlow would wait for it forever).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ExitCode, HflowError, USER_FS_ERRORS } from "../common/errors";

const WORKFLOW_FILES = ["dag.json", "workflow.json"] as const;

/** Where the workflow will run; decides which process functions are allowed. */
export type JobTarget = "ecs" | "k8s" | "lambda";
export const JOB_TARGETS: readonly JobTarget[] = ["ecs", "k8s", "lambda"];

/** Functions each target's engine can run (`{{function}}` is templated from HF_VAR_function). */
export const TARGET_FUNCTIONS: Readonly<Record<JobTarget, readonly string[]>> = {
  ecs: ["amqpCommand", "{{function}}"],
  k8s: ["k8sCommand", "{{function}}"],
  lambda: ["lambdaCommand", "amqpCommand", "RESTServiceCommand", "awsLambdaCommand", "{{function}}"],
};

export interface ValidateOptions {
  /** @default "ecs" */
  readonly target?: JobTarget;
}

export interface JobProblem {
  /** Path relative to the job directory (or the directory itself). */
  readonly file: string;
  readonly problem: string;
}

export class JobDirError extends HflowError {
  readonly exitCode = ExitCode.badInput;
  constructor(
    readonly jobDir: string,
    readonly problems: readonly JobProblem[],
  ) {
    super(
      `invalid job directory ${jobDir}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${problems.map((p) => `  - ${p.file}: ${p.problem}`).join("\n")}`,
    );
    this.name = "JobDirError";
  }
}

interface LocalFile {
  /** Path relative to the job directory, with `/` separators (`input/a.fits`). */
  readonly relative: string;
  readonly absolute: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface JobSummary {
  readonly jobDir: string;
  readonly target: JobTarget;
  readonly workflowFile: string;
  readonly processes: number;
  readonly signals: number;
  /** Files the workflow takes as inputs (top-level `ins` without inline data, or with `"data": [{}]`). */
  readonly requiredInputs: readonly string[];
  readonly workdirFiles: number;
  readonly workdirBytes: number;
  readonly inputFiles: number;
  readonly inputBytes: number;
  readonly files: readonly LocalFile[];
}

/**
 * Every regular file below `root/sub`, sorted; unreadable entries become problems, one per entry.
 * Symbolic links: a link to a file (inside or outside the job directory) is followed and uploaded as
 * that file under the link's name; a link to a directory is followed unless that directory is the job
 * directory or one of the directories the walk is in (by device and inode): such a cycle would make the
 * walk endless, so it is a problem naming the link and its target. A dangling link is a problem too.
 */
function listFiles(root: string, sub: string, problems: JobProblem[]): LocalFile[] {
  const out: LocalFile[] = [];
  const idOf = (st: fs.Stats) => `${st.dev}:${st.ino}`;
  const linkTarget = (abs: string): string | undefined => {
    try {
      return fs.readlinkSync(abs);
    } catch {
      return undefined;
    }
  };
  const walk = (dir: string, ancestors: ReadonlyMap<string, string>) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      problems.push({ file: rel(root, dir), problem: `cannot read directory: ${errnoText(e)}` });
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) visit(path.join(dir, e.name), ancestors);
  };
  const visit = (abs: string, ancestors: ReadonlyMap<string, string>) => {
    const target = linkTarget(abs);
    const link = target === undefined ? "" : `symbolic link to ${JSON.stringify(target)}`;
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const problem =
        target !== undefined && code === "ENOENT"
          ? `cannot read: broken ${link} (the target does not exist)`
          : target !== undefined && code === "ELOOP"
            ? `${link} never resolves: the links point at each other (a loop)`
            : `cannot read: ${errnoText(err)}`;
      problems.push({ file: rel(root, abs), problem });
      return;
    }
    if (st.isDirectory()) {
      const seen = ancestors.get(idOf(st));
      if (seen !== undefined) {
        problems.push({
          file: rel(root, abs),
          problem: `${link || "directory"} leads back to ${seen}, which contains it (a cycle); replace the link with a copy or remove it`,
        });
        return;
      }
      walk(abs, new Map([...ancestors, [idOf(st), rel(root, abs) === "." ? "the job directory" : `${rel(root, abs)}/`]]));
    } else if (st.isFile()) {
      try {
        fs.accessSync(abs, fs.constants.R_OK);
        out.push({ relative: rel(root, abs), absolute: abs, size: st.size, mtimeMs: st.mtimeMs });
      } catch (err) {
        problems.push({ file: rel(root, abs), problem: `cannot read: ${errnoText(err)}` });
      }
    } else problems.push({ file: rel(root, abs), problem: "not a regular file (device, socket or pipe)" });
  };
  visit(path.join(root, sub), new Map([[idOf(fs.statSync(root)), "the job directory"]]));
  return out;
}

/** `permission denied (EACCES)` for a Node system error; the message for anything else. */
function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code ? `${USER_FS_ERRORS[code] ?? "failed"} (${code})` : (e as Error).message;
}

function rel(root: string, p: string): string {
  return path.relative(root, p).split(path.sep).join("/") || ".";
}

type Ref = number | string;

/** A workflow input is a file unless it carries inline data or is a control signal. */
export function isFileSignal(signal: { data?: unknown; control?: unknown }): boolean {
  if (signal.control !== undefined) return false;
  if (signal.data === undefined) return true;
  return (
    Array.isArray(signal.data) &&
    signal.data.length > 0 &&
    signal.data.every((d) => d !== null && typeof d === "object" && !Array.isArray(d) && Object.keys(d).length === 0)
  );
}

/** Checks the HyperFlow shape and returns the names of the workflow's input file signals. */
export function checkWorkflow(
  doc: unknown,
  file: string,
  problems: JobProblem[],
  target: JobTarget = "ecs",
): { processes: number; signals: number; inputs: string[] } {
  const fail = (problem: string) => problems.push({ file, problem });
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
    fail("is not a HyperFlow workflow (expected a JSON object with processes and signals)");
    return { processes: 0, signals: 0, inputs: [] };
  }
  const w = doc as Record<string, unknown>;
  const processes = (w.processes ?? w.tasks) as unknown;
  const signals = (w.signals ?? w.data) as unknown;
  if (!Array.isArray(processes) || processes.length === 0) fail("has no `processes` (a non-empty array)");
  if (!Array.isArray(signals)) fail("has no `signals` array");
  if (!Array.isArray(processes) || !Array.isArray(signals)) return { processes: 0, signals: 0, inputs: [] };

  const names = new Map<string, number>();
  signals.forEach((s, i) => {
    if (!s || typeof s !== "object" || typeof (s as { name?: unknown }).name !== "string") fail(`signals[${i}] has no name`);
    else names.set((s as { name: string }).name, i);
  });
  const resolve = (ref: unknown, where: string): number | undefined => {
    if (typeof ref === "number" && Number.isInteger(ref)) {
      if (ref >= 0 && ref < signals.length) return ref;
      fail(`${where} refers to signal ${ref}, but there are ${signals.length} signals`);
      return undefined;
    }
    if (typeof ref === "string") {
      const i = names.get(ref);
      if (i === undefined) fail(`${where} refers to unknown signal "${ref}"`);
      return i;
    }
    fail(`${where} has ${JSON.stringify(ref)}; allowed: a signal index or name`);
    return undefined;
  };
  const refs = (list: unknown, where: string): number[] => {
    if (list === undefined) return [];
    if (!Array.isArray(list)) {
      fail(`${where} is not an array`);
      return [];
    }
    return list.map((r, i) => resolve(r as Ref, `${where}[${i}]`)).filter((i): i is number => i !== undefined);
  };
  const allowed = TARGET_FUNCTIONS[target];
  const allowedText = allowed.map((f) => JSON.stringify(f)).join(", ");
  const produced = new Set<number>();
  const waiting = new Map<number, string[]>();
  processes.forEach((p, i) => {
    const where = `processes[${i}]`;
    if (!p || typeof p !== "object") return void fail(`${where} is not an object`);
    const proc = p as Record<string, unknown>;
    const label = typeof proc.name === "string" && proc.name !== "" ? `${where} "${proc.name}"` : where;
    if (typeof proc.name !== "string" || proc.name === "") fail(`${where} has no name`);
    if (typeof proc.function !== "string") fail(`${label} has no function; allowed on ${target}: ${allowedText}`);
    else if (!allowed.includes(proc.function)) fail(`${label}: function "${proc.function}" cannot run on ${target}; allowed: ${allowedText}`);
    for (const s of refs(proc.ins, `${where}.ins`)) waiting.set(s, [...(waiting.get(s) ?? []), typeof proc.name === "string" ? proc.name : where]);
    for (const s of refs(proc.outs, `${where}.outs`)) produced.add(s);
  });
  const wfIns = refs(w.ins, "ins");
  const taken = new Set(wfIns);
  for (const s of [...waiting.keys()].sort((a, b) => a - b)) {
    if (produced.has(s) || taken.has(s)) continue;
    const procs = waiting.get(s)!;
    const name = (signals[s] as { name?: unknown })?.name;
    fail(
      `signal "${String(name)}" (signals[${s}]): ${procs.map((p) => `"${p}"`).join(", ")} wait${procs.length === 1 ? "s" : ""} for it, but no process produces it and the workflow does not take it as input (ins); the engine would wait forever`,
    );
  }
  const inputs = wfIns
    .map((i) => signals[i] as { name: string; data?: unknown; control?: unknown })
    .filter((s) => s && typeof s.name === "string" && isFileSignal(s))
    .map((s) => s.name);
  refs(w.outs, "outs");
  return { processes: processes.length, signals: signals.length, inputs };
}

/** Validates a job directory; throws JobDirError with every problem. */
export function validateJobDir(jobDir: string, options: ValidateOptions = {}): JobSummary {
  const target = options.target ?? "ecs";
  if (!JOB_TARGETS.includes(target))
    throw new JobDirError(jobDir, [{ file: ".", problem: `target ${JSON.stringify(target)}: allowed: ${JOB_TARGETS.join(", ")}` }]);
  const problems: JobProblem[] = [];
  const root = path.resolve(jobDir);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new JobDirError(jobDir, [{ file: ".", problem: "does not exist or is not a directory" }]);
  for (const sub of ["workdir", "input"]) {
    const p = path.join(root, sub);
    if (!fs.existsSync(p) || !fs.statSync(p).isDirectory()) problems.push({ file: `${sub}/`, problem: "missing (a job directory holds workdir/ and input/)" });
  }
  if (problems.length > 0) throw new JobDirError(jobDir, problems);

  const workflowName = WORKFLOW_FILES.find((f) => fs.existsSync(path.join(root, "workdir", f)));
  let shape = { processes: 0, signals: 0, inputs: [] as string[] };
  if (!workflowName) problems.push({ file: "workdir/", problem: `has no workflow file (${WORKFLOW_FILES.join(" or ")})` });
  else {
    const file = `workdir/${workflowName}`;
    try {
      shape = checkWorkflow(JSON.parse(fs.readFileSync(path.join(root, file), "utf8")), file, problems, target);
    } catch (e) {
      problems.push({ file, problem: `is not valid JSON: ${(e as Error).message}` });
    }
  }
  const workdir = listFiles(root, "workdir", problems);
  const input = listFiles(root, "input", problems);
  const present = new Set(input.map((f) => f.relative.slice("input/".length)));
  for (const name of shape.inputs) {
    if (!present.has(name)) problems.push({ file: `input/${name}`, problem: "missing: the workflow takes it as an input" });
  }
  if (problems.length > 0) throw new JobDirError(jobDir, problems);
  const sum = (files: LocalFile[]) => files.reduce((n, f) => n + f.size, 0);
  return {
    jobDir: root,
    target,
    workflowFile: `workdir/${workflowName}`,
    processes: shape.processes,
    signals: shape.signals,
    requiredInputs: shape.inputs,
    workdirFiles: workdir.length,
    workdirBytes: sum(workdir),
    inputFiles: input.length,
    inputBytes: sum(input),
    files: [...workdir, ...input],
  };
}

/**
 * SHA-256 over every file's path, size and content: changes whenever anything in the job changes
 * (also a same-size edit with the mtime set back). Reads in 1 MiB blocks; memory stays flat.
 */
export function jobContentHash(files: readonly LocalFile[]): string {
  const h = crypto.createHash("sha256");
  const buf = Buffer.alloc(1024 * 1024);
  for (const f of [...files].sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0))) {
    h.update(`${f.relative}\0${f.size}\0`);
    const fd = fs.openSync(f.absolute, "r");
    try {
      for (let n = fs.readSync(fd, buf, 0, buf.length, null); n > 0; n = fs.readSync(fd, buf, 0, buf.length, null)) h.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  }
  return h.digest("hex");
}
