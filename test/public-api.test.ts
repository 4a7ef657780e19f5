/**
 * The package's entry point, used as a library user would: an app built only from what `index.ts`
 * exports (plus cdktf and the providers), and the declarations the build emits for it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TerraformOutput, TerraformStack, Testing } from "cdktf";
import * as ts from "typescript";
import { HyperflowEcs, Network, PropsError, WorkflowBucket, queueLengthMetric, ECS_DEFAULTS } from "../index";
import { checkPolicies } from "./support/policy-rules";
import { checkReferences } from "./support/references";
import { resources, type TfJson } from "./support/stack-json";

const ROOT = path.join(__dirname, "..");

describe("an app composed by hand from the entry point", () => {
  const app = Testing.app();
  const stack = new TerraformStack(app, "lab");
  new AwsProvider(stack, "aws", { region: "eu-central-1" });
  new RandomProvider(stack, "random");
  const network = new Network(stack, "Network", { mode: "new", azCount: 2 });
  const hyperflow = new HyperflowEcs(stack, "Hyperflow", {
    clusterName: "lab",
    network,
    images: {
      broker: "public.ecr.aws/docker/library/rabbitmq:3.13.7-management-alpine",
      worker: "hyperflowwms/hyperflow-worker:1.0.0",
      publisher: "public.ecr.aws/docker/library/node:22.12.0-alpine3.21",
      statusReporter: "hyperflowwms/status-reporter:1.0.0",
    },
    scaling: { maxCapacity: 20, highPeriodSeconds: 60, lowPeriodSeconds: 60 },
  });
  const bucket = new WorkflowBucket(stack, "Data", { namePrefix: "lab-data-" });
  bucket.grantReadWrite(hyperflow.workers.taskRole);
  new TerraformOutput(stack, "bucket", { value: bucket.bucketName });
  const json: TfJson = JSON.parse(Testing.synth(stack, true));

  test("synthesizes the cluster, the network and the bucket, with the props given", () => {
    expect(resources(json, "aws_ecs_cluster").map((c) => c.name)).toEqual(["lab"]);
    expect(resources(json, "aws_vpc")).toHaveLength(1);
    expect(resources(json, "aws_s3_bucket").map((b) => b.bucket_prefix)).toEqual(["lab-data-"]);
    expect(resources(json, "aws_ecs_task_definition").length).toBeGreaterThanOrEqual(2);
    expect(resources(json, "aws_appautoscaling_target").map((t) => t.max_capacity)).toEqual([20]);
    expect(resources(json, "aws_cloudwatch_metric_alarm").map((a) => a.period)).toEqual([60, 60]);
  });

  test("the worker role gets read-write on the bucket, through the grant", () => {
    const policies = resources(json, "aws_iam_role_policy").filter((p) => p.name === "WorkflowBucket");
    expect(policies).toHaveLength(1);
    const actions = JSON.parse(policies[0].policy).Statement.flatMap((s: { Action: string[] }) => s.Action);
    expect(actions).toEqual(expect.arrayContaining(["s3:GetObject", "s3:PutObject", "s3:ListBucket"]));
  });

  test("passes every policy rule and every interpolation resolves", () => {
    expect(checkPolicies(json, { allowedIngressCidrs: [] })).toEqual([]);
    expect(checkReferences(json)).toEqual([]);
  });

  test("the exported metric helper agrees with the construct's alarms", () => {
    const metric = queueLengthMetric("lab", [60, 60]);
    expect(hyperflow.metric).toEqual(metric);
    const alarms = resources(json, "aws_cloudwatch_metric_alarm");
    expect(alarms.map((a) => [a.namespace, a.metric_name])).toEqual(alarms.map(() => [metric.namespace, metric.metricName]));
    expect(ECS_DEFAULTS.instanceType).toBe("t3.medium");
  });

  test("bad props raise the exported PropsError", () => {
    const other = new TerraformStack(Testing.app(), "other");
    new AwsProvider(other, "aws", { region: "eu-central-1" });
    expect(() => new WorkflowBucket(other, "B", { namePrefix: "Not_A_Bucket" })).toThrow(PropsError);
  });
});

describe("the built package", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { main: string; types: string };
  const declarations = path.join(ROOT, pkg.types);

  test("package.json points at the built entry point and its declarations", () => {
    expect(pkg.main).toBe("dist/index.js");
    expect(pkg.types).toBe("dist/index.d.ts");
    expect(fs.existsSync(path.join(ROOT, pkg.main))).toBe(true);
    expect(fs.existsSync(declarations)).toBe(true);
  });

  test("dist/index.d.ts declares the main construct classes and leaves out the CLI and the stacks", () => {
    const program = ts.createProgram([declarations], { noEmit: true, skipLibCheck: true, types: [] });
    const checker = program.getTypeChecker();
    const source = program.getSourceFile(declarations);
    if (!source) throw new Error(`${declarations} was not loaded`);
    expect(ts.getPreEmitDiagnostics(program, source).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual([]);
    const exported = new Map(checker.getExportsOfModule(checker.getSymbolAtLocation(source)!).map((s) => [s.name, s]));
    const isClass = (name: string) => {
      const symbol = exported.get(name);
      if (!symbol) return false;
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      return (target.flags & ts.SymbolFlags.Class) !== 0;
    };
    const classes = [
      "Network",
      "WorkflowBucket",
      "HyperflowEcs",
      "Master",
      "WorkerCapacity",
      "WorkerService",
      "QueueScaling",
      "StatusReporter",
      "EngineTask",
      "MonitoringHost",
      "EksCluster",
      "GkeCluster",
      "HyperflowK8s",
      "ServiceRole",
      "AwsEnvironment",
      "PropsError",
    ];
    expect(classes.filter((c) => !isClass(c))).toEqual([]);
    for (const name of [
      "Grantee",
      "ClusterContext",
      "QueueLengthMetric",
      "HyperflowEcsProps",
      "grantPutMetricData",
      "ENGINE_PLACEHOLDERS",
      "jobTemplate",
      "ECS_DEFAULTS",
      "AWS_REGION",
    ]) {
      expect(exported.has(name)).toBe(true);
    }
    for (const name of ["buildApp", "EcsStack", "buildProgram", "SyncRun", "validateConfig"]) expect(exported.has(name)).toBe(false);
  });
});
