/**
 * `cdktf deploy runner -- --jobDir DIR`: the app finds the arguments after `--` on the cdktf process
 * that started it (config/cdktf-args.ts). Unit tests with fake process tables (Linux /proc and macOS
 * `ps` output), the real /proc and ps of this machine, and the real cdktf CLI end to end.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { UsageError } from "../common/errors";
import {
  cdktfArgsOf,
  findCdktfAncestor,
  parseAppArgs,
  parsePsLine,
  procTable,
  type ProcessTable,
  psTable,
  readCdktfCommandLine,
  systemProcessTable,
} from "../config/cdktf-args";

const root = path.join(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-cdktf-args-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The error a call throws (fails the test when it throws none). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error, got none");
}

describe("arguments after `--`", () => {
  test("the four accepted forms give the job directory; nothing after `--`, or no `--`, gives none", () => {
    for (const args of [["--jobDir", "/j"], ["--jobDir=/j"], ["--job-dir", "/j"], ["--job-dir=/j"]]) {
      expect(parseAppArgs(["deploy", "runner", "--", ...args])).toEqual({ jobDir: "/j" });
    }
    expect(parseAppArgs(["synth", "--", "--jobDir", "dir with spaces/x"])).toEqual({ jobDir: "dir with spaces/x" });
    expect(parseAppArgs(["synth", "--", "--jobDir=a=b"])).toEqual({ jobDir: "a=b" });
    expect(parseAppArgs(["synth", "--"])).toEqual({});
    expect(parseAppArgs(["deploy", "runner", "--auto-approve"])).toEqual({});
    expect(parseAppArgs([])).toEqual({});
    // Only the first `--` separates: a second one is an argument of ours, and not one we know.
    expect(thrown(() => parseAppArgs(["synth", "--", "--jobDir", "/j", "--"])).message).toMatch(/"--" after `--` is not understood/);
  });

  test("anything else is a usage error (exit 2) naming the argument and what is allowed", () => {
    const cases: [string[], RegExp][] = [
      [
        ["--bogus"],
        /^cdktf command line: "--bogus" after `--` is not understood; allowed after `--`: --jobDir DIR, --jobDir=DIR, --job-dir DIR, --job-dir=DIR$/,
      ],
      [["--jobDir", "/j", "extra"], /"extra" after `--` is not understood/],
      [["--jobdir", "/j"], /"--jobdir" after `--` is not understood/],
      [["/j"], /"\/j" after `--` is not understood/],
      [["--jobDir"], /^cdktf command line: --jobDir after `--` needs a directory; allowed: --jobDir DIR/],
      [["--jobDir="], /--jobDir= after `--` needs a directory/],
      [["--job-dir", "--bogus"], /--job-dir after `--` needs a directory/],
      [["--jobDir", "/a", "--job-dir=/b"], /the job directory is given twice after `--` \("\/a", "\/b"\); give it once/],
    ];
    for (const [after, message] of cases) {
      const e = thrown(() => parseAppArgs(["deploy", "runner", "--", ...after]));
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).exitCode).toBe(2);
      expect(e.message).toMatch(message);
      expect(e.message).not.toContain("\n");
    }
  });

  test("--jobDir before `--` (which cdktf's parser accepts and ignores) is an error too", () => {
    for (const args of [
      ["deploy", "runner", "--jobDir", "/j"],
      ["synth", "--job-dir=/j", "--", "--jobDir", "/j"],
    ]) {
      expect(thrown(() => parseAppArgs(args)).message).toMatch(
        /^cdktf command line: --job-?[dD]ir(=\/j)? before `--` is ignored by cdktf; write it after `--`/,
      );
    }
  });

  test("read from ps (quoting lost), an extra word says why a path with spaces cannot pass", () => {
    const e = thrown(() => parseAppArgs(["synth", "--", "--jobDir", "/Users/ana/My", "Jobs"], true));
    expect(e.message).toMatch(
      /"Jobs" after `--` is not understood; .*read with `ps`, which drops quoting: a directory with spaces cannot be passed this way, use HFLOW_JOB_DIR/,
    );
    expect(thrown(() => parseAppArgs(["synth", "--", "x"], false)).message).not.toMatch(/ps/);
  });
});

describe("which process is the cdktf CLI", () => {
  test("node (or bun) running a script named cdktf or cdktf.js, or a binary named cdktf: its arguments", () => {
    expect(cdktfArgsOf(["node", "/p/node_modules/.bin/cdktf", "synth", "--", "--jobDir", "/j"])).toEqual(["synth", "--", "--jobDir", "/j"]);
    expect(cdktfArgsOf(["/usr/local/bin/node", "/usr/local/lib/node_modules/cdktf-cli/bundle/bin/cdktf", "deploy", "runner"])).toEqual(["deploy", "runner"]);
    expect(cdktfArgsOf(["node", "--require", "/x/hook.js", "--max-old-space-size=4096", "/p/node_modules/cdktf-cli/bundle/bin/cdktf.js", "synth"])).toEqual([
      "synth",
    ]);
    expect(cdktfArgsOf(["C:\\Program Files\\nodejs\\node.exe", "C:\\p\\node_modules\\cdktf-cli\\bundle\\bin\\cdktf", "synth"])).toEqual(["synth"]);
    expect(cdktfArgsOf(["/opt/homebrew/bin/node20", "/opt/homebrew/bin/cdktf", "diff"])).toEqual(["diff"]);
    expect(cdktfArgsOf(["bun", "/p/node_modules/.bin/cdktf", "synth"])).toEqual(["synth"]);
    expect(cdktfArgsOf(["/usr/local/bin/cdktf", "synth", "--", "--jobDir", "/j"])).toEqual(["synth", "--", "--jobDir", "/j"]);
    expect(cdktfArgsOf(["node", "/p/node_modules/.bin/cdktf"])).toEqual([]);
  });

  test("not npx/npm exec (renamed title), their shell, the app, tsc, jest or an editor opening a file named cdktf", () => {
    for (const argv of [
      ["npm exec cdktf synth -- --jobDir /j", "", "", ""],
      ["sh", "-c", "'cdktf' synth -- --jobDir '/j'"],
      ["/bin/sh", "-c", "npx tsc -p tsconfig.build.json && node dist/main.js"],
      ["node", "dist/main.js"],
      ["node", "/p/node_modules/.bin/tsc", "-p", "tsconfig.build.json"],
      ["node", "/p/node_modules/.bin/jest", "cdktf"],
      ["vim", "/p/node_modules/.bin/cdktf"],
      ["node"],
      ["node", "--inspect"],
      [],
    ]) {
      expect(cdktfArgsOf(argv)).toBeUndefined();
    }
  });
});

/** A fake `ps`: answers `ps -ww -o ppid=,args= -p PID` from a table of lines as macOS prints them. */
function fakePs(lines: Record<number, string>): { table: ProcessTable; calls: string[][] } {
  const calls: string[][] = [];
  const table = psTable((args) => {
    calls.push([...args]);
    const pid = Number(args[args.length - 1]);
    if (!(pid in lines)) throw new Error("Command failed: ps -ww -o ppid=,args= -p " + pid);
    return `${lines[pid]}\n`;
  });
  return { table, calls };
}

// What `ps -o ppid=,args=` prints on macOS for `npx cdktf deploy runner -- --jobDir …` from zsh in Terminal.
const MACOS: Record<number, string> = {
  812: "  811 node dist/main.js",
  811: "  640 /bin/sh -c npx tsc -p tsconfig.build.json && node dist/main.js",
  640: "  633 node /Users/ana/hyperflow-infra/node_modules/.bin/cdktf deploy runner -- --jobDir /Users/ana/jobs/0.25",
  633: "  620 npm exec cdktf deploy runner -- --jobDir /Users/ana/jobs/0.25",
  620: "  512 -zsh",
  512: "    1 login -pfl ana /bin/bash -c exec -la zsh /bin/zsh",
  1: "    0 /sbin/launchd",
};

describe("the walk up the process tree", () => {
  test("macOS ps output: the nearest cdktf ancestor and its arguments, read with -ww -o ppid=,args= -p", () => {
    const { table, calls } = fakePs(MACOS);
    expect(findCdktfAncestor(table, 811)).toEqual({
      kind: "found",
      pid: 640,
      args: ["deploy", "runner", "--", "--jobDir", "/Users/ana/jobs/0.25"],
      lossy: true,
    });
    expect(calls).toEqual([
      ["-ww", "-o", "ppid=,args=", "-p", "811"],
      ["-ww", "-o", "ppid=,args=", "-p", "640"],
    ]);
    expect(readCdktfCommandLine({ table, ppid: 811, env: {} })).toEqual({ underCdktf: true, jobDir: "/Users/ana/jobs/0.25", warnings: [] });
  });

  test("macOS: a path with spaces cannot be read back from ps: a usage error, not a wrong directory", () => {
    const { table } = fakePs({ ...MACOS, 640: "  633 node /usr/local/bin/cdktf synth -- --jobDir /Users/ana/My Jobs/0.25" });
    const e = thrown(() => readCdktfCommandLine({ table, ppid: 811, env: {} }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/"Jobs\/0\.25" after `--` is not understood; .*use HFLOW_JOB_DIR/);
  });

  test("ps lines: leading spaces, no arguments, nothing at all", () => {
    expect(parsePsLine(7, "    1 /sbin/launchd\n")).toEqual({ ppid: 1, argv: ["/sbin/launchd"], lossy: true });
    expect(parsePsLine(7, "  0\n")).toEqual({ ppid: 0, argv: [], lossy: true });
    expect(parsePsLine(7, "  12   node   a.js  \n")).toEqual({ ppid: 12, argv: ["node", "a.js"], lossy: true });
    expect(() => parsePsLine(7, "")).toThrow(/ps shows no process 7/);
    expect(() => parsePsLine(7, "PPID ARGS\n")).toThrow(/ps shows no process 7: "PPID ARGS"/);
  });

  test("Linux /proc: parent from stat (a command name with spaces and parentheses), exact arguments from cmdline", () => {
    const proc = path.join(tmp, "proc");
    const write = (pid: number, comm: string, ppid: number, argv: string[]) => {
      fs.mkdirSync(path.join(proc, String(pid)), { recursive: true });
      fs.writeFileSync(path.join(proc, String(pid), "stat"), `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 1 0 0 0\n`);
      fs.writeFileSync(path.join(proc, String(pid), "cmdline"), argv.map((a) => `${a}\0`).join(""));
    };
    write(300, "node", 299, ["node", "dist/main.js"]);
    write(299, "sh", 250, ["/bin/sh", "-c", "npx tsc -p tsconfig.build.json && node dist/main.js"]);
    write(250, "node) (x", 240, ["node", "/p/node_modules/.bin/cdktf", "synth", "--", "--jobDir", "/data/my jobs/0.25", ""]);
    // npm renames its process: one long title padded with NULs.
    fs.mkdirSync(path.join(proc, "240"), { recursive: true });
    fs.writeFileSync(path.join(proc, "240", "stat"), "240 (npm exec cdktf) S 1 240 240 0\n");
    fs.writeFileSync(path.join(proc, "240", "cmdline"), "npm exec cdktf synth -- --jobDir /data/my jobs/0.25\0\0\0\0");
    const table = procTable(proc);
    expect(table(250)).toEqual({ ppid: 240, argv: ["node", "/p/node_modules/.bin/cdktf", "synth", "--", "--jobDir", "/data/my jobs/0.25", ""], lossy: false });
    expect(table(240).argv[0]).toBe("npm exec cdktf synth -- --jobDir /data/my jobs/0.25");
    expect(findCdktfAncestor(table, 299)).toEqual({ kind: "found", pid: 250, args: ["synth", "--", "--jobDir", "/data/my jobs/0.25", ""], lossy: false });
    // The empty argument cdktf was given after the directory is not ours either.
    expect(thrown(() => readCdktfCommandLine({ table, ppid: 299, env: {} })).message).toMatch(/"" after `--` is not understood/);
    write(250, "node", 240, ["node", "/p/node_modules/.bin/cdktf", "synth", "--", "--jobDir", "/data/my jobs/0.25"]);
    expect(readCdktfCommandLine({ table, ppid: 299, env: {} }).jobDir).toBe("/data/my jobs/0.25");
    // Without cdktf up to init: none; a process that cannot be read: unreadable, with the reason.
    write(1, "init", 0, ["/sbin/init"]);
    write(250, "bash", 1, ["bash"]);
    expect(findCdktfAncestor(table, 299)).toEqual({ kind: "none" });
    fs.rmSync(path.join(proc, "1"), { recursive: true });
    expect(findCdktfAncestor(table, 299)).toEqual({ kind: "unreadable", reason: expect.stringMatching(/^process 1: ENOENT/) });
  });

  test("the nearest cdktf wins; a loop or a runaway chain ends the walk", () => {
    const table: ProcessTable = (pid) =>
      ({
        10: { ppid: 9, argv: ["node", "/a/cdktf", "synth", "--", "--jobDir", "/near"], lossy: false },
        9: { ppid: 1, argv: ["node", "/b/cdktf", "synth", "--", "--jobDir", "/far"], lossy: false },
        5: { ppid: 6, argv: ["sh"], lossy: false },
        6: { ppid: 5, argv: ["sh"], lossy: false },
      })[pid] ?? { ppid: pid + 1, argv: ["sh"], lossy: false };
    expect(findCdktfAncestor(table, 10)).toMatchObject({ kind: "found", pid: 10, args: ["synth", "--", "--jobDir", "/near"] });
    expect(findCdktfAncestor(table, 5)).toEqual({ kind: "none" });
    expect(findCdktfAncestor(table, 100, 8)).toEqual({ kind: "none" });
  });

  test("this machine's own /proc and ps read this process as the kernel sees it", () => {
    const viaProc = procTable()(process.pid);
    expect(viaProc.ppid).toBe(process.ppid);
    // cmdline = the command as typed, node's own options, then the script and its arguments.
    expect(viaProc.argv.slice(-(process.argv.length - 1))).toEqual(process.argv.slice(1));
    const viaPs = psTable()(process.pid);
    expect(viaPs).toEqual({
      ppid: process.ppid,
      argv: viaProc.argv
        .join(" ")
        .split(/\s+/)
        .filter((a) => a !== ""),
      lossy: true,
    });
    expect(systemProcessTable("linux")!(process.pid)).toEqual(viaProc);
    expect(systemProcessTable("darwin")!(process.pid)).toEqual(viaPs);
    expect(systemProcessTable("win32")).toBeUndefined();
  });
});

describe("what the app makes of it", () => {
  const cdktfAt20: ProcessTable = (pid) =>
    ({
      21: { ppid: 20, argv: ["/bin/sh", "-c", "npx tsc -p tsconfig.build.json && node dist/main.js"], lossy: false },
      20: { ppid: 1, argv: ["node", "/p/node_modules/.bin/cdktf", "deploy", "runner", "--", "--jobDir", "/cli"], lossy: false },
    })[pid] ?? { ppid: 0, argv: ["init"], lossy: false };
  const marker = { CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS: "true" };

  test("found: the job directory; one that overrides a different HFLOW_JOB_DIR says so", () => {
    expect(readCdktfCommandLine({ table: cdktfAt20, ppid: 21, env: marker })).toEqual({ underCdktf: true, jobDir: "/cli", warnings: [] });
    expect(readCdktfCommandLine({ table: cdktfAt20, ppid: 21, env: { HFLOW_JOB_DIR: "/cli" } }).warnings).toEqual([]);
    expect(readCdktfCommandLine({ table: cdktfAt20, ppid: 21, env: { HFLOW_JOB_DIR: "/env" } })).toEqual({
      underCdktf: true,
      jobDir: "/cli",
      warnings: ["-- --jobDir /cli overrides HFLOW_JOB_DIR=/env."],
    });
  });

  test("not under cdktf (no ancestor, no cdktf variable): nothing to say, whether or not the table could be read", () => {
    expect(readCdktfCommandLine({ table: cdktfAt20, ppid: 1, env: {} })).toEqual({ underCdktf: false, warnings: [] });
    expect(readCdktfCommandLine({ table: undefined, ppid: 21, env: { CDKTF_OUTDIR: "out" } })).toEqual({ underCdktf: false, warnings: [] });
  });

  test("under cdktf but its command line unreadable (no /proc, no ps) or not found: a warning that `--` arguments are not used", () => {
    const unreadable = readCdktfCommandLine({ table: undefined, ppid: 21, env: marker });
    expect(unreadable.underCdktf).toBe(true);
    expect(unreadable.jobDir).toBeUndefined();
    expect(unreadable.warnings).toEqual([
      "cannot read the cdktf command line (no process table on this platform (no /proc, no ps)): arguments after `--` (such as --jobDir) are not used; set the job directory with HFLOW_JOB_DIR or runner.jobDir.",
    ]);
    const psFails = readCdktfCommandLine({ table: fakePs({}).table, ppid: 21, env: marker });
    expect(psFails.warnings[0]).toMatch(/^cannot read the cdktf command line \(process 21: Command failed: ps/);
    const notFound = readCdktfCommandLine({ table: cdktfAt20, ppid: 1, env: marker });
    expect(notFound.warnings[0]).toMatch(/^no cdktf process among the app's ancestors: arguments after `--`/);
  });
});

/** Run a compiled entry point (dist/) with a clean environment plus `env`. */
function runNode(script: string, args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const clean = { ...process.env };
  for (const k of ["HFLOW_JOB_DIR", "HFLOW_CONFIG", "HFLOW_REGION", "CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS"]) delete clean[k];
  return spawnSync(process.execPath, [path.join(root, "dist", script), ...args], { cwd: root, env: { ...clean, ...env }, encoding: "utf8" });
}

describe("warnings: as warnings under cdktf (stdout), on stderr otherwise", () => {
  const cfg = path.join(tmp, "open.json");
  beforeAll(() => fs.writeFileSync(cfg, JSON.stringify({ adminCidrs: ["0.0.0.0/0"] })));
  const WARNING = "warning: adminCidrs contains 0.0.0.0/0: the RabbitMQ management UI is open to the whole internet.";

  test("the cdktf app started by cdktf (its variable set) writes them to stdout; started alone, to stderr", () => {
    const under = runNode("main.js", [], { HFLOW_CONFIG: cfg, CDKTF_OUTDIR: path.join(tmp, "w1"), CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS: "true" });
    expect(under.status).toBe(0);
    expect(under.stdout).toContain(WARNING);
    expect(under.stderr).not.toContain("warning:");
    // Jest, not cdktf, started it: the variable says cdktf, the process tree does not.
    expect(under.stdout).toContain("warning: no cdktf process among the app's ancestors");
    const alone = runNode("main.js", [], { HFLOW_CONFIG: cfg, CDKTF_OUTDIR: path.join(tmp, "w2") });
    expect(alone.status).toBe(0);
    expect(alone.stderr).toContain(WARNING);
    expect(alone.stdout).not.toContain("warning:");
  });

  test("the hflow-infra CLI keeps them on stderr, even inside a cdktf environment", () => {
    const r = runNode(path.join("cli", "index.js"), ["-o", path.join(tmp, "w3"), "synth"], {
      HFLOW_CONFIG: cfg,
      CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS: "true",
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(WARNING);
    expect(r.stdout).not.toContain("warning:");
  });
});

describe("with the real cdktf CLI (npx cdktf synth, offline)", () => {
  const job = path.join(tmp, "job");
  const cfg = path.join(tmp, "cdktf-open.json");
  beforeAll(() => {
    fs.cpSync(path.join(__dirname, "fixtures", "montage-mini"), job, { recursive: true });
    fs.writeFileSync(cfg, JSON.stringify({ adminCidrs: ["0.0.0.0/0"] }));
  });
  // What a user types; cdktf runs cdktf.json's app (`npx tsc … && node dist/main.js`) through a shell.
  const cdktf = (args: string[], env: Record<string, string> = {}) => {
    const clean = { ...process.env };
    for (const k of Object.keys(clean)) if (/^(HFLOW_|CDKTF_)/.test(k)) delete clean[k];
    const r = spawnSync("npx", ["cdktf", ...args], {
      cwd: root,
      env: { ...clean, CHECKPOINT_DISABLE: "1", DISABLE_VERSION_CHECK: "1", HFLOW_CONFIG: cfg, ...env },
      encoding: "utf8",
      timeout: 180_000,
    });
    // eslint-disable-next-line no-control-regex
    return { status: r.status, out: `${r.stdout}${r.stderr}`.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "") };
  };
  const runnerStack = (out: string) => fs.readFileSync(path.join(out, "stacks", "runner", "cdk.tf.json"), "utf8");

  test("`cdktf synth -- --jobDir DIR` writes the same runner stack as HFLOW_JOB_DIR=DIR, and warnings are not [ERROR]s", () => {
    const viaArgs = cdktf(["synth", "--output", path.join(tmp, "o-args"), "--", "--jobDir", job]);
    expect(viaArgs.status).toBe(0);
    const viaEnv = cdktf(["synth", "--output", path.join(tmp, "o-env")], { HFLOW_JOB_DIR: job });
    expect(viaEnv.status).toBe(0);
    const stack = runnerStack(path.join(tmp, "o-args"));
    expect(stack).toContain(`--job-dir '${job}'`);
    expect(stack).toBe(runnerStack(path.join(tmp, "o-env")));
    // cdktf prints the app's stderr as `[ERROR] default - …` and its stdout as it is.
    const line = viaArgs.out.split("\n").find((l) => l.includes("adminCidrs contains 0.0.0.0/0"));
    expect(line).toMatch(/^\s*warning: adminCidrs contains 0\.0\.0\.0\/0/);
    expect(viaArgs.out).not.toMatch(/\[ERROR\][^\n]*warning:/);
  }, 240_000);

  test("an argument after `--` the app does not know: cdktf fails, our message shows, nothing is written", () => {
    const out = path.join(tmp, "o-bad");
    const r = cdktf(["synth", "--output", out, "--", "--jobDir", job, "--upload-everything"]);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain(
      'cdktf command line: "--upload-everything" after `--` is not understood; allowed after `--`: --jobDir DIR, --jobDir=DIR, --job-dir DIR, --job-dir=DIR',
    );
    expect(fs.existsSync(path.join(out, "stacks", "runner"))).toBe(false);
  }, 180_000);
});
