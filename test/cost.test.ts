/**
 * The cost estimator (cost/estimate.ts) on every example config's synthesized stacks, and on synthetic
 * JSON for what no stack has yet (Lambda, Batch, Fargate, load balancers, unknown types and prices).
 * Prices come from the embedded table, so every amount here is checked against it.
 */
import { estimateStack } from "../cost/estimate";
import { PUBLISHER_METRICS_PER_READ } from "../cost/estimate";
import { formatCostJson, formatCostTable } from "../cost/format";
import { type CostLine, HOURS_PER_MONTH, type PriceBook, type StackCost } from "../cost/model";
import { PriceKey } from "../cost/price-keys";
import { EMBEDDED_REGIONS, EMBEDDED_SOURCE, embeddedPrice, embeddedPriceBook } from "../cost/prices";
import { estimateWith } from "../cost/report";
import { CONFIG_VARIANTS, synthConfig, type TfJson } from "./support/stack-json";

const publisher = require("../constructs/ecs/queue-length-publisher.js");

const usd = (region: string, key: string) => {
  const p = embeddedPrice(region, key);
  if (!p) throw new Error(`no embedded price ${key} in ${region}`);
  return p.usd;
};

/** The lines of a category whose item matches. */
function lines(s: StackCost, category: string, item?: RegExp): CostLine[] {
  return s.lines.filter((l) => l.category === category && (!item || item.test(l.item)));
}

function one(s: StackCost, category: string, item?: RegExp): CostLine {
  const found = lines(s, category, item);
  if (found.length !== 1)
    throw new Error(
      `expected one ${category} line${item ? ` matching ${item}` : ""} in ${s.stack}, found ${found.length}: ${s.lines.map((l) => `${l.category}: ${l.item}`).join(" | ")}`,
    );
  return found[0];
}

/** What holds for every estimate: sums, 730 h, scales in order, unknowns never zero. */
function checkArithmetic(s: StackCost): void {
  let hourly = { min: 0, desired: 0, max: 0 };
  let monthly = { min: 0, desired: 0, max: 0 };
  for (const l of s.lines) {
    if (l.kind === "priced") {
      for (const k of ["min", "desired", "max"] as const) {
        expect(l.monthly![k]).toBeCloseTo(l.hourly![k] * HOURS_PER_MONTH, 9);
        expect(l.hourly![k]).toBeGreaterThanOrEqual(0);
        hourly = { ...hourly, [k]: hourly[k] + l.hourly![k] };
        monthly = { ...monthly, [k]: monthly[k] + l.monthly![k] };
      }
      expect(l.hourly!.min).toBeLessThanOrEqual(l.hourly!.desired);
      expect(l.hourly!.desired).toBeLessThanOrEqual(l.hourly!.max);
      expect(l.prices!.length).toBeGreaterThan(0);
    } else {
      // Usage-based and unknown lines carry no amount at all: they are never counted as zero.
      expect(l.hourly).toBeUndefined();
      expect(l.monthly).toBeUndefined();
    }
  }
  for (const k of ["min", "desired", "max"] as const) {
    expect(s.hourly[k]).toBeCloseTo(hourly[k], 9);
    expect(s.monthly[k]).toBeCloseTo(monthly[k], 9);
  }
  expect(s.usageItems).toBe(s.lines.filter((l) => l.kind === "usage").length);
  expect(s.unknownItems).toBe(s.lines.filter((l) => l.kind === "unknown").length);
}

/** A priced line's monthly amount is quantity × unit price × 730 (hourly prices) at every scale. */
function expectHourlyPriced(l: CostLine, unitUsd: number): void {
  expect(l.kind).toBe("priced");
  for (const k of ["min", "desired", "max"] as const) expect(l.monthly![k]).toBeCloseTo(l.quantity![k] * unitUsd * HOURS_PER_MONTH, 9);
}

/** … and quantity × unit price for monthly prices. */
function expectMonthlyPriced(l: CostLine, unitUsd: number): void {
  expect(l.kind).toBe("priced");
  for (const k of ["min", "desired", "max"] as const) expect(l.monthly![k]).toBeCloseTo(l.quantity![k] * unitUsd, 9);
}

const estimates = Object.fromEntries(
  Object.entries(CONFIG_VARIANTS).map(([name, input]) => {
    const { config, json } = synthConfig(input);
    const book = embeddedPriceBook(config.region);
    return [
      name,
      {
        region: config.region,
        stacks: Object.fromEntries(Object.entries(json).map(([stack, j]) => [stack, estimateStack(stack, j, book)])) as Record<string, StackCost>,
      },
    ];
  }),
);

describe.each(Object.keys(CONFIG_VARIANTS))("estimate of examples/%s.json", (name) => {
  const { region, stacks } = estimates[name];

  test("the example's region is in the embedded table", () => {
    expect(EMBEDDED_REGIONS).toContain(region);
  });

  test.each(Object.keys(stacks))("stack %s: arithmetic, and every resource type has a model", (stack) => {
    const s = stacks[stack];
    checkArithmetic(s);
    expect(lines(s, "No cost model")).toEqual([]);
  });

  test("every ECS stack: master, worker ASG, its volumes, alarms, the queue metric, the secret, logs, ECR", () => {
    const ecs = stacks.ecs;
    if (!ecs) return expect(Object.keys(stacks)).not.toContain("ecs");
    const master = one(ecs, "EC2", /-master \(/);
    expect(master.quantity).toEqual({ min: 1, desired: 1, max: 1 });
    const type = /\((\S+)\)$/.exec(master.item)![1];
    expectHourlyPriced(master, usd(region, PriceKey.ec2Instance(type)));
    const asg = one(ecs, "EC2", /^ASG /);
    expect(asg.quantity).toEqual({ min: 0, desired: 0, max: 5 });
    expectHourlyPriced(asg, usd(region, PriceKey.ec2Instance(type)));
    expect(asg.note).toMatch(/ECS managed scaling/);
    const asgVolume = one(ecs, "EBS", /^ASG .*, 30 GB gp3 each$/);
    expect(asgVolume.quantity).toEqual({ min: 0, desired: 0, max: 150 });
    expectMonthlyPriced(asgVolume, usd(region, PriceKey.ebsStorage("gp3")));
    expectMonthlyPriced(one(ecs, "EBS", /-master, 30 GB gp3$/), usd(region, PriceKey.ebsStorage("gp3")));
    // Alarms: standard or high resolution by period; the two of ECS managed scaling on top.
    const alarms = lines(ecs, "CloudWatch alarms", /resolution/);
    expect(alarms.reduce((n, l) => n + l.quantity!.max, 0)).toBe(2);
    expectMonthlyPriced(one(ecs, "CloudWatch alarms", /target tracking/), usd(region, PriceKey.cloudwatchAlarmStandard));
    const metric = one(ecs, "CloudWatch metrics");
    expect(metric.item).toBe("hyperflow/QueueLength");
    expect(metric.quantity!.max).toBe(1);
    expectMonthlyPriced(metric, usd(region, PriceKey.cloudwatchMetric));
    expect(one(ecs, "CloudWatch API", /PutMetricData/).quantity!.max).toBeGreaterThan(0);
    expectMonthlyPriced(one(ecs, "Secrets Manager", /secret/), usd(region, PriceKey.secret));
    expect(one(ecs, "CloudWatch Logs").kind).toBe("usage");
    expect(one(ecs, "ECR").kind).toBe("usage");
    expect(one(ecs, "Container Insights").kind).toBe("usage");
    expect(one(ecs, "Data transfer").kind).toBe("usage");
  });

  test("every runner stack: the bucket and the engine's logs are usage-based, nothing runs by itself", () => {
    const runner = stacks.runner;
    if (!runner) return expect(Object.keys(stacks)).not.toContain("runner");
    expect(one(runner, "S3").kind).toBe("usage");
    expect(one(runner, "S3").rates!.join(" ")).toMatch(/USD \d/);
    expect(one(runner, "CloudWatch Logs").kind).toBe("usage");
    expect(runner.monthly).toEqual({ min: 0, desired: 0, max: 0 });
    expect(runner.usageItems).toBe(2);
  });
});

describe("estimates: what each example has", () => {
  test("ecs-minimal: high-resolution alarms (period 10 s < 60), PutMetricData every 5 s, public IPv4 of the default VPC; t3.medium master = USD 30.368 a month", () => {
    const { ecs, network } = estimates["ecs-minimal"].stacks;
    expect(network.lines).toEqual([]);
    const high = one(ecs, "CloudWatch alarms", /high resolution/);
    expect(high.quantity!.max).toBe(2);
    expectMonthlyPriced(high, 0.3);
    expect(lines(ecs, "CloudWatch alarms", /standard resolution/)).toEqual([]);
    const puts = one(ecs, "CloudWatch API", /PutMetricData every 5 s/);
    expect(puts.quantity!.max).toBe((3600 / 5) * 730); // 525,600 requests a month
    expect(puts.monthly!.max).toBeCloseTo(5.256, 9); // USD 0.01 per 1,000
    expect(one(ecs, "EC2", /-master \(t3\.medium\)/).monthly).toEqual({ min: 30.368, desired: 30.368, max: 30.368 });
    expect(one(ecs, "Public IPv4", /-master$/).quantity!.max).toBe(1);
    expect(one(ecs, "Public IPv4", /^ASG /).quantity).toEqual({ min: 0, desired: 0, max: 5 });
    expect(lines(ecs, "CloudWatch API", /GetMetricData/)).toEqual([]); // no dashboards without InfluxDB
  });

  test("ecs-new-vpc: the network stack's NAT gateway (hourly + per-GB usage) and its Elastic IP; standard alarms (60 and 120 s)", () => {
    const { network, ecs } = estimates["ecs-new-vpc"].stacks;
    const nat = one(network, "NAT gateway", /1 NAT gateway/);
    expect(nat.quantity!.max).toBe(1);
    expectHourlyPriced(nat, usd("eu-central-1", PriceKey.natGatewayHour));
    expect(nat.monthly!.max).toBeCloseTo(0.052 * 730, 9);
    const processing = one(network, "NAT gateway", /data processing/);
    expect(processing.kind).toBe("usage");
    expect(processing.rates).toEqual(["USD 0.052 per GB processed"]);
    expect(processing.note).toMatch(/no S3 gateway endpoint/);
    expectHourlyPriced(one(network, "Public IPv4", /Elastic IP/), usd("eu-central-1", PriceKey.publicIpv4Hour));
    expect(one(ecs, "CloudWatch alarms", /standard resolution/).quantity!.max).toBe(2);
    expect(lines(ecs, "CloudWatch alarms", /high resolution/)).toEqual([]);
    expect(one(ecs, "CloudWatch API", /PutMetricData every 30 s/).quantity!.max).toBe(120 * 730);
    expect(lines(ecs, "Public IPv4")).toEqual([]); // private subnets
    // eu-central-1 has no CloudWatch Logs rate in the embedded table: said so, not zero.
    expect(one(ecs, "CloudWatch Logs").rates).toEqual(["per GB ingested: rate not in the price source", "per GB-month stored: rate not in the price source"]);
  });

  test("eks: the EKS control plane (USD 0.10 an hour), both node groups at their scaling_config, and the k8s stack's NFS volume on gp3", () => {
    const { eks, k8s } = estimates.eks.stacks;
    const plane = one(eks, "EKS");
    expect(plane.item).toMatch(/^control plane /);
    expect(plane.monthly!.max).toBeCloseTo(73, 9);
    const master = one(eks, "EC2", /hfmaster \(m5\.large\)/);
    expect(master.quantity).toEqual({ min: 1, desired: 1, max: 1 });
    expectHourlyPriced(master, usd("us-east-1", PriceKey.ec2Instance("m5.large")));
    const workers = one(eks, "EC2", /hfworker \(m5\.xlarge\)/);
    expect(workers.quantity).toEqual({ min: 0, desired: 0, max: 5 });
    expectHourlyPriced(workers, usd("us-east-1", PriceKey.ec2Instance("m5.xlarge")));
    expect(one(eks, "EBS", /hfworker/).item).toMatch(/GB gp3 each$/);
    expect(one(eks, "Public IPv4", /hfworker/).quantity).toEqual({ min: 0, desired: 0, max: 5 }); // public subnets map public IPs
    const nfs = one(k8s, "EBS", /Helm release nfs-server-provisioner/);
    expectMonthlyPriced(nfs, usd("us-east-1", PriceKey.ebsStorage("gp3")));
    expect(nfs.resources).toEqual(expect.arrayContaining([expect.stringMatching(/^kubernetes_storage_class_v1\./)]));
    // The work-dir claim is served by the NFS server's volume: not priced twice.
    expect(k8s.lines.filter((l) => /PVC/.test(l.item))).toEqual([]);
  });

  test("monitoring: the grafana stack's instance (t4g.small), its data volume and secret; the publisher's GetMetricData for the dashboards", () => {
    const { grafana, ecs } = estimates.monitoring.stacks;
    const host = one(grafana, "EC2", /\(t4g\.small\)$/);
    expect(host.monthly!.max).toBeCloseTo(0.0168 * 730, 9);
    expectMonthlyPriced(one(grafana, "EBS", /^volume .*-data, 20 GB gp3$/), 0.08);
    expectMonthlyPriced(one(grafana, "EBS", /-monitoring, 20 GB gp3$/), 0.08);
    expect(one(grafana, "Secrets Manager", /1 secret/).monthly!.max).toBeCloseTo(0.4, 9);
    const reads = one(ecs, "CloudWatch API", /GetMetricData/);
    expect(reads.quantity!.max).toBe(PUBLISHER_METRICS_PER_READ * 60 * 730); // every 60 s
    expect(reads.monthly!.max).toBeCloseTo((PUBLISHER_METRICS_PER_READ * 60 * 730 * 0.01) / 1000, 9);
  });

  test("the publisher reads as many series per GetMetricData as the estimator counts", () => {
    expect(publisher.utilizationQueries({ services: { master: "m", worker: "w" } }).length).toBe(PUBLISHER_METRICS_PER_READ);
  });

  test("gke: Google Cloud is listed as unknown (cluster, node pools with their sizes), never as zero", () => {
    const { gke, k8s } = estimates.gke.stacks;
    expect(gke.lines.map((l) => l.kind)).toEqual(["unknown", "unknown", "unknown"]);
    expect(one(gke, "Google Cloud", /node pool hfworker/).quantity).toEqual({ min: 0, desired: 0, max: 5 });
    expect(gke.unknownItems).toBe(3);
    expect(one(k8s, "Kubernetes volume", /standard-rwx/).kind).toBe("unknown");
    const report = estimateWith([{ stack: "gke", json: synthConfig(CONFIG_VARIANTS.gke).json.gke }], embeddedPriceBook("us-east-1"), [EMBEDDED_SOURCE]);
    const table = formatCostTable(report);
    expect(table).toMatch(/total gke: USD 0 per hour, USD 0 per month \+ unknown items \(3 unknown\)/);
    expect(table).toMatch(/Google Cloud: GKE node pool hfworker,\s+0 \/ 0 \/ 5 nodes\s+unknown\s+unknown\n\s+e2-standard-4\n/);
  });

  test("ecs-existing-vpc-graviton: m7g.large everywhere, no public IPv4 (assignPublicIp false)", () => {
    const { ecs } = estimates["ecs-existing-vpc-graviton"].stacks;
    expectHourlyPriced(one(ecs, "EC2", /-master \(m7g\.large\)/), 0.0816);
    expect(one(ecs, "EC2", /^ASG .*\(m7g\.large\)/).monthly!.max).toBeCloseTo(5 * 0.0816 * 730, 9);
    expect(lines(ecs, "Public IPv4")).toEqual([]);
  });

  test("k8s-existing-kind: the NFS server's volume on the cluster's default storage class is unknown", () => {
    const { k8s } = estimates["k8s-existing-kind"].stacks;
    const v = one(k8s, "Kubernetes volume");
    expect(v.kind).toBe("unknown");
    expect(v.item).toMatch(/default storage class/);
  });
});

// ---------------------------------------------------------------------------------------------
// Synthetic stacks: what no stack of ours has yet.

const lt = (type: string) => ({ instance_type: type, block_device_mappings: [{ device_name: "/dev/xvda", ebs: { volume_size: 40, volume_type: "gp3" } }] });

describe("estimates: synthetic JSON", () => {
  const book = embeddedPriceBook("us-east-1");

  test("Lambda: per use (per request + GB-second), shown with its rates and an example, not in the totals", () => {
    const s = estimateStack(
      "fn",
      {
        resource: {
          aws_lambda_function: {
            Small: { function_name: "small", memory_size: 128 },
            Arm: { function_name: "arm", memory_size: 1024, architectures: ["arm64"] },
          },
          aws_iam_role: { R: {} },
        },
      },
      book,
    );
    checkArithmetic(s);
    const small = one(s, "Lambda", /small/);
    expect(small.kind).toBe("usage");
    expect(small.rates).toEqual(["USD 0.20 per 1M requests", "USD 0.00001667 per GB-second (128 MB = 0.125 GB)"]);
    // 1M requests: 0.20 + 1,000,000 × 0.125 GB × 1 s × 0.0000166667.
    expect(small.example!.usd).toBeCloseTo(0.2 + 1e6 * 0.125 * 0.0000166667, 9);
    expect(one(s, "Lambda", /arm \(1024 MB, arm64\)/).example!.usd).toBeCloseTo(0.2 + 1e6 * 1 * 0.0000133334, 9);
    expect(s.monthly.max).toBe(0);
    expect(formatCostTable(estimateWith([{ stack: "fn", json: { resource: { aws_lambda_function: { A: { function_name: "a" } } } } }], book, []))).toMatch(
      /Lambda: function a \(128 MB, x86_64\)\s+usage-based\s+usage-based\n\s+USD 0\.20 per 1M requests.*\n\s+e\.g\. 1M invocations of 1 s each at 128 MB: USD 2\.28/,
    );
  });

  test("Batch: EC2 environments priced per vCPU at min/desired/max; Fargate per job-hour; Spot and unmanaged unknown", () => {
    const s = estimateStack(
      "batch",
      {
        resource: {
          aws_batch_compute_environment: {
            Ec2: {
              compute_environment_name: "ec2",
              type: "MANAGED",
              compute_resources: { type: "EC2", min_vcpus: 0, desired_vcpus: 4, max_vcpus: 16, instance_type: ["m5.xlarge", "c5.large"] },
            },
            Fg: { compute_environment_name: "fg", type: "MANAGED", compute_resources: { type: "FARGATE", max_vcpus: 32 } },
            Spot: { compute_environment_name: "spot", type: "MANAGED", compute_resources: { type: "SPOT", max_vcpus: 8, instance_type: ["m5.large"] } },
            Own: { compute_environment_name: "own", type: "UNMANAGED" },
            Optimal: { compute_environment_name: "opt", type: "MANAGED", compute_resources: { type: "EC2", max_vcpus: 8, instance_type: ["optimal"] } },
          },
          aws_batch_job_definition: {
            Job: {
              name: "mProject",
              type: "container",
              container_properties: JSON.stringify({
                resourceRequirements: [
                  { type: "VCPU", value: "1" },
                  { type: "MEMORY", value: "2048" },
                ],
              }),
            },
          },
        },
      },
      book,
    );
    checkArithmetic(s);
    const ec2 = one(s, "Batch", /ec2 \(EC2, c5\.large per vCPU\)/); // c5.large: 0.085 / 2 < m5.xlarge: 0.192 / 4
    expect(ec2.quantity).toEqual({ min: 0, desired: 4, max: 16 });
    expect(ec2.hourly!.desired).toBeCloseTo(4 * (0.085 / 2), 9);
    expect(ec2.monthly!.max).toBeCloseTo(16 * (0.085 / 2) * 730, 9);
    const fargate = one(s, "Batch", /fg \(Fargate\)/);
    expect(fargate.kind).toBe("usage");
    expect(fargate.example).toEqual({ what: "one job-hour of mProject (1 vCPU, 2 GB)", usd: expect.closeTo(0.04048 + 2 * 0.004445, 9) });
    expect(one(s, "Batch", /spot/).kind).toBe("unknown");
    expect(one(s, "Batch", /own/).kind).toBe("unknown");
    expect(one(s, "Batch", /opt/).kind).toBe("unknown");
    expect(s.unknownItems).toBe(3);
  });

  test("ECS services on Fargate: vCPU + memory per task at the autoscaling target's min/max", () => {
    const s = estimateStack(
      "fargate",
      {
        resource: {
          aws_ecs_task_definition: { Td: { family: "web", cpu: "512", memory: "1024", requires_compatibilities: ["FARGATE"], container_definitions: "[]" } },
          aws_ecs_service: { Svc: { name: "web", launch_type: "FARGATE", desired_count: 2, task_definition: "${aws_ecs_task_definition.Td.arn}" } },
          aws_appautoscaling_target: { T: { min_capacity: 1, max_capacity: 6, resource_id: "service/${aws_ecs_cluster.C.name}/${aws_ecs_service.Svc.name}" } },
          aws_ecs_cluster: { C: { name: "c" } },
        },
      },
      book,
    );
    checkArithmetic(s);
    const svc = one(s, "Fargate");
    expect(svc.quantity).toEqual({ min: 1, desired: 2, max: 6 });
    expect(svc.hourly!.desired).toBeCloseTo(2 * (0.5 * 0.04048 + 1 * 0.004445), 9);
  });

  test("load balancers, an unknown instance type, Spot node groups, provisioned IOPS and a type without a model: unknown, never zero", () => {
    const s = estimateStack(
      "misc",
      {
        resource: {
          aws_lb: { Alb: { name: "web" }, Nlb: { name: "tcp", load_balancer_type: "network" } },
          aws_launch_template: { Lt: lt("x9z.huge") },
          aws_autoscaling_group: { Asg: { name: "odd", min_size: 1, max_size: 3, launch_template: { id: "${aws_launch_template.Lt.id}" } } },
          aws_eks_node_group: {
            Spot: {
              node_group_name: "spot",
              capacity_type: "SPOT",
              instance_types: ["m5.large"],
              scaling_config: { min_size: 0, desired_size: 1, max_size: 4 },
            },
          },
          aws_ebs_volume: { Fast: { size: 100, type: "gp3", iops: 6000 } },
          aws_rds_cluster: { Db: { engine: "aurora-postgresql" } },
        },
      },
      book,
    );
    checkArithmetic(s);
    expectHourlyPriced(one(s, "Load balancer", /^application load balancer$/), 0.0225);
    expectHourlyPriced(one(s, "Load balancer", /^network load balancer$/), 0.0225);
    expect(lines(s, "Load balancer", /capacity units/).map((l) => l.kind)).toEqual(["usage", "usage"]);
    const odd = one(s, "EC2", /ASG odd/);
    expect(odd.kind).toBe("unknown");
    expect(odd.note).toMatch(/no on-demand price for x9z\.huge in us-east-1/);
    expect(odd.quantity).toEqual({ min: 1, desired: 1, max: 3 });
    expectMonthlyPriced(one(s, "EBS", /ASG odd, 40 GB gp3 each/), 0.08); // the volume has a price even when the instance has none
    expect(one(s, "EC2", /spot/).kind).toBe("unknown");
    expectMonthlyPriced(one(s, "EBS", /^volume Fast, 100 GB gp3$/), 0.08);
    expect(one(s, "EBS", /6000 IOPS/).kind).toBe("unknown");
    const rds = one(s, "No cost model");
    expect(rds).toMatchObject({ kind: "unknown", item: "1 aws_rds_cluster", resources: ["aws_rds_cluster.Db"] });
    const table = formatCostTable(estimateWith([{ stack: "misc", json: { resource: { aws_rds_cluster: { Db: {} } } } }], book, [EMBEDDED_SOURCE]));
    expect(table).toMatch(/No cost model: 1 aws_rds_cluster\s+unknown\s+unknown\n\s+no cost model for aws_rds_cluster/);
    expect(table).toMatch(/ESTIMATED total \(misc\): USD 0 per hour, USD 0 per month \+ unknown items \(1 unknown\)/);
    expect(table).toMatch(/not in the totals; they are not zero/);
    expect(table).toContain(`Prices: ${EMBEDDED_SOURCE}`);
  });

  test("a region outside the embedded table: every price unknown, said so", () => {
    const s = estimateStack(
      "x",
      {
        resource: {
          aws_instance: { I: { instance_type: "t3.medium", root_block_device: { volume_size: 8, volume_type: "gp3" }, associate_public_ip_address: false } },
        },
      },
      embeddedPriceBook("ap-southeast-2"),
    );
    expect(s.lines.map((l) => [l.category, l.kind])).toEqual([
      ["EC2", "unknown"],
      ["EBS", "unknown"],
      ["Data transfer", "usage"],
    ]);
    expect(s.lines[0].note).toMatch(/no on-demand price for t3\.medium in ap-southeast-2/);
    expect(s.lines[2].rates!.every((r) => /rate not in the price source/.test(r))).toBe(true);
  });

  test("the public IPv4 of instances whose subnet is elsewhere is unknown, not zero; explicit false is none", () => {
    const s = estimateStack(
      "ip",
      {
        resource: {
          aws_instance: {
            A: {
              instance_type: "t3.small",
              tags: { Name: "a" },
              subnet_id: "${data.terraform_remote_state.n.outputs.s}",
              root_block_device: { volume_size: 8, volume_type: "gp3" },
            },
            B: {
              instance_type: "t3.small",
              tags: { Name: "b" },
              associate_public_ip_address: false,
              root_block_device: { volume_size: 8, volume_type: "gp3" },
            },
          },
        },
      },
      book,
    );
    expect(lines(s, "Public IPv4").map((l) => [l.item, l.kind])).toEqual([["a", "unknown"]]);
  });

  test("a custom alarm period below 60 s is high resolution; metric math alarms count each metric", () => {
    const s = estimateStack(
      "alarms",
      {
        resource: {
          aws_cloudwatch_metric_alarm: {
            Fast: { period: 30, metric_name: "m", namespace: "n" },
            Slow: { period: 300, metric_name: "m", namespace: "n" },
            Math: {
              metric_query: [
                { id: "e", expression: "a+b" },
                { id: "a", metric: { period: 10, metric_name: "x" } },
                { id: "b", metric: { period: 60, metric_name: "y" } },
              ],
            },
          },
        },
      },
      book,
    );
    checkArithmetic(s);
    expect(one(s, "CloudWatch alarms", /high resolution/).quantity!.max).toBe(2);
    expect(one(s, "CloudWatch alarms", /standard resolution/).quantity!.max).toBe(2);
    expect(s.monthly.max).toBeCloseTo(2 * 0.3 + 2 * 0.1, 9);
  });

  test("a price book is only asked, never guessed: a missing key leaves the line unknown", () => {
    const partial: PriceBook = { region: "us-east-1", price: (k) => (k === PriceKey.ec2Instance("t3.medium") ? embeddedPrice("us-east-1", k) : undefined) };
    const s = estimateStack(
      "p",
      {
        resource: {
          aws_launch_template: { Lt: lt("t3.medium") },
          aws_autoscaling_group: { Asg: { name: "g", min_size: 2, max_size: 2, launch_template: { id: "${aws_launch_template.Lt.id}" } } },
        },
      },
      partial,
    );
    expect(s.lines.map((l) => `${l.category} ${l.kind}`)).toEqual(["EC2 priced", "EBS unknown", "Public IPv4 unknown", "Data transfer usage"]);
    expect(s.monthly.max).toBeCloseTo(2 * 0.0416 * 730, 9);
    expect(s.unknownItems).toBe(2);
  });

  test("JSON output: labelled an estimate, with region, 730 hours, lines and totals", () => {
    const { json, config } = synthConfig(CONFIG_VARIANTS["ecs-minimal"]);
    const report = estimateWith(
      (["network", "ecs", "runner"] as const).map((stack) => ({ stack, json: json[stack] as TfJson })),
      embeddedPriceBook(config.region),
      [EMBEDDED_SOURCE],
    );
    const parsed = JSON.parse(formatCostJson(report));
    expect(parsed).toMatchObject({ estimate: true, region: "us-east-1", hoursPerMonth: 730, priceSources: [EMBEDDED_SOURCE] });
    expect(parsed.stacks.map((s: { stack: string }) => s.stack)).toEqual(["network", "ecs", "runner"]);
    expect(parsed.monthly.max).toBeCloseTo(
      report.stacks.reduce((n, s) => n + s.monthly.max, 0),
      5,
    );
    expect(parsed.usageItems).toBe(report.stacks.reduce((n, s) => n + s.usageItems, 0));
    const table = formatCostTable(report);
    expect(table.split("\n")[0]).toMatch(/^ESTIMATE of what the stacks cost in us-east-1: on-demand USD, a month = 730 h/);
    // The item wraps (its type on the next line); the amounts stay on the first.
    expect(table).toMatch(/EC2: ASG \S+\s+0 \/ 0 \/ 5 instances\s+0 \/ 0 \/ 0\.2080\s+0 \/ 0 \/ 151\.84\n\s+\(t3\.medium\)\n/);
  });
});
