/**
 * hyperflow-infra as a library: the constructs, their props, the grant helpers and the shared rules and
 * defaults, for a cdktf app of your own. Build a `TerraformStack` with an `AwsProvider` (plus a
 * `RandomProvider` for the generated passwords of `HyperflowEcs` and `MonitoringHost`; the kubernetes and
 * helm providers for `HyperflowK8s`), then compose, e.g. `Network` + `HyperflowEcs` + `WorkflowBucket`;
 * the constructs never read a config file, the environment or argv.
 *
 * Not exported: the `hflow-infra` CLI, the stacks (the app's mapping from hyperflow.config.json to
 * props) and the runner's client library (upload, engine start and follow).
 */

// Shared across constructs: stack environment, errors, Terraform escaping, rules and defaults.
export { AwsEnvironment } from "./constructs/core/aws-environment";
export { PropsError, requireRule, type RequireRuleOptions } from "./constructs/core/validation";
export { terraformLiteral } from "./constructs/core/terraform-string";
export * from "./constructs/core/rules";
export * from "./constructs/core/defaults";

// IAM: policy documents, the one role construct, and grants.
export {
  bucketStatements,
  grantPutMetricData,
  type Grantee,
  ImportedRole,
  policyDocument,
  type PolicyConditions,
  type PolicyStatement,
  secretReadStatements,
  ServiceRole,
  type ServiceRoleProps,
} from "./constructs/iam/policy";

// Network and storage.
export { type DefaultVpcNetworkProps, type ExistingVpcNetworkProps, Network, type NetworkProps, type NewVpcNetworkProps } from "./constructs/network/network";
export { type BucketRef, WorkflowBucket, type WorkflowBucketProps } from "./constructs/storage/workflow-bucket";

// HyperFlow on ECS and its parts.
export { HyperflowEcs, type HyperflowEcsImages, type HyperflowEcsProps } from "./constructs/ecs/hyperflow-ecs";
export type { ClusterContext } from "./constructs/ecs/cluster-context";
export { Master, type MasterProps } from "./constructs/ecs/master";
export type { Broker, BrokerConnection, BrokerOptions } from "./constructs/ecs/broker";
export {
  EcsLaunchTemplate,
  type EcsLaunchTemplateProps,
  type InstanceKind,
  WorkerCapacity,
  type WorkerCapacityOptions,
  type WorkerCapacityProps,
} from "./constructs/ecs/instances";
export { type ExecutorStorage, WorkerService, type WorkerServiceOptions, type WorkerServiceProps } from "./constructs/ecs/workers";
export { QueueScaling, type QueueScalingOptions, type QueueScalingProps } from "./constructs/ecs/queue-scaling";
export {
  AMQP_PORT,
  JOBS_QUEUE,
  METRIC_NAMESPACE,
  QUEUE_LENGTH_METRIC_NAME,
  type QueueLengthMetric,
  queueLengthMetric,
  RABBITMQ_MANAGEMENT_PORT,
} from "./constructs/ecs/queue-metric";
export { StatusReporter, type StatusReporterOptions, type StatusReporterProps } from "./constructs/ecs/status-reporter";
export {
  type ContainerDependency,
  type ContainerHealthCheck,
  type ContainerSecret,
  type ContainerSpec,
  type MountPoint,
  type PortMapping,
  Task,
  type TaskProps,
  type TaskVolume,
  type Ulimit,
} from "./constructs/ecs/task";

// The engine on ECS and the job upload.
export { type EngineSidecars, EngineTask, type EngineTaskOptions, type EngineTaskProps } from "./constructs/engine/engine-task";
export { JobUpload, type JobUploadProps } from "./constructs/engine/job-upload";

// Image repositories, and the content tags of this project's images.
export { ImageRepository, type ImageRepositoryProps, lifecyclePolicy, type RepositoryEncryption, repositoryName } from "./constructs/ecr/image-repository";
export { DEFAULT_BASE, IMAGE_NAMES, type ImageName, imageTag, type ImageTagOptions } from "./images/tag";

// Monitoring.
export { MonitoringHost, type MonitoringHostProps } from "./constructs/monitoring/monitoring-host";

// Kubernetes clusters and HyperFlow on Kubernetes.
export { EksCluster, type EksClusterProps, type EksNodePoolOptions, type EksWorkerPoolOptions } from "./constructs/eks/eks-cluster";
export { EksClusterSupport, type EksClusterSupportProps } from "./constructs/eks/eks-cluster-support";
export { GkeCluster, type GkeClusterProps, type GkeNodePoolOptions, type GkeReleaseChannel, type GkeWorkerPoolOptions } from "./constructs/gke/gke-cluster";
export { HyperflowK8s, type HyperflowK8sParts, type HyperflowK8sProps, type NodePools, type PostJob, WORK_DIR } from "./constructs/k8s/hyperflow-k8s";
export type { ResourceRequests } from "./constructs/k8s/pod-spec";
export type { RemoteCluster } from "./constructs/k8s/hyperflow-k8s";
export { HyperflowK8sWorkers, type HyperflowK8sWorkersProps } from "./constructs/k8s/workers";
export { type JuiceFsClient, JuiceFsStore, type JuiceFsStoreProps } from "./constructs/juicefs/juicefs-store";
export { JuiceFsCsi, type JuiceFsCsiProps, type JuiceFsVolumeCredentials } from "./constructs/juicefs/juicefs-csi";

// The job-template contract with HyperFlow's k8sCommand.
export {
  ENGINE_PLACEHOLDERS,
  JOB_POD_LABELS,
  jobTemplate,
  type JobTemplateOptions,
  type Placeholder,
  placeholdersIn,
  renderLikeEngine,
} from "./constructs/k8s/job-template";
