/**
 * The job directories the benchmarks generate must pass the validator that `upload` and `run` apply
 * first; bench:upload's tree failed it for a while (its process named no function) and nothing noticed.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeTree } from "../bench/upload";
import { validateJobDir } from "../runner/job-dir";

let tmp: string;
beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-bench-tree-"))));
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("bench:upload's job directory is a valid ECS job with every generated file as an input", () => {
  makeTree(tmp, 3, 0);
  const job = validateJobDir(tmp);
  expect(job.files.filter((f) => f.relative.startsWith("input/")).map((f) => f.relative)).toEqual([
    "input/small-00000.fits",
    "input/small-00001.fits",
    "input/small-00002.fits",
  ]);
});
