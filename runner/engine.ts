/**
 * Start the engine task for a run, follow its state and logs until it stops, list runs in progress, and
 * read the result markers finished runs leave in the workflow bucket (images/run-result.ts). The AWS
 * calls sit behind small interfaces (EcsApi, LogsApi, MarkerStore) so the logic is tested without AWS.
 */
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { DescribeTasksCommand, ECSClient, ListTasksCommand, RunTaskCommand } from "@aws-sdk/client-ecs";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { parseRunResult, type RunResult as RunMarker, runResultKey } from "../images/run-result";
import { formatSeconds } from "./progress";

/** ECS `startedBy` of runs started by this tool (also what `status` lists). */
const STARTED_BY = "hflow-infra";

interface ContainerState {
  readonly name: string;
  readonly lastStatus?: string;
  readonly exitCode?: number;
  readonly reason?: string;
}

interface TaskState {
  readonly taskArn: string;
  readonly lastStatus: string;
  readonly desiredStatus?: string;
  readonly stoppedReason?: string;
  readonly startedAt?: Date;
  readonly stoppedAt?: Date;
  readonly createdAt?: Date;
  readonly containers: readonly ContainerState[];
}

interface RunTaskInput {
  readonly cluster: string;
  readonly taskDefinition: string;
  /** EC2: the placement constraint (the master). */
  readonly placementExpression?: string;
  /** Fargate (the lambda stack's engine): the task's subnets, security groups and public address. */
  readonly fargate?: { readonly subnets: readonly string[]; readonly securityGroups: readonly string[]; readonly assignPublicIp: boolean };
  /** Engine command override (e.g. another workflow file). */
  readonly engineCommand?: readonly string[];
  readonly engineContainer: string;
}

export interface EcsApi {
  runTask(input: RunTaskInput): Promise<string>;
  describeTask(cluster: string, taskArn: string): Promise<TaskState | undefined>;
  listRunning(cluster: string, family: string): Promise<TaskState[]>;
}

interface LogEvent {
  readonly timestamp: number;
  readonly message: string;
}

export interface LogsApi {
  /** Events after `token` (undefined: from the start); a missing stream yields no events. */
  events(group: string, stream: string, token?: string): Promise<{ events: LogEvent[]; nextToken?: string }>;
}

/** The task id (last part of the ARN). */
export function taskId(taskArn: string): string {
  return taskArn.split("/").pop() ?? taskArn;
}

/** awslogs stream of a container: `<stream-prefix>/<container>/<task-id>` (our prefix is the container name). */
export function logStream(container: string, taskArn: string): string {
  return `${container}/${container}/${taskId(taskArn)}`;
}

interface FollowOptions {
  readonly cluster: string;
  readonly taskArn: string;
  readonly engineContainer: string;
  readonly logGroup: string;
  /** @default 5000 */
  readonly pollMs?: number;
  /** Give up following (the task keeps running) after this long. @default - never */
  readonly timeoutMs?: number;
  readonly onStatus?: (status: string, state: TaskState) => void;
  readonly onLog?: (event: LogEvent) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

interface RunResult {
  readonly taskArn: string;
  /** Exit code of the engine container; undefined when it never ran (see reason). */
  readonly exitCode?: number;
  readonly reason?: string;
  readonly seconds: number;
  readonly timedOut: boolean;
}

/** Polls the task and its engine log stream until the task stops (or the timeout passes). */
export async function followEngine(ecs: EcsApi, logs: LogsApi, o: FollowOptions): Promise<RunResult> {
  const sleep = o.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const now = o.now ?? Date.now;
  const started = now();
  const stream = logStream(o.engineContainer, o.taskArn);
  let token: string | undefined;
  let lastStatus = "";
  const drainLogs = async () => {
    for (;;) {
      const page = await logs.events(o.logGroup, stream, token);
      for (const e of page.events) o.onLog?.(e);
      const more = page.nextToken !== undefined && page.nextToken !== token && page.events.length > 0;
      token = page.nextToken ?? token;
      if (!more) return;
    }
  };
  for (;;) {
    const state = await ecs.describeTask(o.cluster, o.taskArn);
    if (!state)
      return { taskArn: o.taskArn, reason: "the task is gone (ECS keeps stopped tasks for about an hour)", seconds: (now() - started) / 1000, timedOut: false };
    if (state.lastStatus !== lastStatus) {
      lastStatus = state.lastStatus;
      o.onStatus?.(lastStatus, state);
    }
    await drainLogs();
    if (state.lastStatus === "STOPPED") {
      await drainLogs();
      const engine = state.containers.find((c) => c.name === o.engineContainer);
      const seconds = state.startedAt && state.stoppedAt ? (state.stoppedAt.getTime() - state.startedAt.getTime()) / 1000 : (now() - started) / 1000;
      return {
        taskArn: o.taskArn,
        exitCode: engine?.exitCode,
        reason: engine?.exitCode === undefined ? [state.stoppedReason, engine?.reason].filter(Boolean).join("; ") || "the engine did not run" : engine.reason,
        seconds,
        timedOut: false,
      };
    }
    if (o.timeoutMs !== undefined && now() - started >= o.timeoutMs) return { taskArn: o.taskArn, seconds: (now() - started) / 1000, timedOut: true };
    await sleep(o.pollMs ?? 5000);
  }
}

function toState(t: {
  taskArn?: string;
  lastStatus?: string;
  desiredStatus?: string;
  stoppedReason?: string;
  startedAt?: Date;
  stoppedAt?: Date;
  createdAt?: Date;
  containers?: { name?: string; lastStatus?: string; exitCode?: number; reason?: string }[];
}): TaskState {
  return {
    taskArn: t.taskArn ?? "",
    lastStatus: t.lastStatus ?? "UNKNOWN",
    desiredStatus: t.desiredStatus,
    stoppedReason: t.stoppedReason,
    startedAt: t.startedAt,
    stoppedAt: t.stoppedAt,
    createdAt: t.createdAt,
    containers: (t.containers ?? []).map((c) => ({ name: c.name ?? "", lastStatus: c.lastStatus, exitCode: c.exitCode, reason: c.reason })),
  };
}

/** The real thing: ECS and CloudWatch Logs through the AWS SDK (default credential chain). */
export function awsEngineApis(region: string): { ecs: EcsApi; logs: LogsApi; destroy(): void } {
  const ecsClient = new ECSClient({ region });
  const logsClient = new CloudWatchLogsClient({ region });
  const ecs: EcsApi = {
    async runTask(i) {
      const r = await ecsClient.send(
        new RunTaskCommand({
          cluster: i.cluster,
          taskDefinition: i.taskDefinition,
          launchType: i.fargate ? "FARGATE" : "EC2",
          count: 1,
          startedBy: STARTED_BY,
          ...(i.fargate
            ? {
                networkConfiguration: {
                  awsvpcConfiguration: {
                    subnets: [...i.fargate.subnets],
                    securityGroups: [...i.fargate.securityGroups],
                    assignPublicIp: i.fargate.assignPublicIp ? "ENABLED" : "DISABLED",
                  },
                },
              }
            : { placementConstraints: [{ type: "memberOf", expression: i.placementExpression }] }),
          propagateTags: "TASK_DEFINITION",
          enableECSManagedTags: true,
          overrides: i.engineCommand ? { containerOverrides: [{ name: i.engineContainer, command: [...i.engineCommand] }] } : undefined,
        }),
      );
      const failure = r.failures?.[0];
      if (!r.tasks?.[0]?.taskArn) throw new Error(`RunTask failed: ${failure ? `${failure.reason ?? ""} ${failure.detail ?? ""}`.trim() : "no task started"}`);
      return r.tasks[0].taskArn;
    },
    async describeTask(cluster, arn) {
      const r = await ecsClient.send(new DescribeTasksCommand({ cluster, tasks: [arn] }));
      return r.tasks?.[0] ? toState(r.tasks[0]) : undefined;
    },
    async listRunning(cluster, family) {
      // ListTasks takes startedBy only as its sole filter: list by family, keep ours after describing.
      const arns = (await ecsClient.send(new ListTasksCommand({ cluster, family, desiredStatus: "RUNNING" }))).taskArns ?? [];
      const tasks = [];
      for (let i = 0; i < arns.length; i += 100) {
        const r = await ecsClient.send(new DescribeTasksCommand({ cluster, tasks: arns.slice(i, i + 100) }));
        tasks.push(...(r.tasks ?? []).filter((t) => t.startedBy === STARTED_BY));
      }
      return tasks.map(toState);
    },
  };
  const logs: LogsApi = {
    async events(group, stream, token) {
      try {
        const r = await logsClient.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, nextToken: token, startFromHead: true }));
        return { events: (r.events ?? []).map((e) => ({ timestamp: e.timestamp ?? 0, message: e.message ?? "" })), nextToken: r.nextForwardToken };
      } catch (e) {
        if ((e as { name?: string }).name === "ResourceNotFoundException") return { events: [], nextToken: token };
        throw e;
      }
    },
  };
  return {
    ecs,
    logs,
    destroy() {
      ecsClient.destroy();
      logsClient.destroy();
    },
  };
}

/** The objects result markers are read from: the workflow bucket (s3MarkerStore), or a stand-in. */
export interface MarkerStore {
  /** The object's text; undefined when there is no such object. */
  get(key: string): Promise<string | undefined>;
  /** Every key below the prefix, with its last-modified time. */
  list(prefix: string): Promise<{ key: string; lastModified?: Date }[]>;
}

/** A run's marker as read: the parsed result, or why there is none to show. */
export interface MarkerRead {
  readonly runId: string;
  readonly key: string;
  readonly result?: RunMarker;
  /** Set when the object is missing ("missing") or is not a valid marker (the parse error). */
  readonly problem?: string;
}

/** The marker of one run (ECS runs: the run id is the task id). */
export async function readRunResult(store: MarkerStore, prefix: string, runId: string): Promise<MarkerRead> {
  const key = runResultKey(prefix, runId);
  const text = await store.get(key);
  if (text === undefined) return { runId, key, problem: "missing" };
  try {
    return { runId, key, result: parseRunResult(text) };
  } catch (e) {
    return { runId, key, problem: (e as Error).message };
  }
}

/** The markers of the `limit` most recently finished runs below the prefix, newest first. */
export async function latestRunResults(store: MarkerStore, prefix: string, limit: number): Promise<MarkerRead[]> {
  const base = `${prefix}runs/`;
  const found = (await store.list(base))
    .map((o) => ({ ...o, runId: /^([^/]+)\/result\.json$/.exec(o.key.slice(base.length))?.[1] }))
    .filter((o): o is { key: string; lastModified?: Date; runId: string } => o.key.startsWith(base) && o.runId !== undefined)
    .sort((a, b) => (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0) || b.key.localeCompare(a.key))
    .slice(0, limit);
  return Promise.all(found.map((o) => readRunResult(store, prefix, o.runId)));
}

/** Task counts of a marker: `12 started, 11 succeeded, 1 failed`. */
export function taskCounts(r: RunMarker): string {
  return `${r.tasks.started} started, ${r.tasks.succeeded} succeeded, ${r.tasks.failed} failed`;
}

/** What `run` prints about a finished run from its marker. */
export function runResultLines(r: RunMarker): string[] {
  const took = formatSeconds(r.durationMs / 1000);
  const workflow = `${r.workflow.name ? `${r.workflow.name} (${r.workflow.file})` : r.workflow.file}, ${r.workflow.processes} processes`;
  return [
    r.status === "succeeded"
      ? `workflow finished: exit code 0 in ${took} (run ${r.runId})`
      : `workflow FAILED: exit code ${r.exitCode} after ${took} in phase ${r.phase}${r.reason ? `: ${r.reason}` : ""} (run ${r.runId})`,
    `tasks:   ${taskCounts(r)} (workflow ${workflow})`,
  ];
}

/** The real thing: markers in an S3 bucket. */
export function s3MarkerStore(client: S3Client, bucket: string): MarkerStore {
  return {
    async get(key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await r.Body!.transformToString("utf8");
      } catch (e) {
        if ((e as { name?: string }).name === "NoSuchKey") return undefined;
        throw e;
      }
    },
    async list(prefix) {
      const out: { key: string; lastModified?: Date }[] = [];
      let token: string | undefined;
      do {
        const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key, lastModified: o.LastModified });
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
  };
}
