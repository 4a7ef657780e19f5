import { PassThrough } from "node:stream";
import { formatBytes, formatSeconds, LineProgress, LineStepProgress, progressFor, stepProgressFor, TtyProgress, TtyStepProgress } from "../runner/progress";

describe("progress output", () => {
  test("plain lines (CI, pipes): files, bytes, rate and ETA, at most every interval, and a last line", () => {
    const lines: string[] = [];
    const p = new LineProgress("upload", (l) => lines.push(l), 0);
    p.start(3, 3 * 1024 * 1024);
    p.fileDone(1024 * 1024);
    p.bytesMoved(512 * 1024);
    p.settleInflight(512 * 1024);
    p.fileDone(2 * 1024 * 1024);
    p.stop();
    expect(lines[0]).toBe("upload: 3 files, 3.0 MiB to check");
    expect(lines[1]).toMatch(/^upload: 1\/3 files, 1\.0 MiB\/3\.0 MiB, [\d.]+ [KMG]?i?B\/s, ETA \S+/);
    expect(lines[lines.length - 1]).toMatch(/^upload: 2\/3 files, 3\.0 MiB\/3\.0 MiB, .*ETA 0 s$/);
  });

  test("a bar on a terminal with the same figures", () => {
    const out = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
    Object.assign(out, { isTTY: true, columns: 160, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    let text = "";
    (out as PassThrough).on("data", (c: Buffer) => (text += c.toString()));
    const p = progressFor("upload", out);
    expect(p).toBeInstanceOf(TtyProgress);
    p.start(2, 2048);
    p.fileDone(1024);
    p.fileDone(1024);
    p.stop();
    expect(text).toMatch(/upload \[[^\]]*\] 100% \| 2\/2 files \| 2\.0 KiB\/2\.0 KiB \| .*\/s \| ETA 0 s/);
  });

  test("waiting for the endpoint: plain mode says it when it begins, while it lasts and when it ends", () => {
    const lines: string[] = [];
    const p = new LineProgress("upload", (l) => lines.push(l), 60_000);
    p.start(2, 2048);
    const state = { sinceMs: Date.now() - 12_000, reason: "ECONNREFUSED", boundMs: 90_000 };
    p.waiting(state);
    p.waiting(state); // a refresh within the interval: no new line
    p.waiting(undefined);
    expect(lines.slice(1)).toEqual([
      "upload: waiting for the S3 endpoint for 12 s (ECONNREFUSED); the upload stops after 1 min 30 s without an answer",
      "upload: the S3 endpoint answers again",
    ]);
  });

  test("waiting for the endpoint: the terminal bar shows it and why", () => {
    const out = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
    Object.assign(out, { isTTY: true, columns: 240, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    let text = "";
    (out as PassThrough).on("data", (c: Buffer) => (text += c.toString()));
    const p = progressFor("upload", out);
    p.start(2, 2048);
    p.fileDone(1024);
    p.waiting?.({ sinceMs: Date.now() - 5_000, reason: "socket hang up", boundMs: 90_000 });
    p.stop();
    expect(text).toMatch(
      /upload \[[^\]]*\] 50% .* \| waiting for the S3 endpoint for 5 s \(socket hang up\); the upload stops after 1 min 30 s without an answer/,
    );
  });

  test("not a terminal: plain lines", () => {
    const out = new PassThrough() as unknown as NodeJS.WriteStream;
    expect(progressFor("x", out)).toBeInstanceOf(LineProgress);
  });

  test("units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(179.5 * 1024 * 1024)).toBe("179.5 MiB");
    expect(formatSeconds(42.4)).toBe("42 s");
    expect(formatSeconds(95)).toBe("1 min 35 s");
    expect(formatSeconds(Number.POSITIVE_INFINITY)).toBe("?");
  });

  test("steps (image build, push): one rewritten line with the time so far on a terminal, plain lines otherwise", () => {
    const out = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
    Object.assign(out, { isTTY: true, columns: 40 });
    let text = "";
    (out as PassThrough).on("data", (c: Buffer) => (text += c.toString()));
    let now = 0;
    const tty = new TtyStepProgress("push worker", out, () => now);
    now = 3_000;
    tty.update("podman login");
    tty.update("Copying blob sha256:9f7a95731dafa6148111b1baf598f714b0a01d8eaa98565f5953e0af440e0d62");
    tty.done("pushed in 3 s");
    // Cut to the terminal's width (one column spare) so the line never wraps.
    expect(text).toBe("\r\x1b[2Kpush worker: podman login (3 s)\r\x1b[2Kpush worker: Copying blob sha256:9f7a9…\r\x1b[2Kpush worker: pushed in 3 s\n");
    expect(stepProgressFor("x", out)).toBeInstanceOf(TtyStepProgress);

    const lines: string[] = [];
    const plain = stepProgressFor("build engine", new PassThrough() as unknown as NodeJS.WriteStream, (l) => lines.push(l));
    expect(plain).toBeInstanceOf(LineStepProgress);
    plain.update("building localhost/hflow-engine:0123456789ab");
    plain.done("built in 95 s");
    expect(lines).toEqual(["build engine: building localhost/hflow-engine:0123456789ab", "build engine: built in 95 s"]);
  });
});
