/**
 * The estimator: what a synthesized stack (its cdk.tf.json) will run, per hour and per month at min /
 * desired / max scale. A pure function of the JSON and a price book; no I/O, no cdktf.
 *
 * Every resource is accounted for: it has a model (a priced, usage-based or unknown line), it is known
 * to cost nothing by itself (IAM, security groups, task definitions, …), or it becomes an unknown
 * "no cost model" line. Usage-based and unknown lines never count as zero; totals say so.
 * docs/design.md ("What it costs") describes the model and its limits.
 */
import { type CostLine, fixed, HOURS_PER_MONTH, mapRange, type Price, type PriceBook, type PriceRef, type Range, type StackCost, stackCost } from "./model";
import { type Arch, type LoadBalancerKind, PriceKey } from "./price-keys";

/** The parts of a synthesized stack the estimator reads. */
export interface SynthesizedStack {
  readonly resource?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * Series the queue-length publisher reads with one GetMetricData call when it feeds the dashboards
 * (utilizationQueries in constructs/ecs/queue-length-publisher.js: cluster, master and worker × CPU and
 * memory); test/cost.test.ts checks the two agree.
 */
export const PUBLISHER_METRICS_PER_READ = 6;

/** gp3's included performance: anything above is billed separately (not modelled here). */
const GP3_BASELINE = { iops: 3000, throughput: 125 };

/** Resource types that cost nothing by themselves (what they start is priced where it runs). */
const FREE_TYPES = new Set([
  "aws_iam_role",
  "aws_iam_role_policy",
  "aws_iam_role_policy_attachment",
  "aws_iam_policy",
  "aws_iam_instance_profile",
  "aws_iam_openid_connect_provider",
  "aws_iam_service_linked_role",
  "aws_security_group",
  "aws_security_group_rule",
  "aws_vpc_security_group_ingress_rule",
  "aws_vpc_security_group_egress_rule",
  "aws_default_security_group",
  "aws_default_route_table",
  "aws_default_network_acl",
  "aws_vpc",
  "aws_subnet",
  "aws_route",
  "aws_route_table",
  "aws_route_table_association",
  "aws_internet_gateway",
  "aws_egress_only_internet_gateway",
  "aws_launch_template",
  "aws_key_pair",
  "aws_ecs_cluster_capacity_providers",
  "aws_ecs_task_definition",
  "aws_appautoscaling_target",
  "aws_ecr_lifecycle_policy",
  "aws_ecr_repository_policy",
  "aws_s3_bucket_lifecycle_configuration",
  "aws_elasticache_subnet_group",
  "aws_elasticache_parameter_group",
  "aws_s3_bucket_ownership_controls",
  "aws_s3_bucket_policy",
  "aws_s3_bucket_public_access_block",
  "aws_s3_bucket_server_side_encryption_configuration",
  "aws_s3_bucket_versioning",
  "aws_s3_bucket_cors_configuration",
  "aws_s3_bucket_notification",
  "aws_secretsmanager_secret_version",
  "aws_volume_attachment",
  "aws_eks_addon",
  "aws_eks_pod_identity_association",
  "aws_eks_access_entry",
  "aws_eks_access_policy_association",
  "aws_batch_job_queue",
  "aws_batch_job_definition",
  "aws_batch_scheduling_policy",
  "aws_lambda_permission",
  // Rules on the default event bus matching AWS service events (S3 Object Created) and their targets:
  // EventBridge does not charge for events AWS services publish.
  "aws_cloudwatch_event_rule",
  "aws_cloudwatch_event_target",
  // A Function URL adds no charge of its own: its requests are billed as the function's invocations.
  "aws_lambda_function_url",
  "aws_lb_listener",
  "aws_lb_listener_rule",
  "aws_lb_target_group",
  "aws_lb_target_group_attachment",
  "random_password",
  "random_id",
  "random_string",
  "terraform_data",
  "null_resource",
  "time_sleep",
  "google_service_account",
  "google_project_iam_member",
  // Enabling an API costs nothing; what it is used for is priced where it appears.
  "google_project_service",
  "google_service_account_iam_member",
]);

/** Types a model below reads: their lines come from it, or they are free there (an ECS service on EC2). */
const MODELLED_TYPES = new Set([
  "aws_autoscaling_group",
  "aws_instance",
  "aws_eks_node_group",
  "aws_eks_cluster",
  "aws_elasticache_replication_group",
  "aws_nat_gateway",
  "aws_eip",
  "aws_ebs_volume",
  "aws_cloudwatch_metric_alarm",
  "aws_ecs_capacity_provider",
  "aws_appautoscaling_policy",
  "aws_autoscaling_policy",
  "aws_ecs_cluster",
  "aws_ecs_service",
  "aws_secretsmanager_secret",
  "aws_cloudwatch_log_group",
  "aws_ecr_repository",
  "aws_s3_bucket",
  "aws_lb",
  "aws_alb",
  "aws_elb",
  "aws_lambda_function",
  "aws_batch_compute_environment",
  "helm_release",
  "google_container_cluster",
  "google_container_node_pool",
]);

// ---------------------------------------------------------------------------------------------
// Reading the JSON: attribute values are numbers, booleans or strings ("true"), blocks objects or lists.

type Obj = Readonly<Record<string, unknown>>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A block: the object, or the first of a list of them. */
function block(v: unknown): Obj | undefined {
  if (Array.isArray(v)) return isObj(v[0]) ? v[0] : undefined;
  return isObj(v) ? v : undefined;
}

function blocks(v: unknown): Obj[] {
  if (Array.isArray(v)) return v.filter(isObj);
  return isObj(v) ? [v] : [];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** A literal number (numbers and numeric strings); undefined for Terraform expressions. */
function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

function bool(v: unknown): boolean | undefined {
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  return undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** The resource name a `${type.NAME.attr}` expression points to, when the whole string is one. */
function referenced(v: unknown, type: string): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  const m = new RegExp(`^\\$\\{${type}\\.([A-Za-z0-9_-]+)\\.[a-z_]+(\\[0\\]\\.[a-z_]+)?\\}$`).exec(s);
  return m?.[1];
}

/** Names of resources of a type a string mentions anywhere (`service/${…}/${aws_ecs_service.X.name}`). */
function mentioned(v: unknown, type: string): string[] {
  const s = str(v);
  if (!s) return [];
  return [...s.matchAll(new RegExp(`\\b${type}\\.([A-Za-z0-9_-]+)\\.`, "g"))].map((m) => m[1]);
}

/** A Kubernetes quantity in GiB ("50Gi", "55G", "512Mi"); undefined for anything else. */
function gib(v: unknown): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(String(v ?? "").trim());
  if (!m) return undefined;
  const factor: Record<string, number> = {
    Ki: 2 ** -20,
    Mi: 2 ** -10,
    Gi: 1,
    Ti: 1024,
    K: 1e3 / 2 ** 30,
    M: 1e6 / 2 ** 30,
    G: 1e9 / 2 ** 30,
    T: 1e12 / 2 ** 30,
  };
  return Number(m[1]) * (m[2] ? factor[m[2]] : 1 / 2 ** 30);
}

function fmtUsd(usd: number): string {
  if (usd === 0) return "0";
  if (usd >= 1 || Number.isInteger(Math.round(usd * 1e6) / 1e4)) return usd.toFixed(2);
  // Enough significant digits for per-second and per-request prices.
  return Number(usd.toPrecision(4)).toString();
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function sameRange(r: Range): boolean {
  return r.min === r.desired && r.desired === r.max;
}

// ---------------------------------------------------------------------------------------------

class StackEstimator {
  readonly lines: CostLine[] = [];
  private hasCompute = false;

  constructor(
    private readonly stack: string,
    private readonly json: SynthesizedStack,
    private readonly book: PriceBook,
  ) {}

  resources(type: string): [string, Obj][] {
    return Object.entries(this.json.resource?.[type] ?? {}).filter((e): e is [string, Obj] => isObj(e[1]));
  }

  get(type: string, name: string | undefined): Obj | undefined {
    if (!name) return undefined;
    const r = this.json.resource?.[type]?.[name];
    return isObj(r) ? r : undefined;
  }

  private ref(key: string): [Price, PriceRef] | undefined {
    const p = this.book.price(key);
    return p ? [p, { key, usd: p.usd, unit: p.unit, origin: p.origin, date: p.date }] : undefined;
  }

  // --- line builders -----------------------------------------------------------------------

  unknown(category: string, item: string, resources: string[], note: string, quantity?: Range, unit?: string): void {
    this.lines.push({ stack: this.stack, category, item, resources, kind: "unknown", quantity, unit, note });
  }

  /** A usage-based line: each rate is [price key, "per GB stored"-style text]; rates missing from the price source say so. */
  usage(
    category: string,
    item: string,
    resources: string[],
    rates: readonly (readonly [string, string])[],
    note?: string,
    example?: CostLine["example"],
  ): void {
    const prices: PriceRef[] = [];
    const text = rates.map(([key, per]) => {
      const r = this.ref(key);
      if (!r) return `${per}: rate not in the price source`;
      prices.push(r[1]);
      return `USD ${fmtUsd(r[0].usd)} ${per}`;
    });
    this.lines.push({ stack: this.stack, category, item, resources, kind: "usage", prices, rates: text, note, example });
  }

  /** `quantity` units each costing the sum of `keys`' prices (per hour, or per month when `monthly`). */
  priced(o: {
    category: string;
    item: string;
    resources: string[];
    quantity: Range;
    unit: string;
    keys: readonly (readonly [string, number])[];
    per: "hour" | "month";
    note?: string;
    missing?: string;
  }): boolean {
    const refs = o.keys.map(([key, factor]) => [this.ref(key), factor, key] as const);
    const lacking = refs.filter(([r]) => !r).map(([, , key]) => key);
    if (lacking.length > 0) {
      this.unknown(o.category, o.item, o.resources, o.missing ?? `no price for ${lacking.join(", ")} in ${this.book.region}`, o.quantity, o.unit);
      return false;
    }
    const unitUsd = refs.reduce((sum, [r, factor]) => sum + r![0].usd * factor, 0);
    const hourly = o.per === "hour" ? mapRange(o.quantity, (q) => q * unitUsd) : mapRange(o.quantity, (q) => (q * unitUsd) / HOURS_PER_MONTH);
    const monthly = o.per === "hour" ? mapRange(o.quantity, (q) => q * unitUsd * HOURS_PER_MONTH) : mapRange(o.quantity, (q) => q * unitUsd);
    this.lines.push({
      stack: this.stack,
      category: o.category,
      item: o.item,
      resources: o.resources,
      kind: "priced",
      quantity: o.quantity,
      unit: o.unit,
      prices: refs.map(([r]) => r![1]),
      hourly,
      monthly,
      note: o.note,
    });
    return true;
  }

  // --- compute -------------------------------------------------------------------------------

  instances(item: string, resources: string[], instanceType: string | undefined, quantity: Range, note?: string): void {
    this.hasCompute = true;
    if (!instanceType || instanceType.includes("${")) {
      this.unknown("EC2", item, resources, "instance type not known before apply", quantity, "instances");
      return;
    }
    this.priced({
      category: "EC2",
      item: `${item} (${instanceType})`,
      resources,
      quantity,
      unit: "instances",
      keys: [[PriceKey.ec2Instance(instanceType), 1]],
      per: "hour",
      note,
      missing: `no on-demand price for ${instanceType} in ${this.book.region} in the price source`,
    });
  }

  /** EBS volumes of `count` instances from block device settings. */
  volumes(
    item: string,
    resources: string[],
    devices: readonly { size?: number; type?: string; iops?: number; throughput?: number }[],
    count: Range,
    none: string,
  ): void {
    if (devices.length === 0) {
      this.unknown("EBS", item, resources, none, count, "instances");
      return;
    }
    for (const d of devices) {
      if (d.size === undefined || d.type === undefined) {
        this.unknown(
          "EBS",
          item,
          resources,
          `volume ${d.size === undefined ? "size" : "type"} comes from the AMI's snapshot, not from the configuration`,
          count,
          "instances",
        );
        continue;
      }
      const what = `${item}, ${d.size} GB ${d.type}${sameRange(count) && count.max === 1 ? "" : " each"}`;
      this.priced({
        category: "EBS",
        item: what,
        resources,
        quantity: mapRange(count, (n) => n * d.size!),
        unit: "GB-month",
        keys: [[PriceKey.ebsStorage(d.type), 1]],
        per: "month",
      });
      this.provisionedPerformance(what, resources, d);
    }
  }

  private provisionedPerformance(item: string, resources: string[], d: { type?: string; iops?: number; throughput?: number }): void {
    const extraIops = d.type === "gp3" ? (d.iops ?? 0) > GP3_BASELINE.iops : d.iops !== undefined && /^io/.test(d.type ?? "");
    const extraThroughput = d.type === "gp3" && (d.throughput ?? 0) > GP3_BASELINE.throughput;
    if (extraIops || extraThroughput)
      this.unknown(
        "EBS",
        `${item}: provisioned ${[extraIops && `${d.iops} IOPS`, extraThroughput && `${d.throughput} MiB/s`].filter(Boolean).join(", ")}`,
        resources,
        "provisioned IOPS and throughput are not modelled",
      );
  }

  publicIpv4(item: string, resources: string[], count: Range): void {
    if (count.max === 0) return;
    this.priced({ category: "Public IPv4", item, resources, quantity: count, unit: "addresses", keys: [[PriceKey.publicIpv4Hour, 1]], per: "hour" });
  }

  private launchTemplateDevices(lt: Obj | undefined): { size?: number; type?: string; iops?: number; throughput?: number }[] {
    return blocks(lt?.block_device_mappings).flatMap((m) => {
      const ebs = block(m.ebs);
      if (!ebs) return []; // an instance store or no-device mapping
      return [{ size: num(ebs.volume_size), type: str(ebs.volume_type), iops: num(ebs.iops), throughput: num(ebs.throughput) }];
    });
  }

  /** Whether instances from a launch template get a public IPv4: true, false, or undefined (the subnet decides). */
  private launchTemplatePublicIp(lt: Obj | undefined): boolean | undefined {
    const ni = block(lt?.network_interfaces);
    return ni ? bool(ni.associate_public_ip_address) : undefined;
  }

  /** Whether all subnets (references) are in this stack and map public IPs on launch; undefined when not all are here. */
  private subnetsMapPublicIp(refs: unknown): boolean | undefined {
    const names = strings(refs).map((r) => referenced(r, "aws_subnet"));
    if (names.length === 0 || names.some((n) => n === undefined)) return undefined;
    const flags = names.map((n) => bool(this.get("aws_subnet", n)?.map_public_ip_on_launch) ?? false);
    if (flags.every((f) => f)) return true;
    if (flags.every((f) => !f)) return false;
    return undefined;
  }

  private publicIpLine(item: string, resources: string[], count: Range, assigned: boolean | undefined): void {
    if (assigned === true) this.publicIpv4(item, resources, count);
    else if (assigned === undefined && count.max > 0) {
      this.unknown(
        "Public IPv4",
        item,
        resources,
        "whether the instances get a public IPv4 address (USD per hour each) depends on a subnet outside this stack",
        count,
        "addresses",
      );
    }
  }

  autoScalingGroups(): void {
    for (const [name, asg] of this.resources("aws_autoscaling_group")) {
      const address = `aws_autoscaling_group.${name}`;
      const label = `ASG ${str(asg.name) ?? name}`;
      const min = num(asg.min_size);
      const max = num(asg.max_size);
      const desired = num(asg.desired_capacity) ?? min;
      if (min === undefined || max === undefined || desired === undefined) {
        this.unknown("EC2", label, [address], "group size not known before apply");
        continue;
      }
      const count: Range = { min, desired, max };
      const spec = block(asg.launch_template) ?? block(block(block(asg.mixed_instances_policy)?.launch_template)?.launch_template_specification);
      const ltName =
        referenced(spec?.id, "aws_launch_template") ??
        referenced(spec?.name, "aws_launch_template") ??
        referenced(spec?.launch_template_id, "aws_launch_template");
      const lt = this.get("aws_launch_template", ltName);
      const resources = lt ? [address, `aws_launch_template.${ltName}`] : [address];
      if (asg.mixed_instances_policy !== undefined) {
        this.unknown("EC2", label, resources, "mixed instances policies (several types, Spot) are not modelled", count, "instances");
        continue;
      }
      const provider = this.resources("aws_ecs_capacity_provider").find(
        ([, cp]) => referenced(block(cp.auto_scaling_group_provider)?.auto_scaling_group_arn, "aws_autoscaling_group") === name,
      );
      const managed = provider && str(block(block(provider[1].auto_scaling_group_provider)?.managed_scaling)?.status) === "ENABLED";
      const note = managed
        ? `ECS managed scaling (capacity provider ${str(provider[1].name) ?? provider[0]}) sets the count from the tasks placed on it; desired is the deploy-time value`
        : undefined;
      this.instances(label, resources, str(lt?.instance_type), count, note);
      this.volumes(label, resources, this.launchTemplateDevices(lt), count, "no block devices in the launch template: the root volume comes from the AMI");
      this.publicIpLine(`${label}, one per instance`, resources, count, this.launchTemplatePublicIp(lt) ?? this.subnetsMapPublicIp(asg.vpc_zone_identifier));
    }
  }

  ec2Instances(): void {
    for (const [name, inst] of this.resources("aws_instance")) {
      const address = `aws_instance.${name}`;
      const ltName = referenced(block(inst.launch_template)?.id, "aws_launch_template") ?? referenced(block(inst.launch_template)?.name, "aws_launch_template");
      const lt = this.get("aws_launch_template", ltName);
      const resources = lt ? [address, `aws_launch_template.${ltName}`] : [address];
      const tags = isObj(inst.tags) ? inst.tags : {};
      const label = str(tags.Name) ?? name;
      const count = fixed(num(inst.count) ?? 1);
      this.instances(label, resources, str(inst.instance_type) ?? str(lt?.instance_type), count);
      const root = block(inst.root_block_device);
      const devices = root
        ? [{ size: num(root.volume_size), type: str(root.volume_type), iops: num(root.iops), throughput: num(root.throughput) }]
        : this.launchTemplateDevices(lt);
      for (const d of blocks(inst.ebs_block_device))
        devices.push({ size: num(d.volume_size), type: str(d.volume_type), iops: num(d.iops), throughput: num(d.throughput) });
      this.volumes(label, resources, devices, count, "no root_block_device: the root volume's size and type come from the AMI");
      const assigned = bool(inst.associate_public_ip_address) ?? this.launchTemplatePublicIp(lt) ?? this.subnetsMapPublicIp([inst.subnet_id]);
      this.publicIpLine(label, resources, count, assigned);
    }
  }

  eksNodeGroups(): void {
    for (const [name, ng] of this.resources("aws_eks_node_group")) {
      const address = `aws_eks_node_group.${name}`;
      const label = `node group ${str(ng.node_group_name) ?? str(ng.node_group_name_prefix)?.replace(/-$/, "") ?? name}`;
      const sc = block(ng.scaling_config);
      const min = num(sc?.min_size);
      const max = num(sc?.max_size);
      const desired = num(sc?.desired_size) ?? min;
      if (min === undefined || max === undefined || desired === undefined) {
        this.unknown("EC2", label, [address], "node group size not known before apply");
        continue;
      }
      const count: Range = { min, desired, max };
      const ltName = referenced(block(ng.launch_template)?.id, "aws_launch_template") ?? referenced(block(ng.launch_template)?.name, "aws_launch_template");
      const lt = this.get("aws_launch_template", ltName);
      const resources = lt ? [address, `aws_launch_template.${ltName}`] : [address];
      const types = strings(ng.instance_types);
      if (str(ng.capacity_type) === "SPOT") {
        this.hasCompute = true;
        this.unknown("EC2", `${label} (Spot ${types.join("/")})`, resources, "Spot prices change with demand: not modelled", count, "instances");
      } else {
        // Without instance_types in the group or its launch template, EKS launches t3.medium.
        this.instances(
          label,
          resources,
          types[0] ?? str(lt?.instance_type) ?? "t3.medium",
          count,
          types.length > 1 ? `the first of ${types.join(", ")}` : undefined,
        );
      }
      const devices = this.launchTemplateDevices(lt);
      if (devices.length > 0) this.volumes(label, resources, devices, count, "");
      else
        this.unknown(
          "EBS",
          `${label}, ${num(ng.disk_size) ?? 20} GB root volume each`,
          resources,
          "the node group's default volume type is not in the synthesized JSON",
          mapRange(count, (n) => n * (num(ng.disk_size) ?? 20)),
          "GB-month",
        );
      this.publicIpLine(`${label}, one per node`, resources, count, this.launchTemplatePublicIp(lt) ?? this.subnetsMapPublicIp(ng.subnet_ids));
    }
  }

  // --- network -------------------------------------------------------------------------------

  natGateways(): void {
    const nats = this.resources("aws_nat_gateway");
    if (nats.length === 0) return;
    this.hasCompute = true;
    const resources = nats.map(([n]) => `aws_nat_gateway.${n}`);
    const endpoints = this.resources("aws_vpc_endpoint").filter(([, e]) => /\.s3$/.test(str(e.service_name) ?? "") || /\bs3\b/.test(str(e.service_name) ?? ""));
    this.priced({
      category: "NAT gateway",
      item: plural(nats.length, "NAT gateway"),
      resources,
      quantity: fixed(nats.length),
      unit: "gateways",
      keys: [[PriceKey.natGatewayHour, 1]],
      per: "hour",
    });
    this.usage(
      "NAT gateway",
      "data processing",
      resources,
      [[PriceKey.natGatewayGb, "per GB processed"]],
      endpoints.length === 0
        ? "everything the private subnets send out passes through it, S3 and ECR traffic included (no S3 gateway endpoint in this stack)"
        : "traffic to S3 takes the gateway endpoint instead",
    );
  }

  elasticIps(): void {
    const eips = this.resources("aws_eip");
    if (eips.length === 0) return;
    this.publicIpv4(
      `${plural(eips.length, "Elastic IP")}`,
      eips.map(([n]) => `aws_eip.${n}`),
      fixed(eips.length),
    );
  }

  loadBalancers(): void {
    const lbs: [string, LoadBalancerKind][] = [
      ...(["aws_lb", "aws_alb"] as const).flatMap((type) =>
        this.resources(type).map(([n, lb]): [string, LoadBalancerKind] => [`${type}.${n}`, (str(lb.load_balancer_type) ?? "application") as LoadBalancerKind]),
      ),
      ...this.resources("aws_elb").map(([n]): [string, LoadBalancerKind] => [`aws_elb.${n}`, "classic"]),
    ];
    for (const [address, kind] of lbs) {
      this.hasCompute = true;
      const item = `${kind} load balancer`;
      this.priced({
        category: "Load balancer",
        item,
        resources: [address],
        quantity: fixed(1),
        unit: "load balancers",
        keys: [[PriceKey.loadBalancerHour(kind), 1]],
        per: "hour",
      });
      this.usage(
        "Load balancer",
        `${item}: capacity units / data processed`,
        [address],
        [],
        kind === "classic" ? "billed per GB processed" : "billed per LCU-hour (new connections, active connections, bytes, rule evaluations)",
      );
    }
  }

  // --- managed services ------------------------------------------------------------------------

  eksClusters(): void {
    for (const [name, c] of this.resources("aws_eks_cluster")) {
      this.priced({
        category: "EKS",
        item: `control plane ${str(c.name) ?? name}${str(c.version) ? ` (Kubernetes ${str(c.version)})` : ""}`,
        resources: [`aws_eks_cluster.${name}`],
        quantity: fixed(1),
        unit: "clusters",
        keys: [[PriceKey.eksClusterHour, 1]],
        per: "hour",
        note: "standard support; a version in extended support costs more per hour",
      });
    }
  }

  /** ElastiCache replication groups: every node runs all month; snapshots beyond the free one and traffic are usage. */
  elasticache(): void {
    for (const [name, g] of this.resources("aws_elasticache_replication_group")) {
      const nodeType = str(g.node_type) ?? "unknown";
      const shards = num(g.num_node_groups);
      const nodes = num(g.num_cache_clusters) ?? (shards !== undefined ? shards * ((num(g.replicas_per_node_group) ?? 0) + 1) : 1);
      this.priced({
        category: "ElastiCache",
        item: `Redis ${str(g.replication_group_id) ?? name}: ${nodes} × ${nodeType}`,
        resources: [`aws_elasticache_replication_group.${name}`],
        quantity: fixed(nodes),
        unit: "nodes",
        keys: [[PriceKey.elasticacheNode(nodeType), 1]],
        per: "hour",
        note: "on demand; backup storage beyond one snapshot of the data's size, and cross-zone traffic, are usage",
      });
    }
  }

  ebsVolumes(): void {
    for (const [name, v] of this.resources("aws_ebs_volume")) {
      const tags = isObj(v.tags) ? v.tags : {};
      const type = str(v.type) ?? "gp2"; // the provider's (and EC2's) default volume type when none is given
      this.volumes(
        `volume ${str(tags.Name) ?? name}`,
        [`aws_ebs_volume.${name}`],
        [{ size: num(v.size), type, iops: num(v.iops), throughput: num(v.throughput) }],
        fixed(1),
        "",
      );
    }
  }

  secrets(): void {
    const secrets = this.resources("aws_secretsmanager_secret");
    if (secrets.length === 0) return;
    const resources = secrets.map(([n]) => `aws_secretsmanager_secret.${n}`);
    this.priced({
      category: "Secrets Manager",
      item: plural(secrets.length, "secret"),
      resources,
      quantity: fixed(secrets.length),
      unit: "secrets",
      keys: [[PriceKey.secret, 1]],
      per: "month",
    });
    this.usage("Secrets Manager", "API calls", resources, [[PriceKey.secretsApi, "per 10,000 calls"]], "each task start reads its secrets");
  }

  // --- CloudWatch ----------------------------------------------------------------------------

  alarms(): void {
    const standard: string[] = [];
    const high: string[] = [];
    let standardMetrics = 0;
    let highMetrics = 0;
    for (const [name, a] of this.resources("aws_cloudwatch_metric_alarm")) {
      const address = `aws_cloudwatch_metric_alarm.${name}`;
      const queries = blocks(a.metric_query).filter((q) => block(q.metric) !== undefined);
      const periods = queries.length > 0 ? queries.map((q) => num(block(q.metric)?.period) ?? 60) : [num(a.period) ?? 60];
      // An alarm is billed per metric it evaluates; high resolution when its period is below 60 s.
      for (const p of periods) {
        if (p < 60) highMetrics++;
        else standardMetrics++;
      }
      (periods.some((p) => p < 60) ? high : standard).push(address);
    }
    if (standardMetrics > 0) {
      this.priced({
        category: "CloudWatch alarms",
        item: "standard resolution (period >= 60 s)",
        resources: standard,
        quantity: fixed(standardMetrics),
        unit: "alarm metrics",
        keys: [[PriceKey.cloudwatchAlarmStandard, 1]],
        per: "month",
      });
    }
    if (highMetrics > 0) {
      this.priced({
        category: "CloudWatch alarms",
        item: "high resolution (period < 60 s)",
        resources: high,
        quantity: fixed(highMetrics),
        unit: "alarm metrics",
        keys: [[PriceKey.cloudwatchAlarmHighResolution, 1]],
        per: "month",
      });
    }
    // Target tracking policies create two alarms each (scale out and in), billed like the user's own.
    const tracking = [
      ...this.resources("aws_appautoscaling_policy")
        .filter(([, p]) => str(p.policy_type) === "TargetTrackingScaling")
        .map(([n]) => `aws_appautoscaling_policy.${n}`),
      ...this.resources("aws_autoscaling_policy")
        .filter(([, p]) => str(p.policy_type) === "TargetTrackingScaling")
        .map(([n]) => `aws_autoscaling_policy.${n}`),
      ...this.resources("aws_ecs_capacity_provider")
        .filter(([, cp]) => str(block(block(cp.auto_scaling_group_provider)?.managed_scaling)?.status) === "ENABLED")
        .map(([n]) => `aws_ecs_capacity_provider.${n}`),
    ];
    if (tracking.length > 0) {
      this.priced({
        category: "CloudWatch alarms",
        item: "of target tracking, created by AWS",
        resources: tracking,
        quantity: fixed(tracking.length * 2),
        unit: "alarms",
        keys: [[PriceKey.cloudwatchAlarmStandard, 1]],
        per: "month",
        note: "target tracking (also ECS managed scaling) creates a scale-out and a scale-in alarm",
      });
    }
  }

  /** The queue-length publisher (and any container with the same settings): its metrics and API calls. */
  customMetrics(): void {
    const metrics = new Map<string, string[]>();
    const intervals = new Set<number>();
    let putsPerMonth = 0;
    let readsPerMonth = 0;
    const putters: string[] = [];
    const readers: string[] = [];
    for (const [name, td] of this.resources("aws_ecs_task_definition")) {
      const address = `aws_ecs_task_definition.${name}`;
      let defs: unknown;
      try {
        defs = JSON.parse(str(td.container_definitions) ?? "[]");
      } catch {
        continue; // an expression, not a literal: nothing to read
      }
      const tasks = this.runningTasks(name);
      for (const c of Array.isArray(defs) ? defs.filter(isObj) : []) {
        const env = Object.fromEntries(blocks(c.environment).map((e) => [str(e.name) ?? "", str(e.value) ?? ""]));
        if (!env.HF_METRIC_NAMESPACE || !env.HF_METRIC_NAME) continue;
        const id = `${env.HF_METRIC_NAMESPACE}/${env.HF_METRIC_NAME} ${env.HF_METRIC_DIMENSIONS ?? "{}"}`; // one metric per namespace, name and dimensions
        metrics.set(id, [...(metrics.get(id) ?? []), address]);
        const interval = num(env.HF_PUBLISH_INTERVAL_SECONDS);
        if (interval && interval > 0 && tasks !== undefined) {
          putsPerMonth += (tasks * 3600 * HOURS_PER_MONTH) / interval;
          intervals.add(interval);
          putters.push(address);
        }
        if (env.INFLUXDB_URL && tasks !== undefined) {
          const every = num(env.HF_MONITOR_INTERVAL_SECONDS) ?? 60;
          readsPerMonth += (tasks * PUBLISHER_METRICS_PER_READ * 3600 * HOURS_PER_MONTH) / every;
          readers.push(address);
        }
      }
    }
    if (metrics.size > 0) {
      this.priced({
        category: "CloudWatch metrics",
        item: [...new Set([...metrics.keys()].map((k) => k.split(" ")[0]))].join(", "),
        resources: [...new Set([...metrics.values()].flat())],
        quantity: fixed(metrics.size),
        unit: "metrics",
        keys: [[PriceKey.cloudwatchMetric, 1]],
        per: "month",
        note: `${[...metrics.keys()].join("; ")}: one metric per distinct namespace, name and dimensions (high resolution costs the same)`,
      });
    }
    if (putsPerMonth > 0) {
      this.priced({
        category: "CloudWatch API",
        item: `PutMetricData every ${[...intervals].sort((a, b) => a - b).join(", ")} s`,
        resources: putters,
        quantity: fixed(putsPerMonth),
        unit: "requests/month",
        keys: [[PriceKey.cloudwatchRequests, 1 / 1000]],
        per: "month",
      });
    }
    if (readsPerMonth > 0) {
      this.priced({
        category: "CloudWatch API",
        item: "GetMetricData (dashboards)",
        resources: readers,
        quantity: fixed(readsPerMonth),
        unit: "metrics/month",
        keys: [[PriceKey.cloudwatchMetricsRead, 1 / 1000]],
        per: "month",
        note: `${PUBLISHER_METRICS_PER_READ} metrics a read; DescribeAlarms and the ECS reads are not among CloudWatch's charged requests`,
      });
    }
  }

  /** Tasks of a task definition its services keep running (desired count); undefined when no service runs it. */
  private runningTasks(taskDefinition: string): number | undefined {
    const services = this.resources("aws_ecs_service").filter(([, s]) => referenced(s.task_definition, "aws_ecs_task_definition") === taskDefinition);
    if (services.length === 0) return undefined;
    return services.reduce((n, [, s]) => n + (num(s.desired_count) ?? 0), 0);
  }

  containerInsights(): void {
    for (const [name, c] of this.resources("aws_ecs_cluster")) {
      const setting = blocks(c.setting).find((s) => str(s.name) === "containerInsights");
      const value = str(setting?.value);
      if (value !== "enabled" && value !== "enhanced") continue;
      this.usage(
        "Container Insights",
        `cluster ${str(c.name) ?? name}${value === "enhanced" ? " (enhanced)" : ""}`,
        [`aws_ecs_cluster.${name}`],
        [
          [PriceKey.cloudwatchMetric, "per metric a month"],
          [PriceKey.logsIngestion, "per GB of performance events"],
        ],
        "billed as custom metrics (their number grows with services, task families and instances) and as log ingestion",
      );
    }
  }

  logGroups(): void {
    const groups = this.resources("aws_cloudwatch_log_group");
    if (groups.length === 0) return;
    const retention = [...new Set(groups.map(([, g]) => num(g.retention_in_days)))].map((d) => (d === undefined || d === 0 ? "never expires" : `${d} days`));
    this.usage(
      "CloudWatch Logs",
      `${plural(groups.length, "log group")} (retention ${retention.join(", ")})`,
      groups.map(([n]) => `aws_cloudwatch_log_group.${n}`),
      [
        [PriceKey.logsIngestion, "per GB ingested"],
        [PriceKey.logsStorage, "per GB-month stored"],
      ],
    );
  }

  // --- storage -------------------------------------------------------------------------------

  repositories(): void {
    const repos = this.resources("aws_ecr_repository");
    if (repos.length === 0) return;
    this.usage(
      "ECR",
      `image storage of ${plural(repos.length, "repository", "repositories")}`,
      repos.map(([n]) => `aws_ecr_repository.${n}`),
      [[PriceKey.ecrStorage, "per GB-month"]],
      "pulls from the same region are free of transfer charges (not through a NAT gateway)",
    );
  }

  buckets(): void {
    const buckets = this.resources("aws_s3_bucket");
    if (buckets.length === 0) return;
    this.usage(
      "S3",
      `storage and requests of ${plural(buckets.length, "bucket")}`,
      buckets.map(([n]) => `aws_s3_bucket.${n}`),
      [
        [PriceKey.s3Standard, "per GB-month (Standard)"],
        [PriceKey.s3Put, "per 1,000 PUT/LIST"],
        [PriceKey.s3Get, "per 1,000 GET"],
      ],
    );
  }

  // --- per-use compute -------------------------------------------------------------------------

  lambdas(): void {
    for (const [name, f] of this.resources("aws_lambda_function")) {
      this.hasCompute = true;
      const memory = num(f.memory_size) ?? 128;
      const arch: Arch = strings(f.architectures)[0] === "arm64" ? "arm64" : "x86_64";
      const requests = this.book.price(PriceKey.lambdaRequests);
      const gbSecond = this.book.price(PriceKey.lambdaGbSecond(arch));
      const example =
        requests && gbSecond ? { what: `1M invocations of 1 s each at ${memory} MB`, usd: requests.usd + 1e6 * (memory / 1024) * gbSecond.usd } : undefined;
      this.usage(
        "Lambda",
        `function ${str(f.function_name) ?? name} (${memory} MB, ${arch})`,
        [`aws_lambda_function.${name}`],
        [
          [PriceKey.lambdaRequests, "per 1M requests"],
          [PriceKey.lambdaGbSecond(arch), `per GB-second (${memory} MB = ${memory / 1024} GB)`],
        ],
        "per use: requests × (price per request + memory in GB × seconds × price per GB-second)",
        example,
      );
    }
  }

  batch(): void {
    for (const [name, ce] of this.resources("aws_batch_compute_environment")) {
      this.hasCompute = true;
      const address = `aws_batch_compute_environment.${name}`;
      const label = `Batch compute environment ${str(ce.compute_environment_name) ?? name}`;
      const cr = block(ce.compute_resources);
      const type = str(cr?.type) ?? (str(ce.type) === "UNMANAGED" ? "UNMANAGED" : undefined);
      if (!cr || type === undefined || type === "UNMANAGED") {
        this.unknown("Batch", label, [address], "unmanaged compute environments run on instances of your own");
        continue;
      }
      if (type === "FARGATE" || type === "FARGATE_SPOT") {
        if (type === "FARGATE_SPOT") {
          this.unknown("Batch", `${label} (Fargate Spot)`, [address], "Fargate Spot prices change with demand: not modelled");
          continue;
        }
        this.fargateJobs(label, address);
        continue;
      }
      if (type === "SPOT") {
        this.unknown("Batch", `${label} (Spot)`, [address], "Spot prices change with demand: not modelled", this.vcpus(cr), "vCPUs");
        continue;
      }
      // EC2: Batch picks instances from the listed types to cover the vCPUs; priced at the cheapest per vCPU.
      const vcpus = this.vcpus(cr);
      const types = strings(cr.instance_type);
      const perVcpu = types
        .map((t) => [t, this.book.price(PriceKey.ec2Instance(t))] as const)
        .filter((x): x is readonly [string, Price] => x[1]?.vcpu !== undefined)
        .map(([t, p]) => ({ t, usd: p.usd / p.vcpu! }))
        .sort((a, b) => a.usd - b.usd)[0];
      if (!vcpus || !perVcpu || types.some((t) => !t.includes("."))) {
        this.unknown(
          "Batch",
          `${label} (EC2 ${types.join(", ") || "optimal"})`,
          [address],
          "instance families or types without a known price and vCPU count: not modelled",
          vcpus,
          "vCPUs",
        );
        continue;
      }
      this.priced({
        category: "Batch",
        item: `${label} (EC2, ${perVcpu.t} per vCPU)`,
        resources: [address],
        quantity: vcpus,
        unit: "vCPUs",
        keys: [[PriceKey.ec2Instance(perVcpu.t), 1 / this.book.price(PriceKey.ec2Instance(perVcpu.t))!.vcpu!]],
        per: "hour",
        note: "min/desired/max vCPUs × the cheapest listed type's price per vCPU; Batch may pick larger instances",
      });
    }
  }

  private vcpus(cr: Obj): Range | undefined {
    const max = num(cr.max_vcpus);
    if (max === undefined) return undefined;
    const min = num(cr.min_vcpus) ?? 0;
    return { min, desired: num(cr.desired_vcpus) ?? min, max };
  }

  /** Fargate Batch jobs: per use, at each job definition's vCPU and memory. */
  private fargateJobs(label: string, address: string): void {
    const jobs = this.resources("aws_batch_job_definition").flatMap(([n, jd]) => {
      try {
        const props = JSON.parse(str(jd.container_properties) ?? "{}") as {
          resourceRequirements?: { type?: string; value?: string }[];
          runtimePlatform?: { cpuArchitecture?: string };
        };
        const req = (t: string) => num(props.resourceRequirements?.find((r) => r.type === t)?.value);
        const arch: Arch = props.runtimePlatform?.cpuArchitecture === "ARM64" ? "arm64" : "x86_64";
        const vcpu = req("VCPU");
        const memoryMiB = req("MEMORY");
        return vcpu && memoryMiB ? [{ name: str(jd.name) ?? n, vcpu, gb: memoryMiB / 1024, arch }] : [];
      } catch {
        return [];
      }
    });
    const arch: Arch = jobs[0]?.arch ?? "x86_64";
    const vcpuPrice = this.book.price(PriceKey.fargateVcpuHour(arch));
    const gbPrice = this.book.price(PriceKey.fargateGbHour(arch));
    const job = jobs[0];
    const example =
      job && vcpuPrice && gbPrice
        ? { what: `one job-hour of ${job.name} (${job.vcpu} vCPU, ${job.gb} GB)`, usd: job.vcpu * vcpuPrice.usd + job.gb * gbPrice.usd }
        : undefined;
    this.usage(
      "Batch",
      `${label} (Fargate)`,
      [address],
      [
        [PriceKey.fargateVcpuHour(arch), "per vCPU-hour"],
        [PriceKey.fargateGbHour(arch), "per GB-hour"],
      ],
      "per use: each job's vCPU and memory for as long as it runs (per second, one-minute minimum)",
      example,
    );
  }

  /** ECS services on Fargate run all the time: their tasks' vCPU and memory, at the service's task counts. */
  fargateServices(): void {
    for (const [name, s] of this.resources("aws_ecs_service")) {
      const strategies = blocks(s.capacity_provider_strategy).map((c) => str(c.capacity_provider));
      const fargate = str(s.launch_type) === "FARGATE" || strategies.includes("FARGATE");
      if (!fargate && !strategies.includes("FARGATE_SPOT")) continue; // EC2: priced as instances
      this.hasCompute = true;
      const address = `aws_ecs_service.${name}`;
      const label = `ECS service ${str(s.name) ?? name} on Fargate`;
      const tdName = referenced(s.task_definition, "aws_ecs_task_definition");
      const td = this.get("aws_ecs_task_definition", tdName);
      const cpu = num(td?.cpu);
      const memory = num(td?.memory);
      const desired = num(s.desired_count) ?? 0;
      const target = this.resources("aws_appautoscaling_target").find(([, t]) => mentioned(t.resource_id, "aws_ecs_service").includes(name));
      const count: Range = target ? { min: num(target[1].min_capacity) ?? desired, desired, max: num(target[1].max_capacity) ?? desired } : fixed(desired);
      const resources = td ? [address, `aws_ecs_task_definition.${tdName}`] : [address];
      if (!fargate || cpu === undefined || memory === undefined) {
        this.unknown(
          "Fargate",
          label,
          resources,
          fargate ? "task size not known before apply" : "Fargate Spot prices change with demand: not modelled",
          count,
          "tasks",
        );
        continue;
      }
      const arch: Arch = str(block(td?.runtime_platform)?.cpu_architecture) === "ARM64" ? "arm64" : "x86_64";
      this.priced({
        category: "Fargate",
        item: `${label} (${cpu / 1024} vCPU, ${memory / 1024} GB, ${arch})`,
        resources,
        quantity: count,
        unit: "tasks",
        keys: [
          [PriceKey.fargateVcpuHour(arch), cpu / 1024],
          [PriceKey.fargateGbHour(arch), memory / 1024],
        ],
        per: "hour",
      });
    }
  }

  // --- Kubernetes and Google Cloud --------------------------------------------------------------

  /** Volumes Kubernetes creates: PVCs, and the `persistence` of Helm charts, on EBS when the storage class is the EBS CSI driver's. */
  kubernetesVolumes(): void {
    const ebsClasses = new Map<string, { resource: string; type: string }>();
    for (const type of ["kubernetes_storage_class_v1", "kubernetes_storage_class"]) {
      for (const [n, sc] of this.resources(type)) {
        if (str(sc.storage_provisioner) !== "ebs.csi.aws.com") continue;
        const params = isObj(sc.parameters) ? sc.parameters : {};
        const className = str(block(sc.metadata)?.name) ?? n;
        ebsClasses.set(className, { resource: `${type}.${n}`, type: str(params.type) ?? "gp3" });
        ebsClasses.set(`\${${type}.${n}.metadata[0].name}`, { resource: `${type}.${n}`, type: str(params.type) ?? "gp3" });
      }
    }
    const servedByRelease = new Set<string>();
    const volume = (item: string, resources: string[], size: number | undefined, className: string | undefined) => {
      const ebs = className !== undefined ? ebsClasses.get(className) : undefined;
      if (ebs && size !== undefined) {
        this.volumes(item, [...resources, ebs.resource], [{ size: Math.ceil(size), type: ebs.type }], fixed(1), "");
      } else {
        const on = className === undefined ? "the cluster's default storage class" : `storage class ${className}`;
        this.unknown(
          "Kubernetes volume",
          `${item}${size !== undefined ? `: ${size} GiB` : ""} on ${on}`,
          resources,
          "what backs this storage class is not in this stack: not modelled",
        );
      }
    };
    for (const [n, r] of this.resources("helm_release")) {
      for (const text of strings(r.values)) {
        let values: unknown;
        try {
          values = JSON.parse(text);
        } catch {
          continue; // YAML values: not read
        }
        if (!isObj(values)) continue;
        const sc = block(values.storageClass);
        if (str(sc?.name)) servedByRelease.add(str(sc?.name)!);
        const p = block(values.persistence);
        if (p && bool(p.enabled) === true)
          volume(`Helm release ${str(r.name) ?? n}: persistent volume`, [`helm_release.${n}`], gib(p.size), str(p.storageClass));
      }
    }
    for (const type of ["kubernetes_persistent_volume_claim_v1", "kubernetes_persistent_volume_claim"]) {
      for (const [n, pvc] of this.resources(type)) {
        const spec = block(pvc.spec);
        const className = str(spec?.storage_class_name);
        // A claim on a class an in-stack chart serves (the NFS server) uses that chart's volume, priced above.
        if (className !== undefined && servedByRelease.has(className)) continue;
        volume(`PVC ${str(block(pvc.metadata)?.name) ?? n}`, [`${type}.${n}`], gib(block(block(spec?.resources)?.requests)?.storage), className);
      }
    }
    for (const type of ["kubernetes_service_v1", "kubernetes_service"]) {
      for (const [n, svc] of this.resources(type)) {
        if (str(block(svc.spec)?.type) !== "LoadBalancer") continue;
        this.unknown(
          "Load balancer",
          `Service ${str(block(svc.metadata)?.name) ?? n} of type LoadBalancer`,
          [`${type}.${n}`],
          "the cluster's cloud controller creates a load balancer (hourly + usage): not modelled",
        );
      }
    }
  }

  google(): void {
    for (const [n, c] of this.resources("google_container_cluster")) {
      this.unknown(
        "Google Cloud",
        `GKE cluster ${str(c.name) ?? n}${bool(c.enable_autopilot) ? " (Autopilot)" : ""}`,
        [`google_container_cluster.${n}`],
        "Google Cloud prices are not modelled (cluster management fee, Autopilot pod resources)",
      );
    }
    for (const [n, p] of this.resources("google_container_node_pool")) {
      const auto = block(p.autoscaling);
      const count = num(p.node_count) ?? num(p.initial_node_count) ?? 0;
      const quantity: Range = auto
        ? {
            min: num(auto.min_node_count) ?? num(auto.total_min_node_count) ?? 0,
            desired: num(p.initial_node_count) ?? count,
            max: num(auto.max_node_count) ?? num(auto.total_max_node_count) ?? count,
          }
        : fixed(count);
      const machine = str(block(p.node_config)?.machine_type) ?? "default machine type";
      this.unknown(
        "Google Cloud",
        `GKE node pool ${str(p.name) ?? str(p.name_prefix)?.replace(/-$/, "") ?? n}, ${machine}`,
        [`google_container_node_pool.${n}`],
        "Google Compute Engine prices are not modelled",
        quantity,
        "nodes",
      );
    }
  }

  // --- everything else -----------------------------------------------------------------------

  dataTransfer(): void {
    if (!this.hasCompute) return;
    this.usage(
      "Data transfer",
      "out to the internet, between zones",
      [],
      [
        [PriceKey.internetOut, "per GB out to the internet"],
        [PriceKey.interAz, "per GB each way between availability zones"],
      ],
      "transfer in, and to S3 and ECR in the same region, is free",
    );
  }

  unmodelled(): void {
    for (const [type, byName] of Object.entries(this.json.resource ?? {})) {
      if (FREE_TYPES.has(type) || MODELLED_TYPES.has(type) || /^kubernetes_/.test(type)) continue;
      const names = Object.keys(byName);
      this.unknown(
        "No cost model",
        `${plural(names.length, type)}`,
        names.map((n) => `${type}.${n}`),
        `no cost model for ${type}`,
      );
    }
  }

  run(): StackCost {
    this.ec2Instances();
    this.autoScalingGroups();
    this.eksNodeGroups();
    this.eksClusters();
    this.elasticache();
    this.fargateServices();
    this.batch();
    this.lambdas();
    this.ebsVolumes();
    this.kubernetesVolumes();
    this.natGateways();
    this.elasticIps();
    this.loadBalancers();
    this.alarms();
    this.customMetrics();
    this.containerInsights();
    this.logGroups();
    this.secrets();
    this.repositories();
    this.buckets();
    this.google();
    this.unmodelled();
    this.dataTransfer();
    return stackCost(this.stack, this.lines);
  }
}

/** The cost lines of one synthesized stack and their sums. */
export function estimateStack(stack: string, json: SynthesizedStack, book: PriceBook): StackCost {
  return new StackEstimator(stack, json, book).run();
}

/** The price keys an estimate of these stacks looks up (to fetch them before estimating). */
export function priceKeysOf(stacks: readonly { readonly stack: string; readonly json: SynthesizedStack }[], region: string): string[] {
  const keys = new Set<string>();
  const recording: PriceBook = {
    region,
    price: (key) => {
      keys.add(key);
      return undefined;
    },
  };
  for (const s of stacks) estimateStack(s.stack, s.json, recording);
  return [...keys].sort();
}
