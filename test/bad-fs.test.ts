/**
 * Bad filesystem input ends in one clear line and exit 2, never a stack trace or a hang:
 * - symbolic links in a job directory: cycles (self, parent, mutual), link loops and dangling links are
 *   problems naming the link and its target; links to files (also outside the job) are followed;
 * - paths the user gives the CLI (`-o` a file, `config init` into a missing directory or over a
 *   directory, `-c` a directory) and any Node filesystem error on a path (common/errors.ts).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Io } from "../cli/context";
import { errorText, main } from "../cli/program";
import { checkOutdir } from "../cli/workspace";
import { ExitCode, exitCodeFor, HflowError, isUserFsError } from "../common/errors";
import { JobDirError, validateJobDir } from "../runner/job-dir";

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-badfs-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const WORKFLOW = {
  processes: [{ name: "p", function: "amqpCommand", ins: ["a.txt"], outs: [] }],
  signals: [{ name: "a.txt" }],
  ins: ["a.txt"],
  outs: [],
};

/** A valid job with input/a.txt; `links` maps a path below the job to a link target. */
function job(name: string, links: Record<string, string> = {}, dirs: string[] = []): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, "workdir"), { recursive: true });
  fs.mkdirSync(path.join(dir, "input"), { recursive: true });
  fs.writeFileSync(path.join(dir, "workdir", "dag.json"), JSON.stringify(WORKFLOW));
  fs.writeFileSync(path.join(dir, "input", "a.txt"), "hello");
  for (const d of dirs) fs.mkdirSync(path.join(dir, d), { recursive: true });
  for (const [link, target] of Object.entries(links)) fs.symlinkSync(target, path.join(dir, link));
  return dir;
}

function problems(dir: string): string[] {
  try {
    validateJobDir(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(JobDirError);
    return (e as JobDirError).problems.map((p) => `${p.file}: ${p.problem}`);
  }
  throw new Error(`${dir} validated`);
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: Io = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) };
  const saved = { HFLOW_CONFIG: process.env.HFLOW_CONFIG, HFLOW_REGION: process.env.HFLOW_REGION };
  delete process.env.HFLOW_CONFIG;
  delete process.env.HFLOW_REGION;
  try {
    return { code: await main(args, io), out, err };
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
  }
}

/** stderr is exactly `n` short lines without stack frames. */
function expectLines(err: string, n: number): string[] {
  const lines = err.trimEnd().split("\n");
  expect(lines).toHaveLength(n);
  expect(err).not.toMatch(/^\s+at /m);
  for (const l of lines) expect(l.length).toBeLessThan(200);
  return lines;
}

describe("symbolic links in a job directory", () => {
  test("links to the directory they are in (input/a -> ., input/b -> .): one problem each, no endless walk", () => {
    expect(problems(job("self", { "input/a": ".", "input/b": "." }))).toEqual([
      'input/a: symbolic link to "." leads back to input/, which contains it (a cycle); replace the link with a copy or remove it',
      'input/b: symbolic link to "." leads back to input/, which contains it (a cycle); replace the link with a copy or remove it',
    ]);
  });

  test("a link to the job directory (input/up -> ..) and a link that makes input/ itself the job directory", () => {
    expect(problems(job("parent", { "input/up": ".." }))).toEqual([
      'input/up: symbolic link to ".." leads back to the job directory, which contains it (a cycle); replace the link with a copy or remove it',
    ]);
    const dir = job("input-is-root");
    fs.rmSync(path.join(dir, "input"), { recursive: true });
    fs.symlinkSync(".", path.join(dir, "input"));
    expect(problems(dir)).toEqual([
      'input: symbolic link to "." leads back to the job directory, which contains it (a cycle); replace the link with a copy or remove it',
      "input/a.txt: missing: the workflow takes it as an input",
    ]);
  });

  test("mutual directory links (x/y -> ../z, z/w -> ../x): the link that closes each cycle", () => {
    expect(problems(job("mutual", { "input/x/y": "../z", "input/z/w": "../x" }, ["input/x", "input/z"]))).toEqual([
      'input/x/y/w: symbolic link to "../x" leads back to input/x/, which contains it (a cycle); replace the link with a copy or remove it',
      'input/z/w/y: symbolic link to "../z" leads back to input/z/, which contains it (a cycle); replace the link with a copy or remove it',
    ]);
  });

  test("links that point at each other (a -> b, b -> a) and a dangling link name the link and its target", () => {
    expect(problems(job("loop", { "input/l1": "l2", "input/l2": "l1", "input/gone": "nowhere.txt" }))).toEqual([
      'input/gone: cannot read: broken symbolic link to "nowhere.txt" (the target does not exist)',
      'input/l1: symbolic link to "l2" never resolves: the links point at each other (a loop)',
      'input/l2: symbolic link to "l1" never resolves: the links point at each other (a loop)',
    ]);
  });

  test("links to a file and a directory outside the job are followed and uploaded under the link's name", () => {
    const outside = path.join(tmp, "outside");
    fs.mkdirSync(path.join(outside, "d"), { recursive: true });
    fs.writeFileSync(path.join(outside, "big.fits"), "0123456789");
    fs.writeFileSync(path.join(outside, "d", "x.fits"), "xyz");
    const dir = job("outside-links", { "input/big.fits": path.join(outside, "big.fits"), "input/shared": path.join(outside, "d"), "input/again": "shared" });
    const files = validateJobDir(dir).files.map((f) => [f.relative, f.size]);
    expect(files).toEqual([
      ["workdir/dag.json", JSON.stringify(WORKFLOW).length],
      ["input/a.txt", 5],
      ["input/again/x.fits", 3],
      ["input/big.fits", 10],
      ["input/shared/x.fits", 3],
    ]);
  });

  test("`validate` on a looping job: exit 2, one line per problem after the header, no stack", async () => {
    const r = await cli(["validate", "--job-dir", job("cli-loop", { "input/a": ".", "input/b": "." })]);
    expect(r.code).toBe(ExitCode.badInput);
    const lines = expectLines(r.err, 3);
    expect(lines[0]).toMatch(/invalid job directory .*cli-loop: 2 problems/);
    expect(lines[1]).toMatch(/^ {2}- input\/a: symbolic link to "\." leads back to input\//);
  });
});

describe("paths the user gives the CLI", () => {
  test("-o naming a file: exit 2, one line, nothing written", async () => {
    const file = path.join(tmp, "out-file");
    fs.writeFileSync(file, "keep");
    const r = await cli(["-o", file, "synth"]);
    expect(r.code).toBe(ExitCode.badInput);
    expect(expectLines(r.err, 1)[0]).toBe(`output directory (-o) ${file}: is a file, not a directory`);
    expect(fs.readFileSync(file, "utf8")).toBe("keep");
    const below = await cli(["-o", path.join(file, "sub"), "synth"]);
    expect(below.code).toBe(ExitCode.badInput);
    expect(expectLines(below.err, 1)[0]).toBe(`output directory (-o) ${path.join(file, "sub")}: ${file} is a file, not a directory`);
    expect(r.out + below.out).toBe("");
  });

  test("-o in a directory without write permission is refused before synth", () => {
    if (process.getuid?.() === 0) {
      // root may write anywhere: what is checked is that the check passes and creates nothing.
      expect(() => checkOutdir(path.join(tmp, "ro-root", "out"))).not.toThrow();
      expect(fs.existsSync(path.join(tmp, "ro-root"))).toBe(false);
      return;
    }
    const ro = path.join(tmp, "ro");
    fs.mkdirSync(ro, { mode: 0o555 });
    expect(() => checkOutdir(path.join(ro, "out"))).toThrow(`output directory (-o) ${path.join(ro, "out")}: cannot write to ${ro} (EACCES)`);
  });

  test("config init into a missing directory, over a directory, below a file: exit 2, one line", async () => {
    const missing = path.join(tmp, "no-such-dir", "x.json");
    const r1 = await cli(["config", "init", missing]);
    expect(r1.code).toBe(ExitCode.badInput);
    expect(expectLines(r1.err, 1)[0]).toBe(`cannot write ${missing}: ${path.dirname(missing)} does not exist; create the directory first`);
    expect(fs.existsSync(path.dirname(missing))).toBe(false);

    const dir = path.join(tmp, "a-dir");
    fs.mkdirSync(dir);
    for (const args of [
      ["config", "init", dir],
      ["config", "init", dir, "--force"],
    ]) {
      const r = await cli(args);
      expect(r.code).toBe(ExitCode.badInput);
      expect(expectLines(r.err, 1)[0]).toBe(`${dir} is a directory; give the name of a file to write`);
    }

    const file = path.join(tmp, "plain");
    fs.writeFileSync(file, "");
    const r3 = await cli(["config", "init", path.join(file, "x.json")]);
    expect(r3.code).toBe(ExitCode.badInput);
    expect(expectLines(r3.err, 1)[0]).toMatch(new RegExp(`^error: cannot read ${file}.*: a part of the path is a file, not a directory \\(ENOTDIR\\)$`));
  });

  test("-c naming a directory: exit 2, one line", async () => {
    const dir = path.join(tmp, "conf-dir");
    fs.mkdirSync(dir);
    const r = await cli(["-c", dir, "synth"]);
    expect(r.code).toBe(ExitCode.badInput);
    expect(expectLines(r.err, 1)[0]).toBe(`config file ${dir}: is a directory, not a file (EISDIR)`);
  });

  test("any Node filesystem error on a path: one line naming it, exit 2; other errors stay exit 1", () => {
    let thrown: unknown;
    try {
      fs.mkdirSync(path.join(tmp, "nope", "deeper"));
    } catch (e) {
      thrown = e;
    }
    expect(isUserFsError(thrown)).toBe(true);
    expect(thrown).not.toBeInstanceOf(HflowError);
    expect(exitCodeFor(thrown)).toBe(ExitCode.badInput);
    expect(errorText(thrown)).toBe(`error: cannot create the directory ${path.join(tmp, "nope", "deeper")}: no such file or directory (ENOENT)`);
    const other = new Error("boom");
    expect(exitCodeFor(other)).toBe(ExitCode.failed);
    expect(errorText(other)).toMatch(/^error: Error: boom\n\s+at /);
  });
});
