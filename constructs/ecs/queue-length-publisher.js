// @ts-check
/*
 * Queue-length publisher: every HF_PUBLISH_INTERVAL_SECONDS it reads the number of messages (ready +
 * unacknowledged) of one RabbitMQ queue from the management API and sends it to CloudWatch as one
 * PutMetricData data point. It runs beside the broker on the master instance (see broker.ts), with the
 * ECS task role's credentials; it needs only Node.js (>= 18) built-ins, so any pinned Node image runs it.
 *
 * The stack passes this file's text in the environment variable HF_PUBLISHER_JS and starts
 * `node -e "$HF_PUBLISHER_JS"` with HF_PUBLISHER_RUN=1. Tests require() it and call its functions.
 * Keep it free of dollar-brace and percent-brace sequences: Terraform would read them as interpolation.
 */
"use strict";
const crypto = require("node:crypto");

/** @typedef {{ accessKeyId: string, secretAccessKey: string, sessionToken?: string, expiration?: number }} Credentials */

/**
 * Settings from the environment the stack gives the container.
 * @param {Record<string, string | undefined>} env
 */
function settingsFromEnv(env) {
  /** @param {string} name */
  const need = (name) => {
    const v = env[name];
    if (v === undefined || v === "") throw new Error("missing environment variable " + name);
    return v;
  };
  const region = need("AWS_REGION");
  const interval = Number(need("HF_PUBLISH_INTERVAL_SECONDS"));
  if (!Number.isFinite(interval) || interval <= 0) throw new Error("HF_PUBLISH_INTERVAL_SECONDS must be a positive number");
  return {
    region,
    namespace: need("HF_METRIC_NAMESPACE"),
    metricName: need("HF_METRIC_NAME"),
    /** @type {Record<string, string>} */
    dimensions: JSON.parse(need("HF_METRIC_DIMENSIONS")),
    storageResolution: Number(env.HF_METRIC_STORAGE_RESOLUTION || "60"),
    intervalMs: interval * 1000,
    queue: need("HF_QUEUE_NAME"),
    vhost: env.HF_RABBITMQ_VHOST || "/",
    rabbitApi: need("HF_RABBITMQ_API").replace(/\/+$/, ""),
    rabbitUser: need("RABBITMQ_USER"),
    rabbitPass: need("RABBITMQ_PASS"),
    cloudwatchEndpoint: env.HF_CLOUDWATCH_ENDPOINT || "https://monitoring." + region + (region.startsWith("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com"),
  };
}

/** RFC 3986 encoding, as SigV4 and the AWS Query protocol require. @param {string} s */
function rfc3986(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/**
 * Form body of a CloudWatch PutMetricData call (AWS Query protocol) with one data point.
 * @param {{ namespace: string, metricName: string, dimensions: Record<string, string>, value: number, storageResolution: number, timestamp: Date }} p
 */
function putMetricDataBody(p) {
  /** @type {[string, string][]} */
  const params = [
    ["Action", "PutMetricData"],
    ["Version", "2010-08-01"],
    ["Namespace", p.namespace],
    ["MetricData.member.1.MetricName", p.metricName],
    ["MetricData.member.1.Value", String(p.value)],
    ["MetricData.member.1.Unit", "Count"],
    ["MetricData.member.1.StorageResolution", String(p.storageResolution)],
    ["MetricData.member.1.Timestamp", p.timestamp.toISOString()],
  ];
  Object.keys(p.dimensions)
    .sort()
    .forEach((name, i) => {
      params.push(["MetricData.member.1.Dimensions.member." + (i + 1) + ".Name", name]);
      params.push(["MetricData.member.1.Dimensions.member." + (i + 1) + ".Value", p.dimensions[name]]);
    });
  return params.map(([k, v]) => rfc3986(k) + "=" + rfc3986(v)).join("&");
}

/** @param {string | Buffer} data */
function sha256Hex(data) {
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** @param {crypto.BinaryLike} key @param {string} data */
function hmac(key, data) {
  return crypto.createHmac("sha256", key).update(data).digest();
}

/**
 * AWS Signature Version 4 for a request without a query string. Returns the headers to send.
 * @param {{ method: string, url: string, region: string, service: string, body: string, headers: Record<string, string>, credentials: Credentials, now: Date }} req
 * @returns {Record<string, string>}
 */
function signV4(req) {
  const url = new URL(req.url);
  const amzDate = req.now.toISOString().replace(/[:-]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  /** @type {Record<string, string>} */
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = String(v).trim();
  headers.host = url.host;
  headers["x-amz-date"] = amzDate;
  if (req.credentials.sessionToken) headers["x-amz-security-token"] = req.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => n + ":" + headers[n] + "\n").join("");
  const signedHeaders = names.join(";");
  const canonicalPath = url.pathname.split("/").map((seg) => rfc3986(decodeURIComponent(seg))).join("/") || "/";
  const canonicalRequest = [req.method, canonicalPath, "", canonicalHeaders, signedHeaders, sha256Hex(req.body)].join("\n");
  const scope = day + "/" + req.region + "/" + req.service + "/aws4_request";
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const kDate = hmac("AWS4" + req.credentials.secretAccessKey, day);
  const kSigning = hmac(hmac(hmac(kDate, req.region), req.service), "aws4_request");
  const signature = crypto.createHmac("sha256", kSigning).update(stringToSign).digest("hex");
  headers.authorization = "AWS4-HMAC-SHA256 Credential=" + req.credentials.accessKeyId + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + signature;
  return headers;
}

/**
 * Credentials of the ECS task role, from the container credentials endpoint the ECS agent provides.
 * @param {Record<string, string | undefined>} env
 * @returns {Promise<Credentials>}
 */
async function containerCredentials(env) {
  let url;
  /** @type {Record<string, string>} */
  const headers = {};
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) {
    url = "http://169.254.170.2" + env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  } else if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI) {
    url = env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
    if (env.AWS_CONTAINER_AUTHORIZATION_TOKEN) headers.authorization = env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  } else {
    throw new Error("no container credentials: is the task role set and the ECS agent configured for host-network task roles?");
  }
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error("credentials endpoint answered HTTP " + res.status);
  const body = /** @type {any} */ (await res.json());
  return {
    accessKeyId: body.AccessKeyId,
    secretAccessKey: body.SecretAccessKey,
    sessionToken: body.Token,
    expiration: body.Expiration ? Date.parse(body.Expiration) : undefined,
  };
}

/**
 * Messages (ready + unacknowledged) in the queue; 0 while the queue does not exist yet.
 * @param {{ rabbitApi: string, vhost: string, queue: string, rabbitUser: string, rabbitPass: string }} s
 */
async function queueLength(s) {
  const url = s.rabbitApi + "/api/queues/" + encodeURIComponent(s.vhost) + "/" + encodeURIComponent(s.queue);
  const auth = "Basic " + Buffer.from(s.rabbitUser + ":" + s.rabbitPass).toString("base64");
  const res = await fetch(url, { headers: { authorization: auth }, signal: AbortSignal.timeout(5000) });
  if (res.status === 404) return 0;
  if (!res.ok) throw new Error("RabbitMQ management API answered HTTP " + res.status + " for " + url);
  const body = /** @type {any} */ (await res.json());
  const n = Number(body.messages ?? (Number(body.messages_ready ?? 0) + Number(body.messages_unacknowledged ?? 0)));
  if (!Number.isFinite(n) || n < 0) throw new Error("RabbitMQ management API gave no message count");
  return n;
}

/**
 * One cycle: read the queue, send the data point. Returns the value sent.
 * @param {ReturnType<typeof settingsFromEnv>} s
 * @param {() => Promise<Credentials>} getCredentials
 * @param {Date} [now]
 */
async function publishOnce(s, getCredentials, now = new Date()) {
  const value = await queueLength(s);
  const body = putMetricDataBody({ namespace: s.namespace, metricName: s.metricName, dimensions: s.dimensions, value, storageResolution: s.storageResolution, timestamp: now });
  const headers = signV4({
    method: "POST",
    url: s.cloudwatchEndpoint + "/",
    region: s.region,
    service: "monitoring",
    body,
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    credentials: await getCredentials(),
    now,
  });
  delete headers.host; // fetch sets it
  const res = await fetch(s.cloudwatchEndpoint + "/", { method: "POST", headers, body, signal: AbortSignal.timeout(10000) });
  if (!res.ok) throw new Error("PutMetricData answered HTTP " + res.status + ": " + (await res.text()).slice(0, 300));
  return value;
}

/**
 * Caches credentials until five minutes before they expire.
 * @param {Record<string, string | undefined>} env
 */
function cachedCredentials(env) {
  /** @type {Credentials | undefined} */
  let cached;
  return async () => {
    if (!cached || (cached.expiration !== undefined && cached.expiration - Date.now() < 300000)) cached = await containerCredentials(env);
    return cached;
  };
}

/** Runs until SIGTERM; errors are logged and the next cycle tries again. */
function main() {
  const s = settingsFromEnv(process.env);
  const creds = cachedCredentials(process.env);
  console.log("queue-length publisher: " + s.queue + " -> " + s.namespace + "/" + s.metricName + " " + JSON.stringify(s.dimensions) + " every " + s.intervalMs / 1000 + " s");
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      await publishOnce(s, creds);
    } catch (e) {
      console.error("queue-length publisher: " + (e instanceof Error ? e.message : String(e)));
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(tick, s.intervalMs);
  void tick();
  process.on("SIGTERM", () => {
    clearInterval(timer);
    process.exit(0);
  });
}

module.exports = { settingsFromEnv, putMetricDataBody, signV4, containerCredentials, queueLength, publishOnce, cachedCredentials, main };

if (process.env.HF_PUBLISHER_RUN === "1") main();
