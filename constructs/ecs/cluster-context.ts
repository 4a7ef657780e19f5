/**
 * What the constructs of one HyperFlow ECS cluster share, handed to each as one object (the role of
 * aws-cdk's `ICluster`). Account, partition and region are not part of it: every construct reads them
 * from `AwsEnvironment.of(this)`.
 */
import type { ServiceRole } from "../iam/policy";

export interface ClusterContext {
  /** Literal cluster name: it also names task families, log groups and services' companions. */
  readonly clusterName: string;
  /** ARN of the cluster (a reference), where services run. */
  readonly clusterArn: string;
  /** Execution role of the cluster's tasks: pull images, write logs, read secrets granted to it. */
  readonly executionRole: ServiceRole;
  /** Retention of the tasks' log groups, in days (a value CloudWatch Logs accepts). */
  readonly logRetentionDays: number;
}
