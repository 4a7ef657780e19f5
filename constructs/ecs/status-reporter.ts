/**
 * Host metrics reporter (disk, network, CPU, memory → InfluxDB) on every container instance, as an ECS
 * daemon service instead of the seed's `docker run` in user data.
 */
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import { Construct } from "constructs";
import { STATUS_REPORTER_DEFAULTS } from "../core/defaults";
import type { ServiceRole } from "../iam/policy";
import { Task } from "./task";

export interface StatusReporterProps {
  readonly clusterName: string;
  readonly clusterArn: string;
  readonly region: string;
  readonly executionRole: ServiceRole;
  readonly image: string;
  /** InfluxDB URL `http://<host>:8086/<database>` (METRIC_COLLECTOR). */
  readonly metricsUrl: string;
  readonly logRetentionDays: number;
  /** @default "nvme0n1p1" */
  readonly diskDevice?: string;
  /** @default "ens5" */
  readonly networkInterface?: string;
}

export class StatusReporter extends Construct {
  readonly service: EcsService;
  readonly task: Task;
  constructor(scope: Construct, id: string, props: StatusReporterProps) {
    super(scope, id);
    this.task = new Task(this, "Task", {
      family: `${props.clusterName}-hyperflow-status-reporter`,
      networkMode: "host",
      executionRoleArn: props.executionRole.role.arn,
      logGroupName: `/hyperflow/${props.clusterName}/status-reporter`,
      logRetentionDays: props.logRetentionDays,
      region: props.region,
      containers: [
        {
          name: "status-reporter",
          image: props.image,
          memoryReservationMiB: 64,
          environment: {
            DISK_DEVICE: props.diskDevice ?? STATUS_REPORTER_DEFAULTS.diskDevice,
            INTERFACE: props.networkInterface ?? STATUS_REPORTER_DEFAULTS.networkInterface,
            METRIC_COLLECTOR: props.metricsUrl,
          },
        },
      ],
    });
    this.service = new EcsService(this, "Service", {
      name: "hyperflow-status-reporter",
      cluster: props.clusterArn,
      taskDefinition: this.task.definition.arn,
      launchType: "EC2",
      schedulingStrategy: "DAEMON",
      propagateTags: "TASK_DEFINITION",
      enableEcsManagedTags: true,
    });
  }
}
