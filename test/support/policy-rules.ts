/**
 * Policy rules over synthesized stacks (Terraform JSON). Each rule returns human-readable violations;
 * an empty list means the stack complies. test/policy.test.ts runs them over every stack and config
 * variant, and feeds each rule a deliberately bad stack so the rules themselves are tested.
 */
import { parse as parseYaml } from "yaml";
import { imageProblem } from "../../config/schema";
import { PRIVATE_CIDR } from "../../constructs/core/rules";
import { terraformUnescape } from "../../constructs/core/terraform-string";
import type { TfJson } from "./stack-json";
import type { Json } from "./json";

interface PolicyContext {
  /** CIDRs the user opened in config (`adminCidrs`); ingress from these is allowed. */
  readonly allowedIngressCidrs: readonly string[];
  /** Unpinnable seed images the config deploys (config/schema.ts `seedImagesIn`); only these may run on `latest`. @default none */
  readonly seedImages?: readonly string[];
}

type Rule = (stack: TfJson, ctx: PolicyContext) => string[];

const each = (stack: TfJson, type: string): [string, Json][] => Object.entries(stack.resource?.[type] ?? {});

/** Every string anywhere in a value, with its JSON path. */
function* strings(value: unknown, at = "$"): Generator<[string, string]> {
  if (typeof value === "string") yield [at, value];
  else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* strings(value[i], `${at}[${i}]`);
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) yield* strings(v, `${at}.${k}`);
}

function containerDefs(stack: TfJson): [string, Json][] {
  const out: [string, Json][] = [];
  for (const [name, td] of each(stack, "aws_ecs_task_definition")) {
    for (const c of JSON.parse(td.container_definitions)) out.push([`${name}/${c.name}`, c]);
  }
  return out;
}

const noAccessKeys: Rule = (stack) => {
  const v: string[] = [];
  for (const type of ["aws_iam_access_key", "aws_iam_user", "aws_iam_user_policy"]) {
    if (each(stack, type).length > 0) v.push(`${type} is not allowed (roles only)`);
  }
  for (const [where, s] of strings(stack)) {
    if (/\b(AKIA|ASIA)[0-9A-Z]{16}\b/.test(s)) v.push(`${where}: looks like an AWS access key id`);
  }
  for (const [name, c] of containerDefs(stack)) {
    for (const e of [...(c.environment ?? []), ...(c.secrets ?? [])]) {
      if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$/.test(e.name)) v.push(`${name}: passes ${e.name} (use the task role)`);
    }
  }
  return v;
};

const WORLD = new Set(["0.0.0.0/0", "::/0"]);
const noWorldIngress: Rule = (stack, ctx) => {
  const v: string[] = [];
  const check = (where: string, cidrs: unknown) => {
    for (const c of (Array.isArray(cidrs) ? cidrs : [cidrs]).filter((x): x is string => typeof x === "string")) {
      if (WORLD.has(c) && !ctx.allowedIngressCidrs.includes(c)) v.push(`${where}: ingress from ${c}`);
    }
  };
  for (const [name, r] of each(stack, "aws_vpc_security_group_ingress_rule")) {
    check(`aws_vpc_security_group_ingress_rule.${name}`, r.cidr_ipv4);
    check(`aws_vpc_security_group_ingress_rule.${name}`, r.cidr_ipv6);
  }
  for (const [name, r] of each(stack, "aws_security_group")) {
    for (const rule of r.ingress ?? []) {
      check(`aws_security_group.${name}`, rule.cidr_blocks);
      check(`aws_security_group.${name}`, rule.ipv6_cidr_blocks);
    }
  }
  for (const [name, r] of each(stack, "aws_security_group_rule")) {
    if (r.type === "ingress") {
      check(`aws_security_group_rule.${name}`, r.cidr_blocks);
      check(`aws_security_group_rule.${name}`, r.ipv6_cidr_blocks);
    }
  }
  return v;
};

/**
 * IMDSv2 only, with a response hop limit of 1: a container in a bridge network is one hop further and
 * cannot read the instance role's credentials (tasks use their task roles).
 */
const imdsV2Everywhere: Rule = (stack) => {
  const v: string[] = [];
  const check = (where: string, m: { http_tokens?: string; http_put_response_hop_limit?: number } | undefined) => {
    if (m?.http_tokens !== "required") v.push(`${where}: IMDSv2 not required`);
    if (m?.http_put_response_hop_limit !== 1)
      v.push(`${where}: IMDS hop limit ${m?.http_put_response_hop_limit ?? "unset (AWS default 1 for new AMIs, 2 for some)"}, not 1`);
  };
  for (const [name, lt] of each(stack, "aws_launch_template")) check(`aws_launch_template.${name}`, lt.metadata_options);
  for (const [name, i] of each(stack, "aws_instance")) {
    const viaTemplate = typeof i.launch_template?.id === "string" && (stack.resource?.aws_launch_template ?? {})[i.launch_template.id.split(".")[1]];
    if (!viaTemplate || i.metadata_options) check(`aws_instance.${name}`, i.metadata_options);
  }
  for (const [name] of each(stack, "aws_launch_configuration")) v.push(`aws_launch_configuration.${name}: launch configurations are not allowed`);
  return v;
};

const encryptionOn: Rule = (stack) => {
  const v: string[] = [];
  for (const [name, lt] of each(stack, "aws_launch_template")) {
    for (const bd of lt.block_device_mappings ?? []) {
      if (bd.ebs && String(bd.ebs.encrypted) !== "true") v.push(`aws_launch_template.${name}: volume ${bd.device_name} not encrypted`);
    }
  }
  for (const [name, i] of each(stack, "aws_instance")) {
    if (i.root_block_device && i.root_block_device.encrypted !== true) v.push(`aws_instance.${name}: root volume not encrypted`);
    if (!i.launch_template && !i.root_block_device) v.push(`aws_instance.${name}: root volume encryption not set`);
  }
  for (const [name] of each(stack, "aws_ebs_volume").filter(([, r]) => r.encrypted !== true)) v.push(`aws_ebs_volume.${name}: not encrypted`);
  const sse = new Set(Object.values(stack.resource?.aws_s3_bucket_server_side_encryption_configuration ?? {}).map((r: Json) => r.bucket));
  for (const [name] of each(stack, "aws_s3_bucket")) {
    if (![...sse].some((b) => typeof b === "string" && b.includes(`aws_s3_bucket.${name}.`)))
      v.push(`aws_s3_bucket.${name}: no server-side encryption configuration`);
  }
  return v;
};

/** Images of Kubernetes workloads: every `container[].image` in kubernetes_* resources. */
function k8sImages(stack: TfJson): [string, string][] {
  const out: [string, string][] = [];
  for (const [type, byName] of Object.entries(stack.resource ?? {})) {
    if (!type.startsWith("kubernetes_")) continue;
    for (const [name, r] of Object.entries<Json>(byName)) {
      const walk = (v: unknown) => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === "object") {
          for (const [k, x] of Object.entries(v)) {
            if (k === "image" && typeof x === "string") out.push([`${type}.${name}`, x]);
            else walk(x);
          }
        }
      };
      walk(r);
    }
  }
  return out;
}

/**
 * An image in one of our ECR repositories: the repository's URL (a reference to an aws_ecr_repository of
 * this stack, or the ecs stack's output of one read through remote state) and a tag.
 */
const ECR_IMAGE =
  /^\$\{(aws_ecr_repository\.([^.}]+)\.repository_url|data\.terraform_remote_state\.[^.}]+\.outputs\.cross-stack-output-aws_ecr_repository[^.}]*repository_url)\}:(.*)$/;

const pinnedImages: Rule = (stack, ctx) => {
  const v: string[] = [];
  for (const [name, c] of containerDefs(stack)) {
    if ((ctx.seedImages ?? []).includes(c.image)) continue;
    const ecr = ECR_IMAGE.exec(c.image);
    if (ecr) {
      const [, , repo, tag] = ecr;
      if (!/^[0-9a-f]{12,64}$/.test(tag))
        v.push(`${name}: image ${c.image}: the tag of one of our images must be its content hash (hex), not ${JSON.stringify(tag)}`);
      const r = repo === undefined ? undefined : stack.resource?.aws_ecr_repository?.[repo];
      if (repo !== undefined && r === undefined) v.push(`${name}: image ${c.image}: no aws_ecr_repository.${repo} in this stack`);
      if (r && r.image_tag_mutability !== "IMMUTABLE") v.push(`${name}: image ${c.image}: repository ${repo} has mutable tags`);
      continue;
    }
    if (c.image.includes("${")) {
      v.push(`${name}: image ${c.image} is computed from something other than one of our ECR repositories (cannot be checked)`);
      continue;
    }
    const problem = imageProblem(c.image);
    if (problem) v.push(`${name}: image ${c.image} ${problem}`);
  }
  for (const [where, image] of k8sImages(stack)) {
    const problem = imageProblem(image);
    if (problem) v.push(`${where}: image ${image} ${problem}`);
  }
  for (const [name, r] of each(stack, "helm_release")) {
    if (!r.version || !/^\d+\.\d+\.\d+/.test(String(r.version))) v.push(`helm_release.${name}: chart ${r.chart} has no pinned version`);
  }
  return v;
};

/** No cluster-wide grants: no ClusterRoleBinding at all, no Role/binding naming cluster-admin. */
const noClusterAdmin: Rule = (stack) => {
  const v: string[] = [];
  for (const type of ["kubernetes_cluster_role_binding", "kubernetes_cluster_role_binding_v1", "kubernetes_cluster_role", "kubernetes_cluster_role_v1"]) {
    for (const [name] of each(stack, type)) v.push(`${type}.${name}: cluster-wide RBAC is not allowed (use a namespaced Role)`);
  }
  for (const [type, byName] of Object.entries(stack.resource ?? {})) {
    if (!type.startsWith("kubernetes_")) continue;
    for (const [name, r] of Object.entries<Json>(byName)) if (JSON.stringify(r).includes("cluster-admin")) v.push(`${type}.${name}: refers to cluster-admin`);
  }
  for (const [name, r] of each(stack, "kubernetes_role_v1")) {
    if (!r.metadata?.namespace) v.push(`kubernetes_role_v1.${name}: has no namespace`);
    for (const rule of r.rule ?? [])
      if ((rule.verbs ?? []).includes("*") || (rule.resources ?? []).includes("*")) v.push(`kubernetes_role_v1.${name}: wildcard rule`);
  }
  return v;
};

const iamLeastPrivilege: Rule = (stack) => {
  const v: string[] = [];
  const docs: [string, string][] = [];
  for (const type of ["aws_iam_role_policy", "aws_iam_policy"]) for (const [name, r] of each(stack, type)) docs.push([`${type}.${name}`, r.policy]);
  for (const [where, text] of docs) {
    let doc: Json;
    try {
      doc = JSON.parse(text);
    } catch {
      v.push(`${where}: policy is not literal JSON (cannot be checked)`);
      continue;
    }
    for (const st of [doc.Statement].flat()) {
      if (st.Effect !== "Allow") continue;
      const actions = [st.Action].flat();
      const resources = [st.Resource].flat();
      for (const a of actions) if (a === "*" || /^[a-z0-9-]+:\*$/.test(a)) v.push(`${where}: grants ${a}`);
      // Read-only calls without resource-level permissions (Describe*, Get*, List*) may name "*".
      const readOnly = actions.every((a) => /^[a-z0-9-]+:(Describe|Get|List)[A-Za-z]*$/.test(a));
      if (resources.includes("*") && !st.Condition && !readOnly) v.push(`${where}: ${actions.join(",")} on every resource without a condition`);
    }
  }
  for (const [name, r] of each(stack, "aws_iam_role_policy_attachment")) {
    if (/AdministratorAccess|FullAccess|PowerUserAccess/.test(String(r.policy_arn)))
      v.push(`aws_iam_role_policy_attachment.${name}: broad managed policy ${r.policy_arn}`);
  }
  return v;
};

/** ECR repositories: immutable tags, scan on push, encryption at rest, a lifecycle policy. */
const ecrRepositories: Rule = (stack) => {
  const v: string[] = [];
  const withLifecycle = new Set(Object.values<Json>(stack.resource?.aws_ecr_lifecycle_policy ?? {}).map((p) => String(p.repository)));
  for (const [name, r] of each(stack, "aws_ecr_repository")) {
    if (r.image_tag_mutability !== "IMMUTABLE")
      v.push(`aws_ecr_repository.${name}: tags are mutable (image_tag_mutability ${r.image_tag_mutability ?? "unset = MUTABLE"})`);
    if (r.image_scanning_configuration?.scan_on_push !== true) v.push(`aws_ecr_repository.${name}: images are not scanned on push`);
    const enc = [r.encryption_configuration ?? []].flat()[0];
    if (!enc || !["AES256", "KMS"].includes(enc.encryption_type)) v.push(`aws_ecr_repository.${name}: no encryption configuration`);
    if (![...withLifecycle].some((ref) => ref.includes(`aws_ecr_repository.${name}.`)))
      v.push(`aws_ecr_repository.${name}: no lifecycle policy (untagged images pile up)`);
  }
  return v;
};

const logRetention: Rule = (stack) => {
  const v: string[] = [];
  for (const [name, r] of each(stack, "aws_cloudwatch_log_group")) {
    if (!(typeof r.retention_in_days === "number" && r.retention_in_days > 0)) v.push(`aws_cloudwatch_log_group.${name}: no retention`);
  }
  const groups = new Set(Object.values(stack.resource?.aws_cloudwatch_log_group ?? {}).map((g: Json) => g.name));
  for (const [name, c] of containerDefs(stack)) {
    const lc = c.logConfiguration;
    if (!lc || lc.logDriver !== "awslogs") {
      v.push(`${name}: container logs go nowhere (no awslogs driver)`);
      continue;
    }
    const group = lc.options?.["awslogs-group"];
    const declared = typeof group === "string" && (groups.has(group) || /^\$\{aws_cloudwatch_log_group\.[^.]+\.name\}$/.test(group));
    if (!declared) v.push(`${name}: logs to ${group}, a log group this stack does not manage (no retention)`);
  }
  return v;
};

// ---------------------------------------------------------------------------------------------------
// Kubernetes workloads and clusters

interface TolerationLike {
  readonly key?: string;
  readonly operator?: string;
  readonly value?: string;
  readonly effect?: string;
}
interface PodTemplate {
  readonly where: string;
  readonly job: boolean;
  readonly annotations: Record<string, string>;
  readonly nodeSelector: Record<string, string>;
  readonly tolerations: readonly TolerationLike[];
}

/** Pod templates of a stack in Kubernetes field names: kubernetes_* workloads (snake_case read here) and Job templates in ConfigMaps. */
function podTemplates(stack: TfJson): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const type of ["kubernetes_job_v1", "kubernetes_deployment_v1", "kubernetes_stateful_set_v1", "kubernetes_daemon_set_v1", "kubernetes_cron_job_v1"]) {
    for (const [name, r] of each(stack, type)) {
      const t = r.spec?.template ?? r.spec?.job_template?.spec?.template;
      if (!t) continue;
      out.push({
        where: `${type}.${name}`,
        job: type === "kubernetes_job_v1",
        annotations: t.metadata?.annotations ?? {},
        nodeSelector: t.spec?.node_selector ?? {},
        tolerations: t.spec?.toleration ?? [],
      });
    }
  }
  for (const [name, r] of each(stack, "kubernetes_config_map_v1")) {
    for (const [key, text] of Object.entries<string>(r.data ?? {})) {
      if (!/^kind: Job$/m.test(text)) continue;
      const doc = parseYaml(terraformUnescape(text));
      const t = doc?.spec?.template;
      out.push({
        where: `kubernetes_config_map_v1.${name} ${key}`,
        job: true,
        annotations: t?.metadata?.annotations ?? {},
        nodeSelector: t?.spec?.nodeSelector ?? {},
        tolerations: t?.spec?.tolerations ?? [],
      });
    }
  }
  return out;
}

/**
 * A pod with a node selector tolerates each pair as a NoSchedule taint: GKE Autopilot admits a custom
 * selector only so (workload separation), and the worker pools are tainted that way.
 */
const podsTolerateSelectors: Rule = (stack) => {
  const v: string[] = [];
  for (const p of podTemplates(stack)) {
    for (const [key, value] of Object.entries(p.nodeSelector)) {
      if (!p.tolerations.some((t) => t.key === key && t.value === value && t.operator === "Equal" && t.effect === "NoSchedule")) {
        v.push(`${p.where}: selects ${key}=${value} without a NoSchedule toleration of it (refused by GKE Autopilot, never placed on a tainted pool)`);
      }
    }
  }
  return v;
};

/**
 * A service with a capacity provider strategy is created after, and destroyed before, its cluster's
 * capacity-provider association: ECS rejects a strategy naming a provider the cluster does not have,
 * and refuses to drop a provider a service still uses. Only a resource-level `depends_on` orders them
 * (`node.addDependency` between constructs writes nothing into the JSON).
 */
const serviceAfterCapacityProviders: Rule = (stack) => {
  const v: string[] = [];
  const clusterOf = (ref: unknown) => /\$\{(aws_ecs_cluster\.[^.}]+)\./.exec(String(ref))?.[1];
  const associations = each(stack, "aws_ecs_cluster_capacity_providers");
  for (const [name, s] of each(stack, "aws_ecs_service")) {
    if (!s.capacity_provider_strategy || [s.capacity_provider_strategy].flat().length === 0) continue;
    const cluster = clusterOf(s.cluster);
    const mine = associations
      .filter(([, a]) => cluster !== undefined && clusterOf(a.cluster_name) === cluster)
      .map(([n]) => `aws_ecs_cluster_capacity_providers.${n}`);
    if (mine.length === 0) {
      v.push(
        `aws_ecs_service.${name}: has a capacity_provider_strategy but its cluster (${s.cluster}) has no aws_ecs_cluster_capacity_providers in this stack`,
      );
      continue;
    }
    const deps: string[] = s.depends_on ?? [];
    for (const a of mine) if (!deps.includes(a)) v.push(`aws_ecs_service.${name}: has a capacity_provider_strategy but no depends_on ${a}`);
  }
  return v;
};

/**
 * Longest `name_prefix` the provider accepts, per resource type: the name's limit less the 26 characters
 * of the generated suffix. Sources: hashicorp/terraform-provider-aws internal/service/ec2/ec2_launch_template.go
 * (verify.ValidLaunchTemplateName: 99), internal/service/iam/role.go (64 - 26), internal/service/iam/instance_profile.go
 * (128 - 26), internal/service/ec2/vpc_security_group.go (255 - 26), internal/service/secretsmanager/validate.go
 * (512 - 26); hashicorp/terraform-provider-google google/services/container/resource_container_node_pool.go
 * (PrefixedUniqueId's 26 characters after the prefix, in a node pool name of at most 40).
 */
export const NAME_PREFIX_LIMITS: Readonly<Record<string, number>> = {
  aws_launch_template: 99,
  // internal/service/batch/compute_environment.go (128 - 26)
  aws_batch_compute_environment: 102,
  aws_iam_role: 38,
  aws_iam_instance_profile: 102,
  aws_security_group: 229,
  aws_secretsmanager_secret: 486,
  google_container_node_pool: 14,
};

/** Every literal `name_prefix` fits its resource type's limit, and every type that has one is known. */
const namePrefixLengths: Rule = (stack) => {
  const v: string[] = [];
  for (const [type, byName] of Object.entries(stack.resource ?? {})) {
    for (const [name, r] of Object.entries<{ name_prefix?: unknown }>(byName)) {
      const prefix = r.name_prefix;
      if (typeof prefix !== "string") continue;
      const limit = NAME_PREFIX_LIMITS[type];
      if (limit === undefined) v.push(`${type}.${name}: name_prefix on a type without a known limit (add it to NAME_PREFIX_LIMITS)`);
      else if (prefix.includes("${")) v.push(`${type}.${name}: name_prefix ${prefix} is computed (its length cannot be checked)`);
      else if (prefix.length > limit) v.push(`${type}.${name}: name_prefix has ${prefix.length} characters; ${type} allows ${limit}`);
    }
  }
  return v;
};

/** Pods of Jobs (and every HyperFlow pod) are not evicted by the cluster autoscaler: an evicted task never reports and the engine waits for ever. */
const podsNotEvictable: Rule = (stack) =>
  podTemplates(stack)
    .filter((p) => p.annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] !== "false")
    .map((p) => `${p.where}: no cluster-autoscaler.kubernetes.io/safe-to-evict: "false" (the autoscaler may evict it to remove its node)`);

/** Every Job ends: a deadline (activeDeadlineSeconds). */
const jobsHaveDeadlines: Rule = (stack) =>
  each(stack, "kubernetes_job_v1")
    .filter(([, r]) => !(Number(r.spec?.active_deadline_seconds) > 0))
    .map(([name]) => `kubernetes_job_v1.${name}: no activeDeadlineSeconds (a Job waiting on something that never comes runs for ever)`);

/** A Deployment that serves a port is selected by a NetworkPolicy whose ingress names its peers (Redis: the executor runs what it reads there). */
const servicesIsolated: Rule = (stack) => {
  const v: string[] = [];
  const policies = Object.values(stack.resource?.kubernetes_network_policy_v1 ?? {});
  for (const [name, d] of each(stack, "kubernetes_deployment_v1")) {
    const pod = d.spec?.template;
    const serves = (pod?.spec?.container ?? []).some((c: { port?: unknown[] }) => (c.port ?? []).length > 0);
    if (!serves) continue;
    const labels: Record<string, string> = pod?.metadata?.labels ?? {};
    const selecting = policies.filter((p) => {
      const sel = p.spec?.pod_selector?.match_labels ?? {};
      return Object.keys(sel).length > 0 && Object.entries(sel).every(([k, x]) => labels[k] === x) && (p.spec?.policy_types ?? []).includes("Ingress");
    });
    if (selecting.length === 0) v.push(`kubernetes_deployment_v1.${name}: serves a port and no NetworkPolicy limits its ingress`);
    for (const p of selecting) {
      for (const rule of p.spec?.ingress ?? []) {
        const peers = rule.from ?? [];
        const open =
          peers.length === 0 ||
          peers.some(
            (f: { ip_block?: { cidr?: unknown; except?: unknown }; namespace_selector?: { match_labels?: object; match_expressions?: unknown } }) =>
              (f.ip_block && !PRIVATE_CIDR.test(String(f.ip_block.cidr))) ||
              (f.namespace_selector && Object.keys(f.namespace_selector.match_labels ?? {}).length === 0 && !f.namespace_selector.match_expressions),
          );
        if (open) v.push(`kubernetes_deployment_v1.${name}: a NetworkPolicy ingress rule admits every peer or namespace`);
      }
    }
  }
  // A Service outside the cluster network: an internal load balancer, open to private CIDRs only.
  for (const [name, svc] of each(stack, "kubernetes_service_v1")) {
    const type = svc.spec?.type ?? "ClusterIP";
    if (type === "NodePort") v.push(`kubernetes_service_v1.${name}: NodePort (reachable on every node)`);
    if (type !== "LoadBalancer") continue;
    if (svc.metadata?.annotations?.["service.beta.kubernetes.io/aws-load-balancer-internal"] !== "true")
      v.push(`kubernetes_service_v1.${name}: a LoadBalancer that is not internal`);
    const ranges: unknown[] = svc.spec?.load_balancer_source_ranges ?? [];
    if (ranges.length === 0 || ranges.some((r) => !PRIVATE_CIDR.test(String(r))))
      v.push(`kubernetes_service_v1.${name}: a LoadBalancer open beyond private source ranges (${JSON.stringify(ranges)})`);
  }
  return v;
};

/**
 * ElastiCache: a replication group (no single-node aws_elasticache_cluster), encrypted at rest and in
 * transit (mode required), with an AUTH token, and security groups whose ingress names other security
 * groups only (no CIDR, so no "open Redis").
 */
const elasticacheSecured: Rule = (stack) => {
  const v: string[] = [];
  for (const [name] of each(stack, "aws_elasticache_cluster")) v.push(`aws_elasticache_cluster.${name}: use a replication group (encryption and AUTH)`);
  for (const [name, g] of each(stack, "aws_elasticache_replication_group")) {
    const at = `aws_elasticache_replication_group.${name}`;
    if (String(g.at_rest_encryption_enabled) !== "true") v.push(`${at}: not encrypted at rest`);
    if (g.transit_encryption_enabled !== true) v.push(`${at}: not encrypted in transit`);
    if (g.transit_encryption_mode !== undefined && g.transit_encryption_mode !== "required")
      v.push(`${at}: transit encryption mode ${g.transit_encryption_mode}`);
    if (typeof g.auth_token !== "string" || g.auth_token.length === 0) v.push(`${at}: no AUTH token`);
    const sgs: string[] = g.security_group_ids ?? [];
    if (sgs.length === 0) v.push(`${at}: no security group (the VPC's default would apply)`);
    for (const sg of sgs) {
      const m = /^\$\{aws_security_group\.([^.]+)\.id\}$/.exec(sg);
      if (!m) {
        v.push(`${at}: security group ${sg} is not one of this stack's`);
        continue;
      }
      const inline = stack.resource?.aws_security_group?.[m[1]]?.ingress ?? [];
      if (inline.length > 0) v.push(`${at}: security group ${m[1]} has inline ingress rules`);
      for (const [rn, r] of each(stack, "aws_vpc_security_group_ingress_rule")) {
        if (r.security_group_id !== sg) continue;
        if (!r.referenced_security_group_id || r.cidr_ipv4 || r.cidr_ipv6 || r.prefix_list_id)
          v.push(`aws_vpc_security_group_ingress_rule.${rn}: Redis ingress from an address range, not from a security group`);
      }
    }
  }
  return v;
};

/** Every S3 bucket: public access blocked on all four switches, and a policy that denies requests without TLS. */
const bucketsPrivate: Rule = (stack) => {
  const v: string[] = [];
  const blocks = Object.values(stack.resource?.aws_s3_bucket_public_access_block ?? {});
  const policies = Object.values(stack.resource?.aws_s3_bucket_policy ?? {});
  for (const [name] of each(stack, "aws_s3_bucket")) {
    const mine = (r: Json) => typeof r.bucket === "string" && r.bucket.includes(`aws_s3_bucket.${name}.`);
    const block = blocks.find(mine);
    if (!block || !["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"].every((k) => block[k] === true))
      v.push(`aws_s3_bucket.${name}: public access not blocked on all four switches`);
    const tls = policies.filter(mine).some((p) => /"aws:SecureTransport":"false"/.test(String(p.policy).replace(/\s/g, "")));
    if (!tls) v.push(`aws_s3_bucket.${name}: no policy denying requests without TLS`);
  }
  return v;
};

/** Pod Security Admission: every namespace enforces a level; privileged namespaces hold no HyperFlow workload (only a helm release such as the NFS server). */
const namespacePodSecurity: Rule = (stack) => {
  const v: string[] = [];
  const privileged = new Set<string>();
  for (const [name, n] of each(stack, "kubernetes_namespace_v1")) {
    const level = n.metadata?.labels?.["pod-security.kubernetes.io/enforce"];
    if (!["privileged", "baseline", "restricted"].includes(level)) v.push(`kubernetes_namespace_v1.${name}: no pod-security.kubernetes.io/enforce level`);
    if (level === "privileged") privileged.add(`\${kubernetes_namespace_v1.${name}.metadata[0].name}`).add(n.metadata?.name);
  }
  for (const type of ["kubernetes_job_v1", "kubernetes_deployment_v1", "kubernetes_stateful_set_v1", "kubernetes_daemon_set_v1"]) {
    for (const [name, r] of each(stack, type)) if (privileged.has(r.metadata?.namespace)) v.push(`${type}.${name}: runs in a privileged namespace`);
  }
  return v;
};

/** The Kubernetes API of a new cluster is reachable from named CIDRs only (or privately). */
const clusterApiRestricted: Rule = (stack, ctx) => {
  const v: string[] = [];
  for (const [name, c] of each(stack, "google_container_cluster")) {
    const m = c.master_authorized_networks_config;
    const blocks: string[] = (m?.cidr_blocks ?? []).map((b: { cidr_block: string }) => b.cidr_block);
    if (c.private_cluster_config?.enable_private_endpoint === true) continue;
    if (blocks.length === 0) v.push(`google_container_cluster.${name}: API open to every address (no master authorized networks)`);
    for (const b of blocks) if (WORLD.has(b) && !ctx.allowedIngressCidrs.includes(b)) v.push(`google_container_cluster.${name}: API open to ${b}`);
    if (m && m.gcp_public_cidrs_access_enabled !== false) v.push(`google_container_cluster.${name}: API open to Google Cloud's public addresses`);
  }
  for (const [name, c] of each(stack, "aws_eks_cluster")) {
    if (c.vpc_config?.endpoint_public_access === false) continue;
    const cidrs: string[] = c.vpc_config?.public_access_cidrs ?? [];
    if (cidrs.length === 0) v.push(`aws_eks_cluster.${name}: public API endpoint open to every address`);
    for (const b of cidrs) if (WORLD.has(b) && !ctx.allowedIngressCidrs.includes(b)) v.push(`aws_eks_cluster.${name}: API open to ${b}`);
  }
  return v;
};

/** An EKS cluster whose creator gets no admin access names other admins (else nobody can use it). */
const eksAdminAccess: Rule = (stack) => {
  const v: string[] = [];
  const admins = Object.values(stack.resource?.aws_eks_access_policy_association ?? {}).filter(
    (a) => String(a.policy_arn).endsWith(":cluster-access-policy/AmazonEKSClusterAdminPolicy") && a.access_scope?.type === "cluster",
  );
  for (const [name, c] of each(stack, "aws_eks_cluster")) {
    if (c.access_config?.bootstrap_cluster_creator_admin_permissions === false && admins.length === 0)
      v.push(`aws_eks_cluster.${name}: no creator admin and no cluster admin access entry (nobody can reach the API)`);
  }
  return v;
};

/**
 * Lambda: no open endpoints (a Function URL must use AWS_IAM auth; no invoke permission for every
 * principal), functions log to a log group this stack manages (with retention), container images
 * come from one of our immutable ECR repositories (a tag there cannot move: the worker's content tag, or
 * an app's own release tag).
 */
const lambdaFunctions: Rule = (stack) => {
  const v: string[] = [];
  for (const [name, u] of each(stack, "aws_lambda_function_url")) {
    if (u.authorization_type !== "AWS_IAM")
      v.push(`aws_lambda_function_url.${name}: authorization_type ${u.authorization_type} (open endpoint; allowed: AWS_IAM)`);
  }
  for (const [name, p] of each(stack, "aws_lambda_permission")) {
    if (p.principal === "*" || (String(p.action) === "lambda:InvokeFunctionUrl" && p.function_url_auth_type === "NONE"))
      v.push(`aws_lambda_permission.${name}: lets anyone invoke the function`);
  }
  for (const [name, f] of each(stack, "aws_lambda_function")) {
    const group = f.logging_config?.log_group;
    if (typeof group !== "string" || !/^\$\{aws_cloudwatch_log_group\.[^.]+\.name\}$/.test(group))
      v.push(`aws_lambda_function.${name}: logs to ${group ?? "/aws/lambda/<name>, a group no stack manages"} (no retention)`);
    if (f.package_type === "Image") {
      const ecr = ECR_IMAGE.exec(String(f.image_uri));
      const repo = ecr?.[2];
      const r = repo === undefined ? undefined : stack.resource?.aws_ecr_repository?.[repo];
      if (!ecr) v.push(`aws_lambda_function.${name}: image ${f.image_uri} is not in one of this stack's ECR repositories`);
      else if (ecr[3] === "latest")
        v.push(`aws_lambda_function.${name}: image ${f.image_uri} is not pinned (tag latest; allowed: a content tag or a release tag)`);
      else if (!r || r.image_tag_mutability !== "IMMUTABLE")
        v.push(`aws_lambda_function.${name}: image repository ${repo} is not an immutable repository of this stack`);
    }
  }
  return v;
};

/**
 * AWS Batch: every container of a job definition (single-node `containerProperties`, each node range of
 * a multi-node job) logs to a log group this stack manages (retention), runs with a job role and no AWS
 * keys, and runs a pinned image (a tag in one of this stack's immutable ECR repositories, or a pinned
 * reference); every EC2 or Spot compute environment launches from a launch template of this stack (where
 * imdsV2Everywhere and encryptionOn check IMDSv2, the hop limit and the root volume's encryption).
 */
const batchJobs: Rule = (stack) => {
  const v: string[] = [];
  const groups = new Set(Object.keys(stack.resource?.aws_cloudwatch_log_group ?? {}));
  for (const [name, d] of each(stack, "aws_batch_job_definition")) {
    const where = `aws_batch_job_definition.${name}`;
    const containers: Json[] = d.container_properties
      ? [JSON.parse(d.container_properties)]
      : (JSON.parse(d.node_properties ?? "{}").nodeRangeProperties ?? []).map((r: Json) => r.container);
    if (containers.length === 0) v.push(`${where}: no container`);
    for (const c of containers) {
      const group = /^\$\{aws_cloudwatch_log_group\.([^.]+)\.name\}$/.exec(String(c?.logConfiguration?.options?.["awslogs-group"] ?? ""))?.[1];
      if (c?.logConfiguration?.logDriver !== "awslogs" || group === undefined || !groups.has(group))
        v.push(`${where}: logs do not go to a log group this stack manages (no retention)`);
      if (!c?.jobRoleArn) v.push(`${where}: no job role (the container would need keys)`);
      for (const e of c?.environment ?? [])
        if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$/.test(e.name)) v.push(`${where}: passes ${e.name} (use the job role)`);
      const image = String(c?.image ?? "");
      const ecr = /^\$\{aws_ecr_repository\.([^.}]+)\.repository_url\}:(.+)$/.exec(image);
      if (ecr) {
        const repo = stack.resource?.aws_ecr_repository?.[ecr[1]];
        if (!repo || repo.image_tag_mutability !== "IMMUTABLE") v.push(`${where}: image ${image} is not in an immutable repository of this stack`);
      } else if (image.includes("${")) v.push(`${where}: image ${image} is computed from something other than this stack's ECR repositories`);
      else {
        const problem = imageProblem(image);
        if (problem) v.push(`${where}: image ${image} ${problem}`);
      }
    }
  }
  for (const [name, ce] of each(stack, "aws_batch_compute_environment")) {
    const cr = [ce.compute_resources ?? []].flat()[0];
    if (cr && (cr.type === "EC2" || cr.type === "SPOT") && !/^\$\{aws_launch_template\./.test(String(cr.launch_template?.launch_template_id ?? "")))
      v.push(`aws_batch_compute_environment.${name}: EC2 instances without a launch template of this stack (IMDSv2, encrypted volumes unchecked)`);
  }
  return v;
};

export const RULES: Readonly<Record<string, Rule>> = {
  noAccessKeys,
  noWorldIngress,
  imdsV2Everywhere,
  encryptionOn,
  pinnedImages,
  ecrRepositories,
  iamLeastPrivilege,
  logRetention,
  noClusterAdmin,
  podsTolerateSelectors,
  podsNotEvictable,
  jobsHaveDeadlines,
  servicesIsolated,
  namespacePodSecurity,
  clusterApiRestricted,
  eksAdminAccess,
  elasticacheSecured,
  bucketsPrivate,
  serviceAfterCapacityProviders,
  namePrefixLengths,
  lambdaFunctions,
  batchJobs,
};

export function checkPolicies(stack: TfJson, ctx: PolicyContext): string[] {
  return Object.entries(RULES).flatMap(([name, rule]) => rule(stack, ctx).map((m) => `${name}: ${m}`));
}
