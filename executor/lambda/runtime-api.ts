/**
 * Our own client of the Lambda Runtime API, the HTTP interface a container-image function's process
 * talks to (upstream: AWS Lambda Developer Guide, "Using the Lambda runtime API for custom runtimes"):
 *
 *   GET  /2018-06-01/runtime/invocation/next            → event body; headers Lambda-Runtime-Aws-Request-Id,
 *                                                          Lambda-Runtime-Deadline-Ms, Lambda-Runtime-Invoked-Function-Arn,
 *                                                          Lambda-Runtime-Trace-Id (optional)
 *   POST /2018-06-01/runtime/invocation/{id}/response    → the handler's result (202)
 *   POST /2018-06-01/runtime/invocation/{id}/error       → {errorMessage, errorType, stackTrace},
 *                                                          header Lambda-Runtime-Function-Error-Type (202)
 *   POST /2018-06-01/runtime/init/error                  → initialization failed; the process then exits
 *
 * The host:port comes from AWS_LAMBDA_RUNTIME_API, which Lambda sets in the function's environment.
 * `runRuntimeLoop` is generic: any `(event, invocation) => Promise<result>` handler can be served by it
 * (the task executor's handler, executor/lambda/handler.ts, is one).
 *
 * A handler signals a failed invocation by throwing; the thrown error becomes the error response, so the
 * caller of Invoke sees `X-Amz-Function-Error` and the error document. A result larger than the
 * synchronous response limit (6 MB, AWS Lambda Developer Guide, "Lambda quotas") is turned into an
 * error response here, before it is sent, so it is a clear failure rather than a rejected post.
 */
import * as http from "node:http";

/** Lambda's limit on a synchronous invocation's response (and request) payload: 6 MB. */
export const PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

const API_VERSION = "2018-06-01";

/** One invocation as the Runtime API hands it out. */
export interface Invocation {
  readonly requestId: string;
  /** Epoch milliseconds by which the function must have responded. */
  readonly deadlineMs: number;
  readonly functionArn: string;
  readonly traceId?: string;
  /** Milliseconds left until the deadline (negative when already past). */
  remainingMs(): number;
}

export type RuntimeHandler = (event: unknown, invocation: Invocation) => Promise<unknown>;

/** An error with its own `errorType` (the Runtime API's Lambda-Runtime-Function-Error-Type) and extra fields. */
export class FunctionError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
    /** Extra fields for the error document (e.g. the task's reply), next to errorMessage and errorType. */
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "FunctionError";
  }
}

export interface RuntimeLoopOptions {
  /** host:port of the Runtime API; default AWS_LAMBDA_RUNTIME_API. */
  readonly api?: string;
  /** Runs once before the first invocation; a throw is reported to /runtime/init/error and rejects the loop. */
  readonly init?: () => Promise<void> | void;
  readonly log?: (line: string) => void;
  /** Stop after this many invocations (tests, benchmarks); default: serve forever. */
  readonly maxInvocations?: number;
  /** Stops the loop before its next poll. */
  readonly signal?: AbortSignal;
}

interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The error document of the Runtime API (and of Invoke's function errors). */
export function errorDocument(e: unknown): { errorMessage: string; errorType: string; stackTrace: string[]; [k: string]: unknown } {
  if (e instanceof FunctionError) return { ...e.data, errorMessage: e.message, errorType: e.errorType, stackTrace: [] };
  if (e instanceof Error)
    return {
      errorMessage: e.message,
      errorType: e.name || "Error",
      stackTrace: (e.stack ?? "")
        .split("\n")
        .slice(1, 11)
        .map((l) => l.trim()),
    };
  return { errorMessage: String(e), errorType: "Error", stackTrace: [] };
}

export class RuntimeApiClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly host: string;
  private readonly port: number;

  constructor(api: string) {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(api.trim());
    if (!m) throw new Error(`AWS_LAMBDA_RUNTIME_API=${JSON.stringify(api)} is not valid; allowed: host:port`);
    this.host = m[1];
    this.port = Number(m[2]);
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          method,
          path: `/${API_VERSION}${path}`,
          agent: this.agent,
          headers: body ? { "content-type": "application/json", "content-length": String(body.length), ...headers } : headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  /** Blocks until Lambda has an invocation for this process. */
  async next(): Promise<{ invocation: Invocation; body: Buffer }> {
    const r = await this.request("GET", "/runtime/invocation/next");
    if (r.status !== 200) throw new Error(`Runtime API: GET invocation/next answered ${r.status}: ${r.body.toString().slice(0, 500)}`);
    const h = (name: string) => {
      const v = r.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const requestId = h("lambda-runtime-aws-request-id");
    if (!requestId) throw new Error("Runtime API: invocation/next answered without Lambda-Runtime-Aws-Request-Id");
    const deadlineMs = Number(h("lambda-runtime-deadline-ms"));
    const invocation: Invocation = {
      requestId,
      deadlineMs: Number.isFinite(deadlineMs) && deadlineMs > 0 ? deadlineMs : Date.now() + 900_000,
      functionArn: h("lambda-runtime-invoked-function-arn") ?? "",
      traceId: h("lambda-runtime-trace-id"),
      remainingMs() {
        return this.deadlineMs - Date.now();
      },
    };
    return { invocation, body: r.body };
  }

  async respond(requestId: string, payload: Buffer): Promise<HttpResult> {
    return this.request("POST", `/runtime/invocation/${encodeURIComponent(requestId)}/response`, payload);
  }

  async fail(requestId: string, e: unknown): Promise<HttpResult> {
    const doc = errorDocument(e);
    return this.request("POST", `/runtime/invocation/${encodeURIComponent(requestId)}/error`, Buffer.from(JSON.stringify(doc)), {
      "lambda-runtime-function-error-type": doc.errorType,
    });
  }

  async initError(e: unknown): Promise<HttpResult> {
    const doc = errorDocument(e);
    return this.request("POST", "/runtime/init/error", Buffer.from(JSON.stringify(doc)), { "lambda-runtime-function-error-type": doc.errorType });
  }
}

function parseEvent(body: Buffer): unknown {
  if (body.length === 0) return null;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return body.toString("utf8");
  }
}

/**
 * Serves invocations with `handler` until `maxInvocations` or `signal` (forever in a function).
 * Resolves with the number of invocations handled; rejects when initialization fails (after reporting
 * it to /runtime/init/error) or when the Runtime API itself fails.
 */
export async function runRuntimeLoop(handler: RuntimeHandler, options: RuntimeLoopOptions = {}): Promise<number> {
  const api = options.api ?? process.env.AWS_LAMBDA_RUNTIME_API;
  if (!api) throw new Error("AWS_LAMBDA_RUNTIME_API is not set; allowed: host:port of the Lambda Runtime API (Lambda sets it)");
  const log = options.log ?? (() => undefined);
  const client = new RuntimeApiClient(api);
  try {
    if (options.init) {
      try {
        await options.init();
      } catch (e) {
        log(`init failed: ${(e as Error)?.message ?? String(e)}`);
        await client.initError(e).catch(() => undefined);
        throw e;
      }
    }
    let handled = 0;
    while (!options.signal?.aborted && (options.maxInvocations === undefined || handled < options.maxInvocations)) {
      const { invocation, body } = await client.next();
      // The X-Ray trace header, where the AWS SDK and X-Ray look for it (AWS Lambda Developer Guide,
      // "Using the Lambda runtime API for custom runtimes", "Next invocation").
      if (invocation.traceId) process.env._X_AMZN_TRACE_ID = invocation.traceId;
      else delete process.env._X_AMZN_TRACE_ID;
      let payload: Buffer | undefined;
      let failure: unknown;
      try {
        const result = await handler(parseEvent(body), invocation);
        payload = Buffer.from(JSON.stringify(result ?? null));
        if (payload.length > PAYLOAD_LIMIT_BYTES) {
          failure = new FunctionError(
            "Function.ResponseSizeTooLarge",
            `response payload of ${payload.length} bytes exceeds Lambda's limit of ${PAYLOAD_LIMIT_BYTES} bytes`,
          );
          payload = undefined;
        }
      } catch (e) {
        failure = e;
      }
      const r = payload ? await client.respond(invocation.requestId, payload) : await client.fail(invocation.requestId, failure);
      if (r.status >= 400)
        log(
          `invocation ${invocation.requestId}: Runtime API answered ${r.status} to the ${payload ? "response" : "error"}: ${r.body.toString().slice(0, 300)}`,
        );
      handled++;
    }
    return handled;
  } finally {
    client.close();
  }
}
