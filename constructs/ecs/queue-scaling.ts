/**
 * Worker scaling on the queue length: an Application Auto Scaling target, a step policy up and one
 * down, and the two CloudWatch alarms that trigger them, all built from one QueueLengthMetric.
 *
 * Fixes against hyperflow-wms/hyperflow-terraform-ecs `alarms.tf` and `autoscaling_policy.tf`: the low
 * alarm compares `<=` (their `< 0` never fires), the down step has an upper bound (a below-threshold
 * breach has no lower bound), and no role_arn is set, so Application Auto Scaling uses its
 * service-linked role instead of the EC2 instance role.
 */
import { AppautoscalingPolicy } from "@cdktf/provider-aws/lib/appautoscaling-policy";
import { AppautoscalingTarget } from "@cdktf/provider-aws/lib/appautoscaling-target";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import type { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import type { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import { QUEUE_SCALING_DEFAULTS } from "../core/defaults";
import { TASK_SCALING_ADJUSTMENT } from "../core/rules";
import { PropsError, requireOrdered, requireRule } from "../core/validation";
import type { Grantee } from "../iam/policy";
import { type QueueLengthMetric, scalingAlarmName } from "./queue-metric";

/** Bounds, steps and alarms of the worker scaling (what a deployment chooses; the wiring is in QueueScalingProps). */
export interface QueueScalingOptions {
  /** Fewest worker tasks. @default 1 */
  readonly minCapacity?: number;
  /** Most worker tasks, at least minCapacity. @default 1000 */
  readonly maxCapacity?: number;
  /** Tasks added or removed per alarm, 1 to 1000. @default 1 */
  readonly scalingAdjustment?: number;
  /** Seconds between two scaling steps. @default 300 */
  readonly cooldownSeconds?: number;
  /** Scale out above this many jobs in the queue. @default 700 */
  readonly highThreshold?: number;
  /** Scale in at or below this many jobs, below highThreshold. @default 0 */
  readonly lowThreshold?: number;
  /** Period of the high alarm; below 60 only with a high-resolution metric. @default 10 */
  readonly highPeriodSeconds?: number;
  /** Period of the low alarm; below 60 only with a high-resolution metric. @default 10 */
  readonly lowPeriodSeconds?: number;
  /** Periods an alarm must breach before it acts. @default 1 */
  readonly evaluationPeriods?: number;
}

export interface QueueScalingProps extends QueueScalingOptions {
  /**
   * Name of the cluster the service runs in. A reference to the cluster resource (not the literal) makes
   * the scalable target and the policy and alarm names wait for the cluster.
   */
  readonly clusterName: string;
  readonly service: EcsService;
  readonly metric: QueueLengthMetric;
}

export class QueueScaling extends Construct {
  /** The scalable target (the worker service's desired count). */
  readonly resource: AppautoscalingTarget;
  readonly scaleUp: AppautoscalingPolicy;
  readonly scaleDown: AppautoscalingPolicy;
  readonly highAlarm: CloudwatchMetricAlarm;
  readonly lowAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: QueueScalingProps) {
    super(scope, id);
    const min = props.minCapacity ?? QUEUE_SCALING_DEFAULTS.minCapacity;
    const max = props.maxCapacity ?? QUEUE_SCALING_DEFAULTS.maxCapacity;
    requireOrdered("QueueScaling", "minCapacity", min, "maxCapacity", max);
    const adjustment = props.scalingAdjustment ?? QUEUE_SCALING_DEFAULTS.scalingAdjustment;
    requireRule("QueueScaling", "scalingAdjustment", adjustment, TASK_SCALING_ADJUSTMENT);
    const high = props.highThreshold ?? QUEUE_SCALING_DEFAULTS.highThreshold;
    const low = props.lowThreshold ?? QUEUE_SCALING_DEFAULTS.lowThreshold;
    if (!(low < high)) throw new PropsError("QueueScaling", "lowThreshold", low, `a number below highThreshold (${high})`);
    const highPeriod = props.highPeriodSeconds ?? QUEUE_SCALING_DEFAULTS.highPeriodSeconds;
    const lowPeriod = props.lowPeriodSeconds ?? QUEUE_SCALING_DEFAULTS.lowPeriodSeconds;
    for (const [name, p] of [
      ["highPeriodSeconds", highPeriod],
      ["lowPeriodSeconds", lowPeriod],
    ] as const) {
      if (p < 60 && props.metric.storageResolution !== 1) {
        throw new PropsError("QueueScaling", name, p, "60 or a multiple of it, unless the metric is published at high resolution");
      }
    }
    const cooldown = props.cooldownSeconds ?? QUEUE_SCALING_DEFAULTS.cooldownSeconds;

    this.resource = new AppautoscalingTarget(this, "Target", {
      serviceNamespace: "ecs",
      resourceId: `service/${props.clusterName}/${props.service.name}`,
      scalableDimension: "ecs:service:DesiredCount",
      minCapacity: min,
      maxCapacity: max,
    });
    const stepPolicy = (pid: string, name: string, step: { metricIntervalLowerBound?: string; metricIntervalUpperBound?: string; scalingAdjustment: number }) =>
      new AppautoscalingPolicy(this, pid, {
        name: `${props.clusterName}-${name}`,
        policyType: "StepScaling",
        serviceNamespace: this.resource.serviceNamespace,
        resourceId: this.resource.resourceId,
        scalableDimension: this.resource.scalableDimension,
        stepScalingPolicyConfiguration: {
          adjustmentType: "ChangeInCapacity",
          cooldown,
          metricAggregationType: "Average",
          stepAdjustment: [step],
        },
      });
    // Step bounds are relative to the alarm threshold: above it for the up alarm, below it for the down alarm.
    this.scaleUp = stepPolicy("ScaleUp", "hyperflow_worker_up", { metricIntervalLowerBound: "0", scalingAdjustment: adjustment });
    this.scaleDown = stepPolicy("ScaleDown", "hyperflow_worker_down", { metricIntervalUpperBound: "0", scalingAdjustment: -adjustment });

    const evaluationPeriods = props.evaluationPeriods ?? QUEUE_SCALING_DEFAULTS.evaluationPeriods;
    const alarm = (
      aid: string,
      direction: "high" | "low",
      p: { comparisonOperator: string; threshold: number; period: number; actions: string[]; description: string },
    ) =>
      new CloudwatchMetricAlarm(this, aid, {
        alarmName: scalingAlarmName(props.clusterName, direction),
        alarmDescription: p.description,
        namespace: props.metric.namespace,
        metricName: props.metric.metricName,
        dimensions: { ...props.metric.dimensions },
        statistic: "Average",
        comparisonOperator: p.comparisonOperator,
        threshold: p.threshold,
        period: p.period,
        evaluationPeriods,
        treatMissingData: "notBreaching",
        alarmActions: p.actions,
      });
    this.highAlarm = alarm("QueueHigh", "high", {
      comparisonOperator: "GreaterThanThreshold",
      threshold: high,
      period: highPeriod,
      actions: [this.scaleUp.arn],
      description: `More than ${high} jobs in ${props.metric.queue}: add ${adjustment} worker task(s)`,
    });
    this.lowAlarm = alarm("QueueLow", "low", {
      comparisonOperator: "LessThanOrEqualToThreshold",
      threshold: low,
      period: lowPeriod,
      actions: [this.scaleDown.arn],
      description: `At most ${low} jobs in ${props.metric.queue}: remove ${adjustment} worker task(s)`,
    });
  }

  /** Lets `grantee` read the state of the two alarms (cloudwatch:DescribeAlarms on their ARNs only). */
  grantDescribeAlarms(grantee: Grantee): IamRolePolicy {
    return grantee.addPolicy("DescribeScalingAlarms", [
      { sid: "DescribeScalingAlarms", actions: ["cloudwatch:DescribeAlarms"], resources: [this.highAlarm.arn, this.lowAlarm.arn] },
    ]);
  }
}
