// @ts-check
/*
 * Queue-length publisher: every HF_PUBLISH_INTERVAL_SECONDS it reads the number of messages (ready +
 * unacknowledged) of one RabbitMQ queue from the management API and sends it to CloudWatch as one
 * PutMetricData data point. It runs beside the broker on the master instance (see broker.ts), with the
 * ECS task role's credentials; it needs only Node.js (>= 18) built-ins, so any pinned Node image runs it.
 *
 * With INFLUXDB_URL set it also feeds the HyperFlow dashboards (grafana/dashboards.ts), in InfluxDB 1.x
 * line protocol over HTTP, under the measurements the seed's master image wrote (mrapacz/hyperflow-master-monitor
 * monitor-rabbitmq-influxdb.js, monitor-alarms.js, monitor-cluster-influxdb.js) and the seed engine's ECS plugin
 * (mrapacz/hyperflow-ecs-monitoring-plugin index.js), every second and with static keys there:
 *
 *   hyperflow_rabbitmq_monitor   every publish cycle: QueueLength, messagesReady, messagesUnacknowledged,
 *                                consumerCount (tags cluster, queue)
 *   and every HF_MONITOR_INTERVAL_SECONDS (60 s: AWS/ECS metrics have one-minute resolution):
 *   hyperflow_alarms             alarm = 1 in ALARM, else 0, per scaling alarm (CloudWatch DescribeAlarms;
 *                                tags cluster, name, direction)
 *   hyperflow_monitor            ec2_count (ACTIVE container instances), worker_count / worker_desired /
 *                                worker_pending (the worker service) from ECS ListContainerInstances and
 *                                DescribeServices (tag cluster)
 *   hyperflow_{cluster,master,worker}_{cpu,memory}
 *                                utilization (percent): the latest AWS/ECS CPUUtilization and
 *                                MemoryUtilization of the cluster and of the master and worker services
 *                                (CloudWatch GetMetricData, one minute resolution; tags cluster, service)
 *
 * A failed InfluxDB write or AWS read is logged and never stops the CloudWatch publishing.
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
    cloudwatchEndpoint: env.HF_CLOUDWATCH_ENDPOINT || awsEndpoint("monitoring", region),
    monitoring: env.INFLUXDB_URL ? monitoringFromEnv(env, need, region) : undefined,
  };
}

/** @param {string} service @param {string} region */
function awsEndpoint(service, region) {
  return "https://" + service + "." + region + (region.startsWith("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com");
}

/**
 * What the dashboards need besides the queue: where InfluxDB is and which cluster, alarms and services to read.
 * @param {Record<string, string | undefined>} env
 * @param {(name: string) => string} need
 * @param {string} region
 */
function monitoringFromEnv(env, need, region) {
  const interval = Number(env.HF_MONITOR_INTERVAL_SECONDS || "60");
  if (!Number.isFinite(interval) || interval <= 0) throw new Error("HF_MONITOR_INTERVAL_SECONDS must be a positive number");
  /** @type {{ high: string, low: string }} */
  const alarms = JSON.parse(need("HF_ALARM_NAMES"));
  /** @type {{ master: string, worker: string }} */
  const services = JSON.parse(need("HF_ECS_SERVICES"));
  if (!alarms.high || !alarms.low) throw new Error('HF_ALARM_NAMES must be {"high": name, "low": name}');
  if (!services.master || !services.worker) throw new Error('HF_ECS_SERVICES must be {"master": name, "worker": name}');
  return {
    influx: influxTarget(need("INFLUXDB_URL")),
    clusterName: need("HF_CLUSTER_NAME"),
    alarms,
    services,
    intervalMs: interval * 1000,
    ecsEndpoint: env.HF_ECS_ENDPOINT || awsEndpoint("ecs", region),
  };
}

/**
 * Where to write: `http(s)://[user:pass@]host:port/<database>`, as the executors take it (INFLUXDB_URL).
 * @param {string} raw
 */
function influxTarget(raw) {
  let u;
  try {
    u = new URL(raw);
  } catch {
    throw new Error("INFLUXDB_URL must be http(s)://host:port/database, not " + raw);
  }
  const db = decodeURIComponent(u.pathname.replace(/\/+$/, "").split("/").pop() || "");
  if (!/^https?:$/.test(u.protocol) || db === "") throw new Error("INFLUXDB_URL must be http(s)://host:port/database, not " + raw);
  /** @type {Record<string, string>} */
  const auth = {};
  if (u.username) auth.u = decodeURIComponent(u.username);
  if (u.password) auth.p = decodeURIComponent(u.password);
  return { origin: u.origin, db, auth };
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
  const amzDate = req.now
    .toISOString()
    .replace(/[:-]/g, "")
    .replace(/\.\d{3}/, "");
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
  const canonicalPath =
    url.pathname
      .split("/")
      .map((seg) => rfc3986(decodeURIComponent(seg)))
      .join("/") || "/";
  const canonicalRequest = [req.method, canonicalPath, "", canonicalHeaders, signedHeaders, sha256Hex(req.body)].join("\n");
  const scope = day + "/" + req.region + "/" + req.service + "/aws4_request";
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const kDate = hmac("AWS4" + req.credentials.secretAccessKey, day);
  const kSigning = hmac(hmac(hmac(kDate, req.region), req.service), "aws4_request");
  const signature = crypto.createHmac("sha256", kSigning).update(stringToSign).digest("hex");
  headers.authorization =
    "AWS4-HMAC-SHA256 Credential=" + req.credentials.accessKeyId + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + signature;
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
 * The queue's counters from the management API; all 0 while the queue does not exist yet.
 * @param {{ rabbitApi: string, vhost: string, queue: string, rabbitUser: string, rabbitPass: string }} s
 * @returns {Promise<{ messages: number, ready: number, unacknowledged: number, consumers: number }>}
 */
async function queueStats(s) {
  const url = s.rabbitApi + "/api/queues/" + encodeURIComponent(s.vhost) + "/" + encodeURIComponent(s.queue);
  const auth = "Basic " + Buffer.from(s.rabbitUser + ":" + s.rabbitPass).toString("base64");
  const res = await fetch(url, { headers: { authorization: auth }, signal: AbortSignal.timeout(5000) });
  if (res.status === 404) return { messages: 0, ready: 0, unacknowledged: 0, consumers: 0 };
  if (!res.ok) throw new Error("RabbitMQ management API answered HTTP " + res.status + " for " + url);
  const body = /** @type {any} */ (await res.json());
  const ready = Number(body.messages_ready ?? 0);
  const unacknowledged = Number(body.messages_unacknowledged ?? 0);
  const messages = Number(body.messages ?? ready + unacknowledged);
  if (!Number.isFinite(messages) || messages < 0) throw new Error("RabbitMQ management API gave no message count");
  return { messages, ready, unacknowledged, consumers: Number(body.consumers ?? 0) };
}

/**
 * Messages (ready + unacknowledged) in the queue; 0 while the queue does not exist yet.
 * @param {Parameters<typeof queueStats>[0]} s
 */
async function queueLength(s) {
  return (await queueStats(s)).messages;
}

/**
 * PutMetricData of one queue-length value (AWS Query protocol).
 * @param {ReturnType<typeof settingsFromEnv>} s
 * @param {number} value
 * @param {() => Promise<Credentials>} getCredentials
 * @param {Date} now
 */
async function putQueueLength(s, value, getCredentials, now) {
  const body = putMetricDataBody({
    namespace: s.namespace,
    metricName: s.metricName,
    dimensions: s.dimensions,
    value,
    storageResolution: s.storageResolution,
    timestamp: now,
  });
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
}

/** @typedef {(line: string) => void} Log */

/**
 * One cycle: read the queue, send the data point to CloudWatch and (with INFLUXDB_URL) the queue's
 * counters to InfluxDB. A failed InfluxDB write is logged and does not fail the cycle; a failed
 * PutMetricData does. Returns the value sent.
 * @param {ReturnType<typeof settingsFromEnv>} s
 * @param {() => Promise<Credentials>} getCredentials
 * @param {Date} [now]
 * @param {Log} [log]
 */
async function publishOnce(s, getCredentials, now = new Date(), log = console.error) {
  const q = await queueStats(s);
  const m = s.monitoring;
  const [cloudwatch, influx] = await Promise.allSettled([
    putQueueLength(s, q.messages, getCredentials, now),
    m
      ? writeInflux(m.influx, [
          influxLine(
            "hyperflow_rabbitmq_monitor",
            { cluster: m.clusterName, queue: s.queue },
            { QueueLength: q.messages, messagesReady: q.ready, messagesUnacknowledged: q.unacknowledged, consumerCount: q.consumers },
            now.getTime(),
          ),
        ])
      : Promise.resolve(),
  ]);
  if (influx.status === "rejected") log("queue-length publisher: InfluxDB: " + errorText(influx.reason));
  if (cloudwatch.status === "rejected") throw cloudwatch.reason;
  return q.messages;
}

/** @param {unknown} e */
function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

/** InfluxDB line protocol escaping (tag keys and values, field keys; measurement names). @param {string} v */
const escapeKey = (v) => v.replace(/[,= \\]/g, (c) => "\\" + c).replace(/\n/g, "\\n");

/**
 * One point in line protocol; numbers are floats (one type per field whatever the value), the time is
 * in milliseconds (the write uses precision=ms).
 * @param {string} measurement
 * @param {Record<string, string>} tags
 * @param {Record<string, number | undefined>} fields
 * @param {number} timeMs
 */
function influxLine(measurement, tags, fields, timeMs) {
  const t = Object.keys(tags)
    .filter((k) => tags[k] !== "")
    .sort()
    .map((k) => "," + escapeKey(k) + "=" + escapeKey(tags[k]))
    .join("");
  const f = Object.entries(fields)
    .filter(([, v]) => typeof v === "number" && Number.isFinite(v))
    .map(([k, v]) => escapeKey(k) + "=" + String(v))
    .join(",");
  if (f === "") throw new Error("point " + measurement + " has no fields");
  return measurement.replace(/[, \\]/g, (c) => "\\" + c) + t + " " + f + " " + Math.round(timeMs);
}

/**
 * POST /write (precision ms); creates the database once when InfluxDB says it does not exist (as the
 * executors do). Throws on any other answer than 204.
 * @param {ReturnType<typeof influxTarget>} target
 * @param {string[]} lines
 */
async function writeInflux(target, lines) {
  if (lines.length === 0) return;
  const body = lines.join("\n");
  /** @param {string} path @param {Record<string, string>} params @param {string} data */
  const post = async (path, params, data) => {
    const res = await fetch(target.origin + path + "?" + new URLSearchParams({ ...target.auth, ...params }).toString(), {
      method: "POST",
      headers: { "content-type": "text/plain; charset=utf-8" },
      body: data,
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, text: await res.text() };
  };
  let r = await post("/write", { db: target.db, precision: "ms" }, body);
  if (r.status === 404 && /database not found/i.test(r.text)) {
    await post("/query", { q: 'CREATE DATABASE "' + target.db.replace(/"/g, '\\"') + '"' }, "");
    r = await post("/write", { db: target.db, precision: "ms" }, body);
  }
  if (r.status !== 204) throw new Error("write to " + target.origin + " answered HTTP " + r.status + ": " + r.text.trim().slice(0, 200));
}

/** CloudWatch (AWS JSON 1.0) and ECS (AWS JSON 1.1): signing name, X-Amz-Target prefix, content type. */
const CLOUDWATCH_API = { signingName: "monitoring", target: "GraniteServiceVersion20100801", contentType: "application/x-amz-json-1.0" };
const ECS_API = { signingName: "ecs", target: "AmazonEC2ContainerServiceV20141113", contentType: "application/x-amz-json-1.1" };

/**
 * One signed AWS JSON-protocol call; returns the parsed answer.
 * @param {{ signingName: string, target: string, contentType: string }} api
 * @param {string} endpoint
 * @param {string} action
 * @param {unknown} input
 * @param {{ region: string, getCredentials: () => Promise<Credentials>, now: Date }} ctx
 * @returns {Promise<any>}
 */
async function awsJson(api, endpoint, action, input, ctx) {
  const body = JSON.stringify(input);
  const headers = signV4({
    method: "POST",
    url: endpoint + "/",
    region: ctx.region,
    service: api.signingName,
    body,
    headers: { "content-type": api.contentType, "x-amz-target": api.target + "." + action },
    credentials: await ctx.getCredentials(),
    now: ctx.now,
  });
  delete headers.host;
  const res = await fetch(endpoint + "/", { method: "POST", headers, body, signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  if (!res.ok) {
    let detail = text.slice(0, 300);
    try {
      const e = JSON.parse(text);
      detail = String(e.__type || "").replace(/^.*#/, "") + ": " + (e.message || e.Message || "");
    } catch {
      /* not JSON: keep the text */
    }
    throw new Error(action + " answered HTTP " + res.status + " " + detail);
  }
  return JSON.parse(text);
}

/**
 * hyperflow_alarms: one point per scaling alarm, alarm = 1 while it is in ALARM.
 * @param {NonNullable<ReturnType<typeof settingsFromEnv>["monitoring"]>} m
 * @param {string} cloudwatchEndpoint
 * @param {{ region: string, getCredentials: () => Promise<Credentials>, now: Date }} ctx
 */
async function alarmLines(m, cloudwatchEndpoint, ctx) {
  const out = await awsJson(
    CLOUDWATCH_API,
    cloudwatchEndpoint,
    "DescribeAlarms",
    { AlarmNames: [m.alarms.high, m.alarms.low], AlarmTypes: ["MetricAlarm"] },
    ctx,
  );
  /** @type {any[]} */
  const alarms = out.MetricAlarms || [];
  return /** @type {const} */ (["high", "low"]).flatMap((direction) => {
    const a = alarms.find((x) => x.AlarmName === m.alarms[direction]);
    if (!a) return [];
    return [
      influxLine("hyperflow_alarms", { cluster: m.clusterName, name: a.AlarmName, direction }, { alarm: a.StateValue === "ALARM" ? 1 : 0 }, ctx.now.getTime()),
    ];
  });
}

/**
 * hyperflow_monitor: container instances and worker tasks, from ECS.
 * @param {NonNullable<ReturnType<typeof settingsFromEnv>["monitoring"]>} m
 * @param {{ region: string, getCredentials: () => Promise<Credentials>, now: Date }} ctx
 */
async function clusterCountLines(m, ctx) {
  const [instances, services] = await Promise.allSettled([
    (async () => {
      let n = 0;
      /** @type {string | undefined} */
      let token;
      do {
        const out = await awsJson(
          ECS_API,
          m.ecsEndpoint,
          "ListContainerInstances",
          { cluster: m.clusterName, status: "ACTIVE", maxResults: 100, ...(token ? { nextToken: token } : {}) },
          ctx,
        );
        n += (out.containerInstanceArns || []).length;
        token = out.nextToken || undefined;
      } while (token);
      return n;
    })(),
    awsJson(ECS_API, m.ecsEndpoint, "DescribeServices", { cluster: m.clusterName, services: [m.services.worker] }, ctx),
  ]);
  /** @type {Record<string, number | undefined>} */
  const fields = {};
  if (instances.status === "fulfilled") fields.ec2_count = instances.value;
  if (services.status === "fulfilled") {
    const w = (services.value.services || []).find((/** @type {any} */ x) => x.serviceName === m.services.worker);
    if (w) Object.assign(fields, { worker_count: w.runningCount, worker_desired: w.desiredCount, worker_pending: w.pendingCount });
  }
  const failed = [instances, services].filter((r) => r.status === "rejected").map((r) => errorText(/** @type {PromiseRejectedResult} */ (r).reason));
  const lines = Object.values(fields).some((v) => typeof v === "number")
    ? [influxLine("hyperflow_monitor", { cluster: m.clusterName }, fields, ctx.now.getTime())]
    : [];
  if (failed.length > 0) throw Object.assign(new Error(failed.join("; ")), { lines });
  return lines;
}

/**
 * The AWS/ECS utilization series the dashboards show: [query id, measurement, service or undefined, metric].
 * @param {NonNullable<ReturnType<typeof settingsFromEnv>["monitoring"]>} m
 */
function utilizationQueries(m) {
  /** @type {[string, string | undefined][]} */
  const scopes = [
    ["cluster", undefined],
    ["master", m.services.master],
    ["worker", m.services.worker],
  ];
  return scopes.flatMap(([scope, service]) =>
    /** @type {const} */ ([
      ["cpu", "CPUUtilization"],
      ["memory", "MemoryUtilization"],
    ]).map(([kind, metricName]) => ({ id: scope + "_" + kind, measurement: "hyperflow_" + scope + "_" + kind, service, metricName })),
  );
}

/**
 * hyperflow_{cluster,master,worker}_{cpu,memory}: the newest one-minute average of each, at its own time
 * (writing the same data point again overwrites it).
 * @param {NonNullable<ReturnType<typeof settingsFromEnv>["monitoring"]>} m
 * @param {string} cloudwatchEndpoint
 * @param {{ region: string, getCredentials: () => Promise<Credentials>, now: Date }} ctx
 */
async function utilizationLines(m, cloudwatchEndpoint, ctx) {
  const queries = utilizationQueries(m);
  const end = Math.floor(ctx.now.getTime() / 1000);
  const out = await awsJson(
    CLOUDWATCH_API,
    cloudwatchEndpoint,
    "GetMetricData",
    {
      MetricDataQueries: queries.map((q) => ({
        Id: q.id,
        MetricStat: {
          Metric: {
            Namespace: "AWS/ECS",
            MetricName: q.metricName,
            Dimensions: [{ Name: "ClusterName", Value: m.clusterName }, ...(q.service ? [{ Name: "ServiceName", Value: q.service }] : [])],
          },
          Period: 60,
          Stat: "Average",
        },
        ReturnData: true,
      })),
      StartTime: end - 600,
      EndTime: end,
      ScanBy: "TimestampDescending",
    },
    ctx,
  );
  /** @type {any[]} */
  const results = out.MetricDataResults || [];
  return queries.flatMap((q) => {
    const r = results.find((x) => x.Id === q.id);
    if (!r || !r.Timestamps || r.Timestamps.length === 0) return [];
    // Newest first (ScanBy TimestampDescending); pick the newest anyway, whatever the order.
    let i = 0;
    for (let k = 1; k < r.Timestamps.length; k++) if (r.Timestamps[k] > r.Timestamps[i]) i = k;
    /** @type {Record<string, string>} */
    const tags = { cluster: m.clusterName };
    if (q.service) tags.service = q.service;
    return [influxLine(q.measurement, tags, { utilization: Number(r.Values[i]) }, Number(r.Timestamps[i]) * 1000)];
  });
}

/**
 * One monitoring cycle (with INFLUXDB_URL): alarm states, ECS counts and utilization, each read on its
 * own (one failing leaves the others), then one InfluxDB write. Returns the lines written.
 * @param {ReturnType<typeof settingsFromEnv>} s
 * @param {() => Promise<Credentials>} getCredentials
 * @param {Date} [now]
 * @param {Log} [log]
 */
async function monitorOnce(s, getCredentials, now = new Date(), log = console.error) {
  const m = s.monitoring;
  if (!m) return [];
  const ctx = { region: s.region, getCredentials, now };
  const reads = await Promise.allSettled([alarmLines(m, s.cloudwatchEndpoint, ctx), clusterCountLines(m, ctx), utilizationLines(m, s.cloudwatchEndpoint, ctx)]);
  /** @type {string[]} */
  const lines = [];
  reads.forEach((r, i) => {
    const what = ["scaling alarms", "ECS counts", "ECS utilization"][i];
    if (r.status === "fulfilled") lines.push(...r.value);
    else {
      lines.push(...((r.reason && r.reason.lines) || []));
      log("queue-length publisher: " + what + ": " + errorText(r.reason));
    }
  });
  await writeInflux(m.influx, lines);
  return lines;
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

/**
 * Logs each distinct error once, and a repeated one every 100th time, so an unreachable InfluxDB or a
 * missing permission does not fill the log every few seconds.
 * @param {Log} log
 * @returns {Log}
 */
function sparseLog(log) {
  /** @type {Map<string, number>} */
  const seen = new Map();
  return (line) => {
    const n = (seen.get(line) || 0) + 1;
    seen.set(line, n);
    if (n === 1 || n % 100 === 0) log(n === 1 ? line : line + " (" + n + " times)");
  };
}

/** Runs until SIGTERM; errors are logged and the next cycle tries again. */
function main() {
  const s = settingsFromEnv(process.env);
  const creds = cachedCredentials(process.env);
  const log = sparseLog(console.error);
  console.log(
    "queue-length publisher: " +
      s.queue +
      " -> " +
      s.namespace +
      "/" +
      s.metricName +
      " " +
      JSON.stringify(s.dimensions) +
      " every " +
      s.intervalMs / 1000 +
      " s",
  );
  /** @param {() => Promise<unknown>} cycle */
  const every = (cycle) => {
    let busy = false;
    return async () => {
      if (busy) return;
      busy = true;
      try {
        await cycle();
      } catch (e) {
        log("queue-length publisher: " + errorText(e));
      } finally {
        busy = false;
      }
    };
  };
  const publish = every(() => publishOnce(s, creds, new Date(), log));
  const timers = [setInterval(publish, s.intervalMs)];
  void publish();
  const m = s.monitoring;
  if (m) {
    console.log("queue-length publisher: dashboards -> " + m.influx.origin + "/" + m.influx.db + ", AWS reads every " + m.intervalMs / 1000 + " s");
    const monitor = every(() => monitorOnce(s, creds, new Date(), log));
    timers.push(setInterval(monitor, m.intervalMs));
    void monitor();
  }
  process.on("SIGTERM", () => {
    timers.forEach(clearInterval);
    process.exit(0);
  });
}

module.exports = {
  settingsFromEnv,
  putMetricDataBody,
  signV4,
  containerCredentials,
  queueStats,
  queueLength,
  publishOnce,
  monitorOnce,
  influxLine,
  writeInflux,
  utilizationQueries,
  cachedCredentials,
  sparseLog,
  main,
};

if (process.env.HF_PUBLISHER_RUN === "1") main();
