/**
 * The AWS side of a JuiceFS file system shared by several EKS clusters (the two-cluster setup of
 * hyperflow-wms/hyperflow-k8s-deployment, README "Configuration of two kubernetes clusters" and
 * values/cluster/juicefs.yaml: metadata in Redis, data in S3):
 *
 * - data: an S3 bucket (WorkflowBucket: SSE-S3, public access blocked, ACLs off, TLS only), versioning
 *   off unless asked (JuiceFS compacts and deletes its own blocks; old versions would only cost);
 * - metadata: an ElastiCache Redis replication group (primary + replica in another zone, automatic
 *   failover) with encryption at rest and in transit (`transit_encryption_mode` required) and an AUTH
 *   token from random_password, in isolated subnets (no route out), behind a security group that admits
 *   only the clusters' security groups on 6379; `maxmemory-policy noeviction` (an evicted key is lost file
 *   system metadata; juicedata/juicefs docs/en/reference/how_to_set_up_metadata_engine.md, Redis);
 * - the volume credentials the JuiceFS CSI driver reads (name, metaurl `rediss://:<token>@…`, storage
 *   `s3`, bucket URL) as one JSON Secrets Manager secret, so the token appears in no output;
 * - one IAM role for the driver's pods, with read/write on this bucket only, associated by EKS Pod
 *   Identity with the CSI controller, the CSI node service and the mount pods' service account on every
 *   cluster (no access keys in the volume secret, no grant on the node role).
 */
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { EksPodIdentityAssociation } from "@cdktf/provider-aws/lib/eks-pod-identity-association";
import { ElasticacheParameterGroup } from "@cdktf/provider-aws/lib/elasticache-parameter-group";
import { ElasticacheReplicationGroup } from "@cdktf/provider-aws/lib/elasticache-replication-group";
import { ElasticacheSubnetGroup } from "@cdktf/provider-aws/lib/elasticache-subnet-group";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Password } from "@cdktf/provider-random/lib/password";
import type { ITerraformDependable } from "cdktf";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { JUICEFS_DEFAULTS } from "../core/defaults";
import { boundedPrefix, NAME_PREFIX_MAX, truncateName } from "../core/names";
import { EKS_CLUSTER_NAME, ELASTICACHE_NODE_TYPE, RECOVERY_WINDOW } from "../core/rules";
import { PropsError, requireRule, requireUnique } from "../core/validation";
import { ServiceRole } from "../iam/policy";
import { WorkflowBucket } from "../storage/workflow-bucket";

export { JUICEFS_DEFAULTS };

/** Redis major version and its parameter group family. */
const REDIS = { engineVersion: "7.1", family: "redis7", port: 6379 } as const;

/** JuiceFS volume name (juicefs format NAME: 3-63 lowercase letters, digits and hyphens). */
export const JUICEFS_VOLUME_NAME = "hyperflow";

/**
 * Service accounts in kube-system that touch the file system: the CSI controller (it mounts the volume to
 * create the PV directories) and node service (it formats the volume), as named by the chart
 * (juicedata/charts charts/juicefs-csi-driver/values.yaml `serviceAccount`), and the mount pods' account,
 * which JuiceFsCsi creates and names in the StorageClass (`juicefs/mount-service-account`).
 */
export const JUICEFS_SERVICE_ACCOUNTS = {
  namespace: "kube-system",
  controller: "juicefs-csi-controller-sa",
  node: "juicefs-csi-node-sa",
  mount: "juicefs-mount-sa",
} as const;

/** A cluster that mounts the file system. */
export interface JuiceFsClient {
  /** Id part of the cluster's resources (letters and digits). */
  readonly id: string;
  /** EKS cluster name (Pod Identity associations). */
  readonly clusterName: string;
  /** Security group of the cluster's nodes (EKS's cluster security group for managed node groups). */
  readonly securityGroupId: string;
  /** Must exist before the associations (the pod identity agent). @default - none */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export interface JuiceFsStoreProps {
  /** Base of the names (the engine cluster's name). */
  readonly name: string;
  readonly vpcId: string;
  /** One CIDR per isolated subnet of the metadata store, each in its own zone; at least two (a replica in another zone). */
  readonly subnetCidrs: readonly string[];
  readonly clients: readonly JuiceFsClient[];
  /** @default "cache.t4g.small" */
  readonly redisNodeType?: string;
  /** @default false */
  readonly bucketVersioning?: boolean;
  /** @default 7 */
  readonly secretRecoveryDays?: number;
}

export class JuiceFsStore extends Construct {
  readonly bucket: WorkflowBucket;
  readonly redis: ElasticacheReplicationGroup;
  readonly securityGroup: SecurityGroup;
  /** JSON: name, metaurl, storage, bucket (the CSI driver's volume credentials). */
  readonly secret: SecretsmanagerSecret;
  /** Role of the CSI driver's pods on every cluster (bucket read/write). */
  readonly role: ServiceRole;

  constructor(scope: Construct, id: string, props: JuiceFsStoreProps) {
    super(scope, id);
    validate(props);
    const name = props.name;

    this.bucket = new WorkflowBucket(this, "Data", { namePrefix: "hyperflow-jfs-" });
    if (props.bucketVersioning ?? JUICEFS_DEFAULTS.bucketVersioning) {
      new S3BucketVersioningA(this, "Versioning", { bucket: this.bucket.resource.id, versioningConfiguration: { status: "Enabled" } });
    }

    // Isolated subnets: a route table with the VPC's local route only.
    const azs = new DataAwsAvailabilityZones(this, "Azs", { state: "available", filter: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] });
    const routes = new RouteTable(this, "IsolatedRoutes", { vpcId: props.vpcId, tags: { Name: `${name}-juicefs-isolated` } });
    const subnets = props.subnetCidrs.map((cidrBlock, i) => {
      const subnet = new Subnet(this, `Isolated${i}`, {
        vpcId: props.vpcId,
        cidrBlock,
        availabilityZone: Fn.element(azs.names, i),
        tags: { Name: `${name}-juicefs-${i}` },
      });
      new RouteTableAssociation(this, `Isolated${i}Routes`, { subnetId: subnet.id, routeTableId: routes.id });
      return subnet;
    });
    const rgId = replicationGroupId(name);
    const subnetGroup = new ElasticacheSubnetGroup(this, "SubnetGroup", {
      name: rgId,
      description: `JuiceFS metadata of ${name}`,
      subnetIds: subnets.map((s) => s.id),
    });
    this.securityGroup = new SecurityGroup(this, "RedisSg", {
      namePrefix: boundedPrefix(name, "-juicefs-redis-", NAME_PREFIX_MAX.securityGroup),
      description: `JuiceFS metadata (Redis) of ${name}: the clusters' nodes only`,
      vpcId: props.vpcId,
      lifecycle: { createBeforeDestroy: true },
    });
    for (const c of props.clients) {
      new VpcSecurityGroupIngressRule(this, `RedisFrom${c.id}`, {
        securityGroupId: this.securityGroup.id,
        referencedSecurityGroupId: c.securityGroupId,
        ipProtocol: "tcp",
        fromPort: REDIS.port,
        toPort: REDIS.port,
        description: `Redis from the nodes of ${c.clusterName}`,
      });
    }
    const params = new ElasticacheParameterGroup(this, "RedisParams", {
      name: `${rgId}-params`,
      family: REDIS.family,
      description: "JuiceFS metadata: never evict",
      parameter: [{ name: "maxmemory-policy", value: "noeviction" }],
    });
    // ElastiCache AUTH tokens: 16 to 128 printable characters without @, " or /; letters and digits also keep the URL plain.
    const token = new Password(this, "RedisToken", { length: 64, special: false });
    this.redis = new ElasticacheReplicationGroup(this, "Redis", {
      replicationGroupId: rgId,
      description: `JuiceFS metadata of ${name}`,
      engine: "redis",
      engineVersion: REDIS.engineVersion,
      nodeType: props.redisNodeType ?? JUICEFS_DEFAULTS.redisNodeType,
      numCacheClusters: 2,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      port: REDIS.port,
      parameterGroupName: params.name,
      subnetGroupName: subnetGroup.name,
      securityGroupIds: [this.securityGroup.id],
      atRestEncryptionEnabled: "true",
      transitEncryptionEnabled: true,
      transitEncryptionMode: "required",
      authToken: token.result,
      snapshotRetentionLimit: JUICEFS_DEFAULTS.snapshotRetentionDays,
    });

    this.secret = new SecretsmanagerSecret(this, "Secret", {
      namePrefix: boundedPrefix(name, "/juicefs-", NAME_PREFIX_MAX.secret),
      description: `JuiceFS volume credentials of ${name} (metadata URL with the Redis AUTH token, bucket)`,
      recoveryWindowInDays: props.secretRecoveryDays ?? JUICEFS_DEFAULTS.secretRecoveryDays,
    });
    new SecretsmanagerSecretVersion(this, "SecretValue", {
      secretId: this.secret.id,
      secretString: Fn.jsonencode({
        name: JUICEFS_VOLUME_NAME,
        // Database 1 as in the seed's values (redis://<host>:6379/2 there); rediss: TLS.
        metaurl: `rediss://:${token.result}@${this.redis.primaryEndpointAddress}:${REDIS.port}/1`,
        storage: "s3",
        bucket: `https://${this.bucket.resource.bucketRegionalDomainName}`,
      }),
    });

    this.role = new ServiceRole(this, "CsiRole", {
      service: "pods.eks.amazonaws.com",
      namePrefix: `${name}-juicefs-`,
      description: `JuiceFS CSI driver and mount pods of ${name}'s clusters (EKS Pod Identity): the JuiceFS bucket only`,
      assumeActions: ["sts:AssumeRole", "sts:TagSession"],
    });
    this.bucket.grantReadWrite(this.role, "JuiceFsData");
    for (const c of props.clients) {
      for (const sa of [JUICEFS_SERVICE_ACCOUNTS.controller, JUICEFS_SERVICE_ACCOUNTS.node, JUICEFS_SERVICE_ACCOUNTS.mount]) {
        new EksPodIdentityAssociation(this, `${c.id}-${sa}`, {
          clusterName: c.clusterName,
          namespace: JUICEFS_SERVICE_ACCOUNTS.namespace,
          serviceAccount: sa,
          roleArn: this.role.roleArn,
          dependsOn: c.dependsOn ? [...c.dependsOn] : undefined,
        });
      }
    }
  }
}

/**
 * ElastiCache replication group id from a cluster name: 1 to 40 letters, digits and hyphens, starting
 * with a letter, no two hyphens in a row, no hyphen at the end.
 */
export function replicationGroupId(name: string): string {
  let base = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-");
  if (!/^[a-z]/.test(base)) base = `h${base}`;
  return `${truncateName(base, 36).replace(/-+$/, "")}-jfs`;
}

function validate(props: JuiceFsStoreProps): void {
  const c = "JuiceFsStore";
  requireRule(c, "name", props.name, EKS_CLUSTER_NAME);
  if (props.subnetCidrs.length < 2) throw new PropsError(c, "subnetCidrs", props.subnetCidrs, "at least two CIDRs (a replica in another zone)");
  if (props.clients.length === 0) throw new PropsError(c, "clients", props.clients, "at least one cluster");
  requireUnique(
    c,
    "clients (ids)",
    props.clients.map((x) => x.id),
  );
  props.clients.forEach((x, i) => {
    if (!/^[A-Za-z0-9]+$/.test(x.id)) throw new PropsError(c, `clients[${i}].id`, x.id, "letters and digits");
    requireRule(c, `clients[${i}].clusterName`, x.clusterName, EKS_CLUSTER_NAME, { allowTokens: true });
  });
  if (props.redisNodeType !== undefined) requireRule(c, "redisNodeType", props.redisNodeType, ELASTICACHE_NODE_TYPE, { allowTokens: true });
  if (props.secretRecoveryDays !== undefined) requireRule(c, "secretRecoveryDays", props.secretRecoveryDays, RECOVERY_WINDOW);
}
