/** `grafana`: where Grafana is and how to read its admin password (from the grafana stack's outputs). */
import type { Command } from "commander";
import { UsageError } from "../../common/errors";
import { DASHBOARDS } from "../../grafana/dashboards";
import { type CommandContext, type GlobalOptions, globalsOf, type Io } from "../context";
import { loadForCommand } from "./shared";

export function register(program: Command, ctx: CommandContext): void {
  program
    .command("grafana")
    .description("print the Grafana URL, how to read the admin password, and the InfluxDB URL")
    .addHelpText("after", "\nExample:\n  $ hflow-infra grafana")
    .action(ctx.action((_opts: unknown, cmd: Command) => grafanaCommand(globalsOf(cmd), ctx.io)));
}

export async function grafanaCommand(globals: GlobalOptions, io: Io): Promise<number> {
  const { config } = await loadForCommand(globals, io);
  if (!config.monitoring.enabled)
    throw new UsageError('monitoring is not enabled: set "monitoring": { "enabled": true } in the config, then hflow-infra deploy network grafana');
  const { Workspace } = await import("../workspace"); // cdktf and the providers
  const ws = Workspace.withTerraform(config, globals.out);
  ws.synth();
  if ((await ws.init("grafana")) !== 0) {
    io.err("grafana: terraform init failed");
    return 1;
  }
  const out = await ws.outputs("grafana");
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
