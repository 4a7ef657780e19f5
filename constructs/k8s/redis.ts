/** Redis for the engine: one replica on the master pool, no persistence, and its Service. */
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import type { Construct } from "constructs";
import { type K8sPodProps, objectMeta, podSpec, validatePodProps } from "./pod-spec";

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
}

/** Adds the Deployment (id "Redis") and the Service (id "RedisService") to `scope`. */
export class Redis {
  readonly deployment: DeploymentV1;
  readonly service: ServiceV1;
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
          metadata: { labels: { ...selector, "app.kubernetes.io/component": "redis" } },
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
    this.service = new ServiceV1(scope, "RedisService", {
      metadata: objectMeta(props, REDIS_NAME, "redis"),
      spec: { selector, port: [{ port: REDIS_PORT, targetPort: "redis", name: "redis" }] },
    });
  }
}
