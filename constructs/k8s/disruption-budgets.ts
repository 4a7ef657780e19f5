/**
 * PodDisruptionBudgets for the long-lived pods that hold state (Redis, the NFS server). Their selectors
 * never match task pods (JOB_POD_LABELS), so drains and the cluster autoscaler's scale-down still work.
 */
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import type { Construct } from "constructs";
import { PropsError } from "../core/validation";
import { JOB_POD_LABELS } from "./job-template";
import { type K8sObjectProps, objectMeta, requireLabels } from "./pod-spec";

export interface DisruptionBudgetsProps extends K8sObjectProps {
  /** Labels of the Redis pod. */
  readonly redisPodLabels: Readonly<Record<string, string>>;
  /** Labels of the NFS server pod. @default - no NFS server, so no budget for it */
  readonly nfsServerPodLabels?: Readonly<Record<string, string>>;
  /** Namespace of the NFS server (a budget selects pods of its own namespace only). @default - namespace */
  readonly nfsNamespace?: string;
}

/** Adds "RedisPdb" and, with an NFS server, "NfsPdb" to `scope`; both allow no voluntary disruption. */
export class DisruptionBudgets {
  readonly redis: PodDisruptionBudgetV1;
  readonly nfsServer?: PodDisruptionBudgetV1;

  constructor(scope: Construct, props: DisruptionBudgetsProps) {
    requireLabels("DisruptionBudgets", "labels", props.labels ?? {});
    requireSelector("redisPodLabels", props.redisPodLabels);
    if (props.nfsServerPodLabels) requireSelector("nfsServerPodLabels", props.nfsServerPodLabels);

    this.redis = new PodDisruptionBudgetV1(scope, "RedisPdb", {
      metadata: objectMeta(props, "redis", "redis"),
      spec: { maxUnavailable: "0", selector: { matchLabels: { ...props.redisPodLabels } } },
    });
    if (props.nfsServerPodLabels) {
      this.nfsServer = new PodDisruptionBudgetV1(scope, "NfsPdb", {
        metadata: objectMeta({ ...props, namespace: props.nfsNamespace ?? props.namespace }, "nfs-server", "storage"),
        spec: { maxUnavailable: "0", selector: { matchLabels: { ...props.nfsServerPodLabels } } },
      });
    }
  }
}

/** A selector that names some pods, and never every task pod. */
function requireSelector(prop: string, labels: Readonly<Record<string, string>>): void {
  requireLabels("DisruptionBudgets", prop, labels);
  const entries = Object.entries(labels);
  const jobLabels: Readonly<Record<string, string>> = JOB_POD_LABELS;
  if (entries.length === 0 || entries.every(([k, v]) => jobLabels[k] === v)) {
    throw new PropsError("DisruptionBudgets", prop, labels, "labels that select the pod and not the task pods (which carry app.kubernetes.io/component: job)");
  }
}
