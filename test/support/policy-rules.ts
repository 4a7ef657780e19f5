/**
 * Policy rules over synthesized stacks (Terraform JSON). Each rule returns human-readable violations;
 * an empty list means the stack complies. test/policy.test.ts runs them over every stack and config
 * variant, and feeds each rule a deliberately bad stack so the rules themselves are tested.
 */
import { imageProblem } from "../../config/schema";
import type { TfJson } from "./synth";

interface PolicyContext {
  /** CIDRs the user opened in config (`adminCidrs`); ingress from these is allowed. */
  readonly allowedIngressCidrs: readonly string[];
  /** Unpinnable seed images the config deploys (config/schema.ts `seedImagesIn`); only these may run on `latest`. @default none */
  readonly seedImages?: readonly string[];
}

type Rule = (stack: TfJson, ctx: PolicyContext) => string[];

const each = (stack: TfJson, type: string): [string, any][] => Object.entries(stack.resource?.[type] ?? {});

/** Every string anywhere in a value, with its JSON path. */
function* strings(value: unknown, at = "$"): Generator<[string, string]> {
  if (typeof value === "string") yield [at, value];
  else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* strings(value[i], `${at}[${i}]`);
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) yield* strings(v, `${at}.${k}`);
}

function containerDefs(stack: TfJson): [string, any][] {
  const out: [string, any][] = [];
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

const imdsV2Everywhere: Rule = (stack) => {
  const v: string[] = [];
  for (const [name, lt] of each(stack, "aws_launch_template")) {
    if (lt.metadata_options?.http_tokens !== "required") v.push(`aws_launch_template.${name}: IMDSv2 not required`);
  }
  for (const [name, i] of each(stack, "aws_instance")) {
    const viaTemplate = typeof i.launch_template?.id === "string" && (stack.resource?.aws_launch_template ?? {})[i.launch_template.id.split(".")[1]];
    if (!viaTemplate && i.metadata_options?.http_tokens !== "required") v.push(`aws_instance.${name}: IMDSv2 not required`);
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
  const sse = new Set(Object.values(stack.resource?.aws_s3_bucket_server_side_encryption_configuration ?? {}).map((r: any) => r.bucket));
  for (const [name] of each(stack, "aws_s3_bucket")) {
    if (![...sse].some((b) => typeof b === "string" && b.includes(`aws_s3_bucket.${name}.`))) v.push(`aws_s3_bucket.${name}: no server-side encryption configuration`);
  }
  return v;
};

/** Images of Kubernetes workloads: every `container[].image` in kubernetes_* resources. */
function k8sImages(stack: TfJson): [string, string][] {
  const out: [string, string][] = [];
  for (const [type, byName] of Object.entries(stack.resource ?? {})) {
    if (!type.startsWith("kubernetes_")) continue;
    for (const [name, r] of Object.entries<any>(byName)) {
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
const ECR_IMAGE = /^\$\{(aws_ecr_repository\.([^.}]+)\.repository_url|data\.terraform_remote_state\.[^.}]+\.outputs\.cross-stack-output-aws_ecr_repository[^.}]*repository_url)\}:(.*)$/;

const pinnedImages: Rule = (stack, ctx) => {
  const v: string[] = [];
  for (const [name, c] of containerDefs(stack)) {
    if ((ctx.seedImages ?? []).includes(c.image)) continue;
    const ecr = ECR_IMAGE.exec(c.image);
    if (ecr) {
      const [, , repo, tag] = ecr;
      if (!/^[0-9a-f]{12,64}$/.test(tag)) v.push(`${name}: image ${c.image}: the tag of one of our images must be its content hash (hex), not ${JSON.stringify(tag)}`);
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
    for (const [name, r] of Object.entries<any>(byName)) if (JSON.stringify(r).includes("cluster-admin")) v.push(`${type}.${name}: refers to cluster-admin`);
  }
  for (const [name, r] of each(stack, "kubernetes_role_v1")) {
    if (!r.metadata?.namespace) v.push(`kubernetes_role_v1.${name}: has no namespace`);
    for (const rule of r.rule ?? []) if ((rule.verbs ?? []).includes("*") || (rule.resources ?? []).includes("*")) v.push(`kubernetes_role_v1.${name}: wildcard rule`);
  }
  return v;
};

const iamLeastPrivilege: Rule = (stack) => {
  const v: string[] = [];
  const docs: [string, string][] = [];
  for (const type of ["aws_iam_role_policy", "aws_iam_policy"]) for (const [name, r] of each(stack, type)) docs.push([`${type}.${name}`, r.policy]);
  for (const [where, text] of docs) {
    let doc: any;
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
    if (/AdministratorAccess|FullAccess|PowerUserAccess/.test(String(r.policy_arn))) v.push(`aws_iam_role_policy_attachment.${name}: broad managed policy ${r.policy_arn}`);
  }
  return v;
};

/** ECR repositories: immutable tags, scan on push, encryption at rest, a lifecycle policy. */
const ecrRepositories: Rule = (stack) => {
  const v: string[] = [];
  const withLifecycle = new Set(Object.values<any>(stack.resource?.aws_ecr_lifecycle_policy ?? {}).map((p) => String(p.repository)));
  for (const [name, r] of each(stack, "aws_ecr_repository")) {
    if (r.image_tag_mutability !== "IMMUTABLE") v.push(`aws_ecr_repository.${name}: tags are mutable (image_tag_mutability ${r.image_tag_mutability ?? "unset = MUTABLE"})`);
    if (r.image_scanning_configuration?.scan_on_push !== true) v.push(`aws_ecr_repository.${name}: images are not scanned on push`);
    const enc = [r.encryption_configuration ?? []].flat()[0];
    if (!enc || !["AES256", "KMS"].includes(enc.encryption_type)) v.push(`aws_ecr_repository.${name}: no encryption configuration`);
    if (![...withLifecycle].some((ref) => ref.includes(`aws_ecr_repository.${name}.`))) v.push(`aws_ecr_repository.${name}: no lifecycle policy (untagged images pile up)`);
  }
  return v;
};

const logRetention: Rule = (stack) => {
  const v: string[] = [];
  for (const [name, r] of each(stack, "aws_cloudwatch_log_group")) {
    if (!(typeof r.retention_in_days === "number" && r.retention_in_days > 0)) v.push(`aws_cloudwatch_log_group.${name}: no retention`);
  }
  const groups = new Set(Object.values(stack.resource?.aws_cloudwatch_log_group ?? {}).map((g: any) => g.name));
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
};

export function checkPolicies(stack: TfJson, ctx: PolicyContext): string[] {
  return Object.entries(RULES).flatMap(([name, rule]) => rule(stack, ctx).map((m) => `${name}: ${m}`));
}
