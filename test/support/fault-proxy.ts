/**
 * An HTTP proxy on loopback in front of the S3 server that injects faults: 5xx and throttling answers,
 * dropped connections, and a full outage (stop, then start again on the same port).
 */
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";

interface Faults {
  /** Share of requests answered with `errorStatus` instead of being forwarded (0..1). */
  errorRate: number;
  /** 503 SlowDown (throttling) or 500 InternalError. */
  errorStatus: 500 | 503;
  /** Share of requests whose connection is destroyed before an answer (0..1). */
  dropRate: number;
  /** Answer every object PUT with 403 AccessDenied (a permanent error). */
  denyPuts: boolean;
  /** Replace the ETags in listings by values that are no MD5 (what SSE-KMS buckets return). */
  opaqueEtags: boolean;
}

export class FaultProxy {
  readonly faults: Faults = { errorRate: 0, errorStatus: 503, dropRate: 0, denyPuts: false, opaqueEtags: false };
  /** leanPuts: single-object PUTs sent without the SDK (no amz-sdk-invocation-id header), i.e. by runner/fast-put.ts. */
  readonly counts = { requests: 0, errors: 0, drops: 0, forwarded: 0, denied: 0, heads: 0, leanPuts: 0 };
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  private seed = 42;
  port = 0;

  constructor(private readonly target: string) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Deterministic pseudo-random numbers, so a failing run can be repeated. */
  private random(): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2 ** 31;
    return this.seed / 2 ** 31;
  }

  async start(port = 0): Promise<void> {
    const target = new URL(this.target);
    this.server = http.createServer((req, res) => {
      this.counts.requests++;
      if (req.method === "HEAD") this.counts.heads++;
      if (req.method === "PUT" && !(req.url ?? "").includes("uploadId") && req.headers["amz-sdk-invocation-id"] === undefined) this.counts.leanPuts++;
      if (this.faults.denyPuts && req.method === "PUT" && !(req.url ?? "").includes("uploadId")) {
        this.counts.denied++;
        req.resume();
        req.on("end", () => {
          res.writeHead(403, { "content-type": "application/xml" });
          res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>injected by the test proxy</Message></Error>');
        });
        return;
      }
      const roll = this.random();
      if (roll < this.faults.dropRate) {
        this.counts.drops++;
        req.socket.destroy();
        return;
      }
      if (roll < this.faults.dropRate + this.faults.errorRate) {
        this.counts.errors++;
        req.resume();
        req.on("end", () => {
          const code = this.faults.errorStatus === 503 ? "SlowDown" : "InternalError";
          res.writeHead(this.faults.errorStatus, { "content-type": "application/xml" });
          res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the test proxy</Message></Error>`);
        });
        return;
      }
      this.counts.forwarded++;
      const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        const listing = this.faults.opaqueEtags && req.method === "GET" && /[?&]list-type=2/.test(req.url ?? "");
        if (!listing) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on("data", (c: Buffer) => chunks.push(c));
        up.on("end", () => {
          const body = Buffer.from(
            Buffer.concat(chunks)
              .toString("utf8")
              .replace(/<ETag>[^<]*<\/ETag>/g, '<ETag>"0000kms0000opaque0000etag00000"</ETag>'),
          );
          const headers = { ...up.headers, "content-length": String(body.length) };
          delete headers["transfer-encoding"];
          res.writeHead(up.statusCode ?? 502, headers);
          res.end(body);
        });
      });
      upstream.on("error", () => req.socket.destroy());
      req.pipe(upstream);
    });
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Outage: stop listening and cut every open connection. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Back on the same port. */
  async restart(): Promise<void> {
    await this.start(this.port);
  }
}
