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

/**
 * Whether trying the same request again can help: network errors, throttling and 5xx, timeouts, a body
 * that changed under us (BadDigest), clock skew. Not: AccessDenied, NoSuchBucket, bad credentials…
 */
export function isRetryable(e: unknown): boolean {
  const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const status = err?.$metadata?.httpStatusCode;
  const code = err?.Code ?? err?.name ?? "";
  if (status === undefined) return true; // no answer: connection refused, reset, timeout
  if (status >= 500 || status === 429) return true;
  return (
    ["RequestTimeout", "BadDigest", "IncompleteBody", "RequestTimeTooSkewed", "SlowDown", "Throttling", "ThrottlingException"].includes(code) ||
    Boolean(err.$retryable)
  );
}
