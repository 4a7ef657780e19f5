/**
 * A small local stand-in for AWS Lambda's control plane: the two HTTP interfaces between which a real
 * function's code runs, speaking their documented wire formats, and nothing else (no sandboxes: the
 * test runs the runtime loop itself, in-process or in a container).
 *
 * - Invoke API (upstream: AWS Lambda API Reference, "Invoke"):
 *   POST /2015-03-31/functions/{FunctionName}/invocations, X-Amz-Invocation-Type RequestResponse
 *   (default), Event (202) or DryRun (204). The response is HTTP 200 with the function's payload; a
 *   function error is also HTTP 200, with X-Amz-Function-Error: Unhandled and the error document as
 *   body. Service errors carry X-Amzn-ErrorType: ResourceNotFoundException (404),
 *   RequestTooLargeException (413, request payload over 6 MB), InvalidParameterValueException (400).
 * - Runtime API, one listener per function as each sandbox has its own AWS_LAMBDA_RUNTIME_API
 *   (upstream: AWS Lambda Developer Guide, "Using the Lambda runtime API for custom runtimes"):
 *   GET /2018-06-01/runtime/invocation/next (long poll), POST …/invocation/{id}/response,
 *   POST …/invocation/{id}/error, POST /2018-06-01/runtime/init/error. A response over 6 MB is refused
 *   with 413 and the invocation fails with errorType Function.ResponseSizeTooLarge; an invocation not
 *   answered by its deadline fails with errorType Sandbox.Timedout (AWS Lambda Developer Guide,
 *   "Lambda quotas" and "Configure Lambda function timeout").
 *
 * Requests are not authenticated (the SDK's SigV4 headers are recorded, so a test can assert that the
 * caller signed for the `lambda` service).
 */
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export const PAYLOAD_LIMIT = 6 * 1024 * 1024;
const REGION = "us-east-1";
const ACCOUNT = "123456789012";

export interface InvocationRecord {
  readonly requestId: string;
  readonly functionName: string;
  readonly invocationType: string;
  readonly request: Buffer;
  /** The Authorization header the caller sent (SigV4), if any. */
  readonly authorization?: string;
  outcome?: "success" | "error" | "timeout" | "too-large" | "init-error";
  response?: Buffer;
  /** Lambda-Runtime-Function-Error-Type of an error response. */
  errorType?: string;
}

interface Pending {
  readonly record: InvocationRecord;
  readonly deadlineMs: number;
  done: boolean;
  complete(status: number, body: Buffer, functionError?: boolean): void;
  timer?: NodeJS.Timeout;
}

interface LambdaFunction {
  readonly name: string;
  readonly arn: string;
  readonly timeoutMs: number;
  readonly queue: Pending[];
  readonly inFlight: Map<string, Pending>;
  readonly waiters: ((p: Pending) => void)[];
  readonly server: http.Server;
  initError?: Buffer;
  /** host:port for AWS_LAMBDA_RUNTIME_API. */
  runtimeApi: string;
}

export interface FunctionOptions {
  /** The function's timeout, seconds (Lambda's default is 3; 900 at most). */
  readonly timeoutSeconds?: number;
  /** Called when an invocation times out (a test can stop the runtime, as Lambda would stop the sandbox). */
  readonly onTimeout?: (requestId: string) => void;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: http.ServerResponse, status: number, body: Buffer | string | object, headers: Record<string, string> = {}): void {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": String(buf.length), ...headers });
  res.end(buf);
}

/** A service error of the Invoke API, as the AWS SDK's REST-JSON protocol reads it. */
function serviceError(res: http.ServerResponse, status: number, type: string, message: string): void {
  send(res, status, { Type: "User", message }, { "x-amzn-errortype": type, "x-amzn-requestid": randomUUID() });
}

export class LambdaControlPlane {
  readonly invocations: InvocationRecord[] = [];
  readonly initErrors: { functionName: string; body: Buffer }[] = [];
  private readonly functions = new Map<string, LambdaFunction>();
  private readonly timeoutHooks = new Map<string, (id: string) => void>();

  private constructor(
    private readonly server: http.Server,
    /** Base URL of the Invoke API (the SDK's `endpoint`). */
    readonly endpoint: string,
  ) {}

  static async start(): Promise<LambdaControlPlane> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const plane = new LambdaControlPlane(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      plane.invoke(req, res).catch((e: Error) => send(res, 500, { message: e.message }, { "x-amzn-errortype": "ServiceException" }));
    });
    return plane;
  }

  /** Creates a function; resolves with its Runtime API address (host:port, for AWS_LAMBDA_RUNTIME_API). */
  async addFunction(name: string, options: FunctionOptions = {}): Promise<string> {
    const server = http.createServer((req, res) => {
      this.runtime(fn, req, res).catch((e: Error) => send(res, 500, { errorMessage: e.message, errorType: "ServiceException" }));
    });
    server.keepAliveTimeout = 0;
    const fn: LambdaFunction = {
      name,
      arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
      timeoutMs: (options.timeoutSeconds ?? 3) * 1000,
      queue: [],
      inFlight: new Map(),
      waiters: [],
      server,
      runtimeApi: "",
    };
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    fn.runtimeApi = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.functions.set(name, fn);
    if (options.onTimeout) this.timeoutHooks.set(name, options.onTimeout);
    return fn.runtimeApi;
  }

  async close(): Promise<void> {
    const closing = [this.server, ...[...this.functions.values()].map((f) => f.server)].map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    );
    for (const f of this.functions.values()) for (const p of [...f.queue, ...f.inFlight.values()]) clearTimeout(p.timer);
    await Promise.all(closing);
  }

  private lookup(nameOrArn: string): LambdaFunction | undefined {
    // FunctionName: a name, a function ARN or a partial ARN (123456789012:function:name), optionally with a qualifier.
    const m = /(?:^|:function:)([A-Za-z0-9_-]+)(?::[^:]+)?$/.exec(nameOrArn);
    return m ? this.functions.get(m[1]) : undefined;
  }

  private async invoke(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    const body = await readBody(req);
    if (req.method !== "POST" || !m) return serviceError(res, 404, "UnknownOperationException", `no such operation: ${req.method} ${url.pathname}`);
    const fn = this.lookup(decodeURIComponent(m[1]));
    if (!fn) return serviceError(res, 404, "ResourceNotFoundException", `Function not found: ${decodeURIComponent(m[1])}`);
    const type = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
    if (!["RequestResponse", "Event", "DryRun"].includes(type)) {
      return serviceError(res, 400, "InvalidParameterValueException", `X-Amz-Invocation-Type ${type}; allowed: RequestResponse, Event, DryRun`);
    }
    if (body.length > PAYLOAD_LIMIT) {
      return serviceError(res, 413, "RequestTooLargeException", `Request must be smaller than ${PAYLOAD_LIMIT} bytes for the InvokeFunction operation`);
    }
    if (type === "DryRun") return send(res, 204, "");
    const requestId = randomUUID();
    const record: InvocationRecord = {
      requestId,
      functionName: fn.name,
      invocationType: type,
      request: body,
      authorization: typeof req.headers.authorization === "string" ? req.headers.authorization : undefined,
    };
    this.invocations.push(record);
    const pending: Pending = {
      record,
      deadlineMs: Date.now() + fn.timeoutMs,
      done: false,
      complete: (status, payload, functionError) => {
        if (pending.done) return;
        pending.done = true;
        clearTimeout(pending.timer);
        fn.inFlight.delete(requestId);
        const i = fn.queue.indexOf(pending);
        if (i >= 0) fn.queue.splice(i, 1);
        record.response = payload;
        if (type === "Event") return;
        send(res, status, payload, {
          "x-amzn-requestid": requestId,
          "x-amz-executed-version": "$LATEST",
          ...(functionError ? { "x-amz-function-error": "Unhandled" } : {}),
        });
      },
    };
    if (type === "Event") send(res, 202, "", { "x-amzn-requestid": requestId });
    if (fn.initError) {
      record.outcome = "init-error";
      return pending.complete(200, fn.initError, true);
    }
    pending.timer = setTimeout(() => {
      record.outcome = "timeout";
      record.errorType = "Sandbox.Timedout";
      pending.complete(
        200,
        Buffer.from(
          JSON.stringify({
            errorMessage: `${new Date().toISOString()} ${requestId} Task timed out after ${(fn.timeoutMs / 1000).toFixed(2)} seconds`,
            errorType: "Sandbox.Timedout",
          }),
        ),
        true,
      );
      this.timeoutHooks.get(fn.name)?.(requestId);
    }, fn.timeoutMs);
    const waiter = fn.waiters.shift();
    if (waiter) waiter(pending);
    else fn.queue.push(pending);
  }

  private async runtime(fn: LambdaFunction, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? "").split("?")[0];
    const body = await readBody(req);
    const runtimeError = (status: number, errorType: string, errorMessage: string) => send(res, status, { errorMessage, errorType });

    if (req.method === "GET" && path === "/2018-06-01/runtime/invocation/next") {
      const hand = (p: Pending) => {
        fn.inFlight.set(p.record.requestId, p);
        send(res, 200, p.record.request, {
          "lambda-runtime-aws-request-id": p.record.requestId,
          "lambda-runtime-deadline-ms": String(p.deadlineMs),
          "lambda-runtime-invoked-function-arn": fn.arn,
          "lambda-runtime-trace-id": `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, "").slice(0, 24)};Sampled=0`,
        });
      };
      const queued = fn.queue.shift();
      if (queued) return hand(queued);
      const waiter = (p: Pending) => hand(p);
      fn.waiters.push(waiter);
      res.on("close", () => {
        const i = fn.waiters.indexOf(waiter);
        if (i >= 0) fn.waiters.splice(i, 1);
      });
      return;
    }
    if (req.method === "POST" && path === "/2018-06-01/runtime/init/error") {
      fn.initError = body;
      this.initErrors.push({ functionName: fn.name, body });
      for (const p of [...fn.queue]) {
        p.record.outcome = "init-error";
        p.complete(200, body, true);
      }
      return send(res, 202, { status: "OK" });
    }
    const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    if (req.method !== "POST" || !m) return runtimeError(404, "UnknownRequest", `no such route: ${req.method} ${path}`);
    const p = fn.inFlight.get(decodeURIComponent(m[1]));
    if (!p || p.done) return runtimeError(400, "InvalidRequestID", `no invocation ${m[1]} in flight (unknown, already answered or timed out)`);
    if (m[2] === "response") {
      if (body.length > PAYLOAD_LIMIT) {
        p.record.outcome = "too-large";
        p.record.errorType = "Function.ResponseSizeTooLarge";
        p.complete(
          200,
          Buffer.from(
            JSON.stringify({
              errorMessage: `Response payload size exceeded maximum allowed payload size (${PAYLOAD_LIMIT} bytes).`,
              errorType: "Function.ResponseSizeTooLarge",
            }),
          ),
          true,
        );
        return runtimeError(413, "RequestEntityTooLarge", `Exceeded maximum allowed payload size (${PAYLOAD_LIMIT} bytes).`);
      }
      p.record.outcome = "success";
      p.complete(200, body);
      return send(res, 202, { status: "OK" });
    }
    p.record.outcome = "error";
    const errorType = req.headers["lambda-runtime-function-error-type"];
    p.record.errorType = typeof errorType === "string" ? errorType : undefined;
    p.complete(200, body.length > 0 ? body : Buffer.from(JSON.stringify({ errorMessage: "Unknown error", errorType: "Unhandled" })), true);
    return send(res, 202, { status: "OK" });
  }
}
