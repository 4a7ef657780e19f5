/**
 * The one configuration schema of hyperflow-infra, composed from its sections in config/schema/.
 *
 * Types are inferred from it, defaults live in it, and every key carries the documentation that the
 * generated JSON Schema (`hyperflow.config.schema.json`) shows in editors. Defaults follow the
 * Terraform ECS deployment we replace except where its default is a known bug; those places say so in
 * their description and in docs/config.md. What a value may look like comes from
 * constructs/core/rules.ts, defaults the constructs share from constructs/core/defaults.ts.
 */
import { z } from "zod";
import { AWS_REGION, TAG_KEY, TAG_VALUE } from "../constructs/core/rules";
import { backend } from "./schema/backend";
import { batch } from "./schema/batch";
import { checked, cidr, distinctItems, UNPINNABLE_SEED_IMAGES, withCrossKeyChecks } from "./schema/common";
import { ecs } from "./schema/ecs";
import { kubernetes } from "./schema/kubernetes";
import { lambda } from "./schema/lambda";
import { monitoring } from "./schema/monitoring";
import { network } from "./schema/network";
import { runner } from "./schema/runner";

// Rules that callers of the schema used to import from here.
export { imageProblem, isCanonicalCidr } from "../constructs/core/rules";
export { isCrossKeyIssue, UNPINNABLE_SEED_IMAGES } from "./schema/common";

const tagMap = z
  .record(checked(z.string(), TAG_KEY), checked(z.string(), TAG_VALUE))
  .default({})
  .describe("Tags put on every resource, propagated to ASG instances, their volumes and network interfaces, and ECS tasks.");

const rootShape = z.strictObject({
  $schema: z.string().optional().describe("Path or URL of this file's JSON Schema (for editors)."),
  region: checked(z.string(), AWS_REGION).default("us-east-1").describe("AWS region of every AWS stack (seed `ecs_region`)."),
  tags: tagMap,
  adminCidrs: distinctItems(z.array(cidr), "distinct values")
    .default([])
    .describe(
      "CIDR blocks allowed to reach admin endpoints (RabbitMQ management UI, Grafana, the EKS and GKE Kubernetes API; GKE takes the IPv4 ones). Default: none; use SSM port forwarding. Required with kubernetes.cluster eks or gke.",
    ),
  backend,
  network,
  monitoring,
  ecs,
  runner,
  kubernetes,
  lambda,
  batch,
});

export const configSchema = withCrossKeyChecks(rootShape, [
  {
    reads: [
      ["runner", "taskContainer"],
      ["ecs", "images", "worker"],
    ],
    check: ({ runner: r, ecs: e }, report) => {
      if (r.taskContainer !== "" && e.images.worker === undefined) {
        report(
          ["runner", "taskContainer"],
          "needs ecs.images.worker: the worker starts each task in this container, and this project's worker image runs tasks inside itself; allowed: empty, or configure a worker image that runs CONTAINER (the seed's)",
          r.taskContainer,
        );
      }
    },
  },
  {
    reads: [
      ["runner", "taskContainer"],
      ["ecs", "workers", "dockerAccess"],
    ],
    check: ({ runner: r, ecs: e }, report) => {
      if (r.taskContainer !== "" && e.workers.dockerAccess === false) {
        report(
          ["ecs", "workers", "dockerAccess"],
          "is false, but runner.taskContainer is set: the worker starts each task's container through the Docker socket; allowed: true or unset, or an empty runner.taskContainer",
          false,
        );
      }
    },
  },
  {
    reads: [["kubernetes", "cluster"], ["adminCidrs"]],
    check: ({ kubernetes: k, adminCidrs }, report) => {
      if (k.cluster === "eks" && adminCidrs.length === 0) {
        report(
          ["adminCidrs"],
          "must name at least one CIDR when kubernetes.cluster is eks: the Kubernetes API endpoint is reachable only from adminCidrs",
          adminCidrs,
        );
      }
      // GKE master authorized networks take IPv4 CIDRs only; the gke stack passes those.
      if (k.cluster === "gke" && !adminCidrs.some((c) => c.includes("."))) {
        report(
          ["adminCidrs"],
          "must name at least one IPv4 CIDR when kubernetes.cluster is gke: the Kubernetes API endpoint is reachable only from adminCidrs (master authorized networks, IPv4 only)",
          adminCidrs,
        );
      }
    },
  },
]).describe(
  'hyperflow-infra configuration. Every key is optional; see docs/config.md. "seed `x`" in a description names what the key replaces in the deployments hyperflow-infra replaces, mostly a Terraform variable of hyperflow-wms/hyperflow-terraform-ecs or its fork mtsznowak/hyperflow-terraform-ecs.',
);

/** The resolved configuration: every default applied. */
export type HyperflowConfig = z.output<typeof configSchema>;

/**
 * Whether the workers are privileged and get the host's Docker socket: `ecs.workers.dockerAccess` when
 * set, else exactly when tasks run in their own containers (`runner.taskContainer`), which the worker
 * starts through the socket. Otherwise tasks run inside the worker, which needs neither (and a privileged
 * container with the socket is root on its host, with the instance role). The one place this default lives.
 */
export function workerDockerAccess(config: HyperflowConfig): boolean {
  return config.ecs.workers.dockerAccess ?? config.runner.taskContainer !== "";
}

/**
 * The unpinnable seed images (UNPINNABLE_SEED_IMAGES) that `config` deploys, by key: only where the
 * config names one (`ecs.images.worker`, `runner.engineImage`), and the status reporter's default
 * when metrics are on (`ecs.metricsUrl`, or the `grafana` stack's InfluxDB). The policy rules let
 * exactly these through; the loader warns about each.
 */
export function seedImagesIn(config: HyperflowConfig): Record<string, string> {
  const used: Record<string, string> = {};
  const add = (key: string, ref: string | undefined) => {
    if (ref !== undefined && UNPINNABLE_SEED_IMAGES.includes(ref)) used[key] = ref;
  };
  add("runner.engineImage", config.runner.engineImage);
  add("ecs.images.worker", config.ecs.images.worker);
  if (config.ecs.metricsUrl !== "" || config.monitoring.enabled) add("ecs.images.statusReporter", config.ecs.images.statusReporter);
  return used;
}
export type BackendConfig = HyperflowConfig["backend"];

/** The JSON Schema that editors use to complete and check `hyperflow.config.json`. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...schema, title: "hyperflow-infra configuration", $id: "https://hyperflow-infra.dev/hyperflow.config.schema.json" };
}
