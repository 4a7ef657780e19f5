/**
 * The project's errors and the exit codes they stand for. A leaf module: it imports nothing from the
 * project, so config/, runner/, constructs/, cli/ and main.ts can all extend and read it.
 *
 * Exit codes: 0 ok · 1 a tool, a transfer or a deployment failed · 2 bad input (config, arguments, job
 * directory) · 3 a required tool is missing · 75 the S3 endpoint stopped answering during an upload for
 * longer than the outage bound (sysexits' EX_TEMPFAIL: try again later; a re-run finishes the upload) ·
 * 124 `run` gave up following an engine that still runs.
 */

/** Exit codes of `hflow-infra` and of the cdktf app (`main.ts`). */
export const ExitCode = { ok: 0, failed: 1, badInput: 2, missingTool: 3, endpointDown: 75, timedOut: 124 } as const;

/** An error of ours: its message is meant for the user (no stack trace) and it knows its exit code. */
export abstract class HflowError extends Error {
  abstract readonly exitCode: number;
}

/** Bad command-line input: an unknown stack, an existing file without --force, a bad flag value. */
export class UsageError extends HflowError {
  readonly exitCode = ExitCode.badInput;
}

/** A path the user gave that cannot be used: `-o` naming a file, a config file that is a directory. */
export class PathError extends HflowError {
  readonly exitCode = ExitCode.badInput;
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = "PathError";
  }
}

/**
 * Filesystem error codes that mean the path the user gave cannot be used (not a bug of ours), and what
 * each means in words.
 */
export const USER_FS_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  ENOTDIR: "a part of the path is a file, not a directory",
  EISDIR: "is a directory, not a file",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EEXIST: "already exists",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ENAMETOOLONG: "file name too long",
  ELOOP: "too many levels of symbolic links",
};

/** A Node system error on a path (`fs.*`) whose code is one of USER_FS_ERRORS. */
export function isUserFsError(e: unknown): e is NodeJS.ErrnoException & { code: string; path: string } {
  // Not `instanceof Error`: errors from Node's core may come from another realm (jest, vm).
  if (e === null || typeof e !== "object") return false;
  const { code, path } = e as NodeJS.ErrnoException;
  return typeof code === "string" && typeof path === "string" && code in USER_FS_ERRORS;
}

const SYSCALL_VERBS: Readonly<Record<string, string>> = {
  open: "open",
  read: "read",
  write: "write",
  scandir: "read the directory",
  mkdir: "create the directory",
  rmdir: "remove",
  rm: "remove",
  unlink: "remove",
  rename: "rename",
  copyfile: "copy",
  cp: "copy",
  stat: "read",
  lstat: "read",
  access: "access",
  symlink: "create the link",
  spawn: "run",
};

/** One line for a user-caused filesystem error: `cannot open /x/y.json: no such file or directory (ENOENT)`. */
export function describeFsError(e: NodeJS.ErrnoException & { code: string; path: string }): string {
  const syscall = (e.syscall ?? "").split(" ")[0];
  const verb = SYSCALL_VERBS[syscall] ?? "use";
  const { dest } = e as { dest?: unknown };
  const to = typeof dest === "string" ? ` -> ${dest}` : "";
  return `cannot ${verb} ${e.path}${to}: ${USER_FS_ERRORS[e.code]} (${e.code})`;
}

/**
 * The process exit code for an error: its own for ours, 2 for a filesystem error on a path the user
 * gave (bad input), 1 for anything else.
 */
export function exitCodeFor(e: unknown): number {
  if (e instanceof HflowError) return e.exitCode;
  return isUserFsError(e) ? ExitCode.badInput : ExitCode.failed;
}
