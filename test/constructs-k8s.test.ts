/**
 * The parts of HyperflowK8s and the top construct, each built alone in a bare stack, and one case per
 * validation with the PropsError it must give.
 */
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import type { JobV1SpecTemplateSpecContainer } from "@cdktf/provider-kubernetes/lib/job-v1";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Token, type TerraformStack } from "cdktf";
import {
  ENGINE_DEADLINE_SECONDS,
  K8S_JOB_NAME,
  K8S_JOB_RETRIES,
  K8S_LABEL,
  K8S_NAMESPACE,
  K8S_QUANTITY,
  MARKER_FILE,
  WORK_VOLUME_GIB,
} from "../constructs/core/rules";
import { PropsError, requireRule } from "../constructs/core/validation";
import { terraformUnescape } from "../constructs/core/terraform-string";
import { DataJob } from "../constructs/k8s/data-job";
import { DisruptionBudgets, type DisruptionBudgetsProps } from "../constructs/k8s/disruption-budgets";
import { Engine, type EngineProps } from "../constructs/k8s/engine";
import { HyperflowK8s, type HyperflowK8sProps } from "../constructs/k8s/hyperflow-k8s";
import { JOB_POD_LABELS, jobTemplate } from "../constructs/k8s/job-template";
import { PostJobs, type PostJobsProps } from "../constructs/k8s/post-jobs";
import { podMetadata, podSpec, PodVolume, tolerationsFor } from "../constructs/k8s/pod-spec";
import { Redis } from "../constructs/k8s/redis";
import { WorkDir } from "../constructs/k8s/work-dir";
import { bareStack, expectPropsError, resourceAddresses, synthStack } from "./support/constructs";
import { only, resources } from "./support/stack-json";

const withProviders = (stack: TerraformStack) => {
  new KubernetesProvider(stack, "kubernetes", { configPath: "~/.kube/config" });
  new HelmProvider(stack, "helm", { kubernetes: { configPath: "~/.kube/config" } });
};
const ON_MASTER = { namespace: "hyperflow", nodeSelector: { "hyperflow-wms/nodepool": "hfmaster" } };
const WORK_DIR_VOLUME = PodVolume.fromPersistentVolumeClaim("work-dir", "work-dir");
const TEMPLATE = { nodeLabelKey: "hyperflow-wms/nodepool", workerPool: "hfworker", claimName: "work-dir", retries: 1, ttlSecondsAfterFinished: 300 };
const ENGINE: EngineProps = {
  ...ON_MASTER,
  image: "hyperflowwms/hyperflow:v1.9.1",
  workerImage: "hyperflowwms/montage-worker:6.0-je1.4.0",
  redisUrl: "redis://redis.hyperflow.svc.cluster.local:6379",
  workDir: WORK_DIR_VOLUME,
  jobTemplate: TEMPLATE,
};
const TOP: HyperflowK8sProps = { engineImage: ENGINE.image, workerImage: ENGINE.workerImage, redisImage: "public.ecr.aws/docker/library/redis:7.4.1-alpine" };
const POST: PostJobsProps = {
  ...ON_MASTER,
  workDir: WORK_DIR_VOLUME,
  jobs: [{ name: "log-parser", image: "hyperflowwms/log-parser:v1.2.0", command: "parse-logs" }],
};
const PDB: DisruptionBudgetsProps = { namespace: "hyperflow", redisPodLabels: { "app.kubernetes.io/name": "redis" } };

describe("each part alone in a bare stack", () => {
  test("WorkDir without a storage class: the NFS provisioner on the given nodes, and the claim waits for it", () => {
    const json = synthStack(bareStack((s) => (withProviders(s), new WorkDir(s, { ...ON_MASTER, sizeGiB: 20 }))));
    expect(resourceAddresses(json)).toEqual(["helm_release.Nfs", "kubernetes_persistent_volume_claim_v1.WorkDir"]);
    const values = JSON.parse(only(json, "helm_release").values[0]);
    expect(values.nodeSelector).toEqual(ON_MASTER.nodeSelector);
    expect(values.persistence.size).toBe("25Gi");
    const claim = only(json, "kubernetes_persistent_volume_claim_v1");
    expect(claim.spec).toEqual(
      expect.objectContaining({ access_modes: ["ReadWriteMany"], storage_class_name: "hyperflow-nfs", resources: { requests: { storage: "20Gi" } } }),
    );
    expect(claim.depends_on).toEqual(["helm_release.Nfs"]);
  });

  test("WorkDir on a named storage class: no NFS server", () => {
    let part: WorkDir | undefined;
    const json = synthStack(bareStack((s) => (withProviders(s), (part = new WorkDir(s, { ...ON_MASTER, storageClass: "filestore-rwx" })))));
    expect(resourceAddresses(json)).toEqual(["kubernetes_persistent_volume_claim_v1.WorkDir"]);
    expect(only(json, "kubernetes_persistent_volume_claim_v1").spec.storage_class_name).toBe("filestore-rwx");
    expect(part!.nfsServerPodLabels).toBeUndefined();
  });

  test("Redis: Deployment and Service selecting the same pod labels; no API token, no volumes", () => {
    const json = synthStack(bareStack((s) => (withProviders(s), new Redis(s, { ...ON_MASTER, image: TOP.redisImage }))));
    expect(resourceAddresses(json)).toEqual([
      "kubernetes_deployment_v1.Redis",
      "kubernetes_network_policy_v1.RedisNetworkPolicy",
      "kubernetes_service_v1.RedisService",
    ]);
    expect(only(json, "kubernetes_network_policy_v1").spec.pod_selector.match_labels).toEqual(
      only(json, "kubernetes_deployment_v1").spec.selector.match_labels,
    );
    const d = only(json, "kubernetes_deployment_v1");
    const pod = d.spec.template.spec;
    expect(pod.automount_service_account_token).toBe(false);
    expect(pod.volume).toBeUndefined();
    expect(pod.container[0].security_context).toEqual({ allow_privilege_escalation: false, run_as_non_root: true, run_as_user: "999" });
    expect(only(json, "kubernetes_service_v1").spec.selector).toEqual(d.spec.selector.match_labels);
  });

  test("DataJob: copies /data into the work volume, and Terraform waits for it", () => {
    const json = synthStack(bareStack((s) => (withProviders(s), new DataJob(s, { ...ON_MASTER, image: "hyperflowwms/data:1.0", workDir: WORK_DIR_VOLUME }))));
    const job = only(json, "kubernetes_job_v1");
    expect(job.wait_for_completion).toBe(true);
    expect(job.spec.template.spec.volume).toEqual([{ name: "work-dir", persistent_volume_claim: { claim_name: "work-dir" } }]);
    expect(job.spec.template.spec.container[0].volume_mount).toEqual([{ name: "work-dir", mount_path: "/work_dir" }]);
  });

  test("Engine: ServiceAccount, Role, binding, job template and the Job; only the engine gets an API token", () => {
    const json = synthStack(bareStack((s) => (withProviders(s), new Engine(s, ENGINE))));
    expect(resourceAddresses(json)).toEqual([
      "kubernetes_config_map_v1.JobTemplate",
      "kubernetes_job_v1.Engine",
      "kubernetes_role_binding_v1.EngineRoleBinding",
      "kubernetes_role_v1.EngineRole",
      "kubernetes_service_account_v1.EngineSa",
    ]);
    const pod = only(json, "kubernetes_job_v1").spec.template.spec;
    expect(pod.automount_service_account_token).toBeUndefined();
    expect(pod.service_account_name).toBe("${kubernetes_service_account_v1.EngineSa.metadata[0].name}");
    expect(pod.volume.map((v: { name: string }) => v.name)).toEqual(["work-dir", "job-template"]);
    expect(terraformUnescape(only(json, "kubernetes_config_map_v1").data["job-template.yaml"])).toBe(jobTemplate(TEMPLATE));
    expect(only(json, "kubernetes_role_v1").rule).toEqual([{ api_groups: ["batch"], resources: ["jobs"], verbs: ["create"] }]);
    expect(only(json, "kubernetes_job_v1").spec.active_deadline_seconds).toBe(604_800);
  });

  test("Engine: removes the end marker and the given markers (once each) before it runs", () => {
    const json = synthStack(
      bareStack((s) => (withProviders(s), new Engine(s, { ...ENGINE, markers: ["parsingFinished", "postprocStart"], deadlineSeconds: 7200 }))),
    );
    const job = only(json, "kubernetes_job_v1");
    expect(job.spec.template.spec.container[0].command[2]).toMatch(/^rm -f \/work_dir\/postprocStart \/work_dir\/parsingFinished; until/);
    expect(job.spec.active_deadline_seconds).toBe(7200);
  });

  test("PostJobs: one Job per entry, waiting for the engine's marker by default", () => {
    const json = synthStack(
      bareStack(
        (s) => (withProviders(s), new PostJobs(s, { ...POST, jobs: [...POST.jobs, { name: "viz", image: "v:1", command: "viz", after: "parsingFinished" }] })),
      ),
    );
    expect(resourceAddresses(json)).toEqual(["kubernetes_job_v1.Post-log-parser", "kubernetes_job_v1.Post-viz"]);
    const scripts = resources(json, "kubernetes_job_v1").map((j) => j.spec.template.spec.container[0].command[2]);
    expect(scripts).toEqual([
      "until [ -f /work_dir/postprocStart ]; do sleep 10; done; parse-logs",
      "until [ -f /work_dir/parsingFinished ]; do sleep 10; done; viz",
    ]);
  });

  test("DisruptionBudgets: Redis always, the NFS server only when there is one", () => {
    const redisOnly = synthStack(bareStack((s) => (withProviders(s), new DisruptionBudgets(s, PDB))));
    expect(resourceAddresses(redisOnly)).toEqual(["kubernetes_pod_disruption_budget_v1.RedisPdb"]);
    const both = synthStack(bareStack((s) => (withProviders(s), new DisruptionBudgets(s, { ...PDB, nfsServerPodLabels: { app: "nfs-server-provisioner" } }))));
    expect(resourceAddresses(both)).toEqual(["kubernetes_pod_disruption_budget_v1.NfsPdb", "kubernetes_pod_disruption_budget_v1.RedisPdb"]);
  });

  test("HyperflowK8s composes the parts in its own scope: one construct path component in every address", () => {
    const json = synthStack(
      bareStack((s) => (withProviders(s), new HyperflowK8s(s, "Hyperflow", { ...TOP, dataImage: "d:1", disruptionBudgets: true, postJobs: POST.jobs }))),
    );
    const addresses = resourceAddresses(json);
    expect(addresses).toHaveLength(16);
    expect(addresses.filter((a) => a.startsWith("kubernetes_namespace_v1."))).toHaveLength(2);
    for (const a of addresses) expect(a).toMatch(/^[a-z0-9_]+\.Hyperflow_[A-Za-z-]+_[0-9A-F]{8}$/);
    const engine = resources(json, "kubernetes_job_v1").find((j) => j.metadata.name === "hyperflow-engine");
    expect(engine.depends_on.sort()).toEqual([
      expect.stringMatching(/^kubernetes_job_v1\.Hyperflow_DataJob_/),
      expect.stringMatching(/^kubernetes_service_v1\.Hyperflow_RedisService_/),
    ]);
    for (const r of addresses.map((a) => a.split(".")).filter(([t]) => t !== "kubernetes_namespace_v1" && t !== "helm_release")) {
      const expected = r[1].startsWith("Hyperflow_NfsPdb_") ? "NfsNamespace" : "Namespace";
      expect(json.resource![r[0]][r[1]].metadata.namespace).toMatch(
        new RegExp(`^\\$\\{kubernetes_namespace_v1\\.Hyperflow_${expected}_[0-9A-F]{8}\\.metadata\\[0\\]\\.name\\}$`),
      );
    }
    expect(only(json, "helm_release").namespace).toMatch(/^\$\{kubernetes_namespace_v1\.Hyperflow_NfsNamespace_[0-9A-F]{8}\.metadata\[0\]\.name\}$/);
  });
});

describe("podSpec", () => {
  test("every node-selector pair is tolerated as a NoSchedule taint; no selector, no toleration", () => {
    const spec = podSpec({ nodeSelector: { pool: "m", zone: "a" }, container: { name: "c", image: "i:1" } });
    expect(spec.toleration).toEqual([
      { key: "pool", operator: "Equal", value: "m", effect: "NoSchedule" },
      { key: "zone", operator: "Equal", value: "a", effect: "NoSchedule" },
    ]);
    expect(podSpec({ nodeSelector: {}, container: { name: "c", image: "i:1" } }).toleration).toBeUndefined();
    expect(tolerationsFor({ k: "v" })).toEqual([{ key: "k", operator: "Equal", value: "v", effect: "NoSchedule" }]);
  });

  test("pod metadata carries the labels and the not-safe-to-evict annotation", () => {
    expect(podMetadata({ a: "b" })).toEqual({ labels: { a: "b" }, annotations: { "cluster-autoscaler.kubernetes.io/safe-to-evict": "false" } });
  });

  test("an API token only with a service account; volumes come from the mounts, once each, in order", () => {
    const template = PodVolume.fromConfigMap("t", "cm");
    const spec = podSpec({
      nodeSelector: { pool: "m" },
      container: {
        name: "c",
        image: "i:1",
        volumeMounts: [
          { volume: WORK_DIR_VOLUME, path: "/a" },
          { volume: template, path: "/b", readOnly: true },
          { volume: WORK_DIR_VOLUME, path: "/c" },
        ],
      },
    });
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.volume).toEqual([WORK_DIR_VOLUME.toPodVolume(), template.toPodVolume()]);
    expect(podSpec({ nodeSelector: {}, serviceAccountName: "sa", container: { name: "c", image: "i:1" } }).automountServiceAccountToken).toBeUndefined();
  });

  test("scripts and env values are escaped for Terraform; env from pod fields follows the literal env", () => {
    const spec = podSpec({
      nodeSelector: {},
      container: { name: "c", image: "i:1", script: 'echo "${HOME}"', env: { A: "${x}" }, envFromFields: { NS: "metadata.namespace" } },
    });
    const [container] = spec.container as JobV1SpecTemplateSpecContainer[];
    expect(container.command).toEqual(["/bin/sh", "-c", 'echo "$${HOME}"']);
    expect(container.env).toEqual([
      { name: "A", value: "$${x}" },
      { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    ]);
  });
});

describe("bad props fail with a PropsError naming construct, prop, value and what is allowed", () => {
  const top = (p: Partial<HyperflowK8sProps>) => () => new HyperflowK8s(bareStack(), "H", { ...TOP, ...p });
  // The allowed-text of a check with a rule is the rule's (constructs/core/rules.ts), as in config errors.
  test.each<[string, Partial<HyperflowK8sProps>, string, unknown, string]>([
    ["namespace", { namespace: "Hyper_Flow" }, "namespace", "Hyper_Flow", K8S_NAMESPACE.allowed],
    ["node label key", { nodePools: { labelKey: "bad key" } }, "nodePools.labelKey", "bad key", K8S_LABEL.allowed],
    ["master pool", { nodePools: { master: "-master" } }, "nodePools.master", "-master", K8S_LABEL.allowed],
    ["worker pool", { nodePools: { worker: "worker pool" } }, "nodePools.worker", "worker pool", K8S_LABEL.allowed],
    ["labels", { labels: { team: "a b" } }, 'labels["team"]', "a b", K8S_LABEL.allowed],
    ["work volume", { workVolumeGiB: 0 }, "workVolumeGiB", 0, WORK_VOLUME_GIB.allowed],
    ["job CPU request", { jobCpuRequest: "half" }, "jobCpuRequest", "half", K8S_QUANTITY.allowed],
    ["job memory request", { jobMemRequest: "50 MB" }, "jobMemRequest", "50 MB", K8S_QUANTITY.allowed],
    ["retries", { retries: 1.5 }, "retries", 1.5, K8S_JOB_RETRIES.allowed],
    ["backoff limit", { backoffLimit: -1 }, "backoffLimit", -1, K8S_JOB_RETRIES.allowed],
    ["engine CPU", { engineResources: { cpu: "one", memory: "2Gi" } }, "engineResources.cpu", "one", K8S_QUANTITY.allowed],
    ["engine memory", { engineResources: { cpu: "1", memory: "2 GiB" } }, "engineResources.memory", "2 GiB", K8S_QUANTITY.allowed],
    ["post job name", { postJobs: [{ name: "Parser", image: "p:1", command: "x" }] }, "postJobs[0].name", "Parser", K8S_JOB_NAME.allowed],
    [
      "post job name twice",
      {
        postJobs: [
          { name: "p", image: "p:1", command: "x" },
          { name: "p", image: "p:2", command: "y" },
        ],
      },
      "postJobs[1].name",
      "p",
      "a name no other post job has",
    ],
    [
      "post job marker",
      { postJobs: [{ name: "p", image: "p:1", command: "x", after: "../etc/passwd" }] },
      "postJobs[0].after",
      "../etc/passwd",
      MARKER_FILE.allowed,
    ],
    ["engine deadline", { engineDeadlineSeconds: 59 }, "engineDeadlineSeconds", 59, ENGINE_DEADLINE_SECONDS.allowed],
    [
      "Autopilot without a storage class",
      { autopilot: true },
      "storageClass",
      undefined,
      "an RWX storage class on GKE Autopilot, e.g. standard-rwx (Filestore): Autopilot refuses the NFS server provisioner's added capabilities",
    ],
  ])("HyperflowK8s: %s", (_what, props, prop, value, allowed) => {
    expectPropsError(top(props), "HyperflowK8s", prop, value, allowed);
  });

  test("HyperflowK8s checks before it creates anything", () => {
    const stack = bareStack();
    expectPropsError(
      () => new HyperflowK8s(stack, "H", { ...TOP, postJobs: [{ name: "P", image: "p:1", command: "x" }] }),
      "HyperflowK8s",
      "postJobs[0].name",
      "P",
    );
    expect(stack.node.findAll().length).toBe(1 + 1); // the stack and the half-built construct, no resources
  });

  test("WorkDir: size", () => {
    expectPropsError(() => new WorkDir(bareStack(), { ...ON_MASTER, sizeGiB: 70_000 }), "WorkDir", "sizeGiB", 70_000, WORK_VOLUME_GIB.allowed);
  });

  test("any part: node selector", () => {
    expectPropsError(
      () => new Redis(bareStack(), { ...ON_MASTER, nodeSelector: { pool: "" }, image: "r:1" }),
      "Redis",
      'nodeSelector["pool"]',
      "",
      K8S_LABEL.allowed,
    );
  });

  const engine = (p: Partial<EngineProps>) => () => new Engine(bareStack(), { ...ENGINE, ...p });
  test.each<[Partial<EngineProps>, string, unknown, string]>([
    [{ jobCpuRequest: "lots" }, "jobCpuRequest", "lots", K8S_QUANTITY.allowed],
    [{ jobMemRequest: "-1Mi" }, "jobMemRequest", "-1Mi", K8S_QUANTITY.allowed],
    [{ backoffLimit: 21 }, "backoffLimit", 21, K8S_JOB_RETRIES.allowed],
    [{ resources: { cpu: "x", memory: "1Gi" } }, "resources.cpu", "x", K8S_QUANTITY.allowed],
    [{ resources: { cpu: "1", memory: "y" } }, "resources.memory", "y", K8S_QUANTITY.allowed],
    [{ jobTemplate: { ...TEMPLATE, nodeLabelKey: "a b" } }, "jobTemplate.nodeLabelKey", "a b", K8S_LABEL.allowed],
    [{ jobTemplate: { ...TEMPLATE, workerPool: "w?" } }, "jobTemplate.workerPool", "w?", K8S_LABEL.allowed],
    [{ jobTemplate: { ...TEMPLATE, retries: 99 } }, "jobTemplate.retries", 99, K8S_JOB_RETRIES.allowed],
    [{ jobTemplate: { ...TEMPLATE, ttlSecondsAfterFinished: -5 } }, "jobTemplate.ttlSecondsAfterFinished", -5, "an integer from 0 to 604800"],
    [{ deadlineSeconds: 0 }, "deadlineSeconds", 0, ENGINE_DEADLINE_SECONDS.allowed],
    [{ markers: ["a/b"] }, "markers[0]", "a/b", MARKER_FILE.allowed],
  ])("Engine: %j", (props, prop, value, allowed) => {
    expectPropsError(engine(props), "Engine", prop, value, allowed);
  });

  test.each<[PostJobsProps["jobs"], string, unknown, string]>([
    [[{ name: "x".repeat(53), image: "p:1", command: "x" }], "jobs[0].name", "x".repeat(53), K8S_JOB_NAME.allowed],
    [
      [
        { name: "a", image: "p:1", command: "x" },
        { name: "a", image: "p:1", command: "y" },
      ],
      "jobs[1].name",
      "a",
      "a name no other post job has",
    ],
    [[{ name: "a", image: "p:1", command: "x", after: "a b" }], "jobs[0].after", "a b", MARKER_FILE.allowed],
  ])("PostJobs: %j", (jobs, prop, value, allowed) => {
    expectPropsError(() => new PostJobs(bareStack(), { ...POST, jobs }), "PostJobs", prop, value, allowed);
  });

  const selects = "labels that select the pod and not the task pods (which carry app.kubernetes.io/component: job)";
  test.each<[string, Partial<DisruptionBudgetsProps>, string, unknown, string]>([
    ["labels", { labels: { "a b": "c" } }, "labels key", "a b", K8S_LABEL.allowed],
    ["an empty selector would stop every pod's eviction", { redisPodLabels: {} }, "redisPodLabels", {}, selects],
    [
      "a selector of task pods would block drains",
      { redisPodLabels: { "app.kubernetes.io/component": "job" } },
      "redisPodLabels",
      { "app.kubernetes.io/component": "job" },
      selects,
    ],
    ["the NFS server's selector too", { nfsServerPodLabels: { ...JOB_POD_LABELS } }, "nfsServerPodLabels", JOB_POD_LABELS, selects],
  ])("DisruptionBudgets: %s", (_what, props, prop, value, allowed) => {
    expectPropsError(() => new DisruptionBudgets(bareStack(), { ...PDB, ...props }), "DisruptionBudgets", prop, value, allowed);
  });

  test("values known only at apply (tokens) pass the Kubernetes name checks; elsewhere a token fails its rule", () => {
    const token = Token.asString({ ref: 1 });
    expect(() => requireRule("X", "p", token, K8S_NAMESPACE, { allowTokens: true })).not.toThrow();
    expect(() => requireRule("X", "p", token, K8S_NAMESPACE)).toThrow(PropsError);
    expect(
      () =>
        new HyperflowK8s(bareStack(), "H", {
          ...TOP,
          namespace: token,
          nodePools: { master: Token.asString({ ref: 2 }) },
          jobCpuRequest: Token.asString({ ref: 3 }),
        }),
    ).not.toThrow();
    const size = Token.asNumber({ ref: 4 });
    expectPropsError(() => new HyperflowK8s(bareStack(), "H", { ...TOP, workVolumeGiB: size }), "HyperflowK8s", "workVolumeGiB", size, WORK_VOLUME_GIB.allowed);
    expect(
      () => new Redis(bareStack(), { ...ON_MASTER, namespace: Token.asString("${kubernetes_namespace_v1.x.metadata[0].name}"), image: "r:1" }),
    ).not.toThrow();
  });
});
