/**
 * InfluxDB 1.x and Grafana on one EC2 instance, configured entirely at boot by cloud-init: Docker from
 * the distribution, the datasource and HyperFlow dashboards provisioned from files, data on a separate
 * encrypted EBS volume that outlives the instance, the Grafana admin password generated into Secrets
 * Manager and read by the instance with its role (never in user data, outputs or plaintext env).
 */
import * as zlib from "node:zlib";
import { DataAwsSsmParameter } from "@cdktf/provider-aws/lib/data-aws-ssm-parameter";
import { DataAwsSubnet } from "@cdktf/provider-aws/lib/data-aws-subnet";
import { EbsVolume } from "@cdktf/provider-aws/lib/ebs-volume";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VolumeAttachment } from "@cdktf/provider-aws/lib/volume-attachment";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Password } from "@cdktf/provider-random/lib/password";
import type { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import { dashboardFiles, dashboardProvisioning, datasourceProvisioning } from "../../grafana/dashboards";
import { AwsEnvironment } from "../core/aws-environment";
import { terraformLiteral } from "../core/terraform-string";
import { INFLUXDB_PORT, MONITORING_DEFAULTS } from "../core/defaults";
import { boundedPrefix, NAME_PREFIX_MAX } from "../core/names";
import { INFLUXDB_DATABASE, MONITORING_VOLUME_GIB, RECOVERY_WINDOW } from "../core/rules";
import { requireRule, requireUnique } from "../core/validation";
import { isArmInstanceType } from "../ecs/instances";
import { type Grantee, secretReadStatements, ServiceRole } from "../iam/policy";
import { InstanceSubnets } from "../network/instance-subnets";
import type { Network } from "../network/network";
import { allowEgressAll, allowTcpFromCidrs } from "../network/security-group";

export const GRAFANA_PORT = 3000;
/** Device name of the data volume (AL2023's udev rules link the NVMe device to it). */
const DATA_DEVICE = "/dev/sdf";
const CONFIG_DIR = "/etc/hyperflow/monitoring";
/** Filesystem label of the data volume (XFS labels have at most 12 characters). */
export const DATA_LABEL = "hfdata";

export interface MonitoringHostProps {
  /** Name tag, and prefix of the role, security group and secret names. */
  readonly name: string;
  readonly network: Network;
  readonly influxdbImage: string;
  readonly grafanaImage: string;
  /** InfluxDB database: letters, digits and _, at most 64. @default "hyperflow_tests" */
  readonly database?: string;
  /** @default "t3.small" */
  readonly instanceType?: string;
  /** Size of the encrypted gp3 data volume, 1 to 16384 GiB. @default 20 */
  readonly dataVolumeGiB?: number;
  /** CIDRs that may reach Grafana, each at most once. @default - none (use SSM port forwarding) */
  readonly adminCidrs?: readonly string[];
  /** Days Secrets Manager keeps the deleted admin secret: 0 (at once) or 7 to 30. @default 7 */
  readonly secretRecoveryDays?: number;
  /** @default - none */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The boot script (static: settings come from an environment file written next to it). Mounts the data
 * volume (formatting it only when it has no filesystem), reads the admin password with the instance
 * role, and (re)starts both containers with restart=always.
 */
export function monitoringStartScript(): string {
  return `#!/bin/bash
# Starts InfluxDB and Grafana; safe to run again (containers are replaced, data stays on ${DATA_DEVICE}).
set -euo pipefail
# shellcheck source=/dev/null
. ${CONFIG_DIR}/monitoring.env

device=${DATA_DEVICE}
for _ in $(seq 1 120); do [ -e "$device" ] && break; sleep 2; done
[ -e "$device" ] || { echo "data volume $device did not appear" >&2; exit 1; }
if ! blkid "$device" >/dev/null 2>&1; then
  mkfs.xfs -L ${DATA_LABEL} "$device"
fi
mkdir -p /data
udevadm settle
if ! grep -q 'LABEL=${DATA_LABEL}' /etc/fstab; then
  echo 'LABEL=${DATA_LABEL} /data xfs defaults,nofail 0 2' >> /etc/fstab
fi
mountpoint -q /data || mount /data
mkdir -p /data/influxdb /data/grafana
chown -R 472:0 /data/grafana

umask 077
aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$ADMIN_SECRET_ARN" \\
  --query SecretString --output text > ${CONFIG_DIR}/admin-password
chown 472:0 ${CONFIG_DIR}/admin-password
umask 022

systemctl enable --now docker
docker network inspect hyperflow >/dev/null 2>&1 || docker network create hyperflow
docker rm -f influxdb grafana >/dev/null 2>&1 || true
docker run -d --name influxdb --restart always --network hyperflow \\
  -p "$INFLUXDB_PORT:8086" \\
  -v /data/influxdb:/var/lib/influxdb \\
  -e INFLUXDB_DB="$INFLUXDB_DATABASE" -e INFLUXDB_REPORTING_DISABLED=true \\
  "$INFLUXDB_IMAGE"
docker run -d --name grafana --restart always --network hyperflow \\
  -p "$GRAFANA_PORT:3000" \\
  -v /data/grafana:/var/lib/grafana \\
  -v ${CONFIG_DIR}/provisioning:/etc/grafana/provisioning:ro \\
  -v ${CONFIG_DIR}/dashboards:/var/lib/grafana-dashboards:ro \\
  -v ${CONFIG_DIR}/admin-password:/run/secrets/grafana-admin-password:ro \\
  -e GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana-admin-password \\
  -e GF_USERS_ALLOW_SIGN_UP=false -e GF_AUTH_ANONYMOUS_ENABLED=false \\
  -e GF_ANALYTICS_REPORTING_ENABLED=false -e GF_ANALYTICS_CHECK_FOR_UPDATES=false \\
  "$GRAFANA_IMAGE"
`;
}

const gzb64 = (text: string) => zlib.gzipSync(Buffer.from(text), { level: 9 }).toString("base64");

interface MonitoringSettings {
  readonly region: string;
  readonly adminSecretArn: string;
  readonly database: string;
  readonly influxdbImage: string;
  readonly grafanaImage: string;
}

/** cloud-config for the host. May contain cdktf tokens (the secret ARN); literal text is escaped. */
function monitoringCloudConfig(s: MonitoringSettings): string {
  const env = [
    `AWS_REGION=${s.region}`,
    `ADMIN_SECRET_ARN=${s.adminSecretArn}`,
    `INFLUXDB_DATABASE=${s.database}`,
    `INFLUXDB_IMAGE=${s.influxdbImage}`,
    `GRAFANA_IMAGE=${s.grafanaImage}`,
    `INFLUXDB_PORT=${INFLUXDB_PORT}`,
    `GRAFANA_PORT=${GRAFANA_PORT}`,
  ];
  const file = (path: string, content: string, permissions = "0644") => [
    `  - path: ${path}`,
    "    encoding: gz+b64",
    `    permissions: '${permissions}'`,
    `    content: ${gzb64(content)}`,
  ];
  const dashboards = Object.entries(dashboardFiles()).flatMap(([name, json]) => file(`${CONFIG_DIR}/dashboards/${name}`, json));
  const lines = [
    "#cloud-config",
    "package_update: false",
    "packages:",
    "  - docker",
    "write_files:",
    `  - path: ${CONFIG_DIR}/monitoring.env`,
    "    permissions: '0600'",
    "    content: |",
    ...env.map((l) => `      ${l}`),
    ...file("/usr/local/sbin/hyperflow-monitoring-start", monitoringStartScript(), "0755"),
    ...file(`${CONFIG_DIR}/provisioning/datasources/influxdb.yaml`, datasourceProvisioning(s.database)),
    ...file(`${CONFIG_DIR}/provisioning/dashboards/hyperflow.yaml`, dashboardProvisioning("/var/lib/grafana-dashboards")),
    ...dashboards,
    "runcmd:",
    "  - [/usr/local/sbin/hyperflow-monitoring-start]",
    "",
  ];
  return terraformLiteral(lines.join("\n"));
}

export class MonitoringHost extends Construct {
  /** The instance that runs InfluxDB and Grafana. */
  readonly resource: Instance;
  readonly securityGroup: SecurityGroup;
  readonly adminSecret: SecretsmanagerSecret;
  readonly dataVolume: EbsVolume;
  /** `http://<private ip>:8086/<database>`: what executors, reporters and the engine write to. */
  readonly influxUrl: string;
  readonly database: string;

  constructor(scope: Construct, id: string, props: MonitoringHostProps) {
    super(scope, id);
    const database = props.database ?? MONITORING_DEFAULTS.database;
    requireRule("MonitoringHost", "database", database, INFLUXDB_DATABASE);
    const dataVolumeGiB = props.dataVolumeGiB ?? MONITORING_DEFAULTS.dataVolumeGiB;
    requireRule("MonitoringHost", "dataVolumeGiB", dataVolumeGiB, MONITORING_VOLUME_GIB);
    const recoveryDays = props.secretRecoveryDays ?? MONITORING_DEFAULTS.secretRecoveryDays;
    requireRule("MonitoringHost", "secretRecoveryDays", recoveryDays, RECOVERY_WINDOW);
    requireUnique("MonitoringHost", "adminCidrs", props.adminCidrs ?? []);
    const env = AwsEnvironment.of(this);
    const instanceType = props.instanceType ?? MONITORING_DEFAULTS.instanceType;
    const tags = { ...(props.tags ?? {}), Name: props.name };
    this.database = database;

    this.securityGroup = new SecurityGroup(this, "Sg", {
      namePrefix: boundedPrefix(props.name, "-", NAME_PREFIX_MAX.securityGroup),
      description: "HyperFlow monitoring: Grafana from admin CIDRs, InfluxDB from the VPC",
      vpcId: props.network.vpcId,
      tags,
      lifecycle: { createBeforeDestroy: true },
    });
    allowEgressAll(this, "EgressAll", this.securityGroup, "Image pulls, AWS APIs");
    new VpcSecurityGroupIngressRule(this, "InfluxFromVpc", {
      securityGroupId: this.securityGroup.id,
      description: "InfluxDB HTTP API from the VPC (executors, reporters, engine)",
      ipProtocol: "tcp",
      fromPort: INFLUXDB_PORT,
      toPort: INFLUXDB_PORT,
      cidrIpv4: props.network.vpcCidr,
    });
    allowTcpFromCidrs(this, {
      idPrefix: "Grafana",
      securityGroup: this.securityGroup,
      port: GRAFANA_PORT,
      cidrs: props.adminCidrs ?? [],
      description: "Grafana from an admin CIDR in config",
    });

    const password = new Password(this, "AdminPassword", { length: 32, special: false });
    this.adminSecret = new SecretsmanagerSecret(this, "AdminSecret", {
      namePrefix: boundedPrefix(props.name, "/grafana-admin-", NAME_PREFIX_MAX.secret),
      description: `Grafana admin password of ${props.name} (user: admin)`,
      recoveryWindowInDays: recoveryDays,
    });
    new SecretsmanagerSecretVersion(this, "AdminSecretValue", { secretId: this.adminSecret.id, secretString: password.result });

    const role = new ServiceRole(this, "Role", {
      service: "ec2.amazonaws.com",
      namePrefix: `${props.name}-`,
      description: `HyperFlow monitoring host ${props.name}: SSM sessions, read the Grafana admin secret`,
      managedPolicyArns: [`arn:${env.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`],
    });
    this.grantAdminSecretRead(role);
    const profile = new IamInstanceProfile(this, "Profile", {
      namePrefix: boundedPrefix(props.name, "-", NAME_PREFIX_MAX.instanceProfile),
      role: role.roleName,
    });

    const arch = isArmInstanceType(instanceType) ? "arm64" : "x86_64";
    const ami = new DataAwsSsmParameter(this, "Ami", { name: `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${arch}` });
    // The first, by id, of the subnets whose zone offers the instance type: the same one on every plan
    // (the data volume lives in its zone).
    const subnetId = new InstanceSubnets(this, "Subnets", { subnetIds: props.network.subnetIds, instanceType }).first;
    const subnet = new DataAwsSubnet(this, "Subnet", { id: subnetId });

    this.resource = new Instance(this, "Instance", {
      ami: ami.insecureValue,
      instanceType,
      subnetId,
      associatePublicIpAddress: props.network.assignPublicIp,
      vpcSecurityGroupIds: [this.securityGroup.id],
      iamInstanceProfile: profile.name,
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      rootBlockDevice: { volumeType: "gp3", volumeSize: 20, encrypted: true, deleteOnTermination: true, tags },
      userData: monitoringCloudConfig({
        region: env.region,
        adminSecretArn: this.adminSecret.arn,
        database,
        influxdbImage: props.influxdbImage,
        grafanaImage: props.grafanaImage,
      }),
      userDataReplaceOnChange: true,
      // No volume_tags: they would fight the data volume's own tags (a known provider pitfall).
      tags,
      lifecycle: { ignoreChanges: ["ami"] },
    });
    this.dataVolume = new EbsVolume(this, "Data", {
      availabilityZone: subnet.availabilityZone,
      size: dataVolumeGiB,
      type: "gp3",
      encrypted: true,
      tags: { ...tags, Name: `${props.name}-data` },
      // The data outlives the instance; destroy the stack to delete it.
    });
    new VolumeAttachment(this, "DataAttachment", {
      deviceName: DATA_DEVICE,
      volumeId: this.dataVolume.id,
      instanceId: this.resource.id,
      stopInstanceBeforeDetaching: true,
    });
    this.influxUrl = `http://${this.resource.privateIp}:${INFLUXDB_PORT}/${database}`;
  }

  /** Lets `grantee` read the Grafana admin password. */
  grantAdminSecretRead(grantee: Grantee): IamRolePolicy {
    return grantee.addPolicy("ReadAdminSecret", secretReadStatements(this.adminSecret.arn));
  }
}
