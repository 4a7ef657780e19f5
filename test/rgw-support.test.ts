/**
 * The S3 server support (test/support/rgw.ts, rgw-fixture.ts) fails with one clear message when Ceph RGW cannot run:
 * the missing program and how to install it, in every test that needs the server, never a TypeError.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { missingRgwTool, RgwUnavailable, startRgw } from "./support/rgw";
import { useRgw } from "./support/rgw-fixture";

/** A PATH with `sh` only: no radosgw, ceph-mon, ceph-osd, uuidgen or curl. */
const bare = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-nopath-"));
fs.symlinkSync("/bin/sh", path.join(bare, "sh"));
afterAll(() => fs.rmSync(bare, { recursive: true, force: true }));
const NO_TOOLS = { PATH: bare };

test("without radosgw on PATH, startRgw says which program is missing and how to install it", async () => {
  expect(missingRgwTool(NO_TOOLS)).toBe("radosgw");
  await expect(startRgw(NO_TOOLS)).rejects.toThrow(RgwUnavailable);
  await expect(startRgw(NO_TOOLS)).rejects.toThrow(
    "no S3 server for this test: radosgw is not installed: run .ci/run, or apt-get install radosgw ceph-mon ceph-osd uuid-runtime curl",
  );
});

describe("useRgw when the server cannot start", () => {
  const rgw = useRgw(() => startRgw(NO_TOOLS));
  test("every use throws the one clear message, not a TypeError", () => {
    expect(() => rgw().endpoint).toThrow(RgwUnavailable);
    expect(() => rgw().endpoint).toThrow(/radosgw is not installed/);
    let thrown: unknown;
    try {
      rgw();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).not.toBeInstanceOf(TypeError);
  });
});

describe("useRgw when a start fails for another reason", () => {
  const rgw = useRgw(() => Promise.reject(new Error("mon did not come up")));
  test("the reason is kept, in the same form", () => {
    expect(() => rgw()).toThrow("no S3 server for this test: mon did not come up");
  });
});
