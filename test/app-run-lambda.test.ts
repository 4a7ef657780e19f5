/**
 * `hflow-infra app run <app> --on lambda`: the Invoke request it builds, how it reads the answer, and the
 * whole command against the local stand-in of Lambda's Invoke and Runtime APIs
 * (test/support/lambda-control-plane.ts), reached through AWS_ENDPOINT_URL_LAMBDA, with a real Runtime
 * API loop serving the function: a small handler, and the app entrypoint itself (images/app/entrypoint.ts)
 * for the error document of a failed run.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { invokeRequest } from "../cli/app-requests";
import { invokeOutcome } from "../cli/commands/app";
import { validateConfig } from "../config/load";
import { FunctionError, runRuntimeLoop } from "../executor/lambda/runtime-api";
import { main as entrypoint } from "../images/app/entrypoint";
import { credentialsEnv, noCredentialsEnv } from "./support/aws-env";
import { runCli } from "./support/cli";
import { LambdaControlPlane } from "./support/lambda-control-plane";

const APPS = {
  batch: {
    apps: {
      small: { imageTag: "1.0.0", command: ["/opt/app/pi", "{input}"], outputs: ["pi.txt"], lambda: true, timeoutSeconds: 300 },
      mpi: { imageTag: "1.0.0", command: ["/opt/app/pi"], outputs: ["pi.txt"], nodes: 3 },
    },
  },
};
const config = validateConfig(APPS).config;
const FUNCTION = "hyperflow-apps-small";

describe("the Invoke request and its answer", () => {
  test("the app's function by its deterministic name, the input key in the entrypoint's direct form", () => {
    expect(invokeRequest(config, "small", "n.txt")).toEqual({ functionName: FUNCTION, payload: { input: "apps/small/input/n.txt" } });
    expect(invokeRequest(config, "small", undefined).payload).toEqual({ input: "-" });
    expect(() => invokeRequest(config, "mpi", undefined)).toThrow(
      '--on lambda: app "mpi" has no Lambda function (batch.apps.mpi.lambda is not true); allowed: --on batch',
    );
  });
  test("a function error: its type and message, the run's exit code when the document has one, else 1", () => {
    expect(invokeOutcome("f", "r1", "Unhandled", JSON.stringify({ errorType: "AppError", errorMessage: "x exited with status 3", exitCode: 3 }))).toEqual({
      exitCode: 3,
      line: "function f failed (request r1): AppError: x exited with status 3",
      outputs: [],
    });
    expect(invokeOutcome("f", "r1", "Unhandled", JSON.stringify({ errorType: "Sandbox.Timedout", errorMessage: "Task timed out" })).exitCode).toBe(1);
    expect(invokeOutcome("f", undefined, "Unhandled", "not json").line).toBe("function f failed: Unhandled: not json");
    expect(invokeOutcome("f", "r1", undefined, JSON.stringify({ outputs: ["s3://b/o/r1/pi.txt", 7] }))).toEqual({
      exitCode: 0,
      line: "function f succeeded (request r1)",
      outputs: ["s3://b/o/r1/pi.txt"],
    });
  });
});

describe("app run --on lambda against the local control plane", () => {
  let dir: string;
  let cfg: string;
  let plane: LambdaControlPlane;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-app-lambda-cli-"));
    cfg = path.join(dir, "hyperflow.config.json");
    fs.writeFileSync(cfg, JSON.stringify(APPS));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    plane = await LambdaControlPlane.start();
  });
  afterEach(async () => {
    await plane.close();
  });

  const env = () => ({
    AWS_ENDPOINT_URL_LAMBDA: plane.endpoint,
    ...credentialsEnv({ accessKeyId: "AKIDTEST", secretAccessKey: "test-secret" }),
    AWS_REGION: "us-east-1",
    HFLOW_REGION: undefined,
  });
  const received = () => plane.invocations.map((i) => ({ functionName: i.functionName, type: i.invocationType, payload: JSON.parse(i.request.toString()) }));

  test("success: one RequestResponse Invoke with {input: KEY}; exit 0; the outputs and where they went", async () => {
    const api = await plane.addFunction(FUNCTION, { timeoutSeconds: 30 });
    const events: unknown[] = [];
    const loop = runRuntimeLoop(
      async (event, inv) => {
        events.push(event);
        return { outputs: [`s3://appbucket/apps/small/output/${inv.requestId}/pi.txt`] };
      },
      { api, maxInvocations: 1 },
    );
    const r = await runCli(["-c", cfg, "app", "run", "small", "--on", "lambda", "--input", "n.txt"], env());
    await loop;
    expect(r).toMatchObject({ code: 0 });
    const id = plane.invocations[0].requestId;
    expect(r.out.trim().split("\n")).toEqual([
      `function ${FUNCTION} succeeded (request ${id})`,
      `output s3://appbucket/apps/small/output/${id}/pi.txt`,
      `outputs: apps/small/output/${id}/ in the batch stack's bucket (terraform output bucket_name)`,
    ]);
    expect(received()).toEqual([{ functionName: FUNCTION, type: "RequestResponse", payload: { input: "apps/small/input/n.txt" } }]);
    expect(events).toEqual([{ input: "apps/small/input/n.txt" }]);
    expect(plane.invocations[0].authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/lambda\/aws4_request/);
  });

  test("a failed run of the app entrypoint: its error type and message, exit with the run's exit code", async () => {
    const api = await plane.addFunction(FUNCTION, { timeoutSeconds: 30 });
    const appEnv = {
      HFLOW_APP_BUCKET: "appbucket",
      HFLOW_APP_INPUT_PREFIX: "apps/small/input/",
      HFLOW_APP_OUTPUT_PREFIX: "apps/small/output/",
      HFLOW_APP_OUTPUTS: "pi.txt",
      HFLOW_APP_WORKDIR: path.join(dir, "job"),
      AWS_LAMBDA_RUNTIME_API: api,
      PATH: process.env.PATH,
    };
    // The program fails before anything would be uploaded, so the run needs no S3.
    const loop = entrypoint(["--input", "-", "--", "sh", "-c", "exit 3"], appEnv, { maxInvocations: 1 });
    const r = await runCli(["-c", cfg, "app", "run", "small", "--on", "lambda"], env());
    expect(await loop).toBe(0);
    expect(r.code).toBe(3);
    const id = plane.invocations[0].requestId;
    expect(r.err.trim().split("\n").pop()).toBe(`function ${FUNCTION} failed (request ${id}): AppError: sh exited with status 3 (nothing uploaded)`);
    expect(r.out).toBe("");
    expect(received()).toEqual([{ functionName: FUNCTION, type: "RequestResponse", payload: { input: "-" } }]);
  });

  test("a function error whose document has no exit code: exit 1", async () => {
    const api = await plane.addFunction(FUNCTION, { timeoutSeconds: 30 });
    const loop = runRuntimeLoop(
      async () => {
        throw new FunctionError("Runtime.OutOfMemory", "the process ran out of memory");
      },
      { api, maxInvocations: 1 },
    );
    const r = await runCli(["-c", cfg, "app", "run", "small", "--on", "lambda", "--input", "apps/small/input/a/b.dat"], env());
    await loop;
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/function hyperflow-apps-small failed \(request [0-9a-f-]{36}\): Runtime\.OutOfMemory: the process ran out of memory\n$/);
    expect(received()[0].payload).toEqual({ input: "apps/small/input/a/b.dat" });
  });

  test("--no-follow: an asynchronous (Event) Invoke, the request id on stdout", async () => {
    const api = await plane.addFunction(FUNCTION, { timeoutSeconds: 30 });
    const loop = runRuntimeLoop(async () => ({ outputs: [] }), { api, maxInvocations: 1 });
    const r = await runCli(["-c", cfg, "app", "run", "small", "--on", "lambda", "--no-follow"], env());
    await loop;
    expect(r.code).toBe(0);
    expect(received()).toEqual([{ functionName: FUNCTION, type: "Event", payload: { input: "-" } }]);
    expect(r.out.trim()).toBe(plane.invocations[0].requestId);
    expect(r.err).toContain(`outputs: apps/small/output/${plane.invocations[0].requestId}/`);
  });

  test("a function that is not deployed: exit 2, one line naming it", async () => {
    const r = await runCli(["-c", cfg, "app", "run", "small", "--on", "lambda"], env());
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n").pop()).toBe(
      `function ${FUNCTION} does not exist in us-east-1; allowed: an app whose batch stack is deployed (hflow-infra deploy network batch)`,
    );
  });

  test.each([
    [["app", "run", "nope", "--on", "lambda"], 'app "nope" is not configured; allowed: small, mpi'],
    [["app", "run", "mpi", "--on", "lambda"], '--on lambda: app "mpi" has no Lambda function (batch.apps.mpi.lambda is not true); allowed: --on batch'],
    [
      ["app", "run", "small", "--on", "lambda", "--input", "../x"],
      `--input "../x": allowed: an object name below apps/small/input/ (segments of letters, digits and !_.*'()-, no . or ..)`,
    ],
    [["app", "run", "small", "--on", "gpu"], '--on "gpu": allowed: batch, lambda'],
    [
      ["app", "run", "small", "--on", "lambda", "--timeout", "5"],
      '--timeout "5": allowed only with --on batch (an invocation ends at the function\'s own timeout)',
    ],
  ])("bad input %j: exit 2, one line, nothing invoked", async (args, line) => {
    await plane.addFunction(FUNCTION, { timeoutSeconds: 30 });
    const r = await runCli(["-c", cfg, ...args], env());
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(line);
    expect(plane.invocations).toEqual([]);
  });

  test("no AWS credentials: exit 2 before any request", async () => {
    await plane.addFunction(FUNCTION, { timeoutSeconds: 30 });
    const r = await runCli(["-c", cfg, "app", "run", "small", "--on", "lambda"], { ...env(), ...noCredentialsEnv(dir) });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^app run needs AWS credentials, and none were found/);
    expect(plane.invocations).toEqual([]);
  });
});
