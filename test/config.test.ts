import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, loadConfig, validateConfig } from "../config/load";
import { configJsonSchema, isCanonicalCidr, imageProblem, seedImagesIn, workerDockerAccess } from "../config/schema";
import { configReference } from "../config/reference";
import { starterConfig } from "../config/starter";

function problems(input: unknown): { path: string; message: string; value?: unknown }[] {
  try {
    validateConfig(input);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("bad configuration: every problem named with key, value and what is allowed", () => {
  const cases: [string, unknown, string, RegExp, unknown?][] = [
    ["wrong type for a count", { ecs: { asg: { max: "5" } } }, "ecs.asg.max", /wrong type; allowed: number/, "5"],
    ["asg min > max", { ecs: { asg: { min: 6, max: 5, desired: 5 } } }, "ecs.asg.min", /greater than ecs\.asg\.max \(5\); allowed: min <= max/, 6],
    ["asg desired > max", { ecs: { asg: { desired: 9 } } }, "ecs.asg.desired", /greater than ecs\.asg\.max/, 9],
    [
      "worker min > max",
      { ecs: { workers: { minCapacity: 10, maxCapacity: 2, desiredCount: 2 } } },
      "ecs.workers.minCapacity",
      /minCapacity <= maxCapacity/,
      10,
    ],
    ["unknown top-level key", { regoin: "us-east-1" }, "regoin", /unknown key; allowed here: .*region/],
    ["unknown nested key", { ecs: { workers: { thread: 4 } } }, "ecs.workers.thread", /unknown key; allowed here: .*threads/],
    ["invalid CIDR", { adminCidrs: ["10.0.0.0/33"] }, "adminCidrs.0", /not a CIDR block/, "10.0.0.0/33"],
    ["host address instead of network", { adminCidrs: ["192.168.1.7/24"] }, "adminCidrs.0", /not a CIDR block/, "192.168.1.7/24"],
    // The constructs derive ids from these lists and reject repeats (PropsError); config names them first.
    [
      "the same admin CIDR twice",
      { adminCidrs: ["203.0.113.0/24", "2001:db8::/32", "203.0.113.0/24"] },
      "adminCidrs.2",
      /^is the same as item 0; allowed: distinct values$/,
      "203.0.113.0/24",
    ],
    [
      "two post jobs with one name",
      {
        kubernetes: {
          postJobs: [
            { name: "viz", image: "viz:1.0", command: "a" },
            { name: "viz", image: "viz:1.1", command: "b" },
          ],
        },
      },
      "kubernetes.postJobs.1.name",
      /^is the same as item 0; allowed: a name no other post job has$/,
      "viz",
    ],
    ["invalid region", { region: "europe-1" }, "region", /not an AWS region/, "europe-1"],
    ["negative count", { ecs: { workers: { desiredCount: -1 } } }, "ecs.workers.desiredCount", /too small; allowed: >= 0/, -1],
    ["non-integer count", { ecs: { asg: { max: 2.5 } } }, "ecs.asg.max", /allowed: integer|wrong type/, 2.5],
    ["bad storage enum", { ecs: { workers: { storage: "s3" } } }, "ecs.workers.storage", /allowed: "cloud", "nfs", "local"/, "s3"],
    ["bad alarm period", { ecs: { alarms: { highPeriodSeconds: 45 } } }, "ecs.alarms.highPeriodSeconds", /10, 30 or a multiple of 60/, 45],
    ["low threshold not below high", { ecs: { alarms: { lowThreshold: 700 } } }, "ecs.alarms.lowThreshold", /lowThreshold < highThreshold/, 700],
    ["latest image tag", { ecs: { images: { master: "rabbitmq:latest" } } }, "ecs.images.master", /mutable tag `latest`/, "rabbitmq:latest"],
    [
      "KMS key without KMS",
      { ecs: { registry: { kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:alias/ecr" } } },
      "ecs.registry.kmsKeyArn",
      /is set but ecs\.registry\.encryption is AES256; allowed: set encryption to KMS/,
      "arn:aws:kms:us-east-1:123456789012:alias/ecr",
    ],
    ["bad KMS key", { ecs: { registry: { encryption: "KMS", kmsKeyArn: "alias/ecr" } } }, "ecs.registry.kmsKeyArn", /is not a KMS key ARN/, "alias/ecr"],
    ["lifecycle keeps nothing", { ecs: { registry: { keepTaggedImages: 0 } } }, "ecs.registry.keepTaggedImages", /too small/, 0],
    [
      "task container with our engine",
      { runner: { taskContainer: "hyperflowwms/montage-worker:6.0-je1.4.0" } },
      "runner.taskContainer",
      /needs runner\.engineImage/,
      "hyperflowwms/montage-worker:6.0-je1.4.0",
    ],
    [
      "task container with our worker",
      { runner: { engineImage: "krysp89/hyperflow-hflow:latest", taskContainer: "hyperflowwms/montage-worker:6.0-je1.4.0" } },
      "runner.taskContainer",
      /^needs ecs\.images\.worker: .*; allowed: empty, or configure a worker image that runs CONTAINER/,
      "hyperflowwms/montage-worker:6.0-je1.4.0",
    ],
    [
      "task container without the Docker socket",
      {
        ecs: { images: { worker: "krysp89/hyperflow-worker-nfs:latest" }, workers: { dockerAccess: false } },
        runner: { engineImage: "krysp89/hyperflow-hflow:latest", taskContainer: "hyperflowwms/montage-worker:6.0-je1.4.0" },
      },
      "ecs.workers.dockerAccess",
      /^is false, but runner\.taskContainer is set/,
      false,
    ],
    ["untagged image", { ecs: { images: { publisher: "node" } } }, "ecs.images.publisher", /has no tag/, "node"],
    ["bad network mode", { network: { mode: "vpc" } }, "network.mode", /default|new|existing/, "vpc"],
    ["existing VPC without id", { network: { mode: "existing" } }, "network.vpcId", /required; allowed: string/],
    ["bad VPC id", { network: { mode: "existing", vpcId: "my-vpc" } }, "network.vpcId", /not a VPC id/, "my-vpc"],
    ["new VPC CIDR too small", { network: { mode: "new", cidr: "10.0.0.0/24" } }, "network.cidr", /prefix from \/16 to \/20/, "10.0.0.0/24"],
    ["bad log retention", { ecs: { logRetentionDays: 10 } }, "ecs.logRetentionDays", /allowed: 1, 3, 5, 7, 14, 30/, 10],
    ["bad metrics URL", { ecs: { metricsUrl: "influx:8086" } }, "ecs.metricsUrl", /http\(s\):\/\/<host>:<port>\/<database>/, "influx:8086"],
    ["bad cluster name", { ecs: { clusterName: "my cluster" } }, "ecs.clusterName", /not a valid ECS cluster name/, "my cluster"],
    ["S3 backend without bucket", { backend: { type: "s3" } }, "backend.bucket", /required/],
    ["max instances 0 with workers", { ecs: { asg: { max: 0 } } }, "ecs.asg.max", /no worker task can ever be placed/],
    ["tags must be strings", { tags: { owner: 5 } }, "tags.owner", /wrong type; allowed: string/, 5],
    ["gke without a project", { kubernetes: { cluster: "gke" } }, "kubernetes.gke.project", /required when kubernetes.cluster is gke/],
    ["eks without admin CIDRs", { kubernetes: { cluster: "eks" } }, "adminCidrs", /at least one CIDR when kubernetes.cluster is eks/, []],
    ["bad Kubernetes quantity", { kubernetes: { jobMemRequest: "50 MB" } }, "kubernetes.jobMemRequest", /not a Kubernetes quantity/, "50 MB"],
    ["unknown cluster kind", { kubernetes: { cluster: "aks" } }, "kubernetes.cluster", /allowed: "none", "existing", "eks", "gke"/, "aks"],
  ];
  test.each(cases)("%s", (...[, input, keyPath, message, value]) => {
    const found = problems(input);
    const match = found.find((p) => p.path === keyPath && message.test(p.message));
    expect(match).toBeDefined();
    if (value !== undefined) expect(match!.value).toEqual(value);
  });

  test("every problem is reported at once, in one error", () => {
    const found = problems({ region: "nowhere", ecs: { asg: { min: 9 }, workers: { storage: "x" } }, extra: true });
    expect(found.map((p) => p.path).sort()).toEqual(expect.arrayContaining(["ecs.asg.min", "ecs.workers.storage", "extra", "region"]));
    const err = (() => {
      try {
        validateConfig({ region: "nowhere", extra: 1 }, "my.json");
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("expected a ConfigError");
    })();
    expect(err.message).toMatch(/^invalid configuration in my\.json: 2 problems\n {2}- /);
    expect(err.exitCode).toBe(2);
  });

  test("cross-key checks read parsed values: they run when the keys they read are valid, after the per-key problems", () => {
    const found = problems({ ecs: { asg: { min: 3, max: 2, cooldownSeconds: -1, extra: 1 }, workers: { maxCapacity: 0 } } });
    expect(found.map((p) => p.path)).toEqual([
      "ecs.asg.cooldownSeconds",
      "ecs.asg.extra",
      "ecs.asg.min",
      "ecs.asg.min",
      "ecs.workers.minCapacity",
      "ecs.workers.desiredCount",
    ]);
    expect(found[2]).toEqual({ path: "ecs.asg.min", message: "3 is greater than ecs.asg.max (2); allowed: min <= max", value: 3 });
    // A default takes part like a written value: minCapacity (default 1) > maxCapacity 0.
    expect(found[4]).toEqual({
      path: "ecs.workers.minCapacity",
      message: "1 is greater than ecs.workers.maxCapacity (0); allowed: minCapacity <= maxCapacity",
      value: 1,
    });
    // A key that is invalid itself is reported once, not compared with others.
    expect(problems({ ecs: { asg: { min: 2000 } } })).toEqual([{ path: "ecs.asg.min", message: "too big; allowed: <= 1000", value: 2000 }]);
  });

  test("non-object configuration", () => {
    expect(problems([1, 2])[0]).toEqual(expect.objectContaining({ path: "(root)", message: "must be a JSON object" }));
  });
});

describe("defaults follow hyperflow-wms/hyperflow-terraform-ecs (`variables.tf`, `variables_const.tf`) except its known bugs", () => {
  const { config } = validateConfig({});
  test("the variables' defaults", () => {
    expect(config.region).toBe("us-east-1");
    expect(config.ecs.clusterName).toBe("ecs_test_cluster_hyperflow");
    expect(config.ecs.asg).toEqual(expect.objectContaining({ min: 0, max: 5, desired: 0, cooldownSeconds: 600, instanceScalingStep: 1 }));
    expect(config.ecs.workers).toEqual(
      expect.objectContaining({
        desiredCount: 2,
        minCapacity: 1,
        maxCapacity: 1000,
        scalingAdjustment: 1,
        cooldownSeconds: 300,
        featureDownload: false,
        nfsMount: "",
      }),
    );
    expect(config.ecs.alarms).toEqual({ evaluationPeriods: 1, highPeriodSeconds: 10, lowPeriodSeconds: 10, highThreshold: 700, lowThreshold: 0 });
    expect(config.ecs.keyPairName).toBe("");
    expect(config.ecs.metricsUrl).toBe("");
    // The seed's worker and engine images are opt-ins now; the defaults are this project's images in ECR.
    expect(config.ecs.images.worker).toBeUndefined();
    expect(config.runner.engineImage).toBeUndefined();
    expect(config.ecs.workers.dockerAccess).toBeUndefined();
  });
  test("seed images: accepted only where configured, each with a warning; the defaults warn about nothing", () => {
    expect(validateConfig({}).warnings).toEqual([]);
    const { config: seeded, warnings } = validateConfig({
      ecs: { images: { worker: "krysp89/hyperflow-worker-nfs:latest" } },
      runner: { engineImage: "krysp89/hyperflow-hflow:latest" },
    });
    expect(seedImagesIn(seeded)).toEqual({
      "runner.engineImage": "krysp89/hyperflow-hflow:latest",
      "ecs.images.worker": "krysp89/hyperflow-worker-nfs:latest",
    });
    expect(warnings).toEqual([
      "runner.engineImage is krysp89/hyperflow-hflow:latest, which is only published as `latest`; pin it by digest (repo@sha256:…) for repeatable runs.",
      "ecs.images.worker is krysp89/hyperflow-worker-nfs:latest, which is only published as `latest`; pin it by digest (repo@sha256:…) for repeatable deployments.",
    ]);
    expect(seedImagesIn(validateConfig({ ecs: { metricsUrl: "http://10.0.0.5:8086/hyperflow_tests" } }).config)).toEqual({
      "ecs.images.statusReporter": "krysp89/hyperflow-ec2-status-reporter:latest",
    });
    expect(() => validateConfig({ ecs: { images: { worker: "someone/worker:latest" } } })).toThrow(/ecs\.images\.worker: image uses the mutable tag `latest`/);
  });
  test("privileged workers with the Docker socket only when tasks run in their own containers (runner.taskContainer), or when asked", () => {
    const access = (input: object) => workerDockerAccess(validateConfig(input).config);
    const seeds = { ecs: { images: { worker: "krysp89/hyperflow-worker-nfs:latest" } }, runner: { engineImage: "krysp89/hyperflow-hflow:latest" } };
    expect(access({})).toBe(false);
    expect(access(seeds)).toBe(false); // the seed's images without a task container run tasks inside the worker
    expect(access({ ...seeds, runner: { ...seeds.runner, taskContainer: "hyperflowwms/montage-worker:6.0-je1.4.0" } })).toBe(true);
    expect(access({ ecs: { workers: { dockerAccess: true } } })).toBe(true);
  });
  test("fixed defaults: instance type that fits, no admin CIDRs, pinned broker image", () => {
    expect(config.ecs.instanceType).toBe("t3.medium");
    expect(config.adminCidrs).toEqual([]);
    expect(imageProblem(config.ecs.images.master)).toBeUndefined();
    expect(config.network).toEqual({ mode: "default" });
  });
  test("admin CIDR open to the world is allowed but warned about", () => {
    expect(validateConfig({ adminCidrs: ["0.0.0.0/0"] }).warnings.join()).toMatch(/whole internet/);
  });
});

describe("loading: file, environment and flags", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-config-"));
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("no file: defaults; AWS_REGION applies when nothing else sets the region", () => {
    expect(loadConfig({ cwd: dir, env: {} }).config.region).toBe("us-east-1");
    expect(loadConfig({ cwd: dir, env: { AWS_REGION: "eu-west-1" } }).file).toBeUndefined();
    expect(loadConfig({ cwd: dir, env: { AWS_REGION: "eu-west-1" } }).config.region).toBe("eu-west-1");
  });
  test("precedence: --region > HFLOW_REGION > file > AWS_REGION", () => {
    const file = write("a.json", '{ "region": "ap-south-1" }');
    const env = { AWS_REGION: "eu-west-1" };
    expect(loadConfig({ cwd: dir, env, configPath: file }).config.region).toBe("ap-south-1");
    expect(loadConfig({ cwd: dir, env: { ...env, HFLOW_REGION: "sa-east-1" }, configPath: file }).config.region).toBe("sa-east-1");
    expect(loadConfig({ cwd: dir, env: { ...env, HFLOW_REGION: "sa-east-1" }, configPath: file, region: "ca-central-1" }).config.region).toBe("ca-central-1");
  });
  test("config path from HFLOW_CONFIG, and ./hyperflow.config.json when present", () => {
    const file = write("b.json", '{ "ecs": { "clusterName": "from-env" } }');
    expect(loadConfig({ cwd: dir, env: { HFLOW_CONFIG: file } }).config.ecs.clusterName).toBe("from-env");
    write("hyperflow.config.json", '{ "ecs": { "clusterName": "from-cwd" } }');
    expect(loadConfig({ cwd: dir, env: {} }).config.ecs.clusterName).toBe("from-cwd");
    fs.rmSync(path.join(dir, "hyperflow.config.json"));
  });
  test("comments and trailing commas are accepted; syntax errors name line and column", () => {
    const ok = write("c.json", '// comment\n{ "region": "eu-north-1", /* x */ }\n');
    expect(loadConfig({ cwd: dir, env: {}, configPath: ok }).config.region).toBe("eu-north-1");
    const bad = write("d.json", '{\n  "region": "eu-north-1"\n  "tags": {}\n}');
    expect(() => loadConfig({ cwd: dir, env: {}, configPath: bad })).toThrow(/is not valid JSON: CommaExpected at line 3, column 3/);
  });
  test("a missing config file is an error, not silently the defaults", () => {
    expect(() => loadConfig({ cwd: dir, env: {}, configPath: "nope.json" })).toThrow(/config file not found/);
  });
  test("the starter file is valid and equals the defaults where it sets values", () => {
    const file = write("starter.json", starterConfig());
    const { config } = loadConfig({ cwd: dir, env: {}, configPath: file });
    expect(config.ecs.clusterName).toBe(validateConfig({}).config.ecs.clusterName);
    expect(config.tags).toEqual({ project: "hyperflow" });
  });
});

describe("JSON Schema for editors", () => {
  test("hyperflow.config.schema.json is generated from the schema and up to date", () => {
    const committed = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "hyperflow.config.schema.json"), "utf8"));
    expect(committed).toEqual(configJsonSchema());
  });
  test("docs/config.md is generated from the schema and up to date", () => {
    expect(fs.readFileSync(path.join(__dirname, "..", "docs", "config.md"), "utf8")).toBe(configReference());
  });
  test("every key is documented", () => {
    const undocumented: string[] = [];
    const walk = (node: any, at: string) => {
      for (const [k, v] of Object.entries<any>(node?.properties ?? {})) {
        if (!v.description) undocumented.push(`${at}${k}`);
        walk(v, `${at}${k}.`);
      }
      for (const alt of node?.anyOf ?? node?.oneOf ?? []) walk(alt, at);
    };
    walk(configJsonSchema(), "");
    expect(undocumented.filter((k) => !/\.(type|mode)$/.test(k))).toEqual([]);
  });
  test("CIDR helper", () => {
    expect(isCanonicalCidr("10.0.0.0/16")).toBe(true);
    expect(isCanonicalCidr("2001:db8::/32")).toBe(true);
    expect(isCanonicalCidr("10.0.0.1/16")).toBe(false);
    expect(isCanonicalCidr("banana")).toBe(false);
  });
});
