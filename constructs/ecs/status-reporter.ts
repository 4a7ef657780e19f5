/**
 * Host metrics reporter (disk, network, CPU, memory → InfluxDB) on every container instance, as an ECS
 * daemon service instead of the `docker run` in user data of hyperflow-wms/hyperflow-terraform-ecs `main.tf`.
 */
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import { Construct } from "constructs";
import { STATUS_REPORTER_DEFAULTS } from "../core/defaults";
import { BLOCK_DEVICE, NETWORK_INTERFACE } from "../core/rules";
import { requireRule } from "../core/validation";
import type { ClusterContext } from "./cluster-context";
import { Task } from "./task";

/** Which host devices the reporter watches (what a deployment chooses; the wiring is in StatusReporterProps). */
export interface StatusReporterOptions {
  /** Block device whose I/O is reported (DISK_DEVICE). @default "nvme0n1p1" */
  readonly diskDevice?: string;
  /** Network interface whose traffic is reported (INTERFACE). @default "ens5" */
  readonly networkInterface?: string;
}

export interface StatusReporterProps extends StatusReporterOptions {
  readonly cluster: ClusterContext;
  readonly image: string;
  /** InfluxDB URL `http://<host>:8086/<database>` (METRIC_COLLECTOR). */
  readonly metricsUrl: string;
}

export class StatusReporter extends Construct {
  /** The daemon service. */
  readonly resource: EcsService;
  readonly task: Task;

  constructor(scope: Construct, id: string, props: StatusReporterProps) {
    super(scope, id);
    const diskDevice = props.diskDevice ?? STATUS_REPORTER_DEFAULTS.diskDevice;
    const networkInterface = props.networkInterface ?? STATUS_REPORTER_DEFAULTS.networkInterface;
    requireRule("StatusReporter", "diskDevice", diskDevice, BLOCK_DEVICE);
    requireRule("StatusReporter", "networkInterface", networkInterface, NETWORK_INTERFACE);
    const { clusterName, clusterArn, executionRole, logRetentionDays } = props.cluster;
    this.task = new Task(this, "Task", {
      family: `${clusterName}-hyperflow-status-reporter`,
      networkMode: "host",
      executionRoleArn: executionRole.roleArn,
      logGroupName: `/hyperflow/${clusterName}/status-reporter`,
      logRetentionDays,
      containers: [
        {
          name: "status-reporter",
          image: props.image,
          memoryReservationMiB: 64,
          environment: {
            DISK_DEVICE: diskDevice,
            INTERFACE: networkInterface,
            METRIC_COLLECTOR: props.metricsUrl,
          },
        },
      ],
    });
    this.resource = new EcsService(this, "Service", {
      name: "hyperflow-status-reporter",
      cluster: clusterArn,
      taskDefinition: this.task.resource.arn,
      launchType: "EC2",
      schedulingStrategy: "DAEMON",
      propagateTags: "TASK_DEFINITION",
      enableEcsManagedTags: true,
    });
  }
}
