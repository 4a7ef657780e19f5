/**
 * HyperFlow dashboards, built from a compact definition: one panel per InfluxDB measurement that
 * HyperFlow's executors, the ECS monitoring plugin and the host reporters write, as the dashboards of
 * hyperflow-wms/hyperflow-grafana (`provisioning/dashboards/hyperflow_dashboardv3.json`) showed them. The
 * generated JSON is kept in grafana/dashboards/ (a test keeps the files in sync) and provisioned into
 * Grafana at boot. Every query is run against a real InfluxDB 1.x in test/grafana.test.ts.
 *
 * Queries use `mean(*)` / `*` rather than named fields: the writers' field names differ between
 * versions of the reporters, and a wildcard query shows whatever fields a measurement has.
 */

/** UID of the provisioned InfluxDB datasource the panels point at. */
export const DATASOURCE_UID = "hyperflow-influxdb";

interface PanelSpec {
  readonly title: string;
  readonly measurement: string;
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
    description: "Workflow progress, task execution times and the job queue.",
    panels: [
      { title: "Workflow progress", measurement: "hyperflow_monitor", kind: "timeseries", description: "Tasks and signals reported by the engine." },
      { title: "Queue length (hyperflow.jobs)", measurement: "hyperflow_rabbitmq_monitor", kind: "timeseries", description: "Messages waiting in and being worked on from the job queue." },
      { title: "Task execution times", measurement: "execution_times", kind: "timeseries", unit: "s", description: "Execution time of tasks, per executable and host." },
      { title: "Execution log", measurement: "execution_log", kind: "table", description: "Latest task events from the executors." },
      { title: "Execution sub-stages", measurement: "execution_log_sub_stage", kind: "table", description: "Stage-in, execution and stage-out of the latest tasks." },
      { title: "Scaling alarms", measurement: "hyperflow_alarms", kind: "timeseries", description: "State of the queue alarms that scale the workers." },
    ],
  },
  {
    uid: "hyperflow-cluster",
    title: "HyperFlow / Cluster",
    description: "CPU and memory of the ECS cluster, the workers and the master.",
    panels: [
      { title: "Cluster CPU", measurement: "hyperflow_cluster_cpu", kind: "timeseries", unit: "percent", description: "CPU utilization of the cluster." },
      { title: "Cluster memory", measurement: "hyperflow_cluster_memory", kind: "timeseries", unit: "percent", description: "Memory utilization of the cluster." },
      { title: "Worker CPU", measurement: "hyperflow_worker_cpu", kind: "timeseries", unit: "percent", description: "CPU of the worker service." },
      { title: "Master CPU", measurement: "hyperflow_master_cpu", kind: "timeseries", unit: "percent", description: "CPU of the master (broker) service." },
      { title: "Master memory", measurement: "hyperflow_master_memory", kind: "timeseries", unit: "percent", description: "Memory of the master (broker) service." },
    ],
  },
  {
    uid: "hyperflow-hosts",
    title: "HyperFlow / Hosts",
    description: "Per-instance CPU, memory, disk and network from the status reporter.",
    panels: [
      { title: "Host CPU", measurement: "hyperflow_cpu_usage_ec2", kind: "timeseries", unit: "percent", description: "CPU usage per instance." },
      { title: "Host memory", measurement: "hyperflow_memory_usage_ec2", kind: "timeseries", unit: "percent", description: "Memory usage per instance." },
      { title: "Disk write", measurement: "hyperflow_disc_write", kind: "timeseries", unit: "bytes", description: "Bytes written to the reported disk." },
      { title: "Disk read", measurement: "hyperflow_disc_read", kind: "timeseries", unit: "bytes", description: "Bytes read from the reported disk." },
      { title: "Network sent", measurement: "hyperflow_connection_transferred", kind: "timeseries", unit: "bytes", description: "Bytes sent on the reported interface." },
      { title: "Network received", measurement: "hyperflow_connection_received", kind: "timeseries", unit: "bytes", description: "Bytes received on the reported interface." },
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
      description: `${p.description} (measurement ${p.measurement})`,
      datasource: ds,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit ?? "short" }, overrides: [] },
      options: p.kind === "table" ? { showHeader: true } : { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi", sort: "none" } },
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
  return ["apiVersion: 1", "providers:", "  - name: HyperFlow", "    folder: HyperFlow", "    type: file", "    disableDeletion: true", "    options:", `      path: ${path}`, ""].join("\n");
}
