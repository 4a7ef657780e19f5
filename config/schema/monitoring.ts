/** `monitoring`: the `grafana` stack, InfluxDB 1.x and Grafana on one instance. */
import { z } from "zod";
import { MONITORING_DEFAULTS } from "../../constructs/core/defaults";
import { INFLUXDB_DATABASE, MONITORING_VOLUME_GIB } from "../../constructs/core/rules";
import { checked, imageRef, instanceType, intIn, recoveryDays } from "./common";

export const monitoring = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Deploy the `grafana` stack (InfluxDB + Grafana) and give its InfluxDB URL to the cluster, its workers and the engine (unless ecs.metricsUrl names another InfluxDB).",
      ),
    instanceType: instanceType().default(MONITORING_DEFAULTS.instanceType).describe("Instance type of the monitoring host (seed: t2.micro)."),
    dataVolumeGiB: intIn(MONITORING_VOLUME_GIB)
      .default(MONITORING_DEFAULTS.dataVolumeGiB)
      .describe("Size of the encrypted data volume (InfluxDB and Grafana data); it survives instance replacement."),
    influxdbImage: imageRef("InfluxDB 1.x image (the API HyperFlow's executors and reporters write to).", "public.ecr.aws/docker/library/influxdb:1.8.10"),
    grafanaImage: imageRef("Grafana image.", "grafana/grafana:11.3.1"),
    database: checked(z.string(), INFLUXDB_DATABASE).default(MONITORING_DEFAULTS.database).describe("InfluxDB database (seed: hyperflow_tests)."),
    adminSecretRecoveryDays: recoveryDays("Days Secrets Manager keeps the deleted Grafana admin secret recoverable.", MONITORING_DEFAULTS.secretRecoveryDays),
  })
  .prefault({})
  .describe(
    "The `grafana` stack: InfluxDB 1.x and Grafana with HyperFlow dashboards on one instance. Grafana is reachable only from adminCidrs, InfluxDB only from the VPC.",
  );
