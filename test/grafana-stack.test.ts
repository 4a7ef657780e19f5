import * as zlib from "node:zlib";
import { dashboardFiles, DATASOURCE_UID } from "../grafana/dashboards";
import { monitoringStartScript } from "../constructs/monitoring/monitoring-host";
import { containers, only, resources, synthConfig } from "./support/stack-json";

/** write_files of a cloud-config: path → decoded content. */
function writeFiles(cloudConfig: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = cloudConfig.split("\n");
  lines.forEach((l, i) => {
    const m = /^ {2}- path: (.+)$/.exec(l);
    if (!m) return;
    const block = lines.slice(i + 1, i + 4).join("\n");
    const content = /content: (\S+)/.exec(block)?.[1];
    if (/encoding: gz\+b64/.test(block) && content) out[m[1]] = zlib.gunzipSync(Buffer.from(content, "base64")).toString();
    else {
      // A literal block (`content: |`): the lines indented below it.
      const start = lines.findIndex((x, k) => k > i && /content: \|/.test(x)) + 1;
      const body: string[] = [];
      for (let k = start; k < lines.length && lines[k].startsWith("      "); k++) body.push(lines[k].slice(6));
      out[m[1]] = body.join("\n");
    }
  });
  return out;
}

describe("grafana stack", () => {
  const { json: all } = synthConfig({ monitoring: { enabled: true, dataVolumeGiB: 50 }, adminCidrs: ["198.51.100.0/24"] });
  const json = all.grafana!;
  const instance = only(json, "aws_instance");
  const files = writeFiles(instance.user_data);

  test("InfluxDB only from the VPC, Grafana only from the admin CIDRs", () => {
    const rules = resources(json, "aws_vpc_security_group_ingress_rule");
    expect(rules.map((r) => [r.from_port, r.cidr_ipv4]).sort()).toEqual(
      [
        [3000, "198.51.100.0/24"],
        [8086, expect.stringMatching(/cross-stack-reference-input-network.*cidr_block/)],
      ].sort(),
    );
  });

  test("no Grafana ingress at all without admin CIDRs; the URL output is an SSM port forward", () => {
    const { json: d } = synthConfig({ monitoring: { enabled: true } });
    expect(resources(d.grafana!, "aws_vpc_security_group_ingress_rule").map((r) => r.from_port)).toEqual([8086]);
    expect(d.grafana!.output!.grafana_url.value).toMatch(/AWS-StartPortForwardingSession .*portNumber=3000/);
  });

  test("admin password generated into Secrets Manager; never in user data or outputs", () => {
    const password = Object.keys(json.resource!.random_password)[0];
    expect(only(json, "aws_secretsmanager_secret_version").secret_string).toBe(`\${random_password.${password}.result}`);
    expect(instance.user_data).not.toContain("random_password");
    expect(JSON.stringify(json.output)).not.toContain("random_password");
    expect(files["/etc/hyperflow/monitoring/monitoring.env"]).toMatch(/ADMIN_SECRET_ARN=\$\{aws_secretsmanager_secret\.[^}]+\.arn\}/);
    const statements = resources(json, "aws_iam_role_policy").flatMap((p) => JSON.parse(p.policy).Statement);
    expect(statements).toEqual([
      expect.objectContaining({ Action: ["secretsmanager:GetSecretValue"], Resource: [expect.stringMatching(/aws_secretsmanager_secret\..*\.arn/)] }),
    ]);
  });

  test("data on an encrypted volume in the instance's AZ, kept apart from the instance", () => {
    const vol = only(json, "aws_ebs_volume");
    expect(vol).toEqual(expect.objectContaining({ encrypted: true, size: 50, type: "gp3" }));
    expect(vol.availability_zone).toMatch(/^\$\{data\.aws_subnet\.[^.]+\.availability_zone\}$/);
    expect(only(json, "aws_volume_attachment")).toEqual(expect.objectContaining({ device_name: "/dev/sdf", stop_instance_before_detaching: true }));
    expect(instance.volume_tags).toBeUndefined();
    expect(instance.root_block_device).toEqual(expect.objectContaining({ encrypted: true }));
    expect(instance.metadata_options.http_tokens).toBe("required");
  });

  test("configured entirely at boot: pinned images, datasource and dashboards provisioned from files, no git clone", () => {
    expect(files["/usr/local/sbin/hyperflow-monitoring-start"]).toBe(monitoringStartScript());
    expect(files["/etc/hyperflow/monitoring/monitoring.env"]).toContain("INFLUXDB_IMAGE=public.ecr.aws/docker/library/influxdb:1.8.10");
    expect(files["/etc/hyperflow/monitoring/monitoring.env"]).toContain("GRAFANA_IMAGE=grafana/grafana:11.3.1");
    expect(files["/etc/hyperflow/monitoring/provisioning/datasources/influxdb.yaml"]).toContain(`uid: ${DATASOURCE_UID}`);
    expect(files["/etc/hyperflow/monitoring/provisioning/datasources/influxdb.yaml"]).toContain("dbName: hyperflow_tests");
    for (const [name, content] of Object.entries(dashboardFiles())) expect(files[`/etc/hyperflow/monitoring/dashboards/${name}`]).toBe(content);
    expect(instance.user_data).not.toMatch(/git clone|admin\/admin/);
    expect(monitoringStartScript()).toContain("GF_SECURITY_ADMIN_PASSWORD__FILE");
    expect(Buffer.byteLength(instance.user_data)).toBeLessThan(16 * 1024); // EC2's user-data limit
  });

  test("the cluster, its workers, the status reporter and the engine get the InfluxDB URL from this stack", () => {
    const fromGrafana = /^http:\/\/\$\{data\.terraform_remote_state\.cross-stack-reference-input-grafana\.outputs\.[^}]+private_ip\}:8086\/hyperflow_tests$/;
    const env = (stack: any, container: string, name: string) =>
      resources(stack, "aws_ecs_task_definition")
        .flatMap(containers)
        .find((c: any) => c.name === container)
        ?.environment.find((e: any) => e.name === name)?.value;
    expect(env(all.ecs, "hyperflow-worker", "INFLUXDB_URL")).toMatch(fromGrafana);
    expect(env(all.ecs, "queue-length-publisher", "INFLUXDB_URL")).toMatch(fromGrafana);
    expect(env(all.ecs, "hyperflow-master", "INFLUX_DB")).toBeUndefined();
    expect(env(all.ecs, "status-reporter", "METRIC_COLLECTOR")).toMatch(fromGrafana);
    expect(env(all.runner, "hyperflow-engine", "INFLUXDB_URL")).toMatch(fromGrafana);
  });

  test("an InfluxDB named in ecs.metricsUrl wins over the grafana stack", () => {
    const { json: d } = synthConfig({ monitoring: { enabled: true }, ecs: { metricsUrl: "http://influx.lab:8086/hf" } });
    const worker = resources(d.ecs, "aws_ecs_task_definition")
      .flatMap(containers)
      .find((c: any) => c.name === "hyperflow-worker");
    expect(worker.environment).toContainEqual({ name: "INFLUXDB_URL", value: "http://influx.lab:8086/hf" });
  });

  test("without monitoring there is no grafana stack and no metrics wiring", () => {
    const { json: d } = synthConfig({});
    expect(d.grafana).toBeUndefined();
    expect(JSON.stringify(d.ecs)).not.toContain("8086");
  });
});
