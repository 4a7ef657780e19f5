import "cdktf/lib/testing/adapters/jest";
import { AppautoscalingPolicy } from "@cdktf/provider-aws/lib/appautoscaling-policy";
import { AppautoscalingTarget } from "@cdktf/provider-aws/lib/appautoscaling-target";
import { AutoscalingGroup } from "@cdktf/provider-aws/lib/autoscaling-group";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { EcsCapacityProvider } from "@cdktf/provider-aws/lib/ecs-capacity-provider";
import { EcsCluster } from "@cdktf/provider-aws/lib/ecs-cluster";
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import { DataAwsSsmParameter } from "@cdktf/provider-aws/lib/data-aws-ssm-parameter";
import { ecsCloudConfig } from "../constructs/ecs/instances";
import { imageTag } from "../images/tag";
import { containers, only, resources, synthConfig, type TfJson } from "./support/stack-json";

const ref = (type: string, json: TfJson, pick: (r: any) => boolean, attr: string) => {
  const entry = Object.entries(json.resource?.[type] ?? {}).find(([, r]) => pick(r));
  if (!entry) throw new Error(`no ${type} matched`);
  return `\${${type}.${entry[0]}.${attr}}`;
};

describe("ecs stack with defaults", () => {
  const { text, json: all, config } = synthConfig({});
  const json = all.ecs;
  const taskDefs = resources(json, "aws_ecs_task_definition");
  const masterTd = taskDefs.find((t) => t.family.endsWith("-hyperflow-master"));
  const workerTd = taskDefs.find((t) => t.family.endsWith("-hyperflow-worker"));

  test("ECS cluster named after the config, with Container Insights", () => {
    expect(text.ecs).toHaveResourceWithProperties(EcsCluster, {
      name: "ecs_test_cluster_hyperflow",
      setting: [{ name: "containerInsights", value: "enabled" }],
    });
  });

  test("launch templates only: IMDSv2, encrypted gp3 root volume, AMI from the AL2023 SSM parameter", () => {
    expect(resources(json, "aws_launch_configuration")).toHaveLength(0);
    const lts = resources(json, "aws_launch_template");
    expect(lts).toHaveLength(2);
    for (const lt of lts) {
      expect(lt.metadata_options).toEqual(expect.objectContaining({ http_tokens: "required", http_endpoint: "enabled" }));
      expect(lt.block_device_mappings[0].ebs).toEqual(expect.objectContaining({ encrypted: "true", volume_type: "gp3", volume_size: 30 }));
      expect(lt.image_id).toMatch(/^\$\{data\.aws_ssm_parameter\.[^.]+\.insecure_value\}$/);
      expect(lt.tag_specifications.map((t: any) => t.resource_type).sort()).toEqual(["instance", "network-interface", "volume"]);
    }
    expect(text.ecs).toHaveDataSourceWithProperties(DataAwsSsmParameter, { name: "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id" });
  });

  test("a new ECS AMI in SSM does not replace the master: its template keeps the AMI it was created with; the workers' template follows", () => {
    const lts = Object.values<any>(json.resource!.aws_launch_template);
    const masterLt = lts.find((lt) => lt.name_prefix.includes("-master-"));
    const workerLt = lts.find((lt) => lt.name_prefix.includes("-worker-"));
    expect(masterLt.lifecycle).toEqual({ ignore_changes: ["image_id"] });
    expect(workerLt.lifecycle).toBeUndefined();
    // The master follows its template's latest version: what keeps it is that the version does not move with SSM.
    const masterLtName = Object.entries<any>(json.resource!.aws_launch_template).find(([, lt]) => lt === masterLt)![0];
    expect(only(json, "aws_instance").launch_template).toEqual({
      id: `\${aws_launch_template.${masterLtName}.id}`,
      version: `\${aws_launch_template.${masterLtName}.latest_version}`,
    });
  });

  test("ASG spans the default VPC's subnets from a data source (network stack), no hard-coded AZs", () => {
    const asg = only(json, "aws_autoscaling_group");
    expect(asg.availability_zones).toBeUndefined();
    // The network stack's default subnets, narrowed to zones that offer the instance type (test/subnet-selection.test.ts).
    expect(asg.vpc_zone_identifier).toMatch(/^\$\{sort\(data\.aws_subnets\.[^.]+\.ids\)\}$/);
    expect(Object.values<any>(all.network.data!.aws_subnets)[0].filter).toEqual(expect.arrayContaining([{ name: "default-for-az", values: ["true"] }]));
    expect(text.ecs).toHaveResourceWithProperties(AutoscalingGroup, {
      name: "ecs_test_cluster_hyperflow-ASG",
      min_size: 0,
      max_size: 5,
      desired_capacity: 0,
      default_cooldown: 600,
      protect_from_scale_in: true,
    });
    expect(asg.tag).toEqual(expect.arrayContaining([{ key: "AmazonECSManaged", value: "true", propagate_at_launch: true }]));
    expect(asg.lifecycle.ignore_changes).toContain("desired_capacity");
    expect(Object.values<any>(all.network.data!.aws_vpc)[0]).toEqual(expect.objectContaining({ default: true }));
  });

  test("EC2 capacity follows the worker tasks through a capacity provider with managed scaling", () => {
    const asgArn = ref("aws_autoscaling_group", json, () => true, "arn");
    expect(text.ecs).toHaveResourceWithProperties(EcsCapacityProvider, {
      auto_scaling_group_provider: expect.objectContaining({
        auto_scaling_group_arn: asgArn,
        managed_termination_protection: "ENABLED",
        managed_draining: "ENABLED",
        managed_scaling: expect.objectContaining({ status: "ENABLED", target_capacity: 100, maximum_scaling_step_size: 1, minimum_scaling_step_size: 1 }),
      }),
    });
    const cp = only(json, "aws_ecs_cluster_capacity_providers");
    expect(cp.default_capacity_provider_strategy[0].capacity_provider).toBe(ref("aws_ecs_capacity_provider", json, () => true, "name"));
  });

  test("the worker service is created after (and destroyed before) the capacity-provider association and the broker: resource-level depends_on", () => {
    const workers = Object.values<any>(json.resource!.aws_ecs_service).find((s) => s.name === "hyperflow-service-worker");
    const association = Object.keys(json.resource!.aws_ecs_cluster_capacity_providers)[0];
    const broker = Object.entries<any>(json.resource!.aws_ecs_service).find(([, s]) => s.name === "hyperflow-service-master")![0];
    expect(workers.depends_on).toEqual([`aws_ecs_cluster_capacity_providers.${association}`, `aws_ecs_service.${broker}`]);
  });

  test("capacity provider name is one ECS accepts (no aws/ecs/fargate prefix)", () => {
    const name = only(json, "aws_ecs_capacity_provider").name;
    expect(name).toBe("hyperflow-ecs_test_cluster_hyperflow-workers");
    expect(name).not.toMatch(/^(aws|ecs|fargate)/i);
  });

  test("master instance: subnet in its launch template's network interface, none on the instance", () => {
    const master = only(json, "aws_instance");
    expect(master.subnet_id).toBeUndefined();
    const masterLt = Object.values<any>(json.resource!.aws_launch_template).find((lt) => lt.name_prefix.includes("-master-"));
    expect(masterLt.network_interfaces[0].subnet_id).toMatch(/^\$\{element\(sort\(data\.aws_subnets\.[^.]+\.ids\), 0\)\}$/);
    const workerLt = Object.values<any>(json.resource!.aws_launch_template).find((lt) => lt.name_prefix.includes("-worker-"));
    expect(workerLt.network_interfaces[0].subnet_id).toBeUndefined();
  });

  test("master instance outside the ASG, joins the cluster as role=master via cloud-config", () => {
    const master = only(json, "aws_instance");
    const masterLt = Object.entries(json.resource!.aws_launch_template).find(([, lt]) => lt.name_prefix.includes("-master-"))!;
    expect(master.launch_template.id).toBe(`\${aws_launch_template.${masterLt[0]}.id}`);
    const userData = Buffer.from(masterLt[1].user_data, "base64").toString();
    expect(userData).toBe(ecsCloudConfig("ecs_test_cluster_hyperflow", "master"));
    expect(userData).toContain('ECS_INSTANCE_ATTRIBUTES={"hyperflow.role":"master"}');
    expect(userData).toContain("ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true");
  });

  test("broker task is placed on the master by a constraint; workers on worker instances", () => {
    expect(text.ecs).toHaveResourceWithProperties(EcsService, {
      name: "hyperflow-service-master",
      desired_count: 1,
      launch_type: "EC2",
      placement_constraints: [{ type: "memberOf", expression: "attribute:hyperflow.role == master" }],
    });
    expect(text.ecs).toHaveResourceWithProperties(EcsService, {
      name: "hyperflow-service-worker",
      desired_count: 2,
      placement_constraints: [{ type: "memberOf", expression: "attribute:hyperflow.role == worker" }],
      propagate_tags: "TASK_DEFINITION",
      enable_ecs_managed_tags: true,
    });
  });

  test("broker credentials are generated and delivered as secrets, never plaintext env", () => {
    const secret = ref("aws_secretsmanager_secret", json, () => true, "arn");
    const broker = containers(masterTd).find((c) => c.name === "hyperflow-master");
    expect(broker.secrets).toEqual([{ name: "RABBITMQ_DEFAULT_PASS", valueFrom: `${secret}:password::` }]);
    expect(JSON.stringify(broker.environment)).not.toMatch(/PASS/);
    const worker = containers(workerTd)[0];
    expect(worker.secrets).toEqual([{ name: "AMQP_URL", valueFrom: `${secret}:amqp_url::` }]);
    expect(worker.environment.map((e: any) => e.name)).not.toContain("AMQP_URL");
    const version = only(json, "aws_secretsmanager_secret_version");
    expect(only(json, "random_password")).toEqual(expect.objectContaining({ length: 32, special: false }));
    expect(version.secret_string).toContain("random_password.");
  });

  test("worker AMQP URL points at the broker's private address, never a public DNS name", () => {
    const version = only(json, "aws_secretsmanager_secret_version");
    const privateIp = ref("aws_instance", json, () => true, "private_ip");
    expect(version.secret_string).toContain(`@${privateIp}:5672`);
    expect(version.secret_string).not.toMatch(/public_(dns|ip)/);
  });

  test("workers reach AMQP only from the worker security group; no admin ingress by default", () => {
    const rules = resources(json, "aws_vpc_security_group_ingress_rule");
    expect(rules).toHaveLength(1);
    const workerSg = ref("aws_security_group", json, (r) => r.name_prefix.includes("-worker-"), "id");
    const masterSg = ref("aws_security_group", json, (r) => r.name_prefix.includes("-master-"), "id");
    expect(rules[0]).toEqual(expect.objectContaining({ from_port: 5672, to_port: 5672, referenced_security_group_id: workerSg, security_group_id: masterSg }));
  });

  test("worker task definition: our worker image from ECR under imageTag, the executor's environment, time to drain, no Docker socket", () => {
    const worker = containers(workerTd)[0];
    const env = Object.fromEntries(worker.environment.map((e: any) => [e.name, e.value]));
    expect(env).toEqual({ STORAGE: "cloud", FEATURE_DOWNLOAD: "DISABLED", NFS_MOUNT: "", AWS_REGION: "us-east-1" });
    const repo = ref("aws_ecr_repository", json, (r) => r.name.endsWith("/worker"), "repository_url");
    expect(worker.image).toBe(`${repo}:${imageTag("worker")}`);
    // /tmp (job directories, stage cache) on a task-scoped volume instead of the container's writable layer.
    expect(worker).toEqual(
      expect.objectContaining({ memoryReservation: 500, stopTimeout: 120, mountPoints: [{ sourceVolume: "scratch", containerPath: "/tmp", readOnly: false }] }),
    );
    expect(worker.privileged).toBeUndefined();
    expect(workerTd.volume).toEqual([{ name: "scratch" }]);
    expect(worker.secrets.map((e: any) => e.name)).toEqual(["AMQP_URL"]);
    expect(workerTd.network_mode).toBe("bridge");
    expect(json.output!.worker_image.value).toBe(worker.image);
  });

  test("ECR repositories for engine and worker: named after the cluster, immutable tags, scan on push, AES256, lifecycle, kept on destroy", () => {
    const repos = resources(json, "aws_ecr_repository");
    expect(repos.map((r) => r.name).sort()).toEqual(["ecs-test-cluster-hyperflow/engine", "ecs-test-cluster-hyperflow/worker"]);
    for (const r of repos) {
      expect(r).toEqual(
        expect.objectContaining({
          image_tag_mutability: "IMMUTABLE",
          image_scanning_configuration: { scan_on_push: true },
          encryption_configuration: [{ encryption_type: "AES256" }],
          force_delete: false,
        }),
      );
    }
    const lifecycles = resources(json, "aws_ecr_lifecycle_policy");
    expect(lifecycles.map((l) => l.repository).sort()).toEqual(
      Object.keys(json.resource!.aws_ecr_repository)
        .map((k) => `\${aws_ecr_repository.${k}.name}`)
        .sort(),
    );
    const rules = JSON.parse(lifecycles[0].policy).rules;
    expect(rules).toEqual([
      expect.objectContaining({
        rulePriority: 1,
        selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 7 },
        action: { type: "expire" },
      }),
      expect.objectContaining({
        rulePriority: 2,
        selection: { tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: 30 },
        action: { type: "expire" },
      }),
    ]);
    for (const image of ["engine", "worker"]) {
      expect(json.output![`${image}_repository_url`].value).toBe(ref("aws_ecr_repository", json, (r) => r.name.endsWith(`/${image}`), "repository_url"));
    }
  });

  test("app-autoscaling target resource_id is service/<cluster>/<service> and uses the service-linked role", () => {
    const cluster = ref("aws_ecs_cluster", json, () => true, "name");
    const service = ref("aws_ecs_service", json, (s) => s.name === "hyperflow-service-worker", "name");
    expect(text.ecs).toHaveResourceWithProperties(AppautoscalingTarget, {
      resource_id: `service/${cluster}/${service}`,
      scalable_dimension: "ecs:service:DesiredCount",
      min_capacity: 1,
      max_capacity: 1000,
    });
    expect(only(json, "aws_appautoscaling_target").role_arn).toBeUndefined();
  });

  test("scale-in can fire: low alarm is <= threshold and the down step has an upper bound", () => {
    const low = resources(json, "aws_cloudwatch_metric_alarm").find((a) => a.alarm_name.endsWith("queue_length_low"));
    expect(low).toEqual(expect.objectContaining({ comparison_operator: "LessThanOrEqualToThreshold", threshold: 0, period: 10, evaluation_periods: 1 }));
    expect(text.ecs).toHaveResourceWithProperties(AppautoscalingPolicy, {
      step_scaling_policy_configuration: expect.objectContaining({
        adjustment_type: "ChangeInCapacity",
        cooldown: 300,
        step_adjustment: [{ metric_interval_upper_bound: "0", scaling_adjustment: -1 }],
      }),
    });
    expect(text.ecs).toHaveResourceWithProperties(AppautoscalingPolicy, {
      step_scaling_policy_configuration: expect.objectContaining({ step_adjustment: [{ metric_interval_lower_bound: "0", scaling_adjustment: 1 }] }),
    });
  });

  test("alarm actions point at the scaling policies", () => {
    const up = ref("aws_appautoscaling_policy", json, (p) => p.name.endsWith("hyperflow_worker_up"), "arn");
    const down = ref("aws_appautoscaling_policy", json, (p) => p.name.endsWith("hyperflow_worker_down"), "arn");
    expect(text.ecs).toHaveResourceWithProperties(CloudwatchMetricAlarm, {
      comparison_operator: "GreaterThanThreshold",
      threshold: 700,
      period: 10,
      alarm_actions: [up],
      namespace: "hyperflow",
      metric_name: "QueueLength",
      dimensions: { ClusterName: "ecs_test_cluster_hyperflow" },
    });
    expect(text.ecs).toHaveResourceWithProperties(CloudwatchMetricAlarm, { comparison_operator: "LessThanOrEqualToThreshold", alarm_actions: [down] });
  });

  test("10 s alarm periods make the publisher send high-resolution data points", () => {
    const pub = containers(masterTd).find((c) => c.name === "queue-length-publisher");
    const env = Object.fromEntries(pub.environment.map((e: any) => [e.name, e.value]));
    expect(env.HF_METRIC_STORAGE_RESOLUTION).toBe("1");
    expect(Number(env.HF_PUBLISH_INTERVAL_SECONDS)).toBeLessThanOrEqual(5);
  });

  test("IAM: task roles trust ecs-tasks with a source-account condition; PutMetricData limited to the namespace", () => {
    const roles = resources(json, "aws_iam_role").map((r) => JSON.parse(r.assume_role_policy).Statement[0]);
    expect(roles.map((s) => s.Principal.Service).sort()).toEqual([
      "ec2.amazonaws.com",
      "ecs-tasks.amazonaws.com",
      "ecs-tasks.amazonaws.com",
      "ecs-tasks.amazonaws.com",
    ]);
    for (const s of roles.filter((r) => r.Principal.Service === "ecs-tasks.amazonaws.com")) {
      expect(s.Condition.StringEquals["aws:SourceAccount"]).toMatch(/data\.aws_caller_identity/);
    }
    const policies = resources(json, "aws_iam_role_policy")
      .map((p) => JSON.parse(p.policy).Statement)
      .flat();
    expect(policies).toContainEqual({
      Sid: "PutMetricDataInNamespace",
      Effect: "Allow",
      Action: ["cloudwatch:PutMetricData"],
      Resource: ["*"],
      Condition: { StringEquals: { "cloudwatch:namespace": "hyperflow" } },
    });
    const secretRead = policies.find((s) => s.Action.includes("secretsmanager:GetSecretValue"));
    expect(secretRead.Resource).toEqual([ref("aws_secretsmanager_secret", json, () => true, "arn")]);
    expect(policies.some((s) => s.Action.some((a: string) => a.startsWith("s3:")))).toBe(false);
    const attached = resources(json, "aws_iam_role_policy_attachment").map((a) => a.policy_arn.replace(/^.*:policy\//, ""));
    expect(attached.sort()).toEqual([
      "AmazonSSMManagedInstanceCore",
      "service-role/AmazonEC2ContainerServiceforEC2Role",
      "service-role/AmazonECSTaskExecutionRolePolicy",
    ]);
  });

  test("tags: provider default tags, propagated to ASG instances, launch-template volumes, ECS tasks", () => {
    const provider = (json.provider as any).aws[0];
    expect(provider.default_tags[0].tags).toEqual({ "hyperflow:stack": "ecs", "hyperflow:managed-by": "hyperflow-infra" });
    const asg = only(json, "aws_autoscaling_group");
    expect(asg.tag).toEqual(expect.arrayContaining([{ key: "hyperflow:stack", value: "ecs", propagate_at_launch: true }]));
    for (const lt of resources(json, "aws_launch_template")) {
      for (const spec of lt.tag_specifications) expect(spec.tags["hyperflow:managed-by"]).toBe("hyperflow-infra");
    }
  });

  test("outputs: cluster, master addresses, RabbitMQ UI via SSM, broker secret name", () => {
    expect(
      Object.keys(json.output ?? {})
        .filter((k) => !k.startsWith("cross-stack-output-"))
        .sort(),
    ).toEqual(
      [
        "broker_secret_name",
        "cluster_name",
        "engine_repository_url",
        "master_instance_id",
        "master_private_ip",
        "master_public_ip",
        "queue_length_metric",
        "rabbitmq_ui",
        "worker_image",
        "worker_repository_url",
        "worker_service_name",
      ].sort(),
    );
    expect(json.output!.rabbitmq_ui.value).toMatch(
      /^aws ssm start-session --region us-east-1 --target \$\{aws_instance\.[^.]+\.id\} --document-name AWS-StartPortForwardingSession/,
    );
    expect(json.output!.broker_secret_name.value).toMatch(/^\$\{aws_secretsmanager_secret\.[^.]+\.name\}$/);
  });

  test("local backend by default, one state file per stack", () => {
    expect(json.terraform!.backend).toEqual({ local: { path: "../../../terraform.ecs.tfstate" } });
    expect(config.backend.type).toBe("local");
  });

  test("no status reporter without a metrics URL", () => {
    expect(resources(json, "aws_ecs_service")).toHaveLength(2);
  });
});

describe("ecs stack with every option", () => {
  const { json: all } = synthConfig({
    region: "eu-central-1",
    adminCidrs: ["203.0.113.0/24"],
    network: { mode: "new", azCount: 3, privateSubnets: true },
    backend: { type: "s3", bucket: "tf-state-bucket" },
    ecs: {
      clusterName: "montage",
      instanceType: "c7g.xlarge",
      metricsUrl: "http://10.0.0.5:8086/hyperflow_tests",
      workers: { bucket: "montage-data", threads: 8, featureDownload: true, dockerAccess: false, desiredCount: 3, minCapacity: 2, maxCapacity: 40 },
      alarms: { highPeriodSeconds: 60, lowPeriodSeconds: 300, highThreshold: 100, lowThreshold: 2, evaluationPeriods: 3 },
      asg: { min: 1, max: 20, desired: 2, instanceScalingStep: 4 },
    },
  });
  const json = all.ecs;

  test("new VPC (network stack) with subnets in 3 AZs from a data source, private subnets behind one NAT", () => {
    const net = all.network;
    const subnets = resources(net, "aws_subnet");
    expect(subnets).toHaveLength(6);
    for (const s of subnets) expect(s.availability_zone).toMatch(/^\$\{element\(data\.aws_availability_zones\.[^.]+\.names, \d\)\}$/);
    expect(resources(net, "aws_nat_gateway")).toHaveLength(1);
    expect(resources(json, "aws_vpc")).toHaveLength(0);
    const asg = only(json, "aws_autoscaling_group");
    const chosen = json.data!.aws_subnets[/^\$\{sort\(data\.aws_subnets\.([^.]+)\.ids\)\}$/.exec(asg.vpc_zone_identifier)![1]];
    const candidates = chosen.filter.find((f: any) => f.name === "subnet-id").values;
    expect(candidates).toHaveLength(3);
    for (const id of candidates) expect(id).toMatch(/cross-stack-reference-input-network.*aws_subnetNetwork_Private\d/);
    for (const lt of resources(json, "aws_launch_template")) expect(lt.network_interfaces[0].associate_public_ip_address).toBe("false");
    expect(only(net, "aws_default_security_group").ingress).toBeUndefined();
  });

  test("admin CIDR opens only the management port", () => {
    const rules = resources(json, "aws_vpc_security_group_ingress_rule");
    expect(rules.filter((r) => r.cidr_ipv4)).toEqual([expect.objectContaining({ cidr_ipv4: "203.0.113.0/24", from_port: 15672, to_port: 15672 })]);
    expect(json.output!.rabbitmq_ui.value).toMatch(/^http:\/\/\$\{aws_instance\.[^.]+\.public_ip\}:15672/);
  });

  test("S3 access limited to the workflow bucket", () => {
    const statements = resources(json, "aws_iam_role_policy")
      .map((p) => JSON.parse(p.policy).Statement)
      .flat();
    const s3 = statements.filter((s) => s.Action.some((a: string) => a.startsWith("s3:")));
    const arns = s3
      .map((s) => s.Resource)
      .flat()
      .sort();
    expect(arns).toHaveLength(2);
    expect(arns[0]).toMatch(/^arn:\$\{data\.aws_partition\.[^.]+\.partition\}:s3:::montage-data$/);
    expect(arns[1]).toBe(`${arns[0]}/*`);
  });

  test("metrics URL reaches master, workers and the status reporter daemon", () => {
    const tds = resources(json, "aws_ecs_task_definition").map(containers).flat();
    const env = (name: string) => Object.fromEntries(tds.find((c) => c.name === name).environment.map((e: any) => [e.name, e.value]));
    expect(env("hyperflow-worker")).toEqual(
      expect.objectContaining({ INFLUXDB_URL: "http://10.0.0.5:8086/hyperflow_tests", THREADS: "8", FEATURE_DOWNLOAD: "ENABLED", S3_BUCKET: "montage-data" }),
    );
    expect(env("queue-length-publisher").INFLUXDB_URL).toBe("http://10.0.0.5:8086/hyperflow_tests");
    expect(env("hyperflow-master").INFLUX_DB).toBeUndefined();
    expect(env("status-reporter")).toEqual({ DISK_DEVICE: "nvme0n1p1", INTERFACE: "ens5", METRIC_COLLECTOR: "http://10.0.0.5:8086/hyperflow_tests" });
    expect(resources(json, "aws_ecs_service").find((s) => s.scheduling_strategy === "DAEMON")).toBeDefined();
  });

  test("without docker access the worker is neither privileged nor given the Docker socket", () => {
    const worker = resources(json, "aws_ecs_task_definition")
      .map(containers)
      .flat()
      .find((c) => c.name === "hyperflow-worker");
    expect(worker.privileged).toBeUndefined();
    expect(worker.mountPoints).toEqual([{ sourceVolume: "scratch", containerPath: "/tmp", readOnly: false }]);
  });

  test("60 s periods: standard-resolution metric, alarms follow the config", () => {
    const alarms = resources(json, "aws_cloudwatch_metric_alarm");
    expect(alarms.map((a) => [a.period, a.threshold, a.evaluation_periods]).sort()).toEqual(
      [
        [300, 2, 3],
        [60, 100, 3],
      ].sort(),
    );
    const pub = resources(json, "aws_ecs_task_definition")
      .map(containers)
      .flat()
      .find((c) => c.name === "queue-length-publisher");
    expect(pub.environment).toContainEqual({ name: "HF_METRIC_STORAGE_RESOLUTION", value: "60" });
    expect(pub.environment).toContainEqual({ name: "HF_METRIC_DIMENSIONS", value: '{"ClusterName":"montage"}' });
  });

  test("a pinned amiId: both templates name it and follow it (changing it replaces the master on purpose)", () => {
    const pinned = synthConfig({ ecs: { amiId: "ami-0123456789abcdef0" } }).json.ecs;
    for (const lt of resources(pinned, "aws_launch_template")) {
      expect(lt.image_id).toBe("ami-0123456789abcdef0");
      expect(lt.lifecycle).toBeUndefined();
    }
    expect(pinned.data?.aws_ssm_parameter).toBeUndefined();
  });

  test("Graviton instance types use the arm64 AMI parameter", () => {
    const params = Object.values(json.data!.aws_ssm_parameter).map((p: any) => p.name);
    expect(params).toEqual([
      "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
      "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
    ]);
  });

  test("S3 backend with native lock file and encryption, key per stack", () => {
    expect(json.terraform!.backend.s3).toEqual(
      expect.objectContaining({ bucket: "tf-state-bucket", key: "hyperflow-infra/ecs.tfstate", region: "eu-central-1", encrypt: true, use_lockfile: true }),
    );
  });

  test("capacity and worker scaling follow the config", () => {
    const asg = only(json, "aws_autoscaling_group");
    expect([asg.min_size, asg.max_size, asg.desired_capacity]).toEqual([1, 20, 2]);
    expect(only(json, "aws_ecs_capacity_provider").auto_scaling_group_provider.managed_scaling.maximum_scaling_step_size).toBe(4);
    const target = only(json, "aws_appautoscaling_target");
    expect([target.min_capacity, target.max_capacity]).toEqual([2, 40]);
  });
});

describe("ecs stack: configured images and registry settings", () => {
  const workerOf = (json: TfJson) => containers(resources(json, "aws_ecs_task_definition").find((t) => t.family.endsWith("-hyperflow-worker")))[0];

  test("a configured worker image wins (the agent's stop timeout); without a task container it runs tasks inside itself: not privileged, no Docker socket; the repositories still exist", () => {
    const { json } = synthConfig({ ecs: { images: { worker: "krysp89/hyperflow-worker-nfs:latest" } } });
    const worker = workerOf(json.ecs);
    expect(worker.image).toBe("krysp89/hyperflow-worker-nfs:latest");
    expect(worker.privileged).toBeUndefined();
    expect(worker.stopTimeout).toBeUndefined();
    expect(worker.mountPoints).toEqual([{ sourceVolume: "scratch", containerPath: "/tmp", readOnly: false }]);
    expect(resources(json.ecs, "aws_ecr_repository")).toHaveLength(2);
  });

  test("tasks in their own containers (runner.taskContainer, the seed's layout): privileged workers with the Docker socket", () => {
    const { json } = synthConfig({
      ecs: { images: { worker: "krysp89/hyperflow-worker-nfs:latest" } },
      runner: { engineImage: "krysp89/hyperflow-hflow:latest", taskContainer: "hyperflowwms/montage-worker:6.0-je1.4.0" },
    });
    const worker = workerOf(json.ecs);
    expect(worker.privileged).toBe(true);
    expect(worker.mountPoints.map((m: any) => m.containerPath)).toEqual(["/tmp", "/var/run/docker.sock"]);
  });

  test("dockerAccess given explicitly wins with our image; KMS, lifecycle numbers and forceDelete come from ecs.registry", () => {
    const kms = "arn:aws:kms:us-east-1:123456789012:key/0123abcd-0123-abcd-0123-0123456789ab";
    const { json } = synthConfig({
      ecs: {
        clusterName: "Lab__One",
        workers: { dockerAccess: true, bucket: "lab-data", threads: 4 },
        metricsUrl: "http://10.0.0.5:8086/hyperflow_tests",
        registry: { encryption: "KMS", kmsKeyArn: kms, untaggedExpiryDays: 2, keepTaggedImages: 5, forceDelete: true },
      },
    });
    const td = resources(json.ecs, "aws_ecs_task_definition").find((t) => t.family.endsWith("-hyperflow-worker"));
    const worker = containers(td)[0];
    expect(worker.privileged).toBe(true);
    expect(Object.fromEntries(worker.environment.map((e: any) => [e.name, e.value]))).toEqual({
      AWS_REGION: "us-east-1",
      FEATURE_DOWNLOAD: "DISABLED",
      INFLUXDB_URL: "http://10.0.0.5:8086/hyperflow_tests",
      NFS_MOUNT: "",
      S3_BUCKET: "lab-data",
      STORAGE: "cloud",
      THREADS: "4",
    });
    const repos = resources(json.ecs, "aws_ecr_repository");
    expect(repos.map((r) => r.name).sort()).toEqual(["lab-one/engine", "lab-one/worker"]);
    for (const r of repos)
      expect(r).toEqual(expect.objectContaining({ encryption_configuration: [{ encryption_type: "KMS", kms_key: kms }], force_delete: true }));
    const rules = JSON.parse(resources(json.ecs, "aws_ecr_lifecycle_policy")[0].policy).rules;
    expect(rules.map((r: any) => r.selection.countNumber)).toEqual([2, 5]);
  });
});
