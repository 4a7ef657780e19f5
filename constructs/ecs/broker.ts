/**
 * The broker: RabbitMQ on the master, with the queue-length publisher beside it (which also feeds the
 * dashboards when an InfluxDB URL is given). Credentials are generated and delivered to containers as
 * Secrets Manager references, never as plaintext environment.
 *
 * The broker is a part of the `Master` construct, not a construct of its own: its resources are children
 * of the master, where they have always been, so their Terraform addresses (and the generated password)
 * stay when the code is reorganised.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { EcsService } from "@cdktf/provider-aws/lib/ecs-service";
import type { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { Password } from "@cdktf/provider-random/lib/password";
import { Fn } from "cdktf";
import type { Construct } from "constructs";
import { AwsEnvironment } from "../core/aws-environment";
import { ECS_DEFAULTS } from "../core/defaults";
import { boundedPrefix, NAME_PREFIX_MAX } from "../core/names";
import { RECOVERY_WINDOW } from "../core/rules";
import { requireRule } from "../core/validation";
import { type Grantee, grantPutMetricData, secretReadStatements, ServiceRole } from "../iam/policy";
import type { ClusterContext } from "./cluster-context";
import { placementFor } from "./instances";
import { AMQP_PORT, monitoringEnvironment, publisherEnvironment, type QueueLengthMetric, RABBITMQ_MANAGEMENT_PORT } from "./queue-metric";
import { Task } from "./task";
import { WORKER_SERVICE_NAME } from "./workers";

/** Name of the broker's user in RabbitMQ. */
const BROKER_USER = "hyperflow";
/** Name of the RabbitMQ container (the master container's name in hyperflow-wms/hyperflow-terraform-ecs `task-hyperflow-master.json`). */
const BROKER_CONTAINER = "hyperflow-master";
const PUBLISHER_CONTAINER = "queue-length-publisher";
/** Name of the broker's ECS service (anchor: `hyperflow-service-master`). */
const MASTER_SERVICE_NAME = "hyperflow-service-master";

/**
 * Erlang VM arguments of the broker (RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS, read by rabbitmq-server's
 * start script; the image's docker-entrypoint.sh passes it on). `consumer_timeout` (30 min by default)
 * closes the channel of a consumer that holds an unacknowledged delivery longer than that and requeues
 * the message: every job running longer would be run again by another worker. The executor acknowledges
 * a job when it is done, so the timeout is off: `undefined`, which rabbitmq/rabbitmq-server
 * deps/rabbit/src/rabbit_channel.erl `get_consumer_timeout/0` reads as "no timeout" (anything but an
 * integer). A worker that dies still closes its connection, and its job is redelivered; the engine's own
 * time limit (runner.timeoutSeconds) bounds a run. Arguments given on the command line override the
 * configuration files.
 */
export const BROKER_ERL_ARGS = "-rabbit consumer_timeout undefined";

/** The publisher script shipped into the publisher container (see queue-length-publisher.js). */
export function publisherScript(): string {
  return fs.readFileSync(path.join(__dirname, "queue-length-publisher.js"), "utf8");
}

/** What clients of the broker (workers, the engine) need: the AMQP URL and permission to read it. */
export interface BrokerConnection {
  /** Secrets Manager reference to the full AMQP URL (with credentials and the master's private address). */
  readonly amqpUrlSecretRef: string;
  /** Lets `grantee` read the broker secret (an execution role that resolves `amqpUrlSecretRef`). */
  grantSecretRead(grantee: Grantee): IamRolePolicy;
}

/** What the broker runs and how (the master supplies the host). */
export interface BrokerOptions {
  /** RabbitMQ image with the management plugin. */
  readonly image: string;
  /** Node.js image that runs the queue-length publisher. */
  readonly publisherImage: string;
  /** The metric the publisher sends and the worker alarms watch. */
  readonly metric: QueueLengthMetric;
  /**
   * InfluxDB URL the publisher writes the queue, alarm states and ECS counts and utilization to (its task
   * role then needs the read grants HyperflowEcs adds). @default - none: CloudWatch only
   */
  readonly metricsUrl?: string;
  /** Days Secrets Manager keeps the deleted broker secret: 0 (at once) or 7 to 30. @default 7 */
  readonly secretRecoveryDays?: number;
}

/** Where the master puts the broker. */
interface BrokerProps extends BrokerOptions {
  readonly cluster: ClusterContext;
  /** Private address of the master (goes into the AMQP URL). */
  readonly hostPrivateIp: string;
  /** @default - none */
  readonly tags?: Readonly<Record<string, string>>;
}

/** RabbitMQ credentials, task and service, created in the master's scope (see the file comment). */
export class Broker implements BrokerConnection {
  /** Check the props before the master builds anything. */
  static validate(options: BrokerOptions): void {
    requireRule("Master", "broker.secretRecoveryDays", options.secretRecoveryDays ?? ECS_DEFAULTS.secretRecoveryDays, RECOVERY_WINDOW);
  }

  readonly secret: SecretsmanagerSecret;
  readonly amqpUrlSecretRef: string;
  readonly taskRole: ServiceRole;
  readonly task: Task;
  readonly service: EcsService;

  constructor(master: Construct, props: BrokerProps) {
    const { clusterName } = props.cluster;
    const password = new Password(master, "Password", { length: 32, special: false });
    this.secret = new SecretsmanagerSecret(master, "Secret", {
      namePrefix: boundedPrefix(clusterName, "/broker-", NAME_PREFIX_MAX.secret),
      description: `RabbitMQ credentials and AMQP URL of HyperFlow cluster ${clusterName}`,
      recoveryWindowInDays: props.secretRecoveryDays ?? ECS_DEFAULTS.secretRecoveryDays,
    });
    new SecretsmanagerSecretVersion(master, "SecretValue", {
      secretId: this.secret.id,
      secretString: Fn.jsonencode({
        username: BROKER_USER,
        password: password.result,
        amqp_url: `amqp://${BROKER_USER}:${password.result}@${props.hostPrivateIp}:${AMQP_PORT}`,
      }),
    });
    const ref = (key: string) => `${this.secret.arn}:${key}::`;
    this.amqpUrlSecretRef = ref("amqp_url");
    this.grantSecretRead(props.cluster.executionRole);

    this.taskRole = new ServiceRole(master, "TaskRole", {
      service: "ecs-tasks.amazonaws.com",
      namePrefix: `${clusterName}-master-task-`,
      description: `HyperFlow master tasks of ${clusterName}: publish the queue length`,
      sourceAccount: AwsEnvironment.of(master).accountId,
    });
    grantPutMetricData(this.taskRole, props.metric.namespace);

    this.task = new Task(master, "Task", {
      family: `${clusterName}-hyperflow-master`,
      networkMode: "host",
      executionRoleArn: props.cluster.executionRole.roleArn,
      taskRoleArn: this.taskRole.roleArn,
      logGroupName: `/hyperflow/${clusterName}/master`,
      logRetentionDays: props.cluster.logRetentionDays,
      containers: [
        {
          name: BROKER_CONTAINER,
          image: props.image,
          memoryReservationMiB: 512,
          portMappings: [
            { containerPort: AMQP_PORT, hostPort: AMQP_PORT },
            { containerPort: RABBITMQ_MANAGEMENT_PORT, hostPort: RABBITMQ_MANAGEMENT_PORT },
          ],
          // No INFLUX_DB: the seed's master image read it, the stock RabbitMQ image does not; the publisher writes the queue.
          environment: { RABBITMQ_DEFAULT_USER: BROKER_USER, RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: BROKER_ERL_ARGS },
          secrets: [{ name: "RABBITMQ_DEFAULT_PASS", valueFrom: ref("password") }],
          healthCheck: { command: ["CMD-SHELL", "rabbitmq-diagnostics -q ping"], intervalSeconds: 30, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 60 },
          ulimits: [{ name: "nofile", softLimit: 65536, hardLimit: 65536 }],
        },
        {
          name: PUBLISHER_CONTAINER,
          image: props.publisherImage,
          essential: false,
          memoryReservationMiB: 64,
          memoryMiB: 128,
          command: ["sh", "-c", 'exec node -e "$HF_PUBLISHER_JS"'],
          environment: {
            ...publisherEnvironment(props.metric, AwsEnvironment.of(master).region),
            ...(props.metricsUrl
              ? monitoringEnvironment({
                  influxUrl: props.metricsUrl,
                  clusterName,
                  masterServiceName: MASTER_SERVICE_NAME,
                  workerServiceName: WORKER_SERVICE_NAME,
                })
              : {}),
            HF_PUBLISHER_RUN: "1",
            HF_PUBLISHER_JS: publisherScript(),
          },
          secrets: [
            { name: "RABBITMQ_USER", valueFrom: ref("username") },
            { name: "RABBITMQ_PASS", valueFrom: ref("password") },
          ],
          dependsOn: [{ containerName: BROKER_CONTAINER, condition: "HEALTHY" }],
        },
      ],
    });

    this.service = new EcsService(master, "Service", {
      name: MASTER_SERVICE_NAME,
      cluster: props.cluster.clusterArn,
      taskDefinition: this.task.resource.arn,
      desiredCount: 1,
      launchType: "EC2",
      placementConstraints: [placementFor("master")],
      // One broker on fixed host ports: stop the old task before starting the new one.
      deploymentMinimumHealthyPercent: 0,
      deploymentMaximumPercent: 100,
      propagateTags: "TASK_DEFINITION",
      enableEcsManagedTags: true,
      tags: props.tags ? { ...props.tags } : undefined,
    });
  }

  grantSecretRead(grantee: Grantee): IamRolePolicy {
    return grantee.addPolicy("ReadBrokerSecret", secretReadStatements(this.secret.arn));
  }
}
