/**
 * HyperFlow dashboards: generated, kept in sync with grafana/dashboards/, covering the measurements the
 * dashboards of hyperflow-wms/hyperflow-grafana showed, and every query run against a real InfluxDB 1.x with sample points.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DASHBOARDS, dashboardFiles, DATASOURCE_UID, datasourceProvisioning, panelQuery, renderDashboard } from "../grafana/dashboards";
import { type Influx, startInfluxdb } from "./support/influxdb";

/** Measurements of hyperflow-wms/hyperflow-grafana's dashboards (`provisioning/dashboards/hyperflow_dashboardv3.json`); ours must show each of them. */
const GRAFANA_REPO_MEASUREMENTS = [
  "hyperflow_disc_write",
  "hyperflow_disc_read",
  "hyperflow_connection_transferred",
  "hyperflow_connection_received",
  "hyperflow_cpu_usage_ec2",
  "hyperflow_memory_usage_ec2",
  "hyperflow_worker_cpu",
  "hyperflow_master_cpu",
  "hyperflow_cluster_cpu",
  "hyperflow_master_memory",
  "hyperflow_cluster_memory",
  "execution_log",
  "execution_log_sub_stage",
  "execution_times",
  "hyperflow_rabbitmq_monitor",
  "hyperflow_monitor",
  "hyperflow_alarms",
];

/** What Grafana puts in for its macros when it runs a panel. */
const asGrafanaSends = (q: string) => q.replace(/\$timeFilter/g, "time > now() - 1h").replace(/\$__interval/g, "1m");

describe("dashboards", () => {
  test("grafana/dashboards/ holds exactly the generated files", () => {
    const dir = path.join(__dirname, "..", "grafana", "dashboards");
    const files = dashboardFiles();
    expect(fs.readdirSync(dir).sort()).toEqual(Object.keys(files).sort());
    for (const [name, json] of Object.entries(files)) expect(fs.readFileSync(path.join(dir, name), "utf8")).toBe(json);
  });

  test("every measurement of hyperflow-grafana's dashboards has a panel", () => {
    const shown = DASHBOARDS.flatMap((d) => d.panels.map((p) => p.measurement));
    expect(GRAFANA_REPO_MEASUREMENTS.filter((m) => !shown.includes(m))).toEqual([]);
  });

  test("panels point at the provisioned datasource, ids are unique, no panel overlaps another", () => {
    expect(datasourceProvisioning("hyperflow_tests")).toContain(`uid: ${DATASOURCE_UID}`);
    for (const d of DASHBOARDS) {
      const json = renderDashboard(d) as { panels: any[]; uid: string };
      expect(new Set(json.panels.map((p) => p.id)).size).toBe(json.panels.length);
      const cells = new Set<string>();
      for (const p of json.panels) {
        expect(p.datasource.uid).toBe(DATASOURCE_UID);
        expect(p.targets[0].datasource.uid).toBe(DATASOURCE_UID);
        const cell = `${p.gridPos.x},${p.gridPos.y}`;
        expect(cells.has(cell)).toBe(false);
        cells.add(cell);
      }
    }
    expect(new Set(DASHBOARDS.map((d) => d.uid)).size).toBe(DASHBOARDS.length);
  });
});

describe("every dashboard query against a real InfluxDB 1.x", () => {
  let influx: Influx;
  const db = "hyperflow_tests";
  beforeAll(async () => {
    influx = await startInfluxdb();
    await influx.query("", `CREATE DATABASE ${db}`);
    const now = Math.floor(Date.now() / 1000);
    // A few points per measurement, with tags and fields like the reporters write.
    const lines = GRAFANA_REPO_MEASUREMENTS.flatMap((m, i) =>
      [0, 1, 2].map((k) => `${m},host=ip-10-0-1-${k},wfid=wf1 value=${i + k * 1.5},count=${k + 1}i ${now - 60 * (k + 1)}`),
    ).join("\n");
    await influx.write(db, lines);
  }, 60_000);
  afterAll(() => influx?.stop());

  const panels = DASHBOARDS.flatMap((d) => d.panels.map((p) => [`${d.title} / ${p.title}`, p] as const));
  test.each(panels)("%s: parses and returns the sample data", async (_name, panel) => {
    const r = await influx.query(db, asGrafanaSends(panelQuery(panel)));
    expect(r.results[0].error).toBeUndefined();
    const series = r.results[0].series ?? [];
    expect(series.length).toBeGreaterThan(0);
    expect(series.reduce((n: number, s: any) => n + s.values.length, 0)).toBeGreaterThan(0);
  });

  test("the check catches a query that does not parse or finds nothing", async () => {
    const bad = await influx.query(db, asGrafanaSends('SELECT mean(*) FROM "hyperflow_monitor" WHERE $timeFilter GROUP BY tim($__interval)'));
    expect(bad.results?.[0]?.error ?? bad.error).toBeDefined();
    const empty = await influx.query(db, asGrafanaSends('SELECT mean(*) FROM "no_such_measurement" WHERE $timeFilter GROUP BY time($__interval)'));
    expect(empty.results[0].series).toBeUndefined();
  });
});
