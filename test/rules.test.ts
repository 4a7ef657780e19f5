import { z } from "zod";
import * as rules from "../constructs/core/rules";
import { emptyOr, type IntRange, type Rule, ruleMessage } from "../constructs/core/rules";
import { checked, intIn } from "../config/schema/common";
import { ConfigError, validateConfig } from "../config/load";
import { Testing, TerraformStack } from "cdktf";
import { PropsError } from "../constructs/core/validation";
import { Broker, type BrokerOptions } from "../constructs/ecs/broker";
import { HyperflowEcs, type HyperflowEcsProps } from "../constructs/ecs/hyperflow-ecs";
import { StatusReporter, type StatusReporterProps } from "../constructs/ecs/status-reporter";
import { EksCluster } from "../constructs/eks/eks-cluster";
import { GkeCluster } from "../constructs/gke/gke-cluster";
import { HyperflowK8s } from "../constructs/k8s/hyperflow-k8s";
import { MonitoringHost, type MonitoringHostProps } from "../constructs/monitoring/monitoring-host";
import { Network } from "../constructs/network/network";
import { EngineTask, type EngineTaskProps } from "../constructs/engine/engine-task";
import { WorkflowBucket } from "../constructs/storage/workflow-bucket";
import { JobUpload } from "../constructs/engine/job-upload";

type AnyRule = Rule<any>;
const isRule = (v: unknown): v is AnyRule =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as AnyRule).test === "function" &&
  typeof (v as AnyRule).problem === "function" &&
  typeof (v as AnyRule).allowed === "string";
const isRange = (r: AnyRule): r is IntRange => typeof (r as IntRange).min === "number" && typeof (r as IntRange).max === "number";

/** Every rule exported by constructs/core/rules.ts: a value it allows and one it rejects. */
const table: Record<string, [valid: unknown, invalid: unknown]> = {
  AWS_REGION: ["eu-central-1", "europe-1"],
  INSTANCE_TYPE: ["m7g.large", "t3"],
  AMI_ID: ["ami-0123456789abcdef0", "ami-XYZ"],
  VPC_ID: ["vpc-0abc1234", "my-vpc"],
  SUBNET_ID: ["subnet-0abc1234", "subnet-1"],
  ECS_CLUSTER_NAME: ["ecs_test_cluster-1", "x".repeat(201)],
  EKS_CLUSTER_NAME: ["Lab_cluster-1", "-lab"],
  GKE_CLUSTER_NAME: ["lab-1", "Lab_1"],
  K8S_CLUSTER_NAME: ["hyperflow", "hyperflow-"],
  S3_BUCKET_NAME: ["my-tf-state", "My_Bucket"],
  BUCKET_NAME_PREFIX: ["hyperflow-", "x".repeat(38)],
  KEY_PREFIX: ["montage/0.25/", "montage"],
  TAG_KEY: ["project", "aws:owner"],
  TAG_VALUE: ["lab 1", "a".repeat(257)],
  CIDR: ["203.0.113.0/24", "192.168.1.7/24"],
  NEW_VPC_CIDR: ["10.0.0.0/16", "10.0.0.0/24"],
  PRIVATE_CIDR: ["10.0.0.0/16", "203.0.113.0/24"],
  ELASTICACHE_NODE_TYPE: ["cache.t4g.small", "t4g.small"],
  ALARM_PERIOD: [120, 45],
  LOG_RETENTION: [30, 10],
  RECOVERY_WINDOW: [0, 7.5],
  INFLUXDB_URL: ["http://10.0.0.5:8086/hyperflow_tests", "influx:8086"],
  INFLUXDB_DATABASE: ["hyperflow_tests", "hyperflow-tests"],
  PINNED_IMAGE: ["public.ecr.aws/docker/library/redis:7.4.1-alpine", "rabbitmq:latest"],
  ECR_REPOSITORY_NAME: ["ecs-test-cluster-hyperflow/worker", "Lab/Worker"],
  IMAGE_TAG: ["0123456789ab", "latest"],
  KMS_KEY_ARN: ["arn:aws:kms:us-east-1:123456789012:key/0123abcd-0123-abcd-0123-0123456789ab", "alias/ecr"],
  UNTAGGED_EXPIRY_DAYS: [7, 0],
  KEEP_TAGGED_IMAGES: [30, 10_001],
  RUN_TIMEOUT_SECONDS: [0, -1],
  OUTAGE_SECONDS: [90, 86_401],
  K8S_NAMESPACE: ["hyperflow", "HyperFlow"],
  K8S_JOB_NAME: ["viz-trace", "x".repeat(53)],
  MARKER_FILE: ["parsingFinished", "a b"],
  K8S_LABEL: ["hyperflow-wms/nodepool", "-hfworker"],
  K8S_QUANTITY: ["500m", "50 MB"],
  K8S_VERSION: ["1.33", "1.3"],
  GCP_PROJECT_ID: ["hyperflow-lab-1", "Lab"],
  GCP_LOCATION: ["europe-west4-a", "europe"],
  GCP_REGION: ["europe-west4", "europe-west4-a"],
  GCP_MACHINE_TYPE: ["e2-standard-4", "E2-Standard-4"],
  K8S_STORAGE_CLASS: ["standard-rwx", "Standard_RWX"],
  EKS_VERSION: ["1.33", "1.28"],
  IAM_PRINCIPAL_ARN: ["arn:aws:iam::123456789012:role/admins/lab-admin", "arn:aws:sts::123456789012:assumed-role/lab-admin/me"],
  BLOCK_DEVICE: ["nvme0n1p1", "/dev/xvda"],
  NETWORK_INTERFACE: ["ens5", "eth-0"],
  ROOT_VOLUME_GIB: [30, 29],
  AZ_COUNT: [6, 7],
  TASK_COUNT: [0, -1],
  EXECUTOR_THREADS: [256, 0],
  INSTANCE_SCALING_STEP: [10_000, 10_001],
  TARGET_CAPACITY_PERCENT: [100, 101],
  TASK_SCALING_ADJUSTMENT: [1, 1.5],
  MONITORING_VOLUME_GIB: [20, 0],
  ENGINE_MEMORY_MIB: [1024, 64],
  WORK_VOLUME_GIB: [50, 65_537],
  K8S_JOB_RETRIES: [0, 21],
  NODE_POOL_MAX: [1000, 0],
  ENGINE_DEADLINE_SECONDS: [604_800, 60],
  LAMBDA_MEMORY_MIB: [2048, 64],
  LAMBDA_TIMEOUT_SECONDS: [900, 901],
  LAMBDA_EPHEMERAL_STORAGE_MIB: [10_240, 256],
  LAMBDA_RESERVED_CONCURRENCY: [100, 0],
  LAMBDA_FUNCTION_NAME: ["hyperflow-lambda", "has spaces"],
};

const exported = Object.entries(rules).filter((e): e is [string, AnyRule] => isRule(e[1]));

test("the table covers every exported rule", () => {
  expect(exported.map(([name]) => name).sort()).toEqual(Object.keys(table).sort());
});

describe.each(exported)("%s", (name, rule) => {
  const [valid, invalid] = table[name] ?? [];
  test("accepts a valid value", () => {
    expect(rule.test(valid)).toBe(true);
    expect(rule.problem(valid)).toBeUndefined();
    expect(ruleMessage(rule, valid)).toBeUndefined();
  });
  test("rejects an invalid value, saying what is allowed", () => {
    expect(rule.test(invalid)).toBe(false);
    expect(rule.problem(invalid)).toMatch(/^(is|image) /);
    expect(rule.allowed.length).toBeGreaterThan(5);
    expect(ruleMessage(rule, invalid)).toBe(`${rule.problem(invalid)}; allowed: ${rule.allowed}`);
  });
  test("the schema adapter gives the same verdict and message", () => {
    if (isRange(rule)) {
      expect(intIn(rule).safeParse(valid).success).toBe(true);
      expect(intIn(rule).safeParse(invalid).success).toBe(false);
      return;
    }
    const schema = typeof valid === "number" ? checked(z.number(), rule as Rule<number>) : checked(z.string(), rule as Rule<string>);
    expect(schema.safeParse(valid).success).toBe(true);
    const result = schema.safeParse(invalid);
    expect(result.success).toBe(false);
    // Length bounds of a pattern rule too: every issue carries the rule's own message.
    for (const issue of result.error!.issues) expect(issue.message).toBe(ruleMessage(rule, invalid));
  });
});

test("emptyOr allows the empty string and words it in allowed", () => {
  const rule = emptyOr(rules.PINNED_IMAGE);
  expect(rule.test("")).toBe(true);
  expect(rule.test("node")).toBe(false);
  expect(ruleMessage(rule, "node")).toBe(`image has no tag (Docker would pull \`latest\`); allowed: empty, or ${rules.PINNED_IMAGE.allowed}`);
});

test("pattern rules keep their pattern in the JSON Schema", () => {
  const json = z.toJSONSchema(checked(z.string(), rules.VPC_ID)) as { pattern?: string };
  expect(json.pattern).toBe(rules.VPC_ID.pattern.source);
});

describe("config and constructs name the same allowed-text for the same rule", () => {
  const problemsOf = (input: unknown): { path: string; message: string }[] => {
    try {
      validateConfig(input);
    } catch (e) {
      if (e instanceof ConfigError) return [...e.problems];
      throw e;
    }
    throw new Error("expected a ConfigError");
  };
  const scope = () => new TerraformStack(Testing.app(), "test");
  const k8s = { engineImage: "hyperflowwms/hyperflow:v1.9.1", workerImage: "hyperflowwms/montage-worker:6.0-je1.4.0", redisImage: "redis:7.4.1-alpine" };
  const eks = { clusterName: "lab", version: "1.33", subnetIds: ["subnet-0abc1234"], publicAccessCidrs: ["203.0.113.0/24"] };
  const gke = { clusterName: "lab", project: "hyperflow-lab-1", location: "europe-west4-a", authorizedCidrs: ["203.0.113.0/24"] };
  const cases: [string, AnyRule, unknown, string, unknown, string, () => unknown][] = [
    [
      "ECS cluster name too long",
      rules.ECS_CLUSTER_NAME,
      { ecs: { clusterName: "c".repeat(201) } },
      "ecs.clusterName",
      "c".repeat(201),
      "HyperflowEcs: invalid clusterName",
      () => new HyperflowEcs(scope(), "Ecs", { clusterName: "c".repeat(201) } as HyperflowEcsProps),
    ],
    [
      "namespace",
      rules.K8S_NAMESPACE,
      { kubernetes: { namespace: "HyperFlow" } },
      "kubernetes.namespace",
      "HyperFlow",
      "HyperflowK8s: invalid namespace",
      () => new HyperflowK8s(scope(), "K8s", { ...k8s, namespace: "HyperFlow" }),
    ],
    [
      "post-processing job name",
      rules.K8S_JOB_NAME,
      { kubernetes: { postJobs: [{ name: "Viz", image: "viz:1.0", command: "true" }] } },
      "kubernetes.postJobs.0.name",
      "Viz",
      "HyperflowK8s: invalid postJobs[0].name",
      () => new HyperflowK8s(scope(), "K8s", { ...k8s, postJobs: [{ name: "Viz", image: "viz:1.0", command: "true" }] }),
    ],
    [
      "marker file",
      rules.MARKER_FILE,
      { kubernetes: { postJobs: [{ name: "viz", image: "viz:1.0", command: "true", after: "a b" }] } },
      "kubernetes.postJobs.0.after",
      "a b",
      "HyperflowK8s: invalid postJobs[0].after",
      () => new HyperflowK8s(scope(), "K8s", { ...k8s, postJobs: [{ name: "viz", image: "viz:1.0", command: "true", after: "a b" }] }),
    ],
    [
      "VPC id",
      rules.VPC_ID,
      { network: { mode: "existing", vpcId: "my-vpc" } },
      "network.vpcId",
      "my-vpc",
      "Network: invalid vpcId",
      () => new Network(scope(), "Net", { mode: "existing", vpcId: "my-vpc" }),
    ],
    [
      "new VPC CIDR",
      rules.NEW_VPC_CIDR,
      { network: { mode: "new", cidr: "10.0.0.0/24" } },
      "network.cidr",
      "10.0.0.0/24",
      "Network: invalid cidr",
      () => new Network(scope(), "Net", { mode: "new", cidr: "10.0.0.0/24" }),
    ],
    [
      "InfluxDB database",
      rules.INFLUXDB_DATABASE,
      { monitoring: { database: "hyperflow-tests" } },
      "monitoring.database",
      "hyperflow-tests",
      "MonitoringHost: invalid database",
      () => new MonitoringHost(scope(), "Mon", { database: "hyperflow-tests" } as MonitoringHostProps),
    ],
    [
      "bucket name prefix",
      rules.BUCKET_NAME_PREFIX,
      { runner: { bucketPrefix: "Hyperflow-" } },
      "runner.bucketPrefix",
      "Hyperflow-",
      "WorkflowBucket: invalid namePrefix",
      () => new WorkflowBucket(scope(), "Bucket", { namePrefix: "Hyperflow-" }),
    ],
    [
      "job key prefix",
      rules.KEY_PREFIX,
      { runner: { prefix: "montage" } },
      "runner.prefix",
      "montage",
      "EngineTask: invalid prefix",
      () => new EngineTask(scope(), "Engine", { prefix: "montage" } as EngineTaskProps),
    ],
    [
      "job key prefix (upload)",
      rules.KEY_PREFIX,
      { runner: { prefix: "montage/0.25" } },
      "runner.prefix",
      "montage/0.25",
      "JobUpload: invalid prefix",
      () => new JobUpload(scope(), "Upload", { jobDir: "/jobs/montage", contentHash: "x", bucket: "b", prefix: "montage/0.25", uploader: ["node"] }),
    ],
    [
      "S3 bucket name",
      rules.S3_BUCKET_NAME,
      { ecs: { workers: { bucket: "Bad_Name" } } },
      "ecs.workers.bucket",
      "Bad_Name",
      "WorkflowBucket.fromBucketName: invalid bucketName",
      () => WorkflowBucket.fromBucketName(scope(), "Bad_Name"),
    ],
    [
      "subnet id",
      rules.SUBNET_ID,
      { network: { mode: "existing", vpcId: "vpc-0abc1234", subnetIds: ["subnet-1"] } },
      "network.subnetIds.0",
      "subnet-1",
      "Network: invalid subnetIds",
      () => new Network(scope(), "Net", { mode: "existing", vpcId: "vpc-0abc1234", subnetIds: ["subnet-1"] }),
    ],
    [
      "block device",
      rules.BLOCK_DEVICE,
      { ecs: { statusReporter: { diskDevice: "xvda-1" } } },
      "ecs.statusReporter.diskDevice",
      "xvda-1",
      "StatusReporter: invalid diskDevice",
      () => new StatusReporter(scope(), "R", { diskDevice: "xvda-1" } as StatusReporterProps),
    ],
    [
      "broker secret recovery window",
      rules.RECOVERY_WINDOW,
      { ecs: { brokerSecretRecoveryDays: 3 } },
      "ecs.brokerSecretRecoveryDays",
      3,
      "Master: invalid broker.secretRecoveryDays",
      () => Broker.validate({ secretRecoveryDays: 3 } as BrokerOptions),
    ],
    [
      "Grafana secret recovery window",
      rules.RECOVERY_WINDOW,
      { monitoring: { adminSecretRecoveryDays: 31 } },
      "monitoring.adminSecretRecoveryDays",
      31,
      "MonitoringHost: invalid secretRecoveryDays",
      () => new MonitoringHost(scope(), "Mon", { secretRecoveryDays: 31 } as MonitoringHostProps),
    ],
    [
      "node label",
      rules.K8S_LABEL,
      { kubernetes: { masterPool: "-master" } },
      "kubernetes.masterPool",
      "-master",
      "HyperflowK8s: invalid nodePools.master",
      () => new HyperflowK8s(scope(), "K8s", { ...k8s, nodePools: { master: "-master" } }),
    ],
    [
      "Kubernetes quantity",
      rules.K8S_QUANTITY,
      { kubernetes: { jobCpuRequest: "half" } },
      "kubernetes.jobCpuRequest",
      "half",
      "HyperflowK8s: invalid jobCpuRequest",
      () => new HyperflowK8s(scope(), "K8s", { ...k8s, jobCpuRequest: "half" }),
    ],
    [
      "EKS version",
      rules.EKS_VERSION,
      { kubernetes: { eks: { version: "1.28" } } },
      "kubernetes.eks.version",
      "1.28",
      "EksCluster: invalid version",
      () => new EksCluster(scope(), "C", { ...eks, version: "1.28" }),
    ],
    [
      "EKS admin principal",
      rules.IAM_PRINCIPAL_ARN,
      { kubernetes: { eks: { adminPrincipals: ["arn:aws:sts::123456789012:assumed-role/a/b"] } } },
      "kubernetes.eks.adminPrincipals.0",
      "arn:aws:sts::123456789012:assumed-role/a/b",
      "EksCluster: invalid adminPrincipalArns[0]",
      () => new EksCluster(scope(), "C", { ...eks, adminPrincipalArns: ["arn:aws:sts::123456789012:assumed-role/a/b"] }),
    ],
    [
      "EKS instance type",
      rules.INSTANCE_TYPE,
      { kubernetes: { eks: { workerInstanceType: "xlarge" } } },
      "kubernetes.eks.workerInstanceType",
      "xlarge",
      "EksCluster: invalid workerPool.instanceType",
      () => new EksCluster(scope(), "C", { ...eks, workerPool: { instanceType: "xlarge" } }),
    ],
    [
      "GCP project",
      rules.GCP_PROJECT_ID,
      { kubernetes: { gke: { project: "Lab" } } },
      "kubernetes.gke.project",
      "Lab",
      "GkeCluster: invalid project",
      () => new GkeCluster(scope(), "C", { ...gke, project: "Lab" }),
    ],
    [
      "GCP location",
      rules.GCP_LOCATION,
      { kubernetes: { gke: { location: "europe" } } },
      "kubernetes.gke.location",
      "europe",
      "GkeCluster: invalid location",
      () => new GkeCluster(scope(), "C", { ...gke, location: "europe" }),
    ],
  ];
  test.each(cases)("%s", (_name, rule, input, keyPath, value, constructError, build) => {
    const fromConfig = problemsOf(input).find((p) => p.path === keyPath);
    expect(fromConfig?.message).toBe(`${rule.problem(value)}; allowed: ${rule.allowed}`);
    expect(build).toThrow(PropsError);
    expect(build).toThrow(`${constructError} ${JSON.stringify(value)}; allowed: ${rule.allowed}`);
  });
});

/** Image references as github.com/distribution/reference parses them: valid ones with their parts, invalid ones with the problem. */
describe("image references (distribution/reference grammar)", () => {
  const sha = "a".repeat(64);
  const valid: [string, rules.ImageReference][] = [
    ["redis:7.4.1-alpine", { path: "redis", tag: "7.4.1-alpine" }],
    ["hyperflowwms/hyperflow:v1.9.1", { path: "hyperflowwms/hyperflow", tag: "v1.9.1" }],
    ["public.ecr.aws/docker/library/redis:7.4.1", { domain: "public.ecr.aws", path: "docker/library/redis", tag: "7.4.1" }],
    ["localhost:5000/lab/worker:1", { domain: "localhost:5000", path: "lab/worker", tag: "1" }],
    ["localhost/worker:1", { domain: "localhost", path: "worker", tag: "1" }],
    ["[::1]:5000/worker:1", { domain: "[::1]:5000", path: "worker", tag: "1" }],
    ["Registry.Example.com/a__b/c--d/e.f_g:_t", { domain: "Registry.Example.com", path: "a__b/c--d/e.f_g", tag: "_t" }],
    [`repo@sha256:${sha}`, { path: "repo", digest: `sha256:${sha}` }],
    [`repo:1.0@sha256:${sha}`, { path: "repo", tag: "1.0", digest: `sha256:${sha}` }],
    [`repo@sha512:${"0".repeat(128)}`, { path: "repo", digest: `sha512:${"0".repeat(128)}` }],
    [`r:${"t".repeat(128)}`, { path: "r", tag: "t".repeat(128) }],
  ];
  test.each(valid)("%s parses into its parts", (ref, parts) => {
    expect(rules.parseImageReference(ref)).toEqual(parts);
  });

  const invalid: [string, RegExp][] = [
    ["repo@sha256:abc123", /sha256 digest of 6 hex digits \(sha256 has 64\)/],
    [`repo@sha256:${"A".repeat(64)}`, /not lower-case hex/],
    [`repo@md5:${"0".repeat(32)}`, /unknown algorithm "md5"/],
    ["repo@latest", /not algorithm:hex/],
    ["Repo:1.0", /upper-case name "Repo"/],
    ["docker.io/Library/redis:1", /upper-case name "Library"/],
    ["repo:.hidden", /invalid tag "\.hidden"/],
    [`repo:${"t".repeat(129)}`, /invalid tag/],
    ["repo:1:2", /invalid tag "1:2"/],
    ["re${x}po:1.0", /invalid name/],
    ["repo%{x}:1.0", /invalid name/],
    ["a//b:1", /invalid name ""/],
    ["-repo:1", /invalid name "-repo"/],
    ["repo_:1", /invalid name "repo_"/],
    ["a___b:1", /invalid name "a___b"/],
    ["-bad.example.com/repo:1", /invalid registry/],
    ["reg.example.com:port/repo:1", /invalid registry|invalid tag/],
    [`${"a".repeat(256)}:1`, /at most 255/],
    ["", /is empty/],
    ["repo name:1", /invalid name/],
  ];
  test.each(invalid)("%s is rejected, saying why", (ref, why) => {
    const parsed = rules.parseImageReference(ref);
    expect(parsed).toHaveProperty("problem");
    expect((parsed as { problem: string }).problem).toMatch(why);
    expect(rules.PINNED_IMAGE.test(ref)).toBe(false);
    expect(ruleMessage(rules.PINNED_IMAGE, ref)).toMatch(/^image is not an image reference: it .*; allowed: \[registry\[:port\]\/\]path\[:tag\]\[@digest\]/);
  });

  test.each([
    ["redis", "has no tag"],
    ["redis:latest", "mutable tag `latest`"],
  ])("%s is a reference but not pinned", (ref, why) => {
    expect(rules.parseImageReference(ref)).not.toHaveProperty("problem");
    expect(rules.imageProblem(ref)).toContain(why);
  });

  test("every image key of the config uses the rule: repo@sha256:abc123 is rejected naming the key and what is allowed", () => {
    const keys = ["monitoring.grafanaImage", "ecs.images.master", "runner.fetchImage", "kubernetes.engineImage", "kubernetes.dataImage"];
    for (const key of keys) {
      const [section, ...rest] = key.split(".");
      const input: Record<string, unknown> = {};
      let cur = (input[section] = {}) as Record<string, unknown>;
      for (const k of rest.slice(0, -1)) cur = (cur[k] = {}) as Record<string, unknown>;
      cur[rest[rest.length - 1]] = "repo@sha256:abc123";
      expect(() => validateConfig(input)).toThrow(ConfigError);
      try {
        validateConfig(input);
      } catch (e) {
        expect((e as ConfigError).message).toContain(`${key}: image is not an image reference: it has a sha256 digest of 6 hex digits`);
        expect((e as ConfigError).message).toContain("allowed: [registry[:port]/]path[:tag][@digest]");
      }
    }
  });
});

describe("storage class names (DNS-1123 subdomains)", () => {
  test.each(["standard-rwx", "a", "premium.rwx-1", `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`])(
    "%s is a storage class name",
    (name) => {
      expect(rules.K8S_STORAGE_CLASS.test(name)).toBe(true);
    },
  );
  test.each(["", "Standard", "standard_rwx", "-rwx", "rwx-", "rwx.", ".rwx", "a..b", "x".repeat(254), "${x}", "a b"])("%j is not", (name) => {
    expect(rules.K8S_STORAGE_CLASS.test(name)).toBe(false);
  });
  test("kubernetes.storageClass uses the rule", () => {
    expect(() => validateConfig({ kubernetes: { cluster: "existing", storageClass: "Standard_RWX" } })).toThrow(
      /kubernetes\.storageClass: is not a storage class name; allowed: a DNS subdomain/,
    );
  });
});
