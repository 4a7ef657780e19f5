/**
 * The `grafana` stack: InfluxDB + Grafana with the HyperFlow dashboards (only when monitoring.enabled).
 * Its InfluxDB URL flows into the `ecs` stack (master, workers, status reporter) and the runner's engine.
 */
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { GRAFANA_PORT, MonitoringHost } from "../constructs/monitoring/monitoring-host";
import type { Network } from "../constructs/network/network";
import { AwsStack } from "./base";

export class GrafanaStack extends AwsStack {
  readonly monitoring: MonitoringHost;
  constructor(scope: Construct, id: string, config: HyperflowConfig, network: Network) {
    super(scope, id, { region: config.region, backend: config.backend, tags: config.tags });
    const m = config.monitoring;
    this.monitoring = new MonitoringHost(this, "Monitoring", {
      name: `${config.ecs.clusterName}-monitoring`,
      network,
      influxdbImage: m.influxdbImage,
      grafanaImage: m.grafanaImage,
      database: m.database,
      instanceType: m.instanceType,
      dataVolumeGiB: m.dataVolumeGiB,
      adminCidrs: config.adminCidrs,
      secretRecoveryDays: m.adminSecretRecoveryDays,
      tags: this.tags,
    });
    const host = this.monitoring.resource;
    const grafanaUrl =
      config.adminCidrs.length > 0
        ? `http://${host.publicIp}:${GRAFANA_PORT}`
        : `aws ssm start-session --region ${config.region} --target ${host.id} --document-name AWS-StartPortForwardingSession --parameters portNumber=${GRAFANA_PORT},localPortNumber=${GRAFANA_PORT}  # then open http://localhost:${GRAFANA_PORT}`;
    new TerraformOutput(this, "grafana_url", { value: grafanaUrl, description: "How to reach Grafana (user admin, password in the admin secret)" });
    new TerraformOutput(this, "grafana_admin_secret_name", {
      value: this.monitoring.adminSecret.name,
      description: "Secrets Manager secret with the Grafana admin password",
    });
    new TerraformOutput(this, "influxdb_url", { value: this.monitoring.influxUrl, description: "InfluxDB URL the cluster and the engine write to" });
    new TerraformOutput(this, "monitoring_instance_id", { value: host.id, description: "EC2 instance of InfluxDB and Grafana (for SSM sessions)" });
  }
}
