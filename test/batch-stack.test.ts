/** The `batch` stack: what it synthesizes for container apps, and the config checks around it. */
import { validateConfig } from "../config/load";
import { appBucketStatements, containerCommand, prefixProblem, queueKindOf } from "../constructs/batch/app";
import { stackNames } from "../stacks/app";
import { checkPolicies, RULES } from "./support/policy-rules";
import { resources, synthConfig, type TfJson } from "./support/stack-json";

const APPS = {
  batch: {
    apps: {
      mpi: { imageTag: "1.0.0", command: ["/opt/app/pi", "{input}", "pi.txt"], outputs: ["pi.txt"], nodes: 3, vcpus: 2, memoryMiB: 4096, trigger: true },
      small: { imageTag: "1.0.0", command: ["/opt/app/pi", "{input}", "pi.txt"], outputs: ["pi.txt"], timeoutSeconds: 900, lambda: true, trigger: true },
      far: { imageTag: "2.0.0", command: ["/opt/app/pi"], outputs: ["pi.txt"], fargate: true },
    },
  },
};

describe("batch stack", () => {
  const { json, config } = synthConfig(APPS);
  const stack = json.batch as TfJson;
  const byName = (type: string) => stack.resource?.[type] ?? {};
  const jobDef = (name: string) => resources(stack, "aws_batch_job_definition").find((d) => d.name === name)!;

  test("exists only when an app is configured", () => {
    expect(stackNames(validateConfig({}).config)).not.toContain("batch");
    expect(stackNames(config)).toContain("batch");
  });

  test("passes every policy rule", () => {
    expect(checkPolicies(stack, { allowedIngressCidrs: [] })).toEqual([]);
  });

  test("compute: on-demand, Spot and Fargate environments; Spot before on-demand for single-node EC2, on-demand only for multi-node", () => {
    const ces = resources(stack, "aws_batch_compute_environment").map((c) => c.compute_resources.type);
    expect(ces.sort()).toEqual(["EC2", "FARGATE", "SPOT"]);
    const queues = Object.fromEntries(
      resources(stack, "aws_batch_job_queue").map((q) => [
        q.name,
        q.compute_environment_order.map((o: { compute_environment: string }) => o.compute_environment),
      ]),
    );
    expect(queues["hyperflow-apps-ec2"]).toEqual([expect.stringMatching(/Compute_Spot_/), expect.stringMatching(/Compute_OnDemand_/)]);
    expect(queues["hyperflow-apps-multinode"]).toEqual([expect.stringMatching(/OnDemand/)]);
    expect(queues["hyperflow-apps-fargate"]).toEqual([expect.stringMatching(/Fargate/)]);
  });

  test("launch template: IMDSv2 with hop limit 1, encrypted root volume; compute environments use it", () => {
    const [lt] = resources(stack, "aws_launch_template");
    expect(lt.metadata_options).toMatchObject({ http_tokens: "required", http_put_response_hop_limit: 1 });
    expect(lt.block_device_mappings[0].ebs.encrypted).toBe("true");
    for (const ce of resources(stack, "aws_batch_compute_environment").filter((c) => c.compute_resources.type !== "FARGATE"))
      expect(ce.compute_resources.launch_template.launch_template_id).toMatch(/^\$\{aws_launch_template\./);
  });

  test("security group: the only ingress is from itself; no CIDR ingress", () => {
    const ingress = resources(stack, "aws_vpc_security_group_ingress_rule");
    expect(ingress).toHaveLength(1);
    const [sgName] = Object.keys(byName("aws_security_group"));
    expect(ingress[0]).toMatchObject({
      referenced_security_group_id: `\${aws_security_group.${sgName}.id}`,
      security_group_id: `\${aws_security_group.${sgName}.id}`,
    });
    expect(ingress[0].cidr_ipv4).toBeUndefined();
  });

  test("multi-node job definition: one node range 0: with the entrypoint's command and Batch's input parameter", () => {
    const d = jobDef("hyperflow-apps-mpi");
    expect(d.type).toBe("multinode");
    expect(d.parameters).toEqual({ input: "-" });
    const nodes = JSON.parse(d.node_properties);
    expect(nodes).toMatchObject({ numNodes: 3, mainNode: 0 });
    expect(nodes.nodeRangeProperties).toHaveLength(1);
    const c = nodes.nodeRangeProperties[0].container;
    expect(nodes.nodeRangeProperties[0].targetNodes).toBe("0:");
    expect(c.command).toEqual(["--input", "Ref::input", "--", "/opt/app/pi", "{input}", "pi.txt"]);
    expect(c.resourceRequirements).toEqual([
      { type: "VCPU", value: "2" },
      { type: "MEMORY", value: "4096" },
    ]);
    expect(c.image).toMatch(/^\$\{aws_ecr_repository\.[^.]+\.repository_url\}:1\.0\.0$/);
    expect(Object.fromEntries(c.environment.map((e: { name: string; value: string }) => [e.name, e.value]))).toMatchObject({
      HFLOW_APP_INPUT_PREFIX: "apps/mpi/input/",
      HFLOW_APP_OUTPUT_PREFIX: "apps/mpi/output/",
      HFLOW_APP_OUTPUTS: "pi.txt",
      HFLOW_APP_JOIN_TIMEOUT_SECONDS: "600",
    });
    expect(c.logConfiguration.logDriver).toBe("awslogs");
  });

  test("single-node and Fargate job definitions", () => {
    expect(jobDef("hyperflow-apps-small")).toMatchObject({ type: "container", platform_capabilities: ["EC2"] });
    const f = jobDef("hyperflow-apps-far");
    expect(f.platform_capabilities).toEqual(["FARGATE"]);
    expect(JSON.parse(f.container_properties).networkConfiguration).toEqual({ assignPublicIp: "ENABLED" });
  });

  test("job role: reads only the input prefix, writes only the output prefix", () => {
    const pol = resources(stack, "aws_iam_role_policy")
      .filter((p) => p.name === "AppPrefixes")
      .map((p) => JSON.parse(p.policy).Statement);
    expect(pol.length).toBe(4); // three job roles and one function role
    const mpi = pol.find((s) => JSON.stringify(s).includes("apps/mpi/"))!;
    expect(mpi.find((s: { Sid: string }) => s.Sid === "ReadInputs").Resource[0]).toMatch(/\/apps\/mpi\/input\/\*$/);
    expect(mpi.find((s: { Sid: string }) => s.Sid === "WriteOutputs").Resource[0]).toMatch(/\/apps\/mpi\/output\/\*$/);
  });

  test("S3 trigger: EventBridge notifications on, a rule per triggered app on its input prefix, Batch target passing the key", () => {
    expect(resources(stack, "aws_s3_bucket_notification")).toEqual([expect.objectContaining({ eventbridge: true })]);
    const rules = resources(stack, "aws_cloudwatch_event_rule");
    expect(rules.map((r) => r.name).sort()).toEqual(["hyperflow-apps-mpi-upload", "hyperflow-apps-small-upload"]);
    const pattern = JSON.parse(rules.find((r) => r.name === "hyperflow-apps-mpi-upload")!.event_pattern);
    expect(pattern.detail.object.key).toEqual([{ prefix: "apps/mpi/input/" }]);
    const targets = resources(stack, "aws_cloudwatch_event_target");
    const batchTarget = targets.find((t) => t.target_id === "batch")!;
    expect(batchTarget.arn).toMatch(/aws_batch_job_queue\.Compute_Queue-multinode/);
    expect(batchTarget.input_transformer).toEqual({ input_paths: { key: "$.detail.object.key" }, input_template: '{"Parameters": {"input": <key>}}' });
    // The small app is on Lambda: its uploads go to the function, with a permission for EventBridge.
    expect(targets.find((t) => t.target_id === "lambda")!.arn).toMatch(/aws_lambda_function\./);
    expect(resources(stack, "aws_lambda_permission")).toEqual([expect.objectContaining({ principal: "events.amazonaws.com" })]);
  });

  test("Lambda: container image from the app's repository, the entrypoint with no input, its own log group with retention", () => {
    const [fn] = resources(stack, "aws_lambda_function");
    expect(fn).toMatchObject({ package_type: "Image", timeout: 900, function_name: "hyperflow-apps-small" });
    expect(fn.image_config.command).toEqual(["--input", "-", "--", "/opt/app/pi", "{input}", "pi.txt"]);
    expect(resources(stack, "aws_cloudwatch_log_group").map((g) => [g.name, g.retention_in_days])).toContainEqual(["/aws/lambda/hyperflow-apps-small", 30]);
  });

  test("ECR: one immutable, scanned repository per app without an image", () => {
    expect(
      resources(stack, "aws_ecr_repository")
        .map((r) => r.name)
        .sort(),
    ).toEqual(["hyperflow-apps/far", "hyperflow-apps/mpi", "hyperflow-apps/small"]);
  });
});

describe("batch config: bad input names the key and what is allowed", () => {
  const problems = (apps: object) => {
    try {
      validateConfig({ batch: { apps } });
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };
  const base = { imageTag: "1", command: ["/opt/app/x"], outputs: ["o.txt"] };
  test.each([
    [{ a: { ...base, lambda: true, nodes: 2 } }, /batch\.apps\.a\.lambda.*needs nodes 1/],
    [{ a: { ...base, lambda: true, timeoutSeconds: 3600 } }, /batch\.apps\.a\.timeoutSeconds.*60 to 900/],
    [{ a: { ...base, fargate: true, nodes: 3 } }, /batch\.apps\.a\.fargate.*multi-node parallel jobs on EC2 only/],
    [{ a: { command: ["x"], outputs: ["o"] } }, /batch\.apps\.a\.imageTag.*is missing/],
    [{ A: base }, /is not an app name/],
    [{ a: { ...base, outputs: ["dir/o.txt"] } }, /is not a file name/],
  ])("%j", (apps, message) => {
    expect(problems(apps)).toMatch(message);
  });
});

describe("batch units", () => {
  test("queue of an app", () => {
    expect([queueKindOf({ nodes: 3, fargate: false }), queueKindOf({ nodes: 1, fargate: true }), queueKindOf({ nodes: 1, fargate: false })]).toEqual([
      "multinode",
      "fargate",
      "ec2",
    ]);
  });
  test("container command puts the entrypoint's options before the app", () => {
    expect(containerCommand(["a", "b"])).toEqual(["--input", "Ref::input", "--", "a", "b"]);
    expect(containerCommand(["echo", "${HOME}", "%{x}"])).toEqual(["--input", "Ref::input", "--", "echo", "$${HOME}", "%%{x}"]);
  });
  test("overlapping prefixes and an empty triggered input prefix are refused", () => {
    expect(prefixProblem("in/", "out/", true)).toBeUndefined();
    expect(prefixProblem("in/", "in/out/", false)?.key).toBe("outputPrefix");
    expect(prefixProblem("", "out/", true)?.key).toBe("inputPrefix");
  });
  test("bucket statements list only the app's prefixes", () => {
    const [list] = appBucketStatements("arn:aws:s3:::b", "i/", "o/");
    expect(list.conditions).toEqual({ StringLike: { "s3:prefix": ["i/*", "o/*"] } });
  });
});

describe("policy rule batchJobs: each way of breaking it is reported", () => {
  const ctx = { allowedIngressCidrs: [] };
  const good = {
    image: "${aws_ecr_repository.R.repository_url}:1.0.0",
    jobRoleArn: "${aws_iam_role.J.arn}",
    logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "${aws_cloudwatch_log_group.G.name}" } },
  };
  const stack = (c: object, mutability = "IMMUTABLE", multinode = false): TfJson => ({
    resource: {
      aws_ecr_repository: { R: { image_tag_mutability: mutability } },
      aws_cloudwatch_log_group: { G: { name: "/aws/batch/x", retention_in_days: 30 } },
      aws_batch_job_definition: {
        d: multinode
          ? { node_properties: JSON.stringify({ numNodes: 2, nodeRangeProperties: [{ targetNodes: "0:", container: c }] }) }
          : { container_properties: JSON.stringify(c) },
      },
    },
  });
  test("compliant single-node and multi-node definitions pass", () => {
    expect(RULES.batchJobs(stack(good), ctx)).toEqual([]);
    expect(RULES.batchJobs(stack(good, "IMMUTABLE", true), ctx)).toEqual([]);
  });
  test.each([
    ["logs elsewhere", stack({ ...good, logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "/other" } } }), /log group this stack manages/],
    ["no job role", stack({ ...good, jobRoleArn: undefined }, "IMMUTABLE", true), /no job role/],
    ["keys in the environment", stack({ ...good, environment: [{ name: "AWS_SECRET_ACCESS_KEY", value: "x" }] }), /passes AWS_SECRET_ACCESS_KEY/],
    ["a mutable repository", stack(good, "MUTABLE"), /not in an immutable repository/],
    ["latest", stack({ ...good, image: "debian:latest" }), /mutable tag `latest`/],
    [
      "a compute environment without our launch template",
      { resource: { aws_batch_compute_environment: { c: { compute_resources: { type: "EC2" } } } } },
      /without a launch template/,
    ],
  ])("%s", (_what, s, message) => {
    expect(RULES.batchJobs(s as TfJson, ctx).join("\n")).toMatch(message);
  });
});
