/** `grafana`: where Grafana is and how to read its admin password (from the grafana stack's outputs). */
import { DASHBOARDS } from "../../grafana/dashboards";
import { type GlobalOptions, type Io, UsageError } from "../program";
import { stackDirectory, synthesize } from "../synth";
import { readOutputs, requireTerraform, runTerraform } from "../terraform";
import { loadForCommand } from "./shared";

export async function grafanaCommand(globals: GlobalOptions, io: Io): Promise<number> {
  const { config } = loadForCommand(globals, io);
  if (!config.monitoring.enabled) throw new UsageError('monitoring is not enabled: set "monitoring": { "enabled": true } in the config, then hflow-infra deploy network grafana');
  const binary = requireTerraform();
  synthesize(config, globals.out);
  const cwd = stackDirectory(globals.out, "grafana");
  if ((await runTerraform(binary, ["init", "-input=false"], cwd)) !== 0) {
    io.err("grafana: terraform init failed");
    return 1;
  }
  const out = await readOutputs(binary, cwd);
  if (!out.grafana_url) {
    io.err("the grafana stack is not deployed yet: hflow-infra deploy network grafana");
    return 1;
  }
  io.out(
    [
      `Grafana:    ${String(out.grafana_url)}`,
      "User:       admin",
      `Password:   aws secretsmanager get-secret-value --region ${config.region} --secret-id ${String(out.grafana_admin_secret_name)} --query SecretString --output text`,
      `InfluxDB:   ${String(out.influxdb_url)} (reachable from the VPC only)`,
      `Dashboards: ${DASHBOARDS.map((d) => d.title).join(", ")} (folder HyperFlow)`,
    ].join("\n"),
  );
  return 0;
}
