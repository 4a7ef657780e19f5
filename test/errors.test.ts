/** One error base with its exit code: every error of ours maps to its code, anything else to 1. */
import { ExitCode, exitCodeFor, HflowError, UsageError } from "../common/errors";
import { ConfigError } from "../config/load";
import { PropsError } from "../constructs/core/validation";
import { JobDirError } from "../runner/job-dir";
import { S3HttpError } from "../runner/s3-http";
import { S3CallError } from "../runner/s3-sync";
import { MissingToolError } from "../cli/terraform";

describe("exit codes", () => {
  test("each error of ours carries its exit code and is an HflowError", () => {
    const cases: [HflowError, number][] = [
      [new UsageError("unknown stack"), 2],
      [new ConfigError("my.json", [{ path: "region", message: "is not an AWS region" }]), 2],
      [new JobDirError("/job", [{ file: "workdir/", problem: "missing" }]), 2],
      [new MissingToolError("terraform not found on PATH"), 3],
      [new PropsError("EngineTask", "prefix", "x", 'empty or ending in "/"'), 1],
      [new S3CallError("cannot list s3://b/", new Error("boom")), 1],
      [new S3HttpError(503, "SlowDown", "slow down"), 1],
    ];
    for (const [e, code] of cases) {
      expect(e).toBeInstanceOf(HflowError);
      expect(e).toBeInstanceOf(Error);
      expect([e.constructor.name, exitCodeFor(e)]).toEqual([e.constructor.name, code]);
    }
  });

  test("anything else exits 1", () => {
    expect(exitCodeFor(new Error("boom"))).toBe(1);
    expect(exitCodeFor(new TypeError("x is undefined"))).toBe(1);
    expect(exitCodeFor("a string")).toBe(1);
    expect(exitCodeFor(undefined)).toBe(1);
    // An object that only claims an exit code is not one of ours.
    expect(exitCodeFor({ exitCode: 2, message: "fake" })).toBe(1);
  });

  test("the named codes are the documented ones", () => {
    expect(ExitCode).toEqual({ ok: 0, failed: 1, badInput: 2, missingTool: 3, endpointDown: 75, timedOut: 124 });
  });
});
