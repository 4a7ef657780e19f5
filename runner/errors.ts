/** Error text shared by the uploader and the CLI (no SDK import: the CLI loads it at start). */

/** One line for an SDK or network error: code, message (when it says more), HTTP status. */
export function describeError(e: unknown): string {
  if (!e) return "unknown error";
  const err = e as { name?: string; message?: string; code?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const code = err.Code ?? (err.name && err.name !== "Error" ? err.name : undefined) ?? err.code;
  const message = err.message && err.message !== "UnknownError" && err.message !== code ? err.message : "";
  const status = err.$metadata?.httpStatusCode ? ` (HTTP ${err.$metadata.httpStatusCode})` : "";
  return [code, message].filter(Boolean).join(": ") + status || String(e);
}

