/**
 * The AWS constructs one by one: each builds alone in a bare stack from minimal props and synthesizes
 * (provider validation on), and every prop check fails with a PropsError that names the construct, the
 * prop, the bad value and what is allowed.
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { AwsEnvironment } from "../constructs/core/aws-environment";
import * as rules from "../constructs/core/rules";
import type { Rule } from "../constructs/core/rules";
import { PropsError } from "../constructs/core/validation";
import { Broker, type BrokerConnection } from "../constructs/ecs/broker";
import type { ClusterContext } from "../constructs/ecs/cluster-context";
import { HyperflowEcs, type HyperflowEcsProps } from "../constructs/ecs/hyperflow-ecs";
import { EcsLaunchTemplate, type EcsLaunchTemplateProps, WorkerCapacity, type WorkerCapacityProps } from "../constructs/ecs/instances";
import { Master, type MasterProps } from "../constructs/ecs/master";
import { queueLengthMetric } from "../constructs/ecs/queue-metric";
import { QueueScaling, type QueueScalingProps } from "../constructs/ecs/queue-scaling";
import { StatusReporter, type StatusReporterProps } from "../constructs/ecs/status-reporter";
import { type ContainerSpec, Task, type TaskProps } from "../constructs/ecs/task";
import { WorkerService, type WorkerServiceProps } from "../constructs/ecs/workers";
import { ImageRepository, repositoryName } from "../constructs/ecr/image-repository";
import { EngineTask, type EngineTaskProps } from "../constructs/engine/engine-task";
import { JobUpload, type JobUploadProps } from "../constructs/engine/job-upload";
import { grantPutMetricData, ImportedRole, policyDocument, secretReadStatements, ServiceRole, type ServiceRoleProps } from "../constructs/iam/policy";
import { MonitoringHost, type MonitoringHostProps } from "../constructs/monitoring/monitoring-host";
import { Network, type NetworkProps } from "../constructs/network/network";
import { WorkflowBucket } from "../constructs/storage/workflow-bucket";
import { only, resources, type TfJson } from "./support/stack-json";

const REGION = "eu-west-1";

/** A stack with nothing but the providers (`null`: an AWS provider without a region). */
function bareStack(region: string | null = REGION): TerraformStack {
  const stack = new TerraformStack(Testing.app(), "test");
  new AwsProvider(stack, "aws", { region: region ?? undefined });
  new RandomProvider(stack, "random");
  return stack;
}

function synth(stack: TerraformStack): TfJson {
  return JSON.parse(Testing.synth(stack, true));
}

/** The role with this id in the stack, created on first use. */
function role(stack: TerraformStack, id = "ExecutionRole"): ServiceRole {
  const existing = stack.node.tryFindChild(id);
  if (existing instanceof ServiceRole) return existing;
  return new ServiceRole(stack, id, { service: "ecs-tasks.amazonaws.com", namePrefix: "lab-exec-", description: "test role" });
}

function cluster(stack: TerraformStack): ClusterContext {
  return { clusterName: "lab", clusterArn: "arn:aws:ecs:eu-west-1:123456789012:cluster/lab", executionRole: role(stack), logRetentionDays: 7 };
}

const container: ContainerSpec = { name: "app", image: "public.ecr.aws/docker/library/busybox:1.37.0", memoryReservationMiB: 64 };

/** A broker of some other deployment, as EngineTask sees one: the secret reference and a grant on it. */
function brokerOf(secretArn: string): BrokerConnection {
  return { amqpUrlSecretRef: `${secretArn}:amqp_url::`, grantSecretRead: (grantee) => grantee.addPolicy("ReadBrokerSecret", secretReadStatements(secretArn)) };
}

const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lab/broker-abc";
const roleProps: ServiceRoleProps = { service: "ec2.amazonaws.com", namePrefix: "r-", description: "d" };
const ltProps: EcsLaunchTemplateProps = {
  clusterName: "lab",
  kind: "worker",
  instanceType: "t3.medium",
  instanceProfileArn: "arn:aws:iam::123456789012:instance-profile/lab",
  securityGroupIds: ["sg-0123456789abcdef0"],
  assignPublicIp: true,
};

/** Props builders: minimal valid props, with overrides for the bad cases. */
const masterProps = (stack: TerraformStack, o: Partial<MasterProps> = {}): MasterProps => ({
  cluster: cluster(stack),
  network: new Network(stack, "Net", { mode: "default" }),
  instanceType: "t3.medium",
  instanceProfileArn: "arn:aws:iam::123456789012:instance-profile/lab",
  broker: { image: "rabbitmq:3.13.7-management-alpine", publisherImage: "node:22.12.0-alpine3.21", metric: queueLengthMetric("lab", [60, 60]) },
  ...o,
});
const taskProps = (o: Partial<TaskProps> = {}): TaskProps => ({
  family: "lab-app",
  networkMode: "bridge",
  executionRoleArn: "arn:aws:iam::123456789012:role/exec",
  containers: [container],
  logGroupName: "/lab/app",
  logRetentionDays: 7,
  ...o,
});
const capacityProps = (stack: TerraformStack, o: Partial<WorkerCapacityProps> = {}): WorkerCapacityProps => ({
  clusterName: "lab",
  launchTemplate: new EcsLaunchTemplate(stack, "Lt", ltProps),
  subnetIds: ["subnet-0123456789abcdef0"],
  ...o,
});
const workerProps = (stack: TerraformStack, o: Partial<WorkerServiceProps> = {}): WorkerServiceProps => ({
  cluster: cluster(stack),
  capacityProviderName: "hyperflow-lab-workers",
  amqpUrlSecretRef: `${SECRET_ARN}:amqp_url::`,
  image: "hyperflowwms/hyperflow-worker:1.0.0",
  ...o,
});
const reporterProps = (stack: TerraformStack, o: Partial<StatusReporterProps> = {}): StatusReporterProps => ({
  cluster: cluster(stack),
  image: "hyperflowwms/status-reporter:1.0.0",
  metricsUrl: "http://10.0.0.5:8086/hf",
  ...o,
});
const scalingProps = (stack: TerraformStack, o: Partial<QueueScalingProps> = {}): QueueScalingProps => ({
  clusterName: "lab",
  service: new WorkerService(stack, "Workers", workerProps(stack)).resource,
  metric: queueLengthMetric("lab", [10, 10]),
  ...o,
});
const monitoringProps = (stack: TerraformStack, o: Partial<MonitoringHostProps> = {}): MonitoringHostProps => ({
  name: "lab-monitoring",
  network: new Network(stack, "Net", { mode: "default" }),
  influxdbImage: "influxdb:1.8.10",
  grafanaImage: "grafana/grafana:11.3.1",
  ...o,
});
const engineProps = (stack: TerraformStack, o: Partial<EngineTaskProps> = {}): EngineTaskProps => ({
  clusterName: "lab",
  bucket: new WorkflowBucket(stack, "Bucket"),
  broker: brokerOf(SECRET_ARN),
  prefix: "",
  engineImage: "123456789012.dkr.ecr.eu-central-1.amazonaws.com/lab/engine:0123456789ab",
  logRetentionDays: 7,
  ...o,
});
const SIDECARS = { redisImage: "redis:7.4.1-alpine", fetchImage: "amazon/aws-cli:2.22.0" };
const KMS_KEY = "arn:aws:kms:eu-central-1:123456789012:key/0123abcd-0123-abcd-0123-0123456789ab";
const uploadProps = (o: Partial<JobUploadProps> = {}): JobUploadProps => ({
  jobDir: "/jobs/montage",
  contentHash: "abc123",
  bucket: "lab-bucket",
  prefix: "",
  uploader: ["node", "/opt/hflow/cli/index.js"],
  ...o,
});
const ecsProps = (stack: TerraformStack, o: Partial<HyperflowEcsProps> = {}): HyperflowEcsProps => ({
  clusterName: "lab",
  network: new Network(stack, "Net", { mode: "default" }),
  images: {
    broker: "rabbitmq:3.13.7-management-alpine",
    worker: "hyperflowwms/hyperflow-worker:1.0.0",
    publisher: "node:22.12.0-alpine3.21",
    statusReporter: "hyperflowwms/status-reporter:1.0.0",
  },
  ...o,
});

describe("each construct builds alone from minimal props", () => {
  test("Network, every mode", () => {
    for (const props of [{ mode: "default" }, { mode: "new" }, { mode: "existing", vpcId: "vpc-0abc1234" }] as NetworkProps[]) {
      const stack = bareStack();
      const network = new Network(stack, "Net", props);
      const json = synth(stack);
      expect(network.mode).toBe(props.mode);
      if (props.mode === "new") expect(resources(json, "aws_subnet")).toHaveLength(2);
      else expect(Object.keys(json.data?.aws_vpc ?? {})).toHaveLength(1);
    }
  });

  test("ServiceRole, with a managed policy and an inline policy", () => {
    const stack = bareStack();
    const r = new ServiceRole(stack, "Role", {
      service: "ec2.amazonaws.com",
      namePrefix: "lab-",
      description: "d",
      managedPolicyArns: ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
    });
    grantPutMetricData(r, "hyperflow");
    const json = synth(stack);
    expect(Object.keys(json.resource!.aws_iam_role_policy_attachment)[0]).toMatch(/^Role_ManagedAmazonSSMManagedInstanceCore_/);
    expect(only(json, "aws_iam_role_policy")).toEqual(
      expect.objectContaining({ name: "PutMetricData", role: expect.stringMatching(/^\$\{aws_iam_role\.Role_[0-9A-F]{8}\.id\}$/) }),
    );
  });

  test("WorkflowBucket, its grants to a role of this stack and to an imported role", () => {
    const stack = bareStack();
    const bucket = new WorkflowBucket(stack, "Bucket");
    bucket.grantRead(role(stack));
    bucket.grantReadWrite(ImportedRole.fromRoleName(stack, "workers-role"), "WorkersUseBucket");
    const json = synth(stack);
    const policies = json.resource!.aws_iam_role_policy;
    expect(policies.WorkersUseBucket.role).toBe("workers-role");
    const read = Object.values<any>(policies).find((p) => p.name === "WorkflowBucketRead");
    expect(JSON.parse(read.policy).Statement[1].Resource).toEqual([`\${${"aws_s3_bucket"}.${Object.keys(json.resource!.aws_s3_bucket)[0]}.arn}/*`]);
  });

  test("WorkflowBucket.fromBucketName: ARN in the stack's partition", () => {
    const stack = bareStack();
    WorkflowBucket.fromBucketName(stack, "montage-data").grantReadWrite(role(stack));
    const json = synth(stack);
    expect(JSON.parse(only(json, "aws_iam_role_policy").policy).Statement[0].Resource).toEqual([
      `arn:\${data.aws_partition.${Object.keys(json.data!.aws_partition)[0]}.partition}:s3:::montage-data`,
    ]);
  });

  test("Task: containers log to the provider's region", () => {
    const stack = bareStack();
    new Task(stack, "Task", taskProps());
    const td = only(synth(stack), "aws_ecs_task_definition");
    expect(JSON.parse(td.container_definitions)[0].logConfiguration.options["awslogs-region"]).toBe(REGION);
  });

  test("EcsLaunchTemplate and WorkerCapacity", () => {
    const stack = bareStack();
    new WorkerCapacity(stack, "Capacity", capacityProps(stack));
    const json = synth(stack);
    expect(only(json, "aws_ecs_capacity_provider").name).toBe("hyperflow-lab-workers");
    expect(only(json, "aws_launch_template").name_prefix).toBe("lab-worker-");
    expect(only(json, "aws_autoscaling_group").vpc_zone_identifier).toEqual(["subnet-0123456789abcdef0"]);
  });

  test("Master with its broker", () => {
    const stack = bareStack();
    const master = new Master(stack, "Master", masterProps(stack));
    const json = synth(stack);
    expect(only(json, "aws_instance").launch_template.id).toMatch(/aws_launch_template\.Master_LaunchTemplate/);
    expect(master.broker).toBeInstanceOf(Broker);
    expect(only(json, "aws_ecs_service").name).toBe("hyperflow-service-master");
    // The cluster's execution role may read the broker secret.
    expect(Object.keys(json.resource!.aws_iam_role_policy)).toEqual(expect.arrayContaining([expect.stringMatching(/^ExecutionRole_ReadBrokerSecret_/)]));
  });

  test("WorkerService, StatusReporter, QueueScaling", () => {
    const stack = bareStack();
    const scaling = new QueueScaling(stack, "Scaling", scalingProps(stack));
    new StatusReporter(stack, "Reporter", reporterProps(stack));
    const json = synth(stack);
    expect(only(json, "aws_appautoscaling_target").resource_id).toMatch(/^service\/lab\/\$\{aws_ecs_service\.Workers_Service_[0-9A-F]{8}\.name\}$/);
    expect(scaling.resource).toBeDefined();
    expect(
      resources(json, "aws_ecs_service")
        .map((s) => s.name)
        .sort(),
    ).toEqual(["hyperflow-service-worker", "hyperflow-status-reporter"]);
    expect(resources(json, "aws_cloudwatch_metric_alarm")).toHaveLength(2);
  });

  test("HyperflowEcs", () => {
    const stack = bareStack();
    const h = new HyperflowEcs(stack, "Hyperflow", ecsProps(stack));
    const json = synth(stack);
    expect(only(json, "aws_ecs_cluster").name).toBe("lab");
    // Every service runs in this cluster: the context carries its ARN.
    const clusterArn = `\${aws_ecs_cluster.${Object.keys(json.resource!.aws_ecs_cluster)[0]}.arn}`;
    expect(resources(json, "aws_ecs_service").map((svc) => svc.cluster)).toEqual([clusterArn, clusterArn]);
    expect(h.context.clusterName).toBe("lab");
    expect(h.statusReporter).toBeUndefined();
  });

  test("MonitoringHost: user data names the provider's region", () => {
    const stack = bareStack();
    new MonitoringHost(stack, "Monitoring", monitoringProps(stack));
    const json = synth(stack);
    expect(only(json, "aws_instance").user_data).toContain(`AWS_REGION=${REGION}`);
    expect(only(json, "aws_iam_role_policy").name).toBe("ReadAdminSecret");
  });

  test("EngineTask and JobUpload", () => {
    const stack = bareStack();
    const engine = new EngineTask(stack, "Engine", engineProps(stack));
    new JobUpload(stack, "Upload", uploadProps());
    const json = synth(stack);
    expect(engine.resource).toBe(engine.task.resource);
    expect(
      Object.values<any>(json.resource!.aws_iam_role_policy)
        .map((p) => p.name)
        .sort(),
    ).toEqual(["ReadBrokerSecret", "WorkflowBucketRead", "WriteRunResults"]);
    expect(only(json, "terraform_data").provisioner[0]["local-exec"].command).toContain(`--region '${REGION}'`);
  });
});

describe("ImageRepository", () => {
  test("defaults: immutable tags, scan on push, AES256, lifecycle 7 days / 30 images, no force delete; imageRef names repository and tag", () => {
    const stack = bareStack();
    const repo = new ImageRepository(stack, "Repo", { name: repositoryName("ecs_test_cluster_hyperflow", "worker") });
    const json = synth(stack);
    const r = only(json, "aws_ecr_repository");
    expect(r).toEqual(
      expect.objectContaining({
        name: "ecs_test_cluster_hyperflow/worker".replace(/_/g, "-"),
        image_tag_mutability: "IMMUTABLE",
        image_scanning_configuration: { scan_on_push: true },
        encryption_configuration: [{ encryption_type: "AES256" }],
        force_delete: false,
      }),
    );
    const rules = JSON.parse(only(json, "aws_ecr_lifecycle_policy").policy).rules;
    expect(rules.map((x: any) => [x.selection.tagStatus, x.selection.countNumber])).toEqual([
      ["untagged", 7],
      ["tagged", 30],
    ]);
    expect(repo.imageRef("0123456789ab")).toMatch(/^\$\{TfToken\[TOKEN\.\d+\]\}:0123456789ab$/);
  });

  test("repository names from cluster names: lowercase, other characters as one '-', never empty", () => {
    expect(repositoryName("ecs_test_cluster_hyperflow", "engine")).toBe("ecs-test-cluster-hyperflow/engine");
    expect(repositoryName("Lab--One_", "worker")).toBe("lab-one/worker");
    expect(repositoryName("___", "worker")).toBe("hyperflow/worker");
    for (const n of ["a", "A_B", "x-1_y", "-lead"]) expect(rules.ECR_REPOSITORY_NAME.test(repositoryName(n, "engine"))).toBe(true);
  });

  test("KMS with a key", () => {
    const stack = bareStack();
    new ImageRepository(stack, "Repo", { name: "lab/engine", encryption: "KMS", kmsKeyArn: KMS_KEY, forceDelete: true });
    expect(only(synth(stack), "aws_ecr_repository")).toEqual(
      expect.objectContaining({ encryption_configuration: [{ encryption_type: "KMS", kms_key: KMS_KEY }], force_delete: true }),
    );
  });
});

describe("AwsEnvironment", () => {
  test("one data source of each kind per stack, however many constructs ask", () => {
    const stack = bareStack();
    new ServiceRole(stack, "A", { service: "ecs-tasks.amazonaws.com", namePrefix: "a-", description: "d", sourceAccount: AwsEnvironment.of(stack).accountId });
    new EngineTask(stack, "Engine", engineProps(stack));
    WorkflowBucket.fromBucketName(stack, "montage-data").grantRead(role(stack, "Reader"));
    const json = synth(stack);
    expect(Object.keys(json.data!.aws_caller_identity)).toEqual([expect.stringMatching(/^AwsEnvironment_Account_/)]);
    expect(Object.keys(json.data!.aws_partition)).toEqual([expect.stringMatching(/^AwsEnvironment_Partition_/)]);
    expect(json.data!.aws_region).toBeUndefined();
  });

  test("only what is read is created; a provider without a literal region makes a region data source", () => {
    const stack = bareStack(null);
    const env = AwsEnvironment.of(stack);
    expect(env.region).toMatch(/^\$\{TfToken/);
    const json = synth(stack);
    expect(Object.keys(json.data!)).toEqual(["aws_region"]);
  });

  test("a foreign child with its id is an error, not a silent second environment", () => {
    const stack = bareStack();
    role(stack, "AwsEnvironment");
    expect(() => AwsEnvironment.of(stack)).toThrow(/already has a child named "AwsEnvironment"/);
  });
});

describe("ids keyed by content", () => {
  /** Resource key by a field of the resource, e.g. rule id by CIDR. */
  const keysBy = (json: TfJson, type: string, field: (r: any) => string) =>
    Object.fromEntries(Object.entries<any>(json.resource![type]).map(([k, r]) => [field(r), k]));
  test("removing a CIDR keeps the rule ids of the others", () => {
    const rules = (cidrs: string[]) => {
      const stack = bareStack();
      new Master(stack, "Master", masterProps(stack, { adminCidrs: cidrs }));
      return keysBy(synth(stack), "aws_vpc_security_group_ingress_rule", (r) => r.cidr_ipv4 ?? r.cidr_ipv6 ?? "workers");
    };
    const all = rules(["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"]);
    const fewer = rules(["198.51.100.0/24", "2001:db8::/32"]);
    expect(Object.keys(all)).toHaveLength(3);
    expect(fewer).toEqual({ "198.51.100.0/24": all["198.51.100.0/24"], "2001:db8::/32": all["2001:db8::/32"] });
    expect(all["2001:db8::/32"]).toMatch(/^Master_AdminUi-2001_db8___32_[0-9A-F]{8}$/);
  });
  test("removing a managed policy keeps the attachment ids of the others", () => {
    const attachments = (names: string[]) => {
      const stack = bareStack();
      new ServiceRole(stack, "Role", { ...roleProps, managedPolicyArns: names.map((n) => `arn:aws:iam::aws:policy/${n}`) });
      return keysBy(synth(stack), "aws_iam_role_policy_attachment", (r) => r.policy_arn);
    };
    const all = attachments(["A", "service-role/B", "C"]);
    const fewer = attachments(["service-role/B", "C"]);
    expect(fewer).toEqual({
      "arn:aws:iam::aws:policy/service-role/B": all["arn:aws:iam::aws:policy/service-role/B"],
      "arn:aws:iam::aws:policy/C": all["arn:aws:iam::aws:policy/C"],
    });
    expect(all["arn:aws:iam::aws:policy/service-role/B"]).toMatch(/^Role_ManagedB_[0-9A-F]{8}$/);
  });
});

describe("bad props fail with a PropsError naming construct, prop, value and what is allowed", () => {
  const s = () => bareStack();
  /** The exact message of a check with a rule: the allowed-text is the rule's (constructs/core/rules.ts), as in config errors. */
  const ruled = <T>(construct: string, prop: string, value: T, rule: Rule<T>) =>
    `${construct}: invalid ${prop} ${JSON.stringify(value)}; allowed: ${rule.allowed}`;
  const cases: [string, () => unknown, RegExp | string][] = [
    [
      "HyperflowEcs clusterName",
      () => {
        const st = s();
        new HyperflowEcs(st, "H", ecsProps(st, { clusterName: "no spaces" }));
      },
      ruled("HyperflowEcs", "clusterName", "no spaces", rules.ECS_CLUSTER_NAME),
    ],
    ["Network vpcId", () => new Network(s(), "N", { mode: "existing", vpcId: "vpc-XYZ" }), ruled("Network", "vpcId", "vpc-XYZ", rules.VPC_ID)],
    [
      "Network subnetIds",
      () => new Network(s(), "N", { mode: "existing", vpcId: "vpc-0abc1234", subnetIds: ["sn-1"] }),
      ruled("Network", "subnetIds", "sn-1", rules.SUBNET_ID),
    ],
    [
      "Network empty subnetIds",
      () => new Network(s(), "N", { mode: "existing", vpcId: "vpc-0abc1234", subnetIds: [] }),
      /^Network: invalid subnetIds \[\]; allowed: at least one subnet id/,
    ],
    ["Network azCount", () => new Network(s(), "N", { mode: "new", azCount: 7 }), ruled("Network", "azCount", 7, rules.AZ_COUNT)],
    ["Network cidr", () => new Network(s(), "N", { mode: "new", cidr: "10.0.0.0/24" }), ruled("Network", "cidr", "10.0.0.0/24", rules.NEW_VPC_CIDR)],
    [
      "WorkflowBucket namePrefix",
      () => new WorkflowBucket(s(), "B", { namePrefix: "Upper" }),
      ruled("WorkflowBucket", "namePrefix", "Upper", rules.BUCKET_NAME_PREFIX),
    ],
    [
      "WorkflowBucket abortIncompleteUploadsAfterDays",
      () => new WorkflowBucket(s(), "B", { abortIncompleteUploadsAfterDays: 0 }),
      /^WorkflowBucket: invalid abortIncompleteUploadsAfterDays 0; allowed: an integer from 1 to 365/,
    ],
    [
      "WorkflowBucket.fromBucketName bucketName",
      () => WorkflowBucket.fromBucketName(s(), "Bad_Name"),
      ruled("WorkflowBucket.fromBucketName", "bucketName", "Bad_Name", rules.S3_BUCKET_NAME),
    ],
    [
      "ServiceRole managedPolicyArns (duplicate name)",
      () => new ServiceRole(s(), "R", { ...roleProps, managedPolicyArns: ["arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/x/A"] }),
      /^ServiceRole: invalid managedPolicyArns \[.*\]; allowed: policies with distinct names \(A appears twice\)/,
    ],
    [
      "ServiceRole managedPolicyArns (no literal name)",
      () => new ServiceRole(s(), "R", { ...roleProps, managedPolicyArns: ["arn:aws:iam::aws:policy"] }),
      /^ServiceRole: invalid managedPolicyArns "arn:aws:iam::aws:policy"; allowed: policy ARNs ending in a literal policy name/,
    ],
    [
      "PolicyStatement actions",
      () => policyDocument([{ sid: "All", actions: ["*"], resources: ["*"] }]),
      /^PolicyStatement: invalid actions of statement All "\*"; allowed: named actions/,
    ],
    [
      "Task containers (none)",
      () => new Task(s(), "T", taskProps({ containers: [] })),
      /^Task lab-app: invalid containers \[\]; allowed: at least one container/,
    ],
    [
      "Task containers (duplicate name)",
      () => new Task(s(), "T", taskProps({ containers: [container, container] })),
      /^Task lab-app: invalid containers\[\]\.name \["app","app"\]; allowed: distinct values/,
    ],
    [
      "Task volumes (duplicate name)",
      () => new Task(s(), "T", taskProps({ volumes: [{ name: "v" }, { name: "v" }] })),
      /^Task lab-app: invalid volumes\[\]\.name \["v","v"\]; allowed: distinct values/,
    ],
    [
      "Task dependsOn",
      () => new Task(s(), "T", taskProps({ containers: [{ ...container, dependsOn: [{ containerName: "db", condition: "START" }] }] })),
      /^Task lab-app: invalid containers\[app\]\.dependsOn "db"; allowed: another container of the task \(none\)/,
    ],
    [
      "Task mountPoints",
      () => new Task(s(), "T", taskProps({ containers: [{ ...container, mountPoints: [{ sourceVolume: "data", containerPath: "/d" }] }] })),
      /^Task lab-app: invalid containers\[app\]\.mountPoints "data"; allowed: a volume of the task \(none\)/,
    ],
    [
      "EcsLaunchTemplate rootVolumeSizeGiB",
      () => new EcsLaunchTemplate(s(), "L", { ...ltProps, rootVolumeSizeGiB: 8 }),
      ruled("EcsLaunchTemplate", "rootVolumeSizeGiB", 8, rules.ROOT_VOLUME_GIB),
    ],
    [
      "WorkerCapacity minSize > maxSize",
      () => {
        const st = s();
        new WorkerCapacity(st, "C", capacityProps(st, { minSize: 6 }));
      },
      /^WorkerCapacity: invalid minSize \(6\) with maxSize 5; allowed: minSize <= maxSize/,
    ],
    [
      "WorkerCapacity desiredCapacity > maxSize",
      () => {
        const st = s();
        new WorkerCapacity(st, "C", capacityProps(st, { desiredCapacity: 9 }));
      },
      /^WorkerCapacity: invalid desiredCapacity \(9\) with maxSize 5; allowed: desiredCapacity <= maxSize/,
    ],
    [
      "WorkerCapacity minSize > desiredCapacity",
      () => {
        const st = s();
        new WorkerCapacity(st, "C", capacityProps(st, { minSize: 3, desiredCapacity: 2 }));
      },
      /^WorkerCapacity: invalid minSize \(3\) with desiredCapacity 2; allowed: minSize <= desiredCapacity/,
    ],
    [
      "WorkerCapacity maxScalingStep",
      () => {
        const st = s();
        new WorkerCapacity(st, "C", capacityProps(st, { maxScalingStep: 0 }));
      },
      ruled("WorkerCapacity", "maxScalingStep", 0, rules.INSTANCE_SCALING_STEP),
    ],
    [
      "WorkerCapacity targetCapacityPercent",
      () => {
        const st = s();
        new WorkerCapacity(st, "C", capacityProps(st, { targetCapacityPercent: 120 }));
      },
      ruled("WorkerCapacity", "targetCapacityPercent", 120, rules.TARGET_CAPACITY_PERCENT),
    ],
    [
      "Master adminCidrs",
      () => {
        const st = s();
        new Master(st, "M", masterProps(st, { adminCidrs: ["203.0.113.0/24", "203.0.113.0/24"] }));
      },
      /^Master: invalid adminCidrs \["203\.0\.113\.0\/24","203\.0\.113\.0\/24"\]; allowed: distinct values/,
    ],
    [
      "Master broker.secretRecoveryDays",
      () => {
        const st = s();
        const p = masterProps(st);
        new Master(st, "M", { ...p, broker: { ...p.broker, secretRecoveryDays: 3 } });
      },
      ruled("Master", "broker.secretRecoveryDays", 3, rules.RECOVERY_WINDOW),
    ],
    [
      "WorkerService desiredCount",
      () => {
        const st = s();
        new WorkerService(st, "W", workerProps(st, { desiredCount: -1 }));
      },
      ruled("WorkerService", "desiredCount", -1, rules.TASK_COUNT),
    ],
    [
      "WorkerService threads",
      () => {
        const st = s();
        new WorkerService(st, "W", workerProps(st, { threads: 0 }));
      },
      ruled("WorkerService", "threads", 0, rules.EXECUTOR_THREADS),
    ],
    [
      "StatusReporter diskDevice",
      () => {
        const st = s();
        new StatusReporter(st, "R", reporterProps(st, { diskDevice: "/dev/xvda" }));
      },
      ruled("StatusReporter", "diskDevice", "/dev/xvda", rules.BLOCK_DEVICE),
    ],
    [
      "StatusReporter networkInterface",
      () => {
        const st = s();
        new StatusReporter(st, "R", reporterProps(st, { networkInterface: "eth 0" }));
      },
      ruled("StatusReporter", "networkInterface", "eth 0", rules.NETWORK_INTERFACE),
    ],
    [
      "QueueScaling minCapacity > maxCapacity",
      () => {
        const st = s();
        new QueueScaling(st, "Q", scalingProps(st, { minCapacity: 5, maxCapacity: 2 }));
      },
      /^QueueScaling: invalid minCapacity \(5\) with maxCapacity 2; allowed: minCapacity <= maxCapacity/,
    ],
    [
      "QueueScaling scalingAdjustment",
      () => {
        const st = s();
        new QueueScaling(st, "Q", scalingProps(st, { scalingAdjustment: 0 }));
      },
      ruled("QueueScaling", "scalingAdjustment", 0, rules.TASK_SCALING_ADJUSTMENT),
    ],
    [
      "QueueScaling lowThreshold",
      () => {
        const st = s();
        new QueueScaling(st, "Q", scalingProps(st, { lowThreshold: 10, highThreshold: 10 }));
      },
      /^QueueScaling: invalid lowThreshold 10; allowed: a number below highThreshold \(10\)/,
    ],
    [
      "QueueScaling period below 60 s at standard resolution",
      () => {
        const st = s();
        new QueueScaling(st, "Q", scalingProps(st, { metric: queueLengthMetric("lab", [60, 60]), highPeriodSeconds: 30 }));
      },
      /^QueueScaling: invalid highPeriodSeconds 30; allowed: 60 or a multiple of it, unless the metric is published at high resolution/,
    ],
    [
      "MonitoringHost database",
      () => {
        const st = s();
        new MonitoringHost(st, "M", monitoringProps(st, { database: "hf-db" }));
      },
      ruled("MonitoringHost", "database", "hf-db", rules.INFLUXDB_DATABASE),
    ],
    [
      "MonitoringHost dataVolumeGiB",
      () => {
        const st = s();
        new MonitoringHost(st, "M", monitoringProps(st, { dataVolumeGiB: 0 }));
      },
      ruled("MonitoringHost", "dataVolumeGiB", 0, rules.MONITORING_VOLUME_GIB),
    ],
    [
      "MonitoringHost secretRecoveryDays",
      () => {
        const st = s();
        new MonitoringHost(st, "M", monitoringProps(st, { secretRecoveryDays: 31 }));
      },
      ruled("MonitoringHost", "secretRecoveryDays", 31, rules.RECOVERY_WINDOW),
    ],
    [
      "MonitoringHost adminCidrs",
      () => {
        const st = s();
        new MonitoringHost(st, "M", monitoringProps(st, { adminCidrs: ["2001:db8::/32", "2001:db8::/32"] }));
      },
      /^MonitoringHost: invalid adminCidrs \["2001:db8::\/32","2001:db8::\/32"\]; allowed: distinct values/,
    ],
    [
      "EngineTask prefix",
      () => {
        const st = s();
        new EngineTask(st, "E", engineProps(st, { prefix: "montage" }));
      },
      ruled("EngineTask", "prefix", "montage", rules.KEY_PREFIX),
    ],
    [
      "EngineTask workflowFile",
      () => {
        const st = s();
        new EngineTask(st, "E", engineProps(st, { workflowFile: "../dag.json" }));
      },
      /^EngineTask: invalid workflowFile "\.\.\/dag\.json"; allowed: a \.json file name below workdir\//,
    ],
    [
      "EngineTask engineMemoryMiB",
      () => {
        const st = s();
        new EngineTask(st, "E", engineProps(st, { engineMemoryMiB: 64 }));
      },
      ruled("EngineTask", "engineMemoryMiB", 64, rules.ENGINE_MEMORY_MIB),
    ],
    [
      "EngineTask timeoutSeconds",
      () => {
        const st = s();
        new EngineTask(st, "E", engineProps(st, { timeoutSeconds: -1 }));
      },
      ruled("EngineTask", "timeoutSeconds", -1, rules.RUN_TIMEOUT_SECONDS),
    ],
    [
      "EngineTask taskContainer without sidecars",
      () => {
        const st = s();
        new EngineTask(st, "E", engineProps(st, { taskContainer: "x/y:1" }));
      },
      /^EngineTask: invalid taskContainer "x\/y:1"; allowed: nothing without sidecars/,
    ],
    [
      "EngineTask timeoutSeconds with sidecars",
      () => {
        const st = s();
        new EngineTask(st, "E", engineProps(st, { timeoutSeconds: 60, sidecars: SIDECARS }));
      },
      /^EngineTask: invalid timeoutSeconds 60; allowed: nothing with sidecars/,
    ],
    [
      "Task stopTimeoutSeconds",
      () => new Task(s(), "T", taskProps({ containers: [{ ...container, stopTimeoutSeconds: 121 }] })),
      /^Task lab-app: invalid containers\[app\]\.stopTimeoutSeconds 121; allowed: an integer from 2 to 120/,
    ],
    [
      "ImageRepository name",
      () => new ImageRepository(s(), "R", { name: "Lab/Worker" }),
      ruled("ImageRepository", "name", "Lab/Worker", rules.ECR_REPOSITORY_NAME),
    ],
    [
      "ImageRepository kmsKeyArn without KMS",
      () => new ImageRepository(s(), "R", { name: "lab/worker", kmsKeyArn: KMS_KEY }),
      /^ImageRepository: invalid kmsKeyArn ".*"; allowed: nothing unless encryption is "KMS"/,
    ],
    [
      "ImageRepository kmsKeyArn",
      () => new ImageRepository(s(), "R", { name: "lab/worker", encryption: "KMS", kmsKeyArn: "key/1" }),
      ruled("ImageRepository", "kmsKeyArn", "key/1", rules.KMS_KEY_ARN),
    ],
    [
      "ImageRepository untaggedExpiryDays",
      () => new ImageRepository(s(), "R", { name: "lab/worker", untaggedExpiryDays: 0 }),
      ruled("ImageRepository", "untaggedExpiryDays", 0, rules.UNTAGGED_EXPIRY_DAYS),
    ],
    [
      "ImageRepository keepTaggedImages",
      () => new ImageRepository(s(), "R", { name: "lab/worker", keepTaggedImages: 0 }),
      ruled("ImageRepository", "keepTaggedImages", 0, rules.KEEP_TAGGED_IMAGES),
    ],
    [
      "ImageRepository imageRef latest",
      () => new ImageRepository(s(), "R", { name: "lab/worker" }).imageRef("latest"),
      ruled("ImageRepository.imageRef", "tag", "latest", rules.IMAGE_TAG),
    ],
    [
      "JobUpload jobDir",
      () => new JobUpload(s(), "U", uploadProps({ jobDir: "jobs/montage" })),
      /^JobUpload: invalid jobDir "jobs\/montage"; allowed: an absolute path/,
    ],
    ["JobUpload prefix", () => new JobUpload(s(), "U", uploadProps({ prefix: "montage" })), ruled("JobUpload", "prefix", "montage", rules.KEY_PREFIX)],
    ["JobUpload uploader", () => new JobUpload(s(), "U", uploadProps({ uploader: [] })), /^JobUpload: invalid uploader \[\]; allowed: a command/],
  ];
  test.each(cases)("%s", (_name, build, message) => {
    let error: unknown;
    try {
      build();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PropsError);
    if (typeof message === "string") expect((error as Error).message).toBe(message);
    else expect((error as Error).message).toMatch(message);
  });
});
