/**
 * The bounds of `hflow-infra run` around the engine task: how long it retries RunTask while the master
 * has not joined the cluster yet, and how long it follows the engine before it gives up. Time comes from
 * a `Clock`, so tests run both without waiting.
 */
import { ExitCode, HflowError, UsageError } from "../common/errors";
import { RUN_TIMEOUT_SECONDS } from "../constructs/core/rules";
import type { EcsApi } from "./engine";

/** Time for the waits: the real one, or a test's. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/**
 * RunTask failures that mean "the master is not (yet) a container instance of the cluster": right after
 * `deploy ecs` the master instance boots and its ECS agent registers a few minutes later. The first is a
 * RunTask failure reason, the second the error ECS answers when the cluster has no instance at all.
 */
const MASTER_NOT_THERE = /MemberOf placement constraint unsatisfied|No Container Instances were found in your cluster/i;

/** How long and how often `run` retries RunTask for the master to join: a boot and agent start, with room. */
export const ENGINE_PLACEMENT_WAIT = { timeoutMs: 10 * 60_000, intervalMs: 15_000 } as const;

/** The engine could not be placed on the master within the bound. */
export class EnginePlacementError extends HflowError {
  readonly exitCode = ExitCode.failed;
}

/** `3 d 2 h`, `25 h`, `10 min`, `45 s`: a duration the way a person says it. */
export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["min", 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)} ${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s} s`);
  return parts.slice(0, 2).join(" ");
}

interface StartOptions {
  /** @default ENGINE_PLACEMENT_WAIT.timeoutMs */
  readonly timeoutMs?: number;
  /** @default ENGINE_PLACEMENT_WAIT.intervalMs */
  readonly intervalMs?: number;
  /** @default realClock */
  readonly clock?: Clock;
  /** Called once, at the first failure that is retried. */
  readonly onWait?: (reason: string, timeoutMs: number) => void;
}

/**
 * RunTask, retried while the master has not joined the cluster (MASTER_NOT_THERE), at most `timeoutMs`;
 * any other failure is thrown at once. Past the bound: an EnginePlacementError saying what was tried, for
 * how long, the last reason and how to look at the master.
 */
export async function startEngineTask(ecs: EcsApi, input: Parameters<EcsApi["runTask"]>[0], o: StartOptions = {}): Promise<string> {
  const clock = o.clock ?? realClock;
  const timeoutMs = o.timeoutMs ?? ENGINE_PLACEMENT_WAIT.timeoutMs;
  const intervalMs = o.intervalMs ?? ENGINE_PLACEMENT_WAIT.intervalMs;
  const started = clock.now();
  let attempts = 0;
  for (;;) {
    attempts++;
    let reason: string;
    try {
      return await ecs.runTask(input);
    } catch (e) {
      reason = (e as Error).message ?? String(e);
      if (!MASTER_NOT_THERE.test(reason)) throw e;
    }
    const waited = clock.now() - started;
    if (waited + intervalMs > timeoutMs) {
      throw new EnginePlacementError(
        `the engine could not be placed on the master of cluster ${input.cluster}: ${attempts} RunTask attempts in ${formatDuration(waited)} failed, the last with "${reason}". ` +
          `Is the master instance running and joined to the cluster? aws ecs list-container-instances --cluster ${input.cluster} --filter "${input.placementExpression}"`,
      );
    }
    if (attempts === 1) o.onWait?.(reason, timeoutMs);
    await clock.sleep(intervalMs);
  }
}

/** `run --timeout`: seconds, or a number with s, m, h or d; 0 for no limit (at most what runner.followTimeoutSeconds allows). */
export function parseTimeout(text: string, maxSeconds = RUN_TIMEOUT_SECONDS.max): number {
  const m = /^(\d+)\s*(s|m|min|h|d)?$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, min: 60, h: 3600, d: 86_400 }[m[2] ?? "s"]! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds > maxSeconds) {
    throw new UsageError(
      `--timeout ${JSON.stringify(text)}: allowed: a duration up to ${formatDuration(maxSeconds * 1000)} as seconds or with s, m, h or d (3600, 90m, 2h, 1d); 0 for no limit`,
    );
  }
  return seconds;
}

/** What `run` prints when it stops following an engine that is still running. */
export function gaveUpLines(o: { afterMs: number; source: string; cluster: string; taskId: string; logGroup: string; stream: string }): string[] {
  return [
    `gave up following the engine after ${formatDuration(o.afterMs)} (${o.source}); task ${o.taskId} keeps running in cluster ${o.cluster}`,
    `follow it with: hflow-infra status · logs: aws logs tail ${o.logGroup} --log-stream-names ${o.stream} --follow`,
    `stop it with:   aws ecs stop-task --cluster ${o.cluster} --task ${o.taskId}`,
  ];
}
