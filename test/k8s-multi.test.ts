/**
 * kubernetes.clusters: the two-cluster EKS + JuiceFS setup of hyperflow-wms/hyperflow-k8s-deployment,
 * synthesized from examples/eks-juicefs.json. The policy rules, the reference check, the address
 * snapshot and the OpenAPI validation of every manifest run over the example in their own tests; here:
 * the wiring between the clusters, the JuiceFS store and the engine, and the validation of the list.
 */
import { ConfigError, validateConfig } from "../config/load";
import { checkPolicies } from "./support/policy-rules";
import { checkReferences } from "./support/references";
import { estimateStack, priceKeysOf } from "../cost/estimate";
import { HOURS_PER_MONTH } from "../cost/model";
import { priceListQuery } from "../cost/price-keys";
import { embeddedPriceBook } from "../cost/prices";
import { JuiceFsStore, replicationGroupId } from "../constructs/juicefs/juicefs-store";
import { JUICEFS_CSI_CHART } from "../constructs/juicefs/juicefs-csi";
import { HyperflowK8s } from "../constructs/k8s/hyperflow-k8s";
import { PropsError } from "../constructs/core/validation";
import { stackNames } from "../stacks/app";
import { clusterId } from "../stacks/eks";
import { bareStack } from "./support/constructs";
import { CONFIG_VARIANTS, resources, synthConfig } from "./support/stack-json";

const input = CONFIG_VARIANTS["eks-juicefs"];
const ENGINE = "hf-engine";
const WORKERS = "hf-workers";

function problems(given: unknown): { path: string; message: string; value?: unknown }[] {
  try {
    validateConfig(given);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("examples/eks-juicefs.json: two EKS clusters sharing JuiceFS", () => {
  const { json, config } = synthConfig(input);
  const eks = json.eks!;
  const k8s = json.k8s!;
  const byName = <T = any>(stack: typeof eks, type: string): [string, T][] => Object.entries((stack.resource?.[type] ?? {}) as Record<string, T>);

  test("the same stacks as one cluster: the eks stack makes every cluster, the k8s stack deploys to all", () => {
    expect(stackNames(config)).toEqual(["network", "ecs", "runner", "eks", "k8s"]);
  });

  test("both clusters in one VPC (no peering), each with a master and a worker group from 0, the worker overrides applied", () => {
    expect(resources(eks, "aws_vpc")).toHaveLength(1);
    expect(resources(eks, "aws_vpc_peering_connection")).toHaveLength(0);
    expect(
      resources(eks, "aws_eks_cluster")
        .map((c) => c.name)
        .sort(),
    ).toEqual([ENGINE, WORKERS]);
    const groups = resources(eks, "aws_eks_node_group");
    expect(groups).toHaveLength(4);
    const subnets = new Set(resources(eks, "aws_eks_cluster").map((c) => JSON.stringify(c.vpc_config.subnet_ids)));
    expect(subnets.size).toBe(1);
    const workers = groups.filter((g) => g.node_group_name_prefix === "hfworker-");
    expect(workers.map((g) => [g.instance_types[0], g.scaling_config.min_size, g.scaling_config.max_size]).sort()).toEqual([
      ["m5.2xlarge", 0, 3],
      ["m5.xlarge", 0, 5],
    ]);
  });

  test("the engine cluster's nodes may reach the workers cluster's API on 443, and nothing else is opened", () => {
    const [[, rule]] = byName<any>(eks, "aws_vpc_security_group_ingress_rule").filter(([n]) => n.startsWith("ApiFromEngine"));
    const sgOf = (name: string) => {
      const [[address]] = byName<any>(eks, "aws_eks_cluster").filter(([, c]) => c.name === name);
      return `\${aws_eks_cluster.${address}.vpc_config[0].cluster_security_group_id}`;
    };
    expect(rule).toMatchObject({ security_group_id: sgOf(WORKERS), referenced_security_group_id: sgOf(ENGINE), from_port: 443, to_port: 443 });
  });

  test("JuiceFS metadata: an encrypted ElastiCache replication group with a token, in isolated subnets, open to both clusters' node groups only", () => {
    const [rg] = resources(eks, "aws_elasticache_replication_group");
    expect(rg).toMatchObject({
      replication_group_id: "hf-engine-jfs",
      at_rest_encryption_enabled: "true",
      transit_encryption_enabled: true,
      transit_encryption_mode: "required",
      num_cache_clusters: 2,
      automatic_failover_enabled: true,
      multi_az_enabled: true,
    });
    expect(rg.auth_token).toMatch(/^\$\{random_password\.[^.]+\.result\}$/);
    expect(resources(eks, "aws_elasticache_parameter_group")[0].parameter).toEqual([{ name: "maxmemory-policy", value: "noeviction" }]);
    // The subnet group's subnets route nowhere but the VPC.
    const [sng] = resources(eks, "aws_elasticache_subnet_group");
    expect(sng.subnet_ids).toHaveLength(2);
    const isolated = byName<any>(eks, "aws_route_table").filter(([n]) => n.includes("Isolated"));
    expect(isolated).toHaveLength(1);
    expect(isolated[0][1].route).toBeUndefined();
    const redisRules = byName<any>(eks, "aws_vpc_security_group_ingress_rule").filter(([n]) => n.includes("RedisFrom"));
    expect(redisRules.map(([, r]) => r.referenced_security_group_id).sort()).toEqual(
      byName<any>(eks, "aws_eks_cluster")
        .map(([a]) => `\${aws_eks_cluster.${a}.vpc_config[0].cluster_security_group_id}`)
        .sort(),
    );
    for (const [, r] of redisRules) expect([r.from_port, r.to_port, r.cidr_ipv4]).toEqual([6379, 6379, undefined]);
  });

  test("the volume credentials (rediss:// with the token) are in Secrets Manager only, never in an output", () => {
    const [version] = resources(eks, "aws_secretsmanager_secret_version");
    expect(version.secret_string).toMatch(
      /rediss:\/\/:\$\{random_password\.[^}]+\.result\}@\$\{aws_elasticache_replication_group\.[^}]+\.primary_endpoint_address\}:6379\/1/,
    );
    expect(version.secret_string).toContain('"storage" = "s3"');
    for (const stack of [eks, k8s]) {
      for (const [name, o] of Object.entries<any>(stack.output ?? {}))
        expect([name, JSON.stringify(o.value)]).not.toEqual([name, expect.stringMatching(/random_password|secret_string/)]);
    }
  });

  test("the bucket's role reaches the CSI controller, node service and mount pods of both clusters by Pod Identity, and only that bucket", () => {
    const assoc = resources(eks, "aws_eks_pod_identity_association").filter((a) => a.namespace === "kube-system" && a.service_account.startsWith("juicefs-"));
    expect(assoc).toHaveLength(6);
    expect(new Set(assoc.map((a) => a.role_arn)).size).toBe(1);
    const [, role] = byName<any>(eks, "aws_iam_role").find(([n]) => n.startsWith("JuiceFs_CsiRole"))!;
    expect(JSON.parse(role.assume_role_policy).Statement[0].Principal.Service).toBe("pods.eks.amazonaws.com");
    const [, policy] = byName<any>(eks, "aws_iam_role_policy").find(([n]) => n.startsWith("JuiceFs_CsiRole"))!;
    const resourcesOf = JSON.parse(policy.policy).Statement.flatMap((s: any) => s.Resource);
    for (const r of resourcesOf) expect(r).toMatch(/^\$\{aws_s3_bucket\.JuiceFs_Data_[^.]+\.arn\}(\/\*)?$/);
    // No access keys in the credentials: the secret has no access-key / secret-key fields.
    expect(resources(eks, "aws_secretsmanager_secret_version")[0].secret_string).not.toMatch(/access-key|secret-key/);
  });

  test("the k8s stack: one kubernetes and one helm provider per cluster, and every kubernetes/helm resource names one", () => {
    expect((k8s.provider!.kubernetes as any[]).map((p) => p.alias).sort()).toEqual([ENGINE, WORKERS]);
    expect((k8s.provider!.helm as any[]).map((p) => p.alias).sort()).toEqual([ENGINE, WORKERS]);
    for (const [type, byAddress] of Object.entries(k8s.resource ?? {})) {
      if (!type.startsWith("kubernetes_") && !type.startsWith("helm_")) continue;
      for (const [address, r] of Object.entries<any>(byAddress)) {
        const cluster = address.startsWith(`On${clusterId(ENGINE)}_`) ? ENGINE : WORKERS;
        expect([address, r.provider]).toEqual([address, `${type.split("_")[0]}.${cluster}`]);
      }
    }
  });

  test("the JuiceFS CSI driver, pinned, on both clusters; its class is the work-dir class on both, with one path for the claim", () => {
    const releases = resources(k8s, "helm_release").filter((r) => r.chart === "juicefs-csi-driver");
    expect(releases.map((r) => [r.repository, r.version, r.namespace])).toEqual([
      [JUICEFS_CSI_CHART.repository, "0.32.4", "kube-system"],
      [JUICEFS_CSI_CHART.repository, "0.32.4", "kube-system"],
    ]);
    for (const r of releases) expect(JSON.parse(r.values[0]).controller.provisioner).toBe(true);
    const classes = resources(k8s, "kubernetes_storage_class_v1").filter((c) => c.storage_provisioner === "csi.juicefs.com");
    expect(classes).toHaveLength(2);
    for (const c of classes) {
      expect(c.reclaim_policy).toBe("Retain");
      expect(c.parameters.pathPattern).toBe("$${.PVC.namespace}-$${.PVC.name}");
    }
    const claims = resources(k8s, "kubernetes_persistent_volume_claim_v1");
    expect(claims.map((c) => [c.metadata.name, c.spec.access_modes])).toEqual([
      ["work-dir", ["ReadWriteMany"]],
      ["work-dir", ["ReadWriteMany"]],
    ]);
    for (const c of claims)
      expect(c.spec.storage_class_name).toMatch(/^\$\{kubernetes_storage_class_v1\.On[A-Za-z]+_JuiceFs_Class_[^.]+\.metadata\[0\]\.name\}$/);
    // No NFS server anywhere.
    expect(releases.length).toBe(resources(k8s, "helm_release").filter((r) => r.chart !== "cluster-autoscaler").length);
  });

  test("the engine runs on the engine cluster only, with Redis behind an internal load balancer it also uses itself", () => {
    const jobs = byName<any>(k8s, "kubernetes_job_v1").filter(([, j]) => j.metadata.name === "hyperflow-engine");
    expect(jobs.map(([a]) => a.split("_")[0])).toEqual([`On${clusterId(ENGINE)}`]);
    const env = Object.fromEntries(jobs[0][1].spec.template.spec.container[0].env.map((e: any) => [e.name, e.value]));
    expect(env.REDIS_URL).toMatch(/^redis:\/\/\$\{kubernetes_service_v1\.[^.]+\.status\[0\]\.load_balancer\[0\]\.ingress\[0\]\.hostname\}:6379$/);
    const [svc] = resources(k8s, "kubernetes_service_v1");
    expect(svc.spec.type).toBe("LoadBalancer");
    expect(svc.spec.load_balancer_source_ranges).toEqual(["10.0.0.0/16"]);
    expect(resources(k8s, "kubernetes_deployment_v1")).toHaveLength(1);
  });

  test("the engine gets a kubeconfig for the workers cluster: its endpoint and CA, and the token of a ServiceAccount that may only create Jobs", () => {
    const [secret] = resources(k8s, "kubernetes_secret_v1").filter((s) => s.metadata.name === "hyperflow-clusters");
    const kubeconfig: string = secret.data[`${WORKERS}.kubeconfig`];
    expect(kubeconfig).toContain(`data.aws_eks_cluster.Cluster${clusterId(WORKERS)}.endpoint`);
    expect(kubeconfig).toContain(`data.aws_eks_cluster.Cluster${clusterId(WORKERS)}.certificate_authority[0].data`);
    expect(kubeconfig).toMatch(/kubernetes_secret_v1\.OnHfWorkers_Hyperflow_EngineToken_[^.]+\.data\.token/);
    const engine = resources(k8s, "kubernetes_job_v1").find((j) => j.metadata.name === "hyperflow-engine");
    expect(engine.spec.template.spec.container[0].volume_mount).toContainEqual({ name: "clusters", mount_path: "/opt/hyperflow-clusters", read_only: true });
    const token = resources(k8s, "kubernetes_secret_v1").find((s) => s.type === "kubernetes.io/service-account-token");
    expect(token.provider).toBe(`kubernetes.${WORKERS}`);
    const roles = byName<any>(k8s, "kubernetes_role_v1").filter(([a]) => a.startsWith(`On${clusterId(WORKERS)}_`));
    expect(roles.map(([, r]) => r.rule)).toEqual([[{ api_groups: ["batch"], resources: ["jobs"], verbs: ["create"] }]]);
    expect(k8s.output!.workers_jobvars.value).toEqual({ [WORKERS]: JSON.stringify({ kubeConfigPath: `/opt/hyperflow-clusters/${WORKERS}.kubeconfig` }) });
  });
});

describe("the longest cluster names (40 characters each) stay within every AWS name limit", () => {
  const a = "a".repeat(39) + "1";
  const b = "a".repeat(39) + "2";
  const { json, config } = synthConfig({
    adminCidrs: ["203.0.113.0/24"],
    kubernetes: {
      cluster: "eks",
      clusterName: a,
      clusters: [
        { name: a, role: "engine" },
        { name: b, role: "workers" },
      ],
    },
  });
  test.each(["eks", "k8s"] as const)("stack %s passes every policy rule and the reference check", (stack) => {
    expect(checkPolicies(json[stack]!, { allowedIngressCidrs: config.adminCidrs })).toEqual([]);
    expect(checkReferences(json[stack]!)).toEqual([]);
  });
  test("the replication group id is cut to ElastiCache's 40 characters", () => {
    expect(resources(json.eks!, "aws_elasticache_replication_group")[0].replication_group_id).toBe(`${"a".repeat(36)}-jfs`);
  });
});

describe("cost: the JuiceFS metadata store is an ElastiCache line", () => {
  const { json } = synthConfig(input);
  test("us-east-1: two cache.t4g.small nodes at the embedded price, the parameter and subnet groups free, nothing unmodelled", () => {
    const cost = estimateStack("eks", json.eks!, embeddedPriceBook("us-east-1"));
    const line = cost.lines.find((l) => l.category === "ElastiCache")!;
    expect(line.item).toBe("Redis hf-engine-jfs: 2 × cache.t4g.small");
    expect(line.kind).toBe("priced");
    const month = 2 * 0.032 * HOURS_PER_MONTH;
    expect(line.monthly).toEqual({ min: month, desired: month, max: month });
    expect(cost.lines.filter((l) => l.category === "No cost model")).toEqual([]);
  });
  test("a region without an embedded ElastiCache price: an unknown line, never zero; the Price List query names the node type", () => {
    const line = estimateStack("eks", json.eks!, embeddedPriceBook("eu-central-1")).lines.find((l) => l.category === "ElastiCache")!;
    expect(line.kind).toBe("unknown");
    expect(priceKeysOf([{ stack: "eks", json: json.eks! }], "eu-central-1")).toContain("elasticache/cache.t4g.small/hour");
    expect(priceListQuery("elasticache/cache.t4g.small/hour", "eu-central-1")).toEqual({
      serviceCode: "AmazonElastiCache",
      filters: { regionCode: "eu-central-1", productFamily: "Cache Instance", instanceType: "cache.t4g.small", cacheEngine: "Redis" },
      units: ["Hrs"],
    });
  });
});

describe("kubernetes.clusters validation: key, value and what is allowed", () => {
  const base = { adminCidrs: ["203.0.113.0/24"], kubernetes: { cluster: "eks", clusterName: ENGINE } };
  const withClusters = (clusters: unknown, extra: object = {}) => ({ ...base, kubernetes: { ...base.kubernetes, ...extra, clusters } });

  test.each([
    [
      "no engine cluster",
      withClusters([{ name: WORKERS, role: "workers" }]),
      "kubernetes.clusters",
      /has 0 engine clusters; allowed: exactly one entry with role engine/,
    ],
    [
      "two engine clusters",
      withClusters([
        { name: ENGINE, role: "engine" },
        { name: "other", role: "engine" },
      ]),
      "kubernetes.clusters",
      /has 2 engine clusters/,
    ],
    [
      "a repeated name",
      withClusters([
        { name: ENGINE, role: "engine" },
        { name: ENGINE, role: "workers" },
      ]),
      "kubernetes.clusters.1.name",
      /is the same as item 0; allowed: a name no other cluster has/,
    ],
    ["a name EKS and GKE refuse", withClusters([{ name: "Bad_Name", role: "engine" }]), "kubernetes.clusters.0.name", /not a cluster name/],
    ["an unknown role", withClusters([{ name: ENGINE, role: "master" }]), "kubernetes.clusters.0.role", /engine.*workers/],
    [
      "an engine cluster not named clusterName",
      withClusters([{ name: "elsewhere", role: "engine" }]),
      "kubernetes.clusters.0.name",
      /kubernetes.clusterName is "hf-engine"/,
    ],
    [
      "a storage class besides JuiceFS",
      withClusters([{ name: ENGINE, role: "engine" }], { storageClass: "gp3" }),
      "kubernetes.storageClass",
      /must be unset with kubernetes.clusters/,
    ],
    [
      "clusters without eks",
      { kubernetes: { cluster: "existing", clusters: [{ name: ENGINE, role: "engine" }] } },
      "kubernetes.clusters",
      /needs kubernetes.cluster eks/,
    ],
    [
      "a Redis node type that is none",
      withClusters([{ name: ENGINE, role: "engine" }], { juicefs: { redisNodeType: "t4g.small" } }),
      "kubernetes.juicefs.redisNodeType",
      /ElastiCache node type/,
    ],
  ])("%s", (_what, given, path, message) => {
    const found = problems(given);
    expect(found.map((p) => p.path)).toContain(path);
    expect(found.find((p) => p.path === path)!.message).toMatch(message);
  });

  test("a valid list passes, and without a list nothing changes (one cluster, no JuiceFS)", () => {
    expect(validateConfig(withClusters([{ name: ENGINE, role: "engine" }])).config.kubernetes.clusters).toHaveLength(1);
    const { json } = synthConfig(base);
    expect(resources(json.eks!, "aws_eks_cluster")).toHaveLength(1);
    expect(resources(json.eks!, "aws_elasticache_replication_group")).toHaveLength(0);
    expect(json.k8s!.provider!.kubernetes).toEqual([expect.not.objectContaining({ alias: expect.anything() })]);
  });
});

describe("the constructs refuse what the config would", () => {
  test("JuiceFsStore: one subnet, no clients, a bad node type", () => {
    const props = {
      name: ENGINE,
      vpcId: "vpc-1",
      subnetCidrs: ["10.0.250.0/24", "10.0.251.0/24"],
      clients: [{ id: "A", clusterName: "a", securityGroupId: "sg-1" }],
    };
    expect(() => new JuiceFsStore(bareStack(), "J", { ...props, subnetCidrs: ["10.0.250.0/24"] })).toThrow(PropsError);
    expect(() => new JuiceFsStore(bareStack(), "J", { ...props, clients: [] })).toThrow(/at least one cluster/);
    expect(() => new JuiceFsStore(bareStack(), "J", { ...props, redisNodeType: "m5.large" })).toThrow(/redisNodeType "m5.large"; allowed: cache.family.size/);
    expect(() => new JuiceFsStore(bareStack(), "J", props)).not.toThrow();
  });

  test("replication group ids: at most 40 characters, a letter first, no double or trailing hyphen", () => {
    for (const name of ["hf-engine", "k".repeat(40), "1cluster", "a--b", `${"a".repeat(35)}-x`]) {
      const id = replicationGroupId(name);
      expect([name, id.length <= 40 && /^[a-z][a-z0-9-]*[a-z0-9]$/.test(id) && !id.includes("--")]).toEqual([name, true]);
    }
  });

  test("HyperflowK8s: remote Redis clients must be private ranges", () => {
    const props = { engineImage: "a:1", workerImage: "b:1", redisImage: "c:1", storageClass: "x" };
    expect(() => new HyperflowK8s(bareStack(), "H", { ...props, redisRemoteClientCidrs: ["0.0.0.0/0"] })).toThrow(
      /redisRemoteClientCidrs\[0\] "0.0.0.0\/0"; allowed: a block inside 10.0.0.0\/8/,
    );
  });
});
