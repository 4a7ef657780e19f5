/**
 * The names of a container app's AWS resources that something outside Terraform addresses by name:
 * the job queues and job definition `hflow-infra app run` submits to, and the Lambda function
 * `hflow-infra app run --on lambda` invokes. One home for the constructs (constructs/batch/app.ts,
 * compute.ts) and the CLI (cli/commands/app.ts); a leaf module, so the CLI reads it without loading cdktf.
 */

/** Which queue a job goes to: single-node EC2 (Spot first when enabled), multi-node (on-demand EC2), Fargate. */
export type QueueKind = "ec2" | "multinode" | "fargate";

/** Job queue name of one kind: `<stack name>-<kind>`. */
export function queueName(stackName: string, kind: QueueKind): string {
  return `${stackName}-${kind}`;
}

/** Which queue an app's jobs go to. */
export function queueKindOf(app: { nodes: number; fargate: boolean }): QueueKind {
  return app.nodes > 1 ? "multinode" : app.fargate ? "fargate" : "ec2";
}

/** The job definition's name: `<stack name>-<app>` (what `app run` and the trigger submit by). */
export function jobDefinitionName(stackName: string, appName: string): string {
  return `${stackName}-${appName}`;
}

/** The Lambda function of an app with `lambda: true`: the same name as its job definition. */
export function appFunctionName(stackName: string, appName: string): string {
  return jobDefinitionName(stackName, appName);
}
