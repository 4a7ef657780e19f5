/**
 * HyperFlow dashboards, built from a compact definition: one panel per InfluxDB measurement, each fed
 * by something this repository deploys (`feed`), under the measurements the dashboards of
 * hyperflow-wms/hyperflow-grafana (`provisioning/dashboards/hyperflow_dashboardv3.json`) showed. The
 * generated JSON is kept in grafana/dashboards/ (a test keeps the files in sync) and provisioned into
 * Grafana at boot. test/grafana.test.ts runs each writer's real code into a real InfluxDB 1.x and every
 * panel's query against what its feed wrote.
 *
 * Queries use `mean(*)` / `*` rather than named fields, so a panel shows every field its writer sends.
 */

/** UID of the provisioned InfluxDB datasource the panels point at. */
export const DATASOURCE_UID = "hyperflow-influxdb";

/** What writes a panel's measurement; each is deployed by the ecs stack when it has an InfluxDB URL. */
export type Feed = "publisher" | "executor" | "statusReporter";

/** Who each feed is, for panel descriptions and the README. */
export const FEEDS: Readonly<Record<Feed, string>> = {
  publisher: "the queue-length publisher beside the broker",
  executor: "the AMQP executor on the workers",
  statusReporter: "the status reporter daemon on every instance",
};

interface PanelSpec {
  readonly title: string;
  readonly measurement: string;
  readonly feed: Feed;
  /** `timeseries`: mean of every field per interval, one series per tag set; `table`: latest raw rows. */
  readonly kind: "timeseries" | "table";
  readonly description: string;
  /** Grafana unit id (`percent`, `bytes`, `s`, …). @default "short" */
  readonly unit?: string;
}

interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly panels: readonly PanelSpec[];
}

export const DASHBOARDS: readonly DashboardSpec[] = [
  {
    uid: "hyperflow-workflow",
    title: "HyperFlow / Workflow",
    description: "The job queue, the scaling it drives, and task execution.",
    panels: [
      {
        title: "Queue length (hyperflow.jobs)",
        measurement: "hyperflow_rabbitmq_monitor",
        feed: "publisher",
        kind: "timeseries",
        description: "Jobs in the queue (QueueLength = messagesReady waiting + messagesUnacknowledged being worked on) and its consumers.",
      },
      {
        title: "Scaling alarms",
        measurement: "hyperflow_alarms",
        feed: "publisher",
        kind: "timeseries",
        description: "1 while a scaling alarm is in ALARM (direction high: add workers, low: remove workers).",
      },
      {
        title: "Worker tasks and instances",
        measurement: "hyperflow_monitor",
        feed: "publisher",
        kind: "timeseries",
        description: "Running, desired and pending worker tasks and the cluster's active container instances (ECS).",
      },
      {
        title: "Task execution times",
        measurement: "execution_times",
        feed: "executor",
        kind: "timeseries",
        unit: "s",
        description: "Run, download, execution and upload time of tasks.",
      },
      { title: "Execution log", measurement: "execution_log", feed: "executor", kind: "table", description: "Latest task starts and finishes." },
      {
        title: "Execution sub-stages",
        measurement: "execution_log_sub_stage",
        feed: "executor",
        kind: "table",
        description: "Init, stage-in, execution and stage-out of the latest tasks.",
      },
    ],
  },
  {
    uid: "hyperflow-cluster",
    title: "HyperFlow / Cluster",
    description: "CPU and memory utilization of the ECS cluster, the master (broker) and the workers, from CloudWatch AWS/ECS (one-minute averages).",
    panels: [
      {
        title: "Cluster CPU",
        measurement: "hyperflow_cluster_cpu",
        feed: "publisher",
        kind: "timeseries",
        unit: "percent",
        description: "CPU used by the cluster's tasks, of all registered CPU.",
      },
      {
        title: "Cluster memory",
        measurement: "hyperflow_cluster_memory",
        feed: "publisher",
        kind: "timeseries",
        unit: "percent",
        description: "Memory used by the cluster's tasks, of all registered memory.",
      },
      {
        title: "Master CPU",
        measurement: "hyperflow_master_cpu",
        feed: "publisher",
        kind: "timeseries",
        unit: "percent",
        description: "CPU of the master (broker) service, of what its task definition reserves.",
      },
      {
        title: "Master memory",
        measurement: "hyperflow_master_memory",
        feed: "publisher",
        kind: "timeseries",
        unit: "percent",
        description: "Memory of the master (broker) service, of what its task definition reserves.",
      },
      {
        title: "Worker CPU",
        measurement: "hyperflow_worker_cpu",
        feed: "publisher",
        kind: "timeseries",
        unit: "percent",
        description: "CPU of the worker service, of what its task definition reserves.",
      },
      {
        title: "Worker memory",
        measurement: "hyperflow_worker_memory",
        feed: "publisher",
        kind: "timeseries",
        unit: "percent",
        description: "Memory of the worker service, of what its task definition reserves.",
      },
    ],
  },
  {
    uid: "hyperflow-hosts",
    title: "HyperFlow / Hosts",
    description: "Per-instance CPU, memory, disk and network from the status reporter.",
    panels: [
      {
        title: "Host CPU",
        measurement: "hyperflow_cpu_usage_ec2",
        feed: "statusReporter",
        kind: "timeseries",
        unit: "percentunit",
        description: "CPU usage per instance (0 to 1).",
      },
      {
        title: "Host memory used",
        measurement: "hyperflow_memory_usage_ec2",
        feed: "statusReporter",
        kind: "timeseries",
        unit: "kbytes",
        description: "Used memory per instance.",
      },
      {
        title: "Disk write",
        measurement: "hyperflow_disc_write",
        feed: "statusReporter",
        kind: "timeseries",
        unit: "KiBs",
        description: "Writes to the reported disk.",
      },
      {
        title: "Disk read",
        measurement: "hyperflow_disc_read",
        feed: "statusReporter",
        kind: "timeseries",
        unit: "KiBs",
        description: "Reads from the reported disk.",
      },
      {
        title: "Network sent",
        measurement: "hyperflow_connection_transferred",
        feed: "statusReporter",
        kind: "timeseries",
        unit: "Bps",
        description: "Bytes sent on the reported interface.",
      },
      {
        title: "Network received",
        measurement: "hyperflow_connection_received",
        feed: "statusReporter",
        kind: "timeseries",
        unit: "Bps",
        description: "Bytes received on the reported interface.",
      },
    ],
  },
];

/** The InfluxQL a panel runs; `$timeFilter` and `$__interval` are filled in by Grafana. */
export function panelQuery(p: PanelSpec): string {
  if (!/^[A-Za-z0-9_]+$/.test(p.measurement)) throw new Error(`panel ${p.title}: bad measurement name ${p.measurement}`);
  return p.kind === "table"
    ? `SELECT * FROM "${p.measurement}" WHERE $timeFilter ORDER BY time DESC LIMIT 500`
    : `SELECT mean(*) FROM "${p.measurement}" WHERE $timeFilter GROUP BY time($__interval), * fill(none)`;
}

/** Grafana dashboard JSON (schema version 39, Grafana 10/11). */
export function renderDashboard(d: DashboardSpec): Record<string, unknown> {
  const ds = { type: "influxdb", uid: DATASOURCE_UID };
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ["hyperflow"],
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: "10s",
    time: { from: "now-1h", to: "now" },
    templating: { list: [] },
    annotations: { list: [] },
    panels: d.panels.map((p, i) => ({
      id: i + 1,
      type: p.kind === "table" ? "table" : "timeseries",
      title: p.title,
      description: `${p.description} Written by ${FEEDS[p.feed]} (measurement ${p.measurement}).`,
      datasource: ds,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit ?? "short" }, overrides: [] },
      options:
        p.kind === "table"
          ? { showHeader: true }
          : { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi", sort: "none" } },
      targets: [{ refId: "A", datasource: ds, rawQuery: true, query: panelQuery(p), resultFormat: p.kind === "table" ? "table" : "time_series" }],
    })),
  };
}

/** File name → JSON text of every dashboard (what grafana/dashboards/ holds). */
export function dashboardFiles(): Record<string, string> {
  return Object.fromEntries(DASHBOARDS.map((d) => [`${d.uid}.json`, `${JSON.stringify(renderDashboard(d), null, 2)}\n`]));
}

/** Grafana provisioning: the InfluxDB datasource (reached over the host's Docker network). */
export function datasourceProvisioning(database: string, influxUrl = "http://influxdb:8086"): string {
  return [
    "apiVersion: 1",
    "datasources:",
    `  - name: ${database}`,
    `    uid: ${DATASOURCE_UID}`,
    "    type: influxdb",
    "    access: proxy",
    `    url: ${influxUrl}`,
    "    isDefault: true",
    "    editable: false",
    "    jsonData:",
    `      dbName: ${database}`,
    "      httpMode: GET",
    "",
  ].join("\n");
}

/** Grafana provisioning: load the dashboards from a folder, into a "HyperFlow" folder. */
export function dashboardProvisioning(path: string): string {
  return [
    "apiVersion: 1",
    "providers:",
    "  - name: HyperFlow",
    "    folder: HyperFlow",
    "    type: file",
    "    disableDeletion: true",
    "    options:",
    `      path: ${path}`,
    "",
  ].join("\n");
}
