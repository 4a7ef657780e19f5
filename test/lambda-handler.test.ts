/**
 * The Lambda handler (executor/lambda/handler.ts, main.ts) in-process against the control-plane stand-in,
 * with local storage: Function URL events, the deadline, and settings reported through init/error.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { createContext } from "../executor/execute";
import { createLambdaHandler, loadLambdaSettings } from "../executor/lambda/handler";
import { serveLambda } from "../executor/lambda/main";
import { runRuntimeLoop } from "../executor/lambda/runtime-api";
import { loadSettings } from "../executor/settings";
import { LambdaControlPlane } from "./support/lambda-control-plane";

let plane: LambdaControlPlane;
let dir: string;
beforeEach(async () => {
  plane = await LambdaControlPlane.start();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-lambda-handler-"));
  fs.writeFileSync(path.join(dir, "in.txt"), "hello\n");
});
afterEach(async () => {
  await plane.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function invoke(fn: string, payload: unknown): Promise<{ error?: string; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${plane.endpoint}/2015-03-31/functions/${fn}/invocations`, { method: "POST" }, (res) => {
      let b = "";
      res.on("data", (c) => (b += c));
      res.on("end", () => resolve({ error: res.headers["x-amz-function-error"] as string | undefined, body: JSON.parse(b) }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(payload));
  });
}

const handler = () =>
  createLambdaHandler(
    createContext(loadSettings({ STORAGE: "local", WORKDIR: dir, KILL_GRACE: "0.2" }), () => undefined),
    { deadlineMarginMs: 500 },
  );

test("a Function URL event (payload 2.0) gets an HTTP answer: 200 with the reply, 422 with the failed reply", async () => {
  const api = await plane.addFunction("url", { timeoutSeconds: 30 });
  const loop = runRuntimeLoop(handler(), { api, maxInvocations: 2 });
  const event = (job: object) => ({
    version: "2.0",
    rawPath: "/",
    requestContext: { http: { method: "POST" } },
    isBase64Encoded: true,
    body: Buffer.from(JSON.stringify(job)).toString("base64"),
  });
  const ok = await invoke("url", event({ executable: "/bin/cp", args: ["in.txt", "out.txt"], inputs: ["in.txt"], outputs: ["out.txt"] }));
  const bad = await invoke("url", event({ executable: "/bin/sh", args: ["-c", "exit 4"], inputs: ["in.txt"] }));
  await loop;
  expect([ok.error, ok.body.statusCode, JSON.parse(ok.body.body).exit_status]).toEqual([undefined, 200, 0]);
  expect([bad.error, bad.body.statusCode, JSON.parse(bad.body.body)]).toEqual([undefined, 422, expect.objectContaining({ exit_status: 4, error: "exit" })]);
  expect(fs.readFileSync(path.join(dir, "out.txt"), "utf8")).toBe("hello\n");
});

test("a task running into the deadline is killed at (remaining time − margin − grace) and reported as HyperFlow.timeout", async () => {
  const api = await plane.addFunction("deadline", { timeoutSeconds: 2 });
  const loop = runRuntimeLoop(handler(), { api, maxInvocations: 1 });
  const t0 = Date.now();
  const r = await invoke("deadline", { executable: "/bin/sleep", args: ["30"] });
  await loop;
  expect(Date.now() - t0).toBeLessThan(2000);
  expect([r.error, r.body.errorType]).toEqual(["Unhandled", "HyperFlow.timeout"]);
  expect(r.body.errorMessage).toMatch(/^task timed out after 1\.\d s \(the invocation's deadline less 0\.7 s to report\) and was killed$/);
  expect(r.body.reply).toMatchObject({ exit_status: 124, error: "timeout" });
  expect(plane.invocations[0].outcome).toBe("error");
});

test("a bad setting goes to init/error: every invocation fails with Runtime.ConfigError naming it", async () => {
  const api = await plane.addFunction("misconfigured", { timeoutSeconds: 30 });
  await expect(serveLambda(() => undefined, { AWS_LAMBDA_RUNTIME_API: api, STORAGE: "tape" })).rejects.toThrow(
    'STORAGE="tape" is not valid; allowed: cloud (or s3), nfs, local',
  );
  const r = await invoke("misconfigured", {});
  expect([r.error, r.body.errorType, r.body.errorMessage]).toEqual([
    "Unhandled",
    "Runtime.ConfigError",
    'STORAGE="tape" is not valid; allowed: cloud (or s3), nfs, local',
  ]);
  expect(() => loadLambdaSettings({ LAMBDA_DEADLINE_MARGIN: "0" })).toThrow(
    'LAMBDA_DEADLINE_MARGIN="0" is not valid; allowed: a number of seconds from 0.5 to 300',
  );
});
