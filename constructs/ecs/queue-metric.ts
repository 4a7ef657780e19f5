/**
 * The one definition of the queue-length metric. The publisher's environment and the alarms are both
 * built from a `QueueLengthMetric`, so their namespace, name and dimensions match by construction; the
 * names of the scaling alarms, which the publisher reads for the dashboards, are defined here too.
 */

/** Durable queue the engine's amqpCommand publishes jobs to and the AMQP executor consumes. */
export const JOBS_QUEUE = "hyperflow.jobs";
/** CloudWatch namespace of HyperFlow metrics (anchor: `hyperflow`). */
export const METRIC_NAMESPACE = "hyperflow";
/** Metric name (anchor: `QueueLength`). */
export const QUEUE_LENGTH_METRIC_NAME = "QueueLength";
/** RabbitMQ AMQP port. */
export const AMQP_PORT = 5672;
/** RabbitMQ management (HTTP API and UI) port. */
export const RABBITMQ_MANAGEMENT_PORT = 15672;

export interface QueueLengthMetric {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** 1 (high resolution) when an alarm period is below 60 s, else 60. */
  readonly storageResolution: 1 | 60;
  /** How often the publisher sends a data point: at least two per shortest alarm period, at most one per minute. */
  readonly publishIntervalSeconds: number;
  /** RabbitMQ queue whose `messages` (ready + unacknowledged) is the metric's value. */
  readonly queue: string;
}

export function queueLengthMetric(clusterName: string, alarmPeriodsSeconds: readonly number[]): QueueLengthMetric {
  const shortest = Math.min(...alarmPeriodsSeconds);
  return {
    namespace: METRIC_NAMESPACE,
    metricName: QUEUE_LENGTH_METRIC_NAME,
    dimensions: { ClusterName: clusterName },
    storageResolution: shortest < 60 ? 1 : 60,
    publishIntervalSeconds: Math.max(5, Math.min(60, Math.floor(shortest / 2))),
    queue: JOBS_QUEUE,
  };
}

/** Environment of the publisher container for a metric (read by queue-length-publisher.js). */
export function publisherEnvironment(metric: QueueLengthMetric, region: string): Record<string, string> {
  return {
    HF_METRIC_NAMESPACE: metric.namespace,
    HF_METRIC_NAME: metric.metricName,
    HF_METRIC_DIMENSIONS: JSON.stringify(metric.dimensions),
    HF_METRIC_STORAGE_RESOLUTION: String(metric.storageResolution),
    HF_PUBLISH_INTERVAL_SECONDS: String(metric.publishIntervalSeconds),
    HF_QUEUE_NAME: metric.queue,
    HF_RABBITMQ_API: `http://127.0.0.1:${RABBITMQ_MANAGEMENT_PORT}`,
    AWS_REGION: region,
  };
}

/** Name of a scaling alarm (queue-scaling.ts creates them; the publisher reads their state for the dashboards). */
export function scalingAlarmName(clusterName: string, direction: "high" | "low"): string {
  return `${clusterName}_queue_length_${direction}`;
}

/** How often the publisher reads alarm states and ECS counts and utilization (AWS/ECS metrics have one-minute resolution). */
export const MONITOR_INTERVAL_SECONDS = 60;

/** What the publisher needs to feed the dashboards (see queue-length-publisher.js). */
export interface PublisherMonitoring {
  /** InfluxDB URL `http://<host>:8086/<database>` (a token when it comes from the grafana stack). */
  readonly influxUrl: string;
  /** Literal name of the ECS cluster. */
  readonly clusterName: string;
  readonly masterServiceName: string;
  readonly workerServiceName: string;
}

/** Environment that turns on the publisher's InfluxDB writes (read by queue-length-publisher.js). */
export function monitoringEnvironment(m: PublisherMonitoring): Record<string, string> {
  return {
    INFLUXDB_URL: m.influxUrl,
    HF_CLUSTER_NAME: m.clusterName,
    HF_ALARM_NAMES: JSON.stringify({ high: scalingAlarmName(m.clusterName, "high"), low: scalingAlarmName(m.clusterName, "low") }),
    HF_ECS_SERVICES: JSON.stringify({ master: m.masterServiceName, worker: m.workerServiceName }),
    HF_MONITOR_INTERVAL_SECONDS: String(MONITOR_INTERVAL_SECONDS),
  };
}
