import { checkReferences, checkExpression, declarations, interpolations } from "./support/references";
import { checkPolicies, RULES } from "./support/policy-rules";
import { CONFIG_VARIANTS, synthConfig, type TfJson } from "./support/stack-json";
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

/** A cluster, its capacity-provider association and a service on the provider, with the given depends_on. */
function ecsWithWorkers(dependsOn: string[] | undefined): NonNullable<TfJson["resource"]> {
  return {
    aws_ecs_cluster: { c: { name: "lab" } },
    aws_ecs_cluster_capacity_providers: { cp: { cluster_name: "${aws_ecs_cluster.c.name}", capacity_providers: ["${aws_ecs_capacity_provider.p.name}"] } },
    aws_ecs_service: {
      w: {
        cluster: "${aws_ecs_cluster.c.arn}",
        capacity_provider_strategy: [{ capacity_provider: "${aws_ecs_capacity_provider.p.name}", weight: 1 }],
        ...(dependsOn ? { depends_on: dependsOn } : {}),
      },
    },
  };
}

describe("the longest names: a 200-character ecs.clusterName and a 40-character kubernetes.clusterName", () => {
  const input = {
    adminCidrs: ["203.0.113.0/24"],
    ecs: { clusterName: "c".repeat(200) },
    monitoring: { enabled: true },
    kubernetes: { cluster: "eks", clusterName: "k".repeat(40) },
  };
  const { json, config } = synthConfig(input);
  test.each(stackNames(config))("stack %s passes every policy rule (name prefixes within their AWS limits)", (stack) => {
    expect(checkPolicies(json[stack], { allowedIngressCidrs: config.adminCidrs, seedImages: Object.values(seedImagesIn(config)) })).toEqual([]);
  });
  test("cut prefixes keep what tells them apart", () => {
    const prefixes = Object.values(json.ecs.resource!.aws_launch_template).map((t: any) => t.name_prefix as string);
    expect(prefixes.map((p) => [p.length, p.slice(-8)]).sort()).toEqual([
      [99, "-master-"],
      [99, "-worker-"],
    ]);
    expect(Object.values(json.grafana.resource!.aws_iam_instance_profile).map((p: any) => p.name_prefix.length)).toEqual([102]);
  });
});

/** A JuiceFS-style metadata store: encrypted both ways, with an AUTH token, behind a group that names another group. */
const redisSg = {
  aws_security_group: { sg: { vpc_id: "vpc-1" } },
  aws_vpc_security_group_ingress_rule: {
    i: { security_group_id: "${aws_security_group.sg.id}", referenced_security_group_id: "sg-nodes", from_port: 6379, to_port: 6379, ip_protocol: "tcp" },
  },
};
function elasticache(over: object = {}): Record<string, unknown> {
  return {
    at_rest_encryption_enabled: "true",
    transit_encryption_enabled: true,
    transit_encryption_mode: "required",
    auth_token: "${random_password.t.result}",
    security_group_ids: ["${aws_security_group.sg.id}"],
    ...over,
  };
}

describe("ElastiCache, bucket and load balancer rules: the compliant form passes, each way of breaking it fails", () => {
  const ctx = { allowedIngressCidrs: [] };
  const rule = RULES.elasticacheSecured;
  test("a replication group encrypted both ways, with a token and group-only ingress passes", () => {
    expect(rule({ resource: { aws_elasticache_replication_group: { r: elasticache() }, ...redisSg } }, ctx)).toEqual([]);
  });
  test.each([
    ["no encryption at rest", { at_rest_encryption_enabled: "false" }, /not encrypted at rest/],
    ["no TLS", { transit_encryption_enabled: false }, /not encrypted in transit/],
    ["TLS only preferred", { transit_encryption_mode: "preferred" }, /transit encryption mode preferred/],
    ["no AUTH token", { auth_token: undefined }, /no AUTH token/],
    ["no security group", { security_group_ids: [] }, /no security group/],
  ])("%s fails", (_what, over, message) => {
    expect(rule({ resource: { aws_elasticache_replication_group: { r: elasticache(over) }, ...redisSg } }, ctx).join("\n")).toMatch(message);
  });
  test("Redis open to an address range (an open Redis) fails, and a single-node cluster fails", () => {
    const open = {
      ...redisSg,
      aws_vpc_security_group_ingress_rule: { i: { security_group_id: "${aws_security_group.sg.id}", cidr_ipv4: "10.0.0.0/8", from_port: 6379 } },
    };
    expect(rule({ resource: { aws_elasticache_replication_group: { r: elasticache() }, ...open } }, ctx).join("\n")).toMatch(/from an address range/);
    expect(rule({ resource: { aws_elasticache_cluster: { c: {} } } }, ctx).join("\n")).toMatch(/use a replication group/);
  });
  test("a bucket needs all four public-access switches and a TLS-only policy", () => {
    const bucket = (block: object, policy?: string) => ({
      resource: {
        aws_s3_bucket: { b: {} },
        aws_s3_bucket_public_access_block: { p: { bucket: "${aws_s3_bucket.b.id}", ...block } },
        ...(policy ? { aws_s3_bucket_policy: { t: { bucket: "${aws_s3_bucket.b.id}", policy } } } : {}),
      },
    });
    const all = { block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true };
    const tls = JSON.stringify({ Statement: [{ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }] });
    expect(RULES.bucketsPrivate(bucket(all, tls), ctx)).toEqual([]);
    expect(RULES.bucketsPrivate(bucket({ ...all, restrict_public_buckets: false }, tls), ctx).join("\n")).toMatch(/public access not blocked/);
    expect(RULES.bucketsPrivate(bucket(all), ctx).join("\n")).toMatch(/without TLS/);
  });
  test("a LoadBalancer Service must be internal and limited to private ranges; NodePorts fail", () => {
    const svc = (annotations: object, spec: object) => ({ resource: { kubernetes_service_v1: { s: { metadata: { annotations }, spec } } } });
    const internal = { "service.beta.kubernetes.io/aws-load-balancer-internal": "true" };
    expect(RULES.servicesIsolated(svc(internal, { type: "LoadBalancer", load_balancer_source_ranges: ["10.0.0.0/16"] }), ctx)).toEqual([]);
    expect(RULES.servicesIsolated(svc({}, { type: "LoadBalancer", load_balancer_source_ranges: ["10.0.0.0/16"] }), ctx).join("\n")).toMatch(/not internal/);
    expect(RULES.servicesIsolated(svc(internal, { type: "LoadBalancer", load_balancer_source_ranges: ["203.0.113.0/24"] }), ctx).join("\n")).toMatch(
      /beyond private source ranges/,
    );
    expect(RULES.servicesIsolated(svc(internal, { type: "LoadBalancer" }), ctx).join("\n")).toMatch(/beyond private source ranges/);
    expect(RULES.servicesIsolated(svc({}, { type: "NodePort" }), ctx).join("\n")).toMatch(/NodePort/);
  });
  test("a NetworkPolicy may admit a private range, not the world", () => {
    const stack = (cidr: string) => ({
      resource: {
        kubernetes_deployment_v1: {
          d: { spec: { template: { metadata: { labels: { app: "redis" } }, spec: { container: [{ port: [{ container_port: 6379 }] }] } } } },
        },
        kubernetes_network_policy_v1: {
          p: { spec: { pod_selector: { match_labels: { app: "redis" } }, policy_types: ["Ingress"], ingress: [{ from: [{ ip_block: { cidr } }] }] } },
        },
      },
    });
    expect(RULES.servicesIsolated(stack("10.0.0.0/16"), ctx)).toEqual([]);
    expect(RULES.servicesIsolated(stack("0.0.0.0/0"), ctx).join("\n")).toMatch(/admits every peer/);
  });
});

describe("policy rules catch what they are for", () => {
  test("lambdaFunctions: open invoke permissions, logs without retention and unpinned images are each reported", () => {
    const fn = (f: object) => ({
      resource: {
        aws_ecr_repository: { W: { image_tag_mutability: "IMMUTABLE" } },
        aws_lambda_function: {
          f: {
            package_type: "Image",
            image_uri: "${aws_ecr_repository.W.repository_url}:0123456789ab",
            logging_config: { log_group: "${aws_cloudwatch_log_group.g.name}" },
            ...f,
          },
        },
      },
    });
    expect(RULES.lambdaFunctions(fn({}), { allowedIngressCidrs: [] })).toEqual([]);
    expect(RULES.lambdaFunctions(fn({ logging_config: undefined }), { allowedIngressCidrs: [] })[0]).toMatch(/no retention/);
    expect(RULES.lambdaFunctions(fn({ image_uri: "${aws_ecr_repository.W.repository_url}:latest" }), { allowedIngressCidrs: [] })[0]).toMatch(/not pinned/);
    // An app's release tag in an immutable repository is a pin too (batch.apps.*.lambda).
    expect(RULES.lambdaFunctions(fn({ image_uri: "${aws_ecr_repository.W.repository_url}:1.0.0" }), { allowedIngressCidrs: [] })).toEqual([]);
    expect(
      RULES.lambdaFunctions({ resource: { aws_lambda_permission: { p: { principal: "*", action: "lambda:InvokeFunction" } } } }, { allowedIngressCidrs: [] }),
    ).toEqual(["aws_lambda_permission.p: lets anyone invoke the function"]);
  });

  const ctx = { allowedIngressCidrs: ["203.0.113.0/24"] };
  const td = (c: object) => ({
    aws_ecs_task_definition: {
      t: {
        container_definitions: JSON.stringify([
          { name: "c", logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": "${aws_cloudwatch_log_group.g.name}" } }, ...c },
        ]),
      },
    },
  });
  const bad: Record<keyof typeof RULES, TfJson> = {
    noAccessKeys: { resource: td({ image: "a:1", environment: [{ name: "AWS_SECRET_ACCESS_KEY", value: "x" }] }) },
    noWorldIngress: { resource: { aws_vpc_security_group_ingress_rule: { r: { cidr_ipv4: "0.0.0.0/0", from_port: 22 } } } },
    imdsV2Everywhere: { resource: { aws_launch_template: { lt: { metadata_options: { http_tokens: "optional" } } } } },
    encryptionOn: { resource: { aws_launch_template: { lt: { block_device_mappings: [{ device_name: "/dev/xvda", ebs: { encrypted: "false" } }] } } } },
    pinnedImages: { resource: td({ image: "grafana/grafana:latest" }) },
    ecrRepositories: {
      resource: {
        aws_ecr_repository: {
          r: {
            name: "x/worker",
            image_tag_mutability: "MUTABLE",
            image_scanning_configuration: { scan_on_push: true },
            encryption_configuration: [{ encryption_type: "AES256" }],
          },
        },
        aws_ecr_lifecycle_policy: { l: { repository: "${aws_ecr_repository.r.name}" } },
      },
    },
    iamLeastPrivilege: {
      resource: { aws_iam_role_policy: { p: { policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: ["s3:*"], Resource: ["*"] }] }) } } },
    },
    logRetention: { resource: { aws_cloudwatch_log_group: { g: { name: "x" } } } },
    noClusterAdmin: { resource: { kubernetes_cluster_role_binding_v1: { crb: { role_ref: { name: "cluster-admin" } } } } },
    podsTolerateSelectors: {
      resource: {
        kubernetes_job_v1: {
          j: {
            spec: { template: { spec: { node_selector: { pool: "w" }, toleration: [{ key: "pool", operator: "Equal", value: "w", effect: "NO_SCHEDULE" }] } } },
          },
        },
      },
    },
    podsNotEvictable: {
      resource: {
        kubernetes_job_v1: { j: { spec: { template: { metadata: { annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "true" } }, spec: {} } } } },
      },
    },
    jobsHaveDeadlines: { resource: { kubernetes_job_v1: { j: { spec: { template: { spec: {} } } } } } },
    servicesIsolated: {
      resource: {
        kubernetes_deployment_v1: {
          d: { spec: { template: { metadata: { labels: { app: "redis" } }, spec: { container: [{ port: [{ container_port: 6379 }] }] } } } },
        },
      },
    },
    namespacePodSecurity: { resource: { kubernetes_namespace_v1: { n: { metadata: { name: "hyperflow", labels: {} } } } } },
    clusterApiRestricted: { resource: { google_container_cluster: { c: { name: "lab" } } } },
    eksAdminAccess: { resource: { aws_eks_cluster: { c: { access_config: { bootstrap_cluster_creator_admin_permissions: false } } } } },
    elasticacheSecured: { resource: { aws_elasticache_replication_group: { r: elasticache({ transit_encryption_enabled: false }) }, ...redisSg } },
    bucketsPrivate: { resource: { aws_s3_bucket: { b: {} } } },
    serviceAfterCapacityProviders: { resource: ecsWithWorkers(undefined) },
    namePrefixLengths: { resource: { aws_launch_template: { lt: { name_prefix: `${"c".repeat(200)}-master-` } } } },
    lambdaFunctions: { resource: { aws_lambda_function_url: { u: { function_name: "f", authorization_type: "NONE" } } } },
    batchJobs: {
      resource: {
        aws_batch_job_definition: {
          d: { container_properties: JSON.stringify({ image: "debian:latest", logConfiguration: { logDriver: "awslogs", options: {} } }) },
        },
        aws_batch_compute_environment: { ce: { compute_resources: { type: "SPOT" } } },
      },
    },
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
    const doc = (actions: string[], condition?: object) => ({
      resource: {
        aws_iam_role_policy: {
          p: { policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: actions, Resource: ["*"], ...(condition ? { Condition: condition } : {}) }] }) },
        },
      },
    });
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
    expect(RULES.pinnedImages(withImage("${aws_ecr_repository.Other.repository_url}:0123456789ab"), ctx)[0]).toMatch(
      /no aws_ecr_repository.Other in this stack/,
    );
    const remote =
      "${data.terraform_remote_state.cross-stack-reference-input-ecs.outputs.cross-stack-output-aws_ecr_repositoryEngineRepository_3698176Arepository_url}";
    expect(RULES.pinnedImages({ resource: td({ image: `${remote}:5197ed0ae3c4` }) }, ctx)).toEqual([]);
    expect(RULES.pinnedImages({ resource: td({ image: `${remote}:v1` }) }, ctx)).toHaveLength(1);
    expect(RULES.pinnedImages({ resource: td({ image: "${var.image}" }) }, ctx)[0]).toMatch(/cannot be checked/);
    expect(RULES.pinnedImages({ resource: td({ image: "krysp89/hyperflow-worker-nfs:latest" }) }, ctx)[0]).toMatch(/mutable tag `latest`/);
    expect(
      RULES.pinnedImages({ resource: td({ image: "krysp89/hyperflow-worker-nfs:latest" }) }, { ...ctx, seedImages: ["krysp89/hyperflow-worker-nfs:latest"] }),
    ).toEqual([]);
  });

  test("ECR repositories: each setting is checked", () => {
    const good = {
      name: "x/worker",
      image_tag_mutability: "IMMUTABLE",
      image_scanning_configuration: { scan_on_push: true },
      encryption_configuration: [{ encryption_type: "KMS" }],
    };
    const stack = (r: object, lifecycle = true) => ({
      resource: { aws_ecr_repository: { r }, ...(lifecycle ? { aws_ecr_lifecycle_policy: { l: { repository: "${aws_ecr_repository.r.name}" } } } : {}) },
    });
    expect(RULES.ecrRepositories(stack(good), ctx)).toEqual([]);
    expect(RULES.ecrRepositories(stack({ ...good, image_scanning_configuration: { scan_on_push: false } }), ctx)[0]).toMatch(/not scanned on push/);
    expect(RULES.ecrRepositories(stack({ ...good, encryption_configuration: [] }), ctx)[0]).toMatch(/no encryption configuration/);
    expect(RULES.ecrRepositories(stack({ ...good, image_tag_mutability: undefined }), ctx)[0]).toMatch(/tags are mutable/);
    expect(RULES.ecrRepositories(stack(good, false), ctx)[0]).toMatch(/no lifecycle policy/);
  });

  test("Kubernetes rules: the compliant form passes, each way of breaking it fails", () => {
    const tolerated = { node_selector: { pool: "w" }, toleration: [{ key: "pool", operator: "Equal", value: "w", effect: "NoSchedule" }] };
    const job = (spec: object, annotations: object = { "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" }, extra: object = {}) => ({
      resource: { kubernetes_job_v1: { j: { spec: { active_deadline_seconds: 3600, template: { metadata: { annotations }, spec }, ...extra } } } },
    });
    expect(RULES.podsTolerateSelectors(job(tolerated), ctx)).toEqual([]);
    expect(RULES.podsTolerateSelectors(job({ node_selector: { pool: "w" } }), ctx)).toHaveLength(1);
    expect(RULES.podsNotEvictable(job(tolerated), ctx)).toEqual([]);
    expect(RULES.podsNotEvictable(job(tolerated, {}), ctx)).toHaveLength(1);
    expect(RULES.jobsHaveDeadlines(job(tolerated), ctx)).toEqual([]);
    // A Job template in a ConfigMap (what the engine submits) is read too, escaped as Terraform sees it.
    const template = (tolerations: string) => ({
      resource: {
        kubernetes_config_map_v1: {
          t: {
            data: {
              "job-template.yaml": `kind: Job\nspec:\n  template:\n    metadata:\n      annotations: {}\n    spec:\n      nodeSelector:\n        pool: w\n${tolerations}`,
            },
          },
        },
      },
    });
    expect(RULES.podsTolerateSelectors(template("      tolerations:\n        - {key: pool, operator: Equal, value: w, effect: NoSchedule}\n"), ctx)).toEqual(
      [],
    );
    expect(RULES.podsTolerateSelectors(template(""), ctx)[0]).toMatch(/job-template\.yaml: selects pool=w/);
    expect(RULES.podsNotEvictable(template(""), ctx)).toHaveLength(1);

    const redis = {
      d: { spec: { template: { metadata: { labels: { app: "redis", part: "hf" } }, spec: { container: [{ port: [{ container_port: 6379 }] }] } } } },
    };
    const policy = (from: object[]) => ({ p: { spec: { pod_selector: { match_labels: { app: "redis" } }, policy_types: ["Ingress"], ingress: [{ from }] } } });
    expect(
      RULES.servicesIsolated(
        { resource: { kubernetes_deployment_v1: redis, kubernetes_network_policy_v1: policy([{ pod_selector: { match_labels: { part: "hf" } } }]) } },
        ctx,
      ),
    ).toEqual([]);
    expect(RULES.servicesIsolated({ resource: { kubernetes_deployment_v1: redis, kubernetes_network_policy_v1: policy([]) } }, ctx)[0]).toMatch(
      /admits every peer/,
    );
    expect(
      RULES.servicesIsolated({ resource: { kubernetes_deployment_v1: redis, kubernetes_network_policy_v1: policy([{ namespace_selector: {} }]) } }, ctx)[0],
    ).toMatch(/admits every peer/);

    const ns = (name: string, level: string) => ({ [name]: { metadata: { name, labels: { "pod-security.kubernetes.io/enforce": level } } } });
    expect(RULES.namespacePodSecurity({ resource: { kubernetes_namespace_v1: { ...ns("hf", "baseline"), ...ns("nfs", "privileged") } } }, ctx)).toEqual([]);
    const inPrivileged = {
      kubernetes_namespace_v1: ns("nfs", "privileged"),
      kubernetes_job_v1: { j: { metadata: { namespace: "${kubernetes_namespace_v1.nfs.metadata[0].name}" } } },
    };
    expect(RULES.namespacePodSecurity({ resource: inPrivileged }, ctx)[0]).toMatch(/runs in a privileged namespace/);

    const gke = (m: object) => ({ resource: { google_container_cluster: { c: { master_authorized_networks_config: m } } } });
    expect(RULES.clusterApiRestricted(gke({ cidr_blocks: [{ cidr_block: "203.0.113.0/24" }], gcp_public_cidrs_access_enabled: false }), ctx)).toEqual([]);
    expect(RULES.clusterApiRestricted(gke({ cidr_blocks: [{ cidr_block: "203.0.113.0/24" }] }), ctx)[0]).toMatch(/Google Cloud's public addresses/);
    expect(RULES.clusterApiRestricted(gke({ cidr_blocks: [{ cidr_block: "0.0.0.0/0" }], gcp_public_cidrs_access_enabled: false }), ctx)[0]).toMatch(
      /open to 0\.0\.0\.0\/0/,
    );
    expect(RULES.clusterApiRestricted({ resource: { aws_eks_cluster: { c: { vpc_config: { endpoint_public_access: true } } } } }, ctx)[0]).toMatch(
      /every address/,
    );

    const eks = (assoc: object) => ({
      resource: {
        aws_eks_cluster: { c: { access_config: { bootstrap_cluster_creator_admin_permissions: false } } },
        aws_eks_access_policy_association: { a: assoc },
      },
    });
    expect(
      RULES.eksAdminAccess(eks({ policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", access_scope: { type: "cluster" } }), ctx),
    ).toEqual([]);
    expect(
      RULES.eksAdminAccess(eks({ policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", access_scope: { type: "cluster" } }), ctx),
    ).toHaveLength(1);
  });

  test("IMDS: a hop limit other than 1 fails, on templates and on instances without one", () => {
    const lt = (m: object) => ({ resource: { aws_launch_template: { lt: { metadata_options: m } } } });
    expect(RULES.imdsV2Everywhere(lt({ http_tokens: "required", http_put_response_hop_limit: 1 }), ctx)).toEqual([]);
    expect(RULES.imdsV2Everywhere(lt({ http_tokens: "required", http_put_response_hop_limit: 2 }), ctx)).toEqual([
      "aws_launch_template.lt: IMDS hop limit 2, not 1",
    ]);
    const instance = { resource: { aws_instance: { i: { metadata_options: { http_tokens: "required", http_put_response_hop_limit: 2 } } } } };
    expect(RULES.imdsV2Everywhere(instance, ctx)).toEqual(["aws_instance.i: IMDS hop limit 2, not 1"]);
  });

  test("a service on a capacity provider: depends_on its cluster's association, not another's", () => {
    expect(RULES.serviceAfterCapacityProviders({ resource: ecsWithWorkers(["aws_ecs_cluster_capacity_providers.cp"]) }, ctx)).toEqual([]);
    expect(RULES.serviceAfterCapacityProviders({ resource: ecsWithWorkers(["aws_ecs_service.other"]) }, ctx)).toEqual([
      "aws_ecs_service.w: has a capacity_provider_strategy but no depends_on aws_ecs_cluster_capacity_providers.cp",
    ]);
    const otherCluster = ecsWithWorkers(["aws_ecs_cluster_capacity_providers.cp"]);
    otherCluster.aws_ecs_cluster_capacity_providers.cp.cluster_name = "${aws_ecs_cluster.elsewhere.name}";
    expect(RULES.serviceAfterCapacityProviders({ resource: otherCluster }, ctx)[0]).toMatch(/has no aws_ecs_cluster_capacity_providers in this stack/);
    // A service on a launch type needs no association.
    expect(
      RULES.serviceAfterCapacityProviders({ resource: { aws_ecs_service: { b: { cluster: "${aws_ecs_cluster.c.arn}", launch_type: "EC2" } } } }, ctx),
    ).toEqual([]);
  });

  test("name prefixes: each type's limit, computed and unknown ones reported", () => {
    const stack = (type: string, prefix: string) => ({ resource: { [type]: { r: { name_prefix: prefix } } } });
    expect(RULES.namePrefixLengths(stack("aws_iam_role", "x".repeat(38)), ctx)).toEqual([]);
    expect(RULES.namePrefixLengths(stack("aws_iam_role", "x".repeat(39)), ctx)).toEqual([
      "aws_iam_role.r: name_prefix has 39 characters; aws_iam_role allows 38",
    ]);
    expect(RULES.namePrefixLengths(stack("aws_launch_template", "x".repeat(100)), ctx)).toHaveLength(1);
    expect(RULES.namePrefixLengths(stack("aws_security_group", "x".repeat(229)), ctx)).toEqual([]);
    expect(RULES.namePrefixLengths(stack("aws_security_group", "${var.name}-"), ctx)[0]).toMatch(/is computed/);
    expect(RULES.namePrefixLengths(stack("aws_lb", "lb-"), ctx)[0]).toMatch(/without a known limit/);
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
