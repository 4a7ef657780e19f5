/**
 * Redis for the engine: one replica on the master pool, no persistence (so never evicted by the
 * autoscaler: it holds the run's state), its Service, and a NetworkPolicy that admits only the engine and
 * the task pods of this namespace.
 *
 * Why a NetworkPolicy and no password: the job executor runs whatever command it reads from Redis, so
 * Redis must not be reachable by other pods. The engine's own client would take a password from
 * REDIS_URL (hyperflow-wms/hyperflow common/wfRun.js; node-redis 3.1 lib/createClient.js reads the URL's
 * auth), but the URL it puts in every task's command is `"redis://" + rcl.address`, host and port only
 * (hyperflow-wms/hyperflow wflib/index.js, `conf.redis_url`; functions/kubernetes/k8sJobSubmit.js), and
 * the executor connects with exactly that URL (hyperflow-wms/hyperflow-job-executor jobexec.js,
 * `redis.createClient(redisUrl)`). With `requirepass` every task would fail with NOAUTH. The policy needs
 * an enforcing network plugin: Dataplane V2 on GKE (the `gke` stack turns it on; Autopilot has it), the
 * VPC CNI's network policy agent on EKS (the `eks` stack turns it on); on other clusters, your CNI.
 */
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import type { Construct } from "constructs";
import { JOB_POD_LABELS } from "./job-template";
import { type K8sPodProps, objectMeta, podMetadata, podSpec, validatePodProps } from "./pod-spec";

const REDIS_PORT = 6379;
/** Name of the Deployment and the Service. */
const REDIS_NAME = "redis";

/** The URL the engine reaches Redis at, through the Service's cluster DNS name. */
export function redisUrl(namespace: string): string {
  return `redis://${REDIS_NAME}.${namespace}.svc.cluster.local:${REDIS_PORT}`;
}

interface RedisProps extends K8sPodProps {
  /** Redis image (pinned). */
  readonly image: string;
  /**
   * Private CIDRs (the VPC of several clusters) whose task pods reach Redis through an internal network
   * load balancer: the Service becomes a LoadBalancer limited to them, and the NetworkPolicy admits them.
   * @default - none: a ClusterIP Service, reachable from this namespace's engine and task pods only
   */
  readonly remoteClientCidrs?: readonly string[];
}

/** Component labels of the pods that talk to Redis: the engine and the task pods (JOB_POD_LABELS). */
export const REDIS_CLIENT_COMPONENTS = ["engine", JOB_POD_LABELS["app.kubernetes.io/component"]] as const;

/** Adds the Deployment (id "Redis"), the Service (id "RedisService") and the NetworkPolicy (id "RedisNetworkPolicy") to `scope`. */
export class Redis {
  readonly deployment: DeploymentV1;
  readonly service: ServiceV1;
  readonly networkPolicy: NetworkPolicyV1;
  /** With remoteClientCidrs: the URL at the load balancer, which the engine uses and writes into every task's command. */
  readonly loadBalancerUrl?: string;
  /** Labels of the Redis pod (the Service's and a disruption budget's selector). */
  readonly podLabels: Readonly<Record<string, string>> = { "app.kubernetes.io/name": REDIS_NAME, "app.kubernetes.io/part-of": "hyperflow" };

  constructor(scope: Construct, props: RedisProps) {
    validatePodProps("Redis", props);
    const selector = { ...this.podLabels };
    this.deployment = new DeploymentV1(scope, "Redis", {
      metadata: objectMeta(props, REDIS_NAME, "redis"),
      spec: {
        replicas: "1",
        selector: { matchLabels: selector },
        template: {
          metadata: podMetadata({ ...selector, "app.kubernetes.io/component": "redis" }),
          spec: podSpec({
            nodeSelector: props.nodeSelector,
            container: {
              name: "redis",
              image: props.image,
              args: ["--save", "", "--appendonly", "no"],
              ports: [{ containerPort: REDIS_PORT, name: "redis" }],
              resources: { cpu: "100m", memory: "128Mi" },
              readiness: { port: "redis", periodSeconds: 5 },
              securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 999 },
            },
          }),
        },
      },
    });
    const remote = props.remoteClientCidrs ?? [];
    const meta = objectMeta(props, REDIS_NAME, "redis");
    this.service = new ServiceV1(scope, "RedisService", {
      // Internal NLB of the AWS cloud provider (kubernetes/cloud-provider-aws docs/service_controller.md
      // annotations): task pods of the other clusters reach Redis at its name, from the VPC only.
      metadata:
        remote.length > 0
          ? {
              ...meta,
              annotations: {
                "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
              },
            }
          : meta,
      spec:
        remote.length > 0
          ? { selector, type: "LoadBalancer", loadBalancerSourceRanges: [...remote], port: [{ port: REDIS_PORT, targetPort: "redis", name: "redis" }] }
          : { selector, port: [{ port: REDIS_PORT, targetPort: "redis", name: "redis" }] },
      waitForLoadBalancer: remote.length > 0 ? true : undefined,
    });
    if (remote.length > 0) this.loadBalancerUrl = `redis://${this.service.status.get(0).loadBalancer.get(0).ingress.get(0).hostname}:${REDIS_PORT}`;
    // A podSelector without a namespaceSelector matches pods of the policy's own namespace only.
    this.networkPolicy = new NetworkPolicyV1(scope, "RedisNetworkPolicy", {
      metadata: objectMeta(props, REDIS_NAME, "redis"),
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [
              {
                podSelector: {
                  matchLabels: { "app.kubernetes.io/part-of": JOB_POD_LABELS["app.kubernetes.io/part-of"] },
                  matchExpressions: [{ key: "app.kubernetes.io/component", operator: "In", values: [...REDIS_CLIENT_COMPONENTS] }],
                },
              },
              ...remote.map((cidr) => ({ ipBlock: { cidr } })),
            ],
            ports: [{ port: String(REDIS_PORT), protocol: "TCP" }],
          },
        ],
      },
    });
  }
}
