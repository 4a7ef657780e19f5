/**
 * What a value may look like, each rule written once with the words for what is allowed.
 *
 * The config schema applies them through one adapter (config/schema/common.ts: `checked`), the
 * constructs through `requireRule` (constructs/core/validation.ts). A config error reads
 * `<key>: <problem>; allowed: <allowed> (got <value>)`, a PropsError
 * `<Construct>: invalid <prop> <value>; allowed: <allowed>`: the allowed-text is the same on both paths.
 * Rules live here, not in config/, because constructs never import the config.
 */
import * as ipaddr from "ipaddr.js";
import { INFLUXDB_PORT, MONITORING_DEFAULTS } from "./defaults";

/** A rule for one value. `test` and `problem` are plain functions (safe to pass around unbound). */
export interface Rule<T> {
  /** True when the value is allowed. */
  readonly test: (value: T) => boolean;
  /** What is wrong with a value that is not allowed ("is not an EC2 instance type"); undefined when allowed. */
  readonly problem: (value: T) => string | undefined;
  /** What is allowed, in words: the text after "allowed: " in config errors and PropsError alike. */
  readonly allowed: string;
}

/** A rule that is one regular expression (and optional length bounds); the JSON Schema shows it as `pattern`. */
export interface PatternRule extends Rule<string> {
  readonly pattern: RegExp;
  readonly minLength?: number;
  readonly maxLength?: number;
}

/** An integer range (the schema expresses it with `.int().min().max()`, the JSON Schema as minimum/maximum). */
export interface IntRange extends Rule<number> {
  readonly min: number;
  readonly max: number;
}

/** `<problem>; allowed: <allowed>` for a value that breaks the rule, else undefined. */
export function ruleMessage<T>(rule: Rule<T>, value: T): string | undefined {
  const problem = rule.problem(value);
  return problem === undefined ? undefined : `${problem}; allowed: ${rule.allowed}`;
}

function rule<T>(test: (value: T) => boolean, problem: string, allowed: string): Rule<T> {
  return { test, problem: (v) => (test(v) ? undefined : problem), allowed };
}

function patternRule(pattern: RegExp, problem: string, allowed: string, length: { minLength?: number; maxLength?: number } = {}): PatternRule {
  const { minLength = 0, maxLength = Infinity } = length;
  const test = (v: string) => v.length >= minLength && v.length <= maxLength && pattern.test(v);
  return { ...rule(test, problem, allowed), pattern, ...length };
}

function intRange(min: number, max: number): IntRange {
  const test = (v: number) => Number.isInteger(v) && v >= min && v <= max;
  return { ...rule(test, `is not an integer from ${min} to ${max}`, `an integer from ${min} to ${max}`), min, max };
}

/** The same rule, but the empty string is allowed too (meaning "none"). */
export function emptyOr(inner: Rule<string>): Rule<string> {
  return {
    test: (v) => v === "" || inner.test(v),
    problem: (v) => (v === "" ? undefined : inner.problem(v)),
    allowed: `empty, or ${inner.allowed}`,
  };
}

// ---------------------------------------------------------------------------------------------------
// AWS names and ids

/** AWS region names such as `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-5`. */
export const AWS_REGION_PATTERN =
  /^(us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov|us-iso|us-isob)-(north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9]$/;
export const AWS_REGION = patternRule(AWS_REGION_PATTERN, "is not an AWS region", "a region name such as us-east-1 or eu-central-1");

/** EC2 instance types (`family.size`). */
export const INSTANCE_TYPE = patternRule(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "is not an EC2 instance type", "family.size, e.g. t3.medium or m7g.large");
export const ELASTICACHE_NODE_TYPE = patternRule(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, "is not an ElastiCache node type", "cache.family.size, e.g. cache.t4g.small");

export const AMI_ID = patternRule(/^ami-[0-9a-f]{8,17}$/, "is not an AMI id", "ami- followed by 8 to 17 lowercase hex digits");
export const VPC_ID = patternRule(/^vpc-[0-9a-f]{8,17}$/, "is not a VPC id", "vpc- followed by 8 to 17 lowercase hex digits");
export const SUBNET_ID = patternRule(/^subnet-[0-9a-f]{8,17}$/, "is not a subnet id", "subnet- followed by 8 to 17 lowercase hex digits");

/** ECS cluster names (also the prefix of the group, alarms, policies and the metric dimension). */
export const ECS_CLUSTER_NAME = patternRule(/^[A-Za-z0-9_-]{1,200}$/, "is not a valid ECS cluster name", "1 to 200 letters, digits, `-` or `_`");

/** EKS: 1–100 letters, digits, `-` or `_`, starting with a letter or digit. */
export const EKS_CLUSTER_NAME = patternRule(
  /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/,
  "is not a valid EKS cluster name",
  "1 to 100 letters, digits, `-` or `_`, starting with a letter or digit",
);

/** GKE: 1–40 lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit. */
export const GKE_CLUSTER_NAME = patternRule(
  /^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/,
  "is not a valid GKE cluster name",
  "1 to 40 lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit",
);

/** A Kubernetes cluster name both EKS and GKE accept (GKE's rule is the stricter one), so one key serves both. */
export const K8S_CLUSTER_NAME = patternRule(
  GKE_CLUSTER_NAME.pattern,
  "is not a cluster name both EKS and GKE accept",
  "1 to 40 lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit",
);

export const S3_BUCKET_NAME = patternRule(
  /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  "is not an S3 bucket name",
  "3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit",
);

/** Prefix of a generated bucket name (AWS appends a 26-character suffix; names have at most 63). */
export const BUCKET_NAME_PREFIX = patternRule(
  /^[a-z0-9][a-z0-9.-]{0,36}$/,
  "is not a bucket name prefix",
  "1 to 37 lowercase letters, digits, dots and hyphens, starting with a letter or digit",
);

/**
 * Key prefix of a job in the bucket: executors concatenate prefix and file name, so each segment ends in
 * `/`; `.` and `..` are no segments (tools that map keys to paths would leave the prefix).
 */
export const KEY_PREFIX = patternRule(
  /^((?!\.\.?\/)[A-Za-z0-9!_.*'()-]+\/)*$/,
  "is not a key prefix",
  "empty, or segments of letters, digits and !_.*'()- each ending in /, none of them . or ..",
);

/** Resource tag keys and values (letters, digits, spaces and `_.:/=+-@`). */
export const TAG_KEY = patternRule(
  /^(?!aws:)[\p{L}\p{N}\s_.:/=+\-@]+$/u,
  "is not a valid tag key",
  "1–128 letters, digits, spaces and _.:/=+-@, not starting with aws:",
  { minLength: 1, maxLength: 128 },
);
export const TAG_VALUE = patternRule(/^[\p{L}\p{N}\s_.:/=+\-@]*$/u, "is not a valid tag value", "0–256 letters, digits, spaces and _.:/=+-@", {
  maxLength: 256,
});

/** True for an IPv4 or IPv6 CIDR whose address is the network address (`10.0.0.0/16`, not `10.0.0.1/16`). */
export function isCanonicalCidr(value: string): boolean {
  if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(value)) return false;
  try {
    const [addr, bits] = ipaddr.parseCIDR(value);
    const network = addr.kind() === "ipv4" ? ipaddr.IPv4.networkAddressFromCIDR(value) : ipaddr.IPv6.networkAddressFromCIDR(value);
    return network.toString() === addr.toString() && bits >= 0;
  } catch {
    return false;
  }
}
export const CIDR = rule(isCanonicalCidr, "is not a CIDR block", "a network address with prefix length, e.g. 203.0.113.0/24 or 2001:db8::/32");

/** A private IPv4 block (RFC 1918), e.g. a VPC's: what may reach an in-cluster service from outside the cluster. */
export const PRIVATE_CIDR = rule(
  (v: string) => isCanonicalCidr(v) && ipaddr.parseCIDR(v)[0].kind() === "ipv4" && ipaddr.parseCIDR(v)[0].range() === "private",
  "is not a private IPv4 CIDR block",
  "a block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
);

/** CIDR of a new VPC: IPv4, room for /24 subnets in up to six zones. */
export const NEW_VPC_CIDR = rule(
  (c: string) => /^\d+\.\d+\.\d+\.\d+\/(1[6-9]|20)$/.test(c),
  "is not usable for a new VPC",
  "an IPv4 CIDR with a prefix from /16 to /20",
);

// ---------------------------------------------------------------------------------------------------
// CloudWatch, Secrets Manager, InfluxDB

/** Alarm periods CloudWatch accepts: 10 s and 30 s (high resolution) or any multiple of 60 s. */
export function isValidAlarmPeriod(seconds: number): boolean {
  return seconds === 10 || seconds === 30 || (seconds >= 60 && seconds % 60 === 0);
}
export const ALARM_PERIOD = rule(isValidAlarmPeriod, "is not a CloudWatch alarm period", "10, 30 or a multiple of 60 (seconds)");

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
export const LOG_RETENTION = rule((n: number) => LOG_RETENTION_DAYS.includes(n), "is not a CloudWatch Logs retention", LOG_RETENTION_DAYS.join(", "));

/** Secrets Manager recovery window of a deleted secret, in days. */
export const RECOVERY_WINDOW = rule(
  (n: number) => n === 0 || (Number.isInteger(n) && n >= 7 && n <= 30),
  "is not a recovery window",
  "0 (delete at once) or 7 to 30 days",
);

/** InfluxDB 1.x URL with the database as its path. */
export const INFLUXDB_URL = rule(
  (v: string) => /^https?:\/\/[^\s/]+(:\d+)?\/[A-Za-z0-9_-]+$/.test(v),
  "is not an InfluxDB URL",
  `http(s)://<host>:<port>/<database> such as http://10.0.0.5:${INFLUXDB_PORT}/${MONITORING_DEFAULTS.database}`,
);
export const INFLUXDB_DATABASE = patternRule(/^[A-Za-z0-9_]{1,64}$/, "is not a database name", "1 to 64 letters, digits and _");

// ---------------------------------------------------------------------------------------------------
// Container images

/*
 * Image references as the distribution spec parses them (github.com/distribution/reference, regexp.go
 * and reference.go; digests as opencontainers/go-digest algorithm.go checks them):
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain [ ":" port ] "/" ] path-component ( "/" path-component )*   (at most 255 characters)
 *   domain    := domain-component ( "." domain-component )* | "[" ipv6 "]"
 *   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 *   path-component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag       := [\w][\w.-]{0,127}
 *   digest    := algorithm ":" hex, with sha256 = 64, sha384 = 96, sha512 = 128 lower-case hex digits
 * The first component is the domain only when it has a `.` or a `:` or is `localhost` (reference
 * normalize.go splitDockerDomain); otherwise it is part of the path and must be lower-case.
 */
const IMAGE_DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const IMAGE_DOMAIN = new RegExp(`^(?:${IMAGE_DOMAIN_COMPONENT}(?:\\.${IMAGE_DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const IMAGE_PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const IMAGE_TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
/** Hex digits of each digest algorithm the distribution spec knows. */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/** An image reference split into its parts (distribution/reference's grammar). */
export interface ImageReference {
  readonly domain?: string;
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** Parses an image reference; returns what is wrong with it (a problem text) when it is not one. */
export function parseImageReference(ref: string): ImageReference | { readonly problem: string } {
  if (ref.length === 0) return { problem: "is empty" };
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const m = /^([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):(.*)$/.exec(digest);
    if (!m) return { problem: `has a digest "${digest}" that is not algorithm:hex` };
    const want = DIGEST_HEX_LENGTH[m[1]];
    if (want === undefined) return { problem: `has a digest with the unknown algorithm "${m[1]}"` };
    if (!/^[a-f0-9]*$/.test(m[2])) return { problem: `has a ${m[1]} digest that is not lower-case hex` };
    if (m[2].length !== want) return { problem: `has a ${m[1]} digest of ${m[2].length} hex digits (${m[1]} has ${want})` };
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.indexOf(":", lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!IMAGE_TAG_PATTERN.test(tag)) return { problem: `has an invalid tag "${tag}"` };
  }
  if (rest.length > 255) return { problem: `has a name of ${rest.length} characters (at most 255)` };
  const parts = rest.split("/");
  let domain: string | undefined;
  if (parts.length > 1 && (parts[0].includes(".") || parts[0].includes(":") || parts[0] === "localhost")) {
    domain = parts.shift()!;
    if (!IMAGE_DOMAIN.test(domain)) return { problem: `has an invalid registry "${domain}"` };
  }
  for (const part of parts) {
    if (!IMAGE_PATH_COMPONENT.test(part)) {
      return {
        problem:
          part !== part.toLowerCase() && IMAGE_PATH_COMPONENT.test(part.toLowerCase()) ? `has an upper-case name "${part}"` : `has an invalid name "${part}"`,
      };
    }
  }
  return {
    ...(domain === undefined ? {} : { domain }),
    path: parts.join("/"),
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

/**
 * What is wrong with an image reference as a pinned image, or undefined when it is a valid reference
 * (parseImageReference) with a digest, or with a tag other than `latest`.
 */
export function imageProblem(ref: string): string | undefined {
  const parsed = parseImageReference(ref);
  if ("problem" in parsed) return `is not an image reference: it ${parsed.problem}`;
  if (parsed.digest !== undefined) return undefined;
  if (parsed.tag === undefined) return "has no tag (Docker would pull `latest`)";
  if (parsed.tag === "latest") return "uses the mutable tag `latest`";
  return undefined;
}
/** An ECR repository name (AWS ECR CreateRepository: lowercase path components separated by `/`). */
export const ECR_REPOSITORY_NAME = patternRule(
  /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/,
  "is not an ECR repository name",
  "2 to 256 lowercase letters and digits in `/`-separated parts, with single `.`, `_` or `-` between them",
  { minLength: 2, maxLength: 256 },
);
/** An image tag Docker and ECR accept, other than the mutable `latest`. */
export const IMAGE_TAG = patternRule(
  /^(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/,
  "is not an immutable image tag",
  "1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`, not `latest`",
);
/** The ARN of a KMS key (or alias) in any partition. */
export const KMS_KEY_ARN = patternRule(
  /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key\/[0-9a-f-]{36}|alias\/[A-Za-z0-9/_-]+)$/,
  "is not a KMS key ARN",
  "arn:aws:kms:<region>:<account>:key/<key id> or …:alias/<name>",
);
/** Days before untagged images in an ECR repository expire. */
export const UNTAGGED_EXPIRY_DAYS = intRange(1, 3650);
/** Tagged images an ECR repository keeps. */
export const KEEP_TAGGED_IMAGES = intRange(1, 10_000);

/** A pinned image: a tag other than `latest`, or a digest. */
export const PINNED_IMAGE: Rule<string> = {
  test: (ref) => imageProblem(ref) === undefined,
  problem: (ref) => {
    const problem = imageProblem(ref);
    return problem === undefined ? undefined : `image ${problem}`;
  },
  allowed:
    "[registry[:port]/]path[:tag][@digest] with lower-case path components, pinned by a tag other than latest (repo:1.2.3; letters, digits, _ . -, at most 128) or a digest (repo@sha256:<64 hex digits>)",
};

// ---------------------------------------------------------------------------------------------------
// Kubernetes and GCP (the Kubernetes names as kubernetes/kubernetes checks them:
// staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go and pkg/api/resource/quantity.go)

/** Namespaces are DNS labels (RFC 1123). */
export const K8S_NAMESPACE = patternRule(
  /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
  "is not a namespace name",
  "a DNS label: 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit",
);
/**
 * Storage class names (and other object names) are DNS subdomains (RFC 1123): at most 253 lower-case
 * letters, digits, '-' and '.', starting and ending with a letter or digit (validation.go IsDNS1123Subdomain).
 */
export const K8S_STORAGE_CLASS = patternRule(
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
  "is not a storage class name",
  "a DNS subdomain: at most 253 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit",
  { minLength: 1, maxLength: 253 },
);
/** Job names: a DNS label short enough for the pod names Kubernetes derives from it. */
export const K8S_JOB_NAME = patternRule(
  /^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/,
  "is not a job name",
  "a DNS label of at most 52 characters (lowercase letters, digits or '-', starting and ending with a letter or digit)",
);
/** A marker file in /work_dir that a post-processing job waits for. */
export const MARKER_FILE = patternRule(/^[\w.-]+$/, "is not a file name", "a file name in /work_dir (letters, digits, _, . and -)");
export const K8S_LABEL = patternRule(
  /^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
  "is not a Kubernetes label key or value",
  "an optional DNS prefix and /, then 1 to 63 letters, digits, -, _ or ., starting and ending with a letter or digit",
);
export const K8S_QUANTITY = patternRule(
  /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/,
  "is not a Kubernetes quantity",
  "a number with an optional unit (m, k, M, G, T, Ki, Mi, Gi, Ti), e.g. 0.5, 500m, 50Mi, 2Gi",
);
export const K8S_VERSION = patternRule(/^1\.\d{2}$/, "is not a Kubernetes minor version", "1.<two digits>, e.g. 1.33");
export const GCP_PROJECT_ID = patternRule(
  /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
  "is not a GCP project id",
  "6 to 30 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen",
);
export const GCP_LOCATION = patternRule(/^[a-z]+-[a-z]+\d(-[a-z])?$/, "is not a GCP region or zone", "a region or zone such as europe-west4 or europe-west4-a");
/** Compute Engine machine types: e2-standard-4, n2-highmem-8, custom-4-16384, c3-standard-4-lssd. */
export const GCP_MACHINE_TYPE = patternRule(
  /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/,
  "is not a Compute Engine machine type",
  "lowercase letters, digits and hyphens such as e2-standard-4 or n2-highmem-8",
  { minLength: 1, maxLength: 63 },
);
/** A GCP region (no zone suffix): where an Autopilot cluster goes, since Autopilot clusters are regional. */
export const GCP_REGION = patternRule(/^[a-z]+-[a-z]+\d$/, "is not a GCP region", "a region such as europe-west4 (not a zone such as europe-west4-a)");
/**
 * EKS minor versions this project has a cluster-autoscaler release for (constructs/eks/cluster-autoscaler.ts:
 * the autoscaler's minor must match the cluster's, kubernetes/autoscaler cluster-autoscaler/README.md).
 */
export const EKS_MINOR_VERSIONS = ["1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35"] as const;
export type EksMinorVersion = (typeof EKS_MINOR_VERSIONS)[number];
export const EKS_VERSION: Rule<string> = rule(
  (v) => (EKS_MINOR_VERSIONS as readonly string[]).includes(v),
  "is not an EKS version with a matching cluster-autoscaler release here",
  `one of ${EKS_MINOR_VERSIONS.join(", ")}`,
);
/** IAM principals an EKS access entry accepts: a role or a user (not an assumed-role session). */
export const IAM_PRINCIPAL_ARN = patternRule(
  /^arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)\/[\w+=,.@/-]{1,512}$/,
  "is not an IAM role or user ARN",
  "arn:aws:iam::<12-digit account>:role/<path and name> or :user/<name> (an access entry takes no assumed-role session ARN)",
);

// ---------------------------------------------------------------------------------------------------
// Host devices

export const BLOCK_DEVICE = patternRule(/^[a-z0-9]+$/, "is not a block device name", "lowercase letters and digits, e.g. nvme0n1p1");
export const NETWORK_INTERFACE = patternRule(/^[a-z0-9]+$/, "is not an interface name", "lowercase letters and digits, e.g. ens5");

// ---------------------------------------------------------------------------------------------------
// Integer ranges that both the schema and a construct check

/** Root volume of an ECS instance: the ECS-optimized AMI needs 30 GiB; gp3 allows 16 TiB. */
export const ROOT_VOLUME_GIB = intRange(30, 16_384);
/** Availability zones of a new VPC. */
export const AZ_COUNT = intRange(2, 6);
/** Worker task counts (desired, min and max capacity). */
export const TASK_COUNT = intRange(0, 10_000);
/** AMQP executor THREADS. */
export const EXECUTOR_THREADS = intRange(1, 256);
/** Most instances one managed-scaling step adds or removes. */
export const INSTANCE_SCALING_STEP = intRange(1, 10_000);
/** ECS managed scaling target capacity. */
export const TARGET_CAPACITY_PERCENT = intRange(1, 100);
/** Worker tasks added or removed per queue alarm. */
export const TASK_SCALING_ADJUSTMENT = intRange(1, 1000);
/** Data volume of the monitoring host, in GiB (gp3 allows 16 TiB). */
export const MONITORING_VOLUME_GIB = intRange(1, 16_384);
/** Memory reserved for the engine container on ECS, in MiB. */
export const ENGINE_MEMORY_MIB = intRange(128, 1_048_576);
/** Time limit of a workflow run, in seconds (0: none; at most 30 days). */
export const RUN_TIMEOUT_SECONDS = intRange(0, 30 * 86_400);
/** How long an upload waits for an S3 endpoint that stopped answering before it stops, in seconds (0: no bound). */
export const OUTAGE_SECONDS = intRange(0, 86_400);
/** The shared /work_dir on Kubernetes, in GiB. */
export const WORK_VOLUME_GIB = intRange(1, 65_536);
/** Retries of a failed task command, and re-submissions of a failed task Job, on Kubernetes. */
export const K8S_JOB_RETRIES = intRange(0, 20);
/** Most nodes of the worker pool of an EKS or GKE cluster. */
export const NODE_POOL_MAX = intRange(1, 1000);
/** Time limit of the engine Job on Kubernetes (activeDeadlineSeconds), in seconds: an hour to 30 days. */
export const ENGINE_DEADLINE_SECONDS = intRange(3600, 30 * 86_400);

// ---------------------------------------------------------------------------------------------------
// Lambda (AWS Lambda Developer Guide, "Lambda quotas" and "Configure Lambda function memory")

/** Function memory in MiB: 128 MB to 10,240 MB. */
export const LAMBDA_MEMORY_MIB = intRange(128, 10_240);
/** Function timeout in seconds: at most 900 (15 minutes). */
export const LAMBDA_TIMEOUT_SECONDS = intRange(1, 900);
/** /tmp of a function in MiB: 512 MB to 10,240 MB. */
export const LAMBDA_EPHEMERAL_STORAGE_MIB = intRange(512, 10_240);
/** Reserved concurrency of one function (the account's default limit is 1,000; raised limits go higher). */
export const LAMBDA_RESERVED_CONCURRENCY = intRange(1, 100_000);
/** Lambda function names: letters, digits, hyphens and underscores, at most 64. */
export const LAMBDA_FUNCTION_NAME = patternRule(/^[A-Za-z0-9_-]{1,64}$/, "is not a Lambda function name", "1 to 64 letters, digits, `-` or `_`");
/** Fargate task CPU units and the memory (MiB) each allows (Amazon ECS Developer Guide, "Task CPU and memory"). */
const steps = (min: number, max: number, step: number) => Array.from({ length: (max - min) / step + 1 }, (_, i) => min + i * step);
export const FARGATE_SIZES: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: steps(1024, 4096, 1024),
  1024: steps(2048, 8192, 1024),
  2048: steps(4096, 16_384, 1024),
  4096: steps(8192, 30_720, 1024),
  8192: steps(16_384, 61_440, 4096),
  16_384: steps(32_768, 122_880, 8192),
};
/** `<problem>; allowed: …` for a Fargate cpu/memory pair that does not exist, or undefined. */
export function fargateSizeProblem(cpu: number, memoryMiB: number): string | undefined {
  const sizes = FARGATE_SIZES[cpu];
  if (!sizes) return `cpu ${cpu} is not a Fargate size; allowed: ${Object.keys(FARGATE_SIZES).join(", ")}`;
  if (sizes.includes(memoryMiB)) return undefined;
  const list = sizes.length <= 4 ? sizes.join(", ") : `${sizes[0]} to ${sizes[sizes.length - 1]} in steps of ${sizes[1] - sizes[0]}`;
  return `memory ${memoryMiB} MiB does not fit cpu ${cpu}; allowed with cpu ${cpu}: ${list}`;
}
