/** The Runtime API loop (executor/lambda/runtime-api.ts) against the local control plane's wire formats. */
import * as http from "node:http";
import { FunctionError, PAYLOAD_LIMIT_BYTES, runRuntimeLoop } from "../executor/lambda/runtime-api";
import { LambdaControlPlane } from "./support/lambda-control-plane";

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function post(url: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers }, (res) => {
      let b = "";
      res.on("data", (c) => (b += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

let plane: LambdaControlPlane;
beforeEach(async () => {
  plane = await LambdaControlPlane.start();
});
afterEach(async () => {
  await plane.close();
});

const invoke = (name: string, payload: unknown) => post(`${plane.endpoint}/2015-03-31/functions/${name}/invocations`, JSON.stringify(payload));

test("a result goes back to Invoke as HTTP 200 without X-Amz-Function-Error; the handler sees the event and the invocation headers", async () => {
  const api = await plane.addFunction("echo", { timeoutSeconds: 30 });
  const seen: { requestId: string; arn: string; remaining: number }[] = [];
  const loop = runRuntimeLoop(
    async (event, inv) => {
      seen.push({ requestId: inv.requestId, arn: inv.functionArn, remaining: inv.remainingMs() });
      return { got: event };
    },
    { api, maxInvocations: 2 },
  );
  const a = await invoke("echo", { x: 1 });
  const b = await invoke("arn:aws:lambda:us-east-1:123456789012:function:echo", { x: 2 });
  await expect(loop).resolves.toBe(2);
  expect([a.status, a.headers["x-amz-function-error"], JSON.parse(a.body)]).toEqual([200, undefined, { got: { x: 1 } }]);
  expect(JSON.parse(b.body)).toEqual({ got: { x: 2 } });
  expect(seen.map((s) => s.requestId)).toEqual(plane.invocations.map((i) => i.requestId));
  expect(seen[0].arn).toBe("arn:aws:lambda:us-east-1:123456789012:function:echo");
  expect(seen[0].remaining).toBeGreaterThan(25_000);
  expect(seen[0].remaining).toBeLessThanOrEqual(30_000);
});

test("a thrown error is an error response: HTTP 200, X-Amz-Function-Error: Unhandled, the error document with its type and data", async () => {
  const api = await plane.addFunction("fails", { timeoutSeconds: 30 });
  const loop = runRuntimeLoop(
    async () => {
      throw new FunctionError("TaskFailed", "mProjectPP exited with status 1", { exit_status: 1 });
    },
    { api, maxInvocations: 1 },
  );
  const r = await invoke("fails", {});
  await loop;
  expect(r.status).toBe(200);
  expect(r.headers["x-amz-function-error"]).toBe("Unhandled");
  expect(JSON.parse(r.body)).toEqual({ errorMessage: "mProjectPP exited with status 1", errorType: "TaskFailed", stackTrace: [], exit_status: 1 });
  expect(plane.invocations[0]).toMatchObject({ outcome: "error", errorType: "TaskFailed" });
});

test("a result over 6 MB becomes a Function.ResponseSizeTooLarge error, never a success", async () => {
  const api = await plane.addFunction("big", { timeoutSeconds: 30 });
  const loop = runRuntimeLoop(async () => ({ data: "x".repeat(PAYLOAD_LIMIT_BYTES) }), { api, maxInvocations: 1 });
  const r = await invoke("big", {});
  await loop;
  expect(r.headers["x-amz-function-error"]).toBe("Unhandled");
  expect(JSON.parse(r.body)).toMatchObject({
    errorType: "Function.ResponseSizeTooLarge",
    errorMessage: expect.stringMatching(/exceeds Lambda's limit of 6291456 bytes/),
  });
});

test("control plane: a runtime posting over 6 MB gets 413 and the caller a Function.ResponseSizeTooLarge error", async () => {
  const api = await plane.addFunction("raw", { timeoutSeconds: 30 });
  const pending = invoke("raw", {});
  const next = await new Promise<http.IncomingMessage>((resolve) => http.get(`http://${api}/2018-06-01/runtime/invocation/next`, resolve));
  next.resume();
  const id = String(next.headers["lambda-runtime-aws-request-id"]);
  const refused = await post(`http://${api}/2018-06-01/runtime/invocation/${id}/response`, Buffer.alloc(PAYLOAD_LIMIT_BYTES + 1, 32));
  expect(refused.status).toBe(413);
  expect(JSON.parse(refused.body).errorType).toBe("RequestEntityTooLarge");
  const r = await pending;
  expect([r.status, r.headers["x-amz-function-error"], JSON.parse(r.body).errorType]).toEqual([200, "Unhandled", "Function.ResponseSizeTooLarge"]);
  const again = await post(`http://${api}/2018-06-01/runtime/invocation/${id}/response`, "{}");
  expect(again.status).toBe(400);
});

test("Invoke's service errors: unknown function 404, request over 6 MB 413, each with X-Amzn-ErrorType", async () => {
  await plane.addFunction("f");
  const missing = await invoke("nope", {});
  expect([missing.status, missing.headers["x-amzn-errortype"]]).toEqual([404, "ResourceNotFoundException"]);
  const big = await post(`${plane.endpoint}/2015-03-31/functions/f/invocations`, Buffer.alloc(PAYLOAD_LIMIT_BYTES + 1, 32));
  expect([big.status, big.headers["x-amzn-errortype"]]).toEqual([413, "RequestTooLargeException"]);
  expect(plane.invocations).toHaveLength(0);
});

test("an invocation not answered by the function's timeout fails with Sandbox.Timedout", async () => {
  const timedOut: string[] = [];
  const api = await plane.addFunction("slow", { timeoutSeconds: 1, onTimeout: (id) => timedOut.push(id) });
  let release: () => void = () => undefined;
  const logs: string[] = [];
  const loop = runRuntimeLoop(() => new Promise((r) => (release = () => r("late"))), { api, maxInvocations: 1, log: (l) => logs.push(l) });
  const r = await invoke("slow", {});
  expect(r.headers["x-amz-function-error"]).toBe("Unhandled");
  expect(JSON.parse(r.body)).toMatchObject({ errorType: "Sandbox.Timedout", errorMessage: expect.stringMatching(/Task timed out after 1.00 seconds/) });
  expect(timedOut).toEqual([plane.invocations[0].requestId]);
  release();
  await expect(loop).resolves.toBe(1);
  // The late answer was refused (400) and left the recorded outcome alone.
  expect(plane.invocations[0].outcome).toBe("timeout");
  expect(logs).toEqual([expect.stringMatching(/Runtime API answered 400 to the response/)]);
});

test("init failure is reported to /runtime/init/error, rejects the loop, and fails invocations", async () => {
  const api = await plane.addFunction("broken", { timeoutSeconds: 30 });
  await expect(
    runRuntimeLoop(async () => "never", {
      api,
      init: () => {
        throw new FunctionError("Runtime.ConfigError", "S3_BUCKET is not set");
      },
    }),
  ).rejects.toThrow("S3_BUCKET is not set");
  expect(JSON.parse(plane.initErrors[0].body.toString())).toMatchObject({ errorType: "Runtime.ConfigError", errorMessage: "S3_BUCKET is not set" });
  const r = await invoke("broken", {});
  expect([r.headers["x-amz-function-error"], JSON.parse(r.body).errorType]).toEqual(["Unhandled", "Runtime.ConfigError"]);
});

test("a missing or malformed AWS_LAMBDA_RUNTIME_API is a clear error", async () => {
  await expect(runRuntimeLoop(async () => 1, { api: "" })).rejects.toThrow(/AWS_LAMBDA_RUNTIME_API is not set/);
  await expect(runRuntimeLoop(async () => 1, { api: "localhost" })).rejects.toThrow(/AWS_LAMBDA_RUNTIME_API="localhost" is not valid; allowed: host:port/);
});
