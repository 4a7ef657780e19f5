/**
 * Every Kubernetes object the `k8s` stack creates, in every example configuration with one, validated
 * against the Kubernetes OpenAPI schema (kubernetes-models) as the provider would send it; and the job
 * template, rendered by the engine's own createK8sJobYaml with the environment the stack gives the
 * engine. Nothing here can reach a Kubernetes API: this is how a refused manifest is caught before a deploy.
 */
import { Job } from "kubernetes-models/batch/v1/Job";
import { terraformUnescape } from "../constructs/core/terraform-string";
import { JOB_POD_LABELS } from "../constructs/k8s/job-template";
import { SAFE_TO_EVICT_ANNOTATION } from "../constructs/k8s/pod-spec";
import { manifestOf, manifests, MODELS, podSpecsOf, validationError } from "./support/k8s-manifests";
import { CONFIG_VARIANTS, only, resources, synthConfig } from "./support/stack-json";

// The engine's own code (hyperflow-wms/hyperflow functions/kubernetes/k8sJobSubmit.js): what it does with the template.

const { createK8sJobYaml } = require("@hyperflow/hyperflow/functions/kubernetes/k8sJobSubmit.js") as {
  createK8sJobYaml: (job: object, taskIds: string[], context: object, template: string, customParams: object) => any;
};

/** The job template as the engine reads it, filled by the engine's code with its environment (HF_VAR_*) set as the stack sets it. */
function renderedByEngine(k8s: any): any {
  const template = terraformUnescape(
    resources(k8s, "kubernetes_config_map_v1").find((c) => c.metadata.name === "hyperflow-job-template").data["job-template.yaml"],
  );
  const engine = resources(k8s, "kubernetes_job_v1").find((j) => j.metadata.name === "hyperflow-engine");
  const env = Object.fromEntries(engine.spec.template.spec.container[0].env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
  const saved = { ...process.env };
  try {
    Object.assign(process.env, env);
    const job = { name: "mProjectPP" };
    const context = { redis_url: "redis://10.0.0.7:6379", procId: 3, firingId: 1, hfId: "hf1", appId: 1, wfname: "montage", workdir: "/work_dir" };
    return createK8sJobYaml(job, ["hf1:1:3:1", "hf1:1:4:1"], context, template, {});
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

const K8S_VARIANTS = Object.entries(CONFIG_VARIANTS).filter(([, input]) => ((input.kubernetes as any)?.cluster ?? "none") !== "none");

test("the examples include each kind of cluster, Autopilot among them", () => {
  expect(K8S_VARIANTS.map(([name]) => name).sort()).toEqual(["eks", "eks-juicefs", "gke", "gke-autopilot", "k8s-existing-kind"]);
});

describe.each(K8S_VARIANTS)("example %s: the k8s stack's objects", (_name, input) => {
  const { json } = synthConfig(input);
  const k8s = json.k8s!;
  const all = manifests(k8s);

  test("every kubernetes_* resource has a model, and there are objects to check", () => {
    expect(all.length).toBeGreaterThan(8);
    for (const m of all) expect(Object.keys(MODELS)).toContain(m.type);
  });

  test.each(all.map((m) => [m.address, m] as const))("%s is valid against the Kubernetes OpenAPI schema", (_address, m) => {
    expect(validationError(m.type, m.manifest)).toBeUndefined();
  });

  test("the job template, filled by the engine's own code, is a valid Job", () => {
    const job = renderedByEngine(k8s);
    expect(() => new Job(job).validate()).not.toThrow();
    expect(job.spec.template.spec.containers[0].command[2].trim()).toBe('hflow-job-execute redis://10.0.0.7:6379 -a -- "hf1:1:3:1" "hf1:1:4:1"');
  });

  test("every pod (engine, Redis, data and post jobs, task jobs) tolerates its node selector as a NoSchedule taint", () => {
    const pods = [...all.flatMap((m) => podSpecsOf(m.manifest)), renderedByEngine(k8s).spec.template.spec];
    expect(pods.length).toBeGreaterThanOrEqual(3);
    for (const pod of pods) {
      const selector = Object.entries<string>(pod.nodeSelector ?? {});
      expect(selector.length).toBeGreaterThan(0);
      for (const [key, value] of selector) expect(pod.tolerations).toContainEqual({ key, operator: "Equal", value, effect: "NoSchedule" });
    }
  });

  test("every pod the cluster autoscaler could evict is marked not safe to evict", () => {
    const templates = [...all.map((m) => (m.manifest as any).spec?.template).filter(Boolean), renderedByEngine(k8s).spec.template];
    for (const t of templates) expect(t.metadata.annotations).toEqual({ [SAFE_TO_EVICT_ANNOTATION]: "false" });
  });

  test("the Redis NetworkPolicy selects the Redis pod and admits the engine's and the task pods' labels, from this namespace only", () => {
    const policy = all.find((m) => m.type === "kubernetes_network_policy_v1")!.manifest as any;
    const redis = all.find((m) => m.type === "kubernetes_deployment_v1")!.manifest as any;
    expect(policy.spec.podSelector.matchLabels).toEqual(redis.spec.selector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(["Ingress"]);
    const [rule] = policy.spec.ingress;
    expect(rule.ports).toEqual([{ port: 6379, protocol: "TCP" }]);
    const [peer] = rule.from;
    expect(peer.namespaceSelector).toBeUndefined();
    expect(peer.ipBlock).toBeUndefined();
    const admits = (labels: Record<string, string>) =>
      Object.entries<string>(peer.podSelector.matchLabels).every(([k, v]) => labels[k] === v) &&
      peer.podSelector.matchExpressions.every((e: any) => e.operator === "In" && e.values.includes(labels[e.key]));
    const engine = all.find((m) => (m.manifest as any).metadata.name === "hyperflow-engine" && m.type === "kubernetes_job_v1")!.manifest as any;
    expect(admits(engine.spec.template.metadata.labels)).toBe(true);
    expect(admits(renderedByEngine(k8s).spec.template.metadata.labels)).toBe(true);
    expect(admits({ ...JOB_POD_LABELS })).toBe(true);
    for (const m of all.filter((x) => x.type === "kubernetes_job_v1" && (x.manifest as any).metadata.name !== "hyperflow-engine")) {
      expect(admits((m.manifest as any).spec.template.metadata.labels)).toBe(false);
    }
  });
});

describe("the conversion would notice a manifest the API refuses", () => {
  const { json } = synthConfig(CONFIG_VARIANTS["k8s-existing-kind"]);
  const engine = resources(json.k8s!, "kubernetes_job_v1").find((j) => j.metadata.name === "hyperflow-engine");

  test("a toleration effect in the node-pool spelling (NO_SCHEDULE) is refused", () => {
    const bad = structuredClone(engine);
    bad.spec.template.spec.toleration[0].effect = "NO_SCHEDULE";
    expect(validationError("kubernetes_job_v1", manifestOf("kubernetes_job_v1", bad))).toMatch(/effect/);
  });

  test("a non-numeric replica count and a negative deadline are refused", () => {
    const redis = structuredClone(only(json.k8s!, "kubernetes_deployment_v1"));
    redis.spec.replicas = "one";
    expect(validationError("kubernetes_deployment_v1", manifestOf("kubernetes_deployment_v1", redis))).toMatch(/replicas/);
    const job = structuredClone(engine);
    job.spec.active_deadline_seconds = "a week";
    expect(validationError("kubernetes_job_v1", manifestOf("kubernetes_job_v1", job))).toMatch(/activeDeadlineSeconds/);
  });

  test("a two-item block where the API has one object is an error of the conversion itself", () => {
    const bad = structuredClone(engine);
    bad.spec.template.spec.container[0].security_context = [{ allow_privilege_escalation: false }, { allow_privilege_escalation: true }];
    expect(() => manifestOf("kubernetes_job_v1", bad)).toThrow(/securityContext/);
  });
});
