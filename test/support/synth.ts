/** Synthesize stacks for a config once and give tests the JSON, parsed and as text. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { validateConfig } from "../../config/load";
import type { HyperflowConfig } from "../../config/schema";
import { buildApp, type StackName, stackNames } from "../../stacks/app";

export type TfJson = {
  resource?: Record<string, Record<string, any>>;
  data?: Record<string, Record<string, any>>;
  output?: Record<string, any>;
  variable?: Record<string, any>;
  locals?: Record<string, any>;
  module?: Record<string, any>;
  provider?: Record<string, any>;
  terraform?: Record<string, any>;
};

export interface SynthResult {
  readonly config: HyperflowConfig;
  readonly text: Record<StackName, string>;
  readonly json: Record<StackName, TfJson>;
}

export function synthConfig(input: unknown = {}): SynthResult {
  const { config } = validateConfig(input);
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-synth-"));
  try {
    // A full app synth, as deploys see it: cross-stack references become remote state and outputs only here.
    buildApp(config, outdir).app.synth();
    const text = {} as Record<StackName, string>;
    const json = {} as Record<StackName, TfJson>;
    for (const name of stackNames(config)) {
      text[name] = fs.readFileSync(path.join(outdir, "stacks", name, "cdk.tf.json"), "utf8");
      json[name] = JSON.parse(text[name]);
    }
    return { config, text, json };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** Every resource of a type, as a list. */
export function resources(json: TfJson, type: string): any[] {
  return Object.values(json.resource?.[type] ?? {});
}

/** The single resource of a type (fails the test when there is not exactly one). */
export function only(json: TfJson, type: string): any {
  const list = resources(json, type);
  if (list.length !== 1) throw new Error(`expected exactly one ${type}, found ${list.length}`);
  return list[0];
}

/** Container definitions of a task definition resource. */
export function containers(taskDefinition: any): any[] {
  return JSON.parse(taskDefinition.container_definitions);
}

/** A small Montage-shaped job directory committed with the tests. */
export const FIXTURE_JOB = path.join(__dirname, "..", "fixtures", "montage-mini");

/** Configurations the policy and reference checks run over: defaults and every feature switched on. */
export const CONFIG_VARIANTS: Record<string, unknown> = {
  defaults: {},
  "new VPC, private subnets, metrics, bucket, admin CIDR": {
    region: "eu-central-1",
    tags: { project: "montage", owner: "lab" },
    adminCidrs: ["203.0.113.0/24", "2001:db8::/32"],
    network: { mode: "new", azCount: 3, privateSubnets: true },
    backend: { type: "s3", bucket: "my-tf-state" },
    ecs: {
      clusterName: "montage",
      metricsUrl: "http://10.0.0.5:8086/hyperflow_tests",
      keyPairName: "lab-key",
      amiId: "ami-0123456789abcdef0",
      workers: { bucket: "montage-data", threads: 4, featureDownload: true, storage: "nfs", nfsMount: "fs-1:/" },
      alarms: { highPeriodSeconds: 60, lowPeriodSeconds: 120 },
    },
    runner: { jobDir: FIXTURE_JOB, prefix: "montage/0.25/", taskContainer: "hyperflowwms/montage-worker:6.0-je1.4.0", forceDestroy: true },
  },
  "kubernetes on EKS with a data image and disruption budgets": {
    adminCidrs: ["203.0.113.0/24"],
    kubernetes: { cluster: "eks", dataImage: "hyperflowwms/montage2-workflow-data:montage2-2mass-3.0-latest", disruptionBudgets: true },
  },
  "kubernetes on GKE (standard) and on GKE Autopilot": {
    kubernetes: { cluster: "gke", gke: { project: "hyperflow-lab-1" }, storageClass: "filestore-rwx" },
  },
  "kubernetes on an existing cluster (kind context)": {
    kubernetes: {
      cluster: "existing",
      context: "kind-hyperflow",
      dataImage: "hyperflowwms/montage2-workflow-data:montage2-2mass-3.0-latest",
      postJobs: [{ name: "viz-trace", image: "hyperflowwms/viz-trace:v1.0.0", command: "hflow-viz-trace -s /work_dir/parsed", after: "parsingFinished" }],
    },
  },
  "monitoring on (grafana stack), default VPC, admin CIDR": {
    adminCidrs: ["198.51.100.0/24"],
    monitoring: { enabled: true, instanceType: "t4g.small" },
  },
  "existing VPC, graviton, no docker access": {
    network: { mode: "existing", vpcId: "vpc-0abc1234", subnetIds: ["subnet-0abc1234", "subnet-0def5678"], assignPublicIp: false },
    ecs: { instanceType: "m7g.large", workers: { dockerAccess: false } },
  },
};
