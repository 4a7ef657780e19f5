/** A loopback HTTP server for stand-ins of remote APIs: records every request and lets a handler answer it. */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** `host`: the loopback address to listen on (`::1` for IPv6; the URL then has it in brackets). */
export async function serve(
  handler: (req: Recorded, res: http.ServerResponse) => unknown,
  host: "127.0.0.1" | "::1" = "127.0.0.1",
): Promise<{ url: string; seen: Recorded[]; close: () => Promise<void> }> {
  const seen: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      seen.push(r);
      handler(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => {
    // Clients with keep-alive agents would otherwise hold the server open.
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return { url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`, seen, close };
}
