import { checkReferences, checkExpression, declarations, interpolations } from "./support/references";
import { checkPolicies, RULES } from "./support/policy-rules";
import { CONFIG_VARIANTS, synthConfig, type TfJson } from "./support/synth";
import { stackNames } from "../stacks/app";
import { validateConfig } from "../config/load";
import { seedImagesIn } from "../config/schema";

describe.each(Object.entries(CONFIG_VARIANTS))("config variant: %s", (_name, input) => {
  const { json, config } = synthConfig(input);
  const names = stackNames(validateConfig(input).config);
  test.each(names)("stack %s passes every policy rule", (stack) => {
    expect(checkPolicies(json[stack], { allowedIngressCidrs: config.adminCidrs, seedImages: Object.values(seedImagesIn(config)) })).toEqual([]);
  });
  test.each(names)("stack %s: every interpolation refers to something declared", (stack) => {
    expect(checkReferences(json[stack])).toEqual([]);
    // The check saw the stack's wiring, so an empty result means something.
    const text = JSON.stringify(json[stack]);
    expect((text.match(/\$\{/g) ?? []).length).toBeGreaterThan(1);
  });
});

describe("policy rules catch what they are for", () => {
  const ctx = { allowedIngressCidrs: ["203.0.113.0/24"] };
  const td = (c: object) => ({ aws_ecs_task_definition: { t: { container_definitions: JSON.stringify([{ name: "c", logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "${aws_cloudwatch_log_group.g.name}" } }, ...c }]) } } });
  const bad: Record<keyof typeof RULES, TfJson> = {
    noAccessKeys: { resource: td({ image: "a:1", environment: [{ name: "AWS_SECRET_ACCESS_KEY", value: "x" }] }) },
    noWorldIngress: { resource: { aws_vpc_security_group_ingress_rule: { r: { cidr_ipv4: "0.0.0.0/0", from_port: 22 } } } },
    imdsV2Everywhere: { resource: { aws_launch_template: { lt: { metadata_options: { http_tokens: "optional" } } } } },
    encryptionOn: { resource: { aws_launch_template: { lt: { block_device_mappings: [{ device_name: "/dev/xvda", ebs: { encrypted: "false" } }] } } } },
    pinnedImages: { resource: td({ image: "grafana/grafana:latest" }) },
    ecrRepositories: { resource: { aws_ecr_repository: { r: { name: "x/worker", image_tag_mutability: "MUTABLE", image_scanning_configuration: { scan_on_push: true }, encryption_configuration: [{ encryption_type: "AES256" }] } }, aws_ecr_lifecycle_policy: { l: { repository: "${aws_ecr_repository.r.name}" } } } },
    iamLeastPrivilege: { resource: { aws_iam_role_policy: { p: { policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: ["s3:*"], Resource: ["*"] }] }) } } } },
    logRetention: { resource: { aws_cloudwatch_log_group: { g: { name: "x" } } } },
    noClusterAdmin: { resource: { kubernetes_cluster_role_binding_v1: { crb: { role_ref: { name: "cluster-admin" } } } } },
  };
  test.each(Object.keys(RULES))("%s reports a violating stack", (name) => {
    const rule = RULES[name as keyof typeof RULES];
    expect(rule(bad[name as keyof typeof RULES], ctx).length).toBeGreaterThan(0);
  });
  test("ingress from an admin CIDR given in config is allowed, the world is not unless given", () => {
    const stack = { resource: { aws_vpc_security_group_ingress_rule: { r: { cidr_ipv4: "203.0.113.0/24" } } } };
    expect(RULES.noWorldIngress(stack, ctx)).toEqual([]);
    const world = { resource: { aws_vpc_security_group_ingress_rule: { r: { cidr_ipv4: "0.0.0.0/0" } } } };
    expect(RULES.noWorldIngress(world, { allowedIngressCidrs: ["0.0.0.0/0"] })).toEqual([]);
  });
  test("'*' resources: read-only calls pass, anything else needs a condition", () => {
    const doc = (actions: string[], condition?: object) => ({ resource: { aws_iam_role_policy: { p: { policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: actions, Resource: ["*"], ...(condition ? { Condition: condition } : {}) }] }) } } } });
    expect(RULES.iamLeastPrivilege(doc(["ec2:DescribeImages", "autoscaling:DescribeTags"]), ctx)).toEqual([]);
    expect(RULES.iamLeastPrivilege(doc(["autoscaling:SetDesiredCapacity"]), ctx)).toHaveLength(1);
    expect(RULES.iamLeastPrivilege(doc(["autoscaling:SetDesiredCapacity"], { StringEquals: { "aws:ResourceTag/x": "owned" } }), ctx)).toEqual([]);
  });

  test("ECR images: our repository with a hex tag passes; a mutable tag, a mutable repository or another computed image fails; seeds only when the config deploys them", () => {
    const repo = (mutability: string) => ({ aws_ecr_repository: { W: { image_tag_mutability: mutability } } });
    const withImage = (image: string, mutability = "IMMUTABLE") => ({ resource: { ...td({ image }), ...repo(mutability) } });
    expect(RULES.pinnedImages(withImage("${aws_ecr_repository.W.repository_url}:0123456789ab"), ctx)).toEqual([]);
    expect(RULES.pinnedImages(withImage("${aws_ecr_repository.W.repository_url}:latest"), ctx)[0]).toMatch(/must be its content hash \(hex\), not "latest"/);
    expect(RULES.pinnedImages(withImage("${aws_ecr_repository.W.repository_url}:0123456789ab", "MUTABLE"), ctx)[0]).toMatch(/repository W has mutable tags/);
    expect(RULES.pinnedImages(withImage("${aws_ecr_repository.Other.repository_url}:0123456789ab"), ctx)[0]).toMatch(/no aws_ecr_repository.Other in this stack/);
    const remote = "${data.terraform_remote_state.cross-stack-reference-input-ecs.outputs.cross-stack-output-aws_ecr_repositoryEngineRepository_3698176Arepository_url}";
    expect(RULES.pinnedImages({ resource: td({ image: `${remote}:5197ed0ae3c4` }) }, ctx)).toEqual([]);
    expect(RULES.pinnedImages({ resource: td({ image: `${remote}:v1` }) }, ctx)).toHaveLength(1);
    expect(RULES.pinnedImages({ resource: td({ image: "${var.image}" }) }, ctx)[0]).toMatch(/cannot be checked/);
    expect(RULES.pinnedImages({ resource: td({ image: "krysp89/hyperflow-worker-nfs:latest" }) }, ctx)[0]).toMatch(/mutable tag `latest`/);
    expect(RULES.pinnedImages({ resource: td({ image: "krysp89/hyperflow-worker-nfs:latest" }) }, { ...ctx, seedImages: ["krysp89/hyperflow-worker-nfs:latest"] })).toEqual([]);
  });

  test("ECR repositories: each setting is checked", () => {
    const good = { name: "x/worker", image_tag_mutability: "IMMUTABLE", image_scanning_configuration: { scan_on_push: true }, encryption_configuration: [{ encryption_type: "KMS" }] };
    const stack = (r: object, lifecycle = true) => ({ resource: { aws_ecr_repository: { r }, ...(lifecycle ? { aws_ecr_lifecycle_policy: { l: { repository: "${aws_ecr_repository.r.name}" } } } : {}) } });
    expect(RULES.ecrRepositories(stack(good), ctx)).toEqual([]);
    expect(RULES.ecrRepositories(stack({ ...good, image_scanning_configuration: { scan_on_push: false } }), ctx)[0]).toMatch(/not scanned on push/);
    expect(RULES.ecrRepositories(stack({ ...good, encryption_configuration: [] }), ctx)[0]).toMatch(/no encryption configuration/);
    expect(RULES.ecrRepositories(stack({ ...good, image_tag_mutability: undefined }), ctx)[0]).toMatch(/tags are mutable/);
    expect(RULES.ecrRepositories(stack(good, false), ctx)[0]).toMatch(/no lifecycle policy/);
  });

  test("untagged images and access-key-looking strings are caught", () => {
    expect(RULES.pinnedImages({ resource: td({ image: "rabbitmq" }) }, ctx)[0]).toMatch(/no tag/);
    expect(RULES.noAccessKeys({ output: { x: { value: "AKIA" + "ABCDEFGHIJKLMNOP" } } }, ctx)[0]).toMatch(/access key/);
  });
});

describe("reference check catches unescaped interpolation", () => {
  const stack: TfJson = { resource: { aws_instance: { m: {} }, aws_vpc: { v: {} } }, data: { aws_vpc: { d: {} } } };
  const declared = declarations(stack);
  const check = (s: string) => checkReferences({ ...stack, output: { o: { value: s } } });
  test("declared references and function calls pass", () => {
    expect(check("${aws_instance.m.private_ip}:5672")).toEqual([]);
    expect(check('${jsonencode({"a" = aws_vpc.v.id, "b" = "x-${data.aws_vpc.d.id}"})}')).toEqual([]);
    expect(check("${element(data.aws_vpc.d.ids, 0)}")).toEqual([]);
  });
  test("escaped shell variables and placeholders pass", () => {
    expect(check("echo $${HOME} and %%{if x}")).toEqual([]);
  });
  test("a shell variable left unescaped is an unknown reference", () => {
    expect(check('echo "${HOME}"')[0]).toMatch(/refers to HOME/);
    expect(check("image: ${containerName}")[0]).toMatch(/containerName/);
  });
  test("undeclared resources, unknown functions and directives are reported", () => {
    expect(check("${aws_instance.missing.id}")[0]).toMatch(/does not declare/);
    expect(check("${data.aws_vpc.nope.id}")[0]).toMatch(/does not declare/);
    expect(check("${frobnicate(1)}")[0]).toMatch(/unknown function frobnicate/);
    expect(check("%{ if true }x%{ endif }")[0]).toMatch(/template directive/);
    expect(check("${aws_instance.m.id")[0]).toMatch(/unterminated/);
  });
  test("interpolations() splits nested templates", () => {
    expect(interpolations('a ${f("${x.y.z}")} b $${c}').found.map((f) => f.expression)).toEqual(['f("${x.y.z}")']);
    expect(checkExpression("aws_vpc.v.id == 1", declared, "x")).toEqual([]);
  });
});
