/**
 * The `k8s` stack: HyperFlow installed on a Kubernetes cluster. The kubernetes and helm providers are
 * configured from data sources that read the cluster when this stack is applied (after the cluster
 * stack), never from a cluster created in the same run, so the first deploy does not fall into the
 * "dial tcp 127.0.0.1:80" pitfall. EKS tokens come from `aws eks get-token` at each run (no stored token).
 * With kubernetes.clusters: a kubernetes and a helm provider per cluster (alias = cluster name), JuiceFS on
 * every cluster, the engine on the engine cluster and what its task jobs need on the workers clusters.
 */
import { DataAwsEksCluster } from "@cdktf/provider-aws/lib/data-aws-eks-cluster";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { DataGoogleClientConfig } from "@cdktf/provider-google/lib/data-google-client-config";
import { DataGoogleContainerCluster } from "@cdktf/provider-google/lib/data-google-container-cluster";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { DataAwsSecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-secret-version";
import { Fn, TerraformDataSource, TerraformOutput, TerraformResource, TerraformStack, Token } from "cdktf";
import { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { EksClusterSupport } from "../constructs/eks/eks-cluster-support";
import { terraformLiteral } from "../constructs/core/terraform-string";
import { CLUSTERS_DIR } from "../constructs/k8s/engine";
import { HyperflowK8s, type HyperflowK8sProps, type RemoteCluster } from "../constructs/k8s/hyperflow-k8s";
import { HyperflowK8sWorkers, REMOTE_ENGINE_NAME } from "../constructs/k8s/workers";
import { JuiceFsCsi } from "../constructs/juicefs/juicefs-csi";
import type { JuiceFsStore } from "../constructs/juicefs/juicefs-store";
import { applyBackend } from "./base";
import { clusterId, eksClusterName, eksVpcCidr, type EksStack } from "./eks";
import { gkeClusterName } from "./gke";

interface Connection {
  readonly host?: string;
  readonly clusterCaCertificate?: string;
  readonly token?: string;
  readonly exec?: { apiVersion: string; command: string; args: string[] };
  readonly configPath?: string;
  readonly configContext?: string;
}

export class K8sStack extends TerraformStack {
  readonly hyperflow: HyperflowK8s;
  /** With kubernetes.clusters: HyperFlow's part on each workers cluster, by name. */
  readonly workers = new Map<string, HyperflowK8sWorkers>();
  /** With kubernetes.clusters: the JuiceFS driver, secret and class on each cluster, by name. */
  readonly juicefs = new Map<string, JuiceFsCsi>();
  /** @param eks the `eks` stack (its JuiceFS secret, with kubernetes.clusters) */
  constructor(scope: Construct, id: string, config: HyperflowConfig, eks?: EksStack) {
    super(scope, id);
    const k = config.kubernetes;
    applyBackend(this, id, config.backend, config.region);
    if (k.clusters.length > 0) {
      if (!eks?.juicefs) throw new Error("K8sStack: kubernetes.clusters needs the eks stack with its JuiceFS store");
      this.hyperflow = this.multi(config, eks.juicefs);
      return;
    }
    const conn = this.connection(config);
    new KubernetesProvider(this, "kubernetes", { ...conn, exec: conn.exec ? [conn.exec] : undefined });
    new HelmProvider(this, "helm", { kubernetes: conn });

    // EKS has no default storage class and its worker pool starts at 0 nodes: a gp3 class for the NFS
    // server's disk and the cluster autoscaler. Id "Default" leaves the construct out of resource addresses.
    const eksSupport =
      k.cluster === "eks"
        ? new EksClusterSupport(this, "Default", {
            clusterName: eksClusterName(config),
            region: config.region,
            kubernetesVersion: k.eks.version,
            nodeSelector: { [k.nodeLabelKey]: k.masterPool },
          })
        : undefined;

    this.hyperflow = new HyperflowK8s(this, "Hyperflow", {
      ...this.workloadProps(config),
      storageClass: k.storageClass,
      nfsBackingStorageClass: eksSupport?.gp3StorageClass.metadata.name,
    });
    new TerraformOutput(this, "namespace", { value: k.namespace, description: "Namespace of HyperFlow" });
    new TerraformOutput(this, "engine_logs_command", {
      value: `kubectl -n ${k.namespace} logs -f job/hyperflow-engine`,
      description: "Follow the engine",
    });
  }

  /** The workload's props from config that every cluster shape shares. */
  private workloadProps(config: HyperflowConfig): HyperflowK8sProps {
    const k = config.kubernetes;
    return {
      namespace: k.namespace,
      autopilot: k.cluster === "gke" && k.gke.autopilot,
      nodePools: { labelKey: k.nodeLabelKey, master: k.masterPool, worker: k.workerPool },
      workVolumeGiB: k.workVolumeGiB,
      engineImage: k.engineImage,
      workerImage: k.workerImage,
      redisImage: k.redisImage,
      dataImage: k.dataImage,
      jobCpuRequest: k.jobCpuRequest,
      jobMemRequest: k.jobMemRequest,
      retries: k.retries,
      backoffLimit: k.backoffLimit,
      engineDeadlineSeconds: k.engineDeadlineSeconds,
      disruptionBudgets: k.disruptionBudgets,
      postJobs: k.postJobs,
    };
  }

  private connection(config: HyperflowConfig): Connection {
    const k = config.kubernetes;
    switch (k.cluster) {
      case "eks": {
        new AwsProvider(this, "aws", { region: config.region });
        const name = eksClusterName(config);
        const cluster = new DataAwsEksCluster(this, "Cluster", { name });
        return {
          host: cluster.endpoint,
          clusterCaCertificate: Fn.base64decode(cluster.certificateAuthority.get(0).data),
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: ["eks", "get-token", "--cluster-name", name, "--region", config.region],
          },
        };
      }
      case "gke": {
        new GoogleProvider(this, "google", { project: k.gke.project });
        const client = new DataGoogleClientConfig(this, "Client");
        const cluster = new DataGoogleContainerCluster(this, "Cluster", { name: gkeClusterName(config), location: k.gke.location, project: k.gke.project });
        return {
          host: `https://${cluster.endpoint}`,
          token: client.accessToken,
          clusterCaCertificate: Fn.base64decode(cluster.masterAuth.get(0).clusterCaCertificate),
        };
      }
      default:
        // A path and a context name are free text: Terraform must not read `${` in them.
        return { configPath: terraformLiteral(k.kubeconfigPath), configContext: k.context === undefined ? undefined : terraformLiteral(k.context) };
    }
  }

  /**
   * kubernetes.clusters: on every cluster its providers (an alias per cluster name), what EKS lacks
   * (EksClusterSupport) and the JuiceFS CSI driver with its class; HyperFlow on the engine cluster with
   * /work_dir on JuiceFS, Redis behind an internal load balancer for the other clusters' task pods, and
   * a kubeconfig per workers cluster; on the workers clusters the namespace, the claim and the engine's
   * job-creating ServiceAccount.
   */
  private multi(config: HyperflowConfig, store: JuiceFsStore): HyperflowK8s {
    const k = config.kubernetes;
    new AwsProvider(this, "aws", { region: config.region });
    const secret = new DataAwsSecretsmanagerSecretVersion(this, "JuiceFsSecret", { secretId: store.secret.arn });
    const credentials = Fn.jsondecode(secret.secretString);
    const field = (key: string) => Token.asString(Fn.lookup(credentials, key, ""));
    const { juicefs, workers } = this;
    const kubeconfigs: RemoteCluster[] = [];
    const masterSelector = { [k.nodeLabelKey]: k.masterPool };
    let hyperflow: HyperflowK8s | undefined;
    // Workers clusters first: the engine cluster's kubeconfig Secret carries their tokens.
    const ordered = [...k.clusters.filter((c) => c.role === "workers"), ...k.clusters.filter((c) => c.role === "engine")];
    for (const c of ordered) {
      const id = clusterId(c.name);
      const data = new DataAwsEksCluster(this, `Cluster${id}`, { name: c.name });
      const conn: Connection = {
        host: data.endpoint,
        clusterCaCertificate: Fn.base64decode(data.certificateAuthority.get(0).data),
        exec: {
          apiVersion: "client.authentication.k8s.io/v1beta1",
          command: "aws",
          args: ["eks", "get-token", "--cluster-name", c.name, "--region", config.region],
        },
      };
      const kubernetes = new KubernetesProvider(this, `kubernetes-${c.name}`, { ...conn, exec: [conn.exec!], alias: c.name });
      const helm = new HelmProvider(this, `helm-${c.name}`, { kubernetes: conn, alias: c.name });
      const scope = new Construct(this, `On${id}`);
      new EksClusterSupport(scope, "Support", { clusterName: c.name, region: config.region, kubernetesVersion: k.eks.version, nodeSelector: masterSelector });
      const csi = new JuiceFsCsi(scope, "JuiceFs", {
        credentials: { name: field("name"), metaurl: field("metaurl"), storage: field("storage"), bucket: field("bucket") },
        controllerNodeSelector: masterSelector,
        nodeTaints: { [k.nodeLabelKey]: k.workerPool },
      });
      juicefs.set(c.name, csi);
      if (c.role === "workers") {
        const w = new HyperflowK8sWorkers(scope, "Hyperflow", {
          namespace: k.namespace,
          storageClass: csi.storageClass.metadata.name,
          workVolumeGiB: k.workVolumeGiB,
        });
        workers.set(c.name, w);
        kubeconfigs.push({ name: c.name, kubeconfig: workersKubeconfig(c.name, data, w.token, k.namespace) });
      } else {
        hyperflow = new HyperflowK8s(scope, "Hyperflow", {
          ...this.workloadProps(config),
          storageClass: csi.storageClass.metadata.name,
          redisRemoteClientCidrs: kubeconfigs.length > 0 ? [eksVpcCidr()] : undefined,
          remoteClusters: kubeconfigs,
        });
      }
      useProviders(scope, kubernetes, helm);
    }
    const engine = k.clusters.find((c) => c.role === "engine")!.name;
    new TerraformOutput(this, "namespace", { value: k.namespace, description: "Namespace of HyperFlow (on every cluster)" });
    new TerraformOutput(this, "engine_logs_command", {
      value: `kubectl --context ${engine} -n ${k.namespace} logs -f job/hyperflow-engine`,
      description: "Follow the engine (contexts as named by the eks stack's kubeconfig_command_* outputs)",
    });
    new TerraformOutput(this, "workers_jobvars", {
      value: Object.fromEntries([...workers.keys()].map((name) => [name, JSON.stringify({ kubeConfigPath: `${CLUSTERS_DIR}/${name}.kubeconfig` })])),
      description: "Per workers cluster: the content of workflow.config.jobvars<N>.json that sends the tasks of partition N there",
    });
    return hyperflow!;
  }
}

/** Gives every kubernetes and helm resource under `scope` the cluster's provider (they have no default one). */
function useProviders(scope: Construct, kubernetes: KubernetesProvider, helm: HelmProvider): void {
  for (const node of scope.node.findAll()) {
    if (node instanceof TerraformResource || node instanceof TerraformDataSource) {
      if (node.terraformResourceType.startsWith("helm_")) node.provider = helm;
      else if (node.terraformResourceType.startsWith("kubernetes_")) node.provider = kubernetes;
    }
  }
}

/**
 * The engine's kubeconfig for a workers cluster: its private endpoint (reachable from the engine
 * cluster's nodes in the shared VPC, which the eks stack admits on 443), its CA, and the token of the
 * job-creating ServiceAccount. JSON is YAML, which @kubernetes/client-node's loadFromFile reads.
 */
function workersKubeconfig(name: string, cluster: DataAwsEksCluster, token: string, namespace: string): string {
  return Fn.jsonencode({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server: cluster.endpoint, "certificate-authority-data": cluster.certificateAuthority.get(0).data } }],
    users: [{ name: REMOTE_ENGINE_NAME, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: REMOTE_ENGINE_NAME, namespace } }],
    "current-context": name,
  });
}
