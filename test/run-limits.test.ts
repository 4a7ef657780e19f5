/**
 * The bounds of `hflow-infra run` (runner/run-limits.ts): RunTask is retried while the master has not
 * joined the cluster (ECS answers "MemberOf placement constraint unsatisfied" until its agent registers),
 * and following the engine stops after `runner.followTimeoutSeconds` or `--timeout` with exit code 124.
 * Unit tests with an ECS stand-in and a test clock, then the `run` command itself: a real S3 server (Ceph
 * RGW), terraform and ECS stand-ins, the same clock (no real waiting).
 */
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { EngineDeps } from "../cli/context";
import { type EcsApi, followEngine } from "../runner/engine";
import { type Clock, ENGINE_PLACEMENT_WAIT, EnginePlacementError, formatDuration, parseTimeout, startEngineTask } from "../runner/run-limits";
import { createS3Client } from "../runner/s3-client";
import { credentialsEnv } from "./support/aws-env";
import { runCli } from "./support/cli";
import { RGW_CREDENTIALS } from "./support/rgw";
import { useRgw } from "./support/rgw-fixture";
import { FIXTURE_JOB } from "./support/stack-json";

/** A clock whose sleeps return at once and move time on. */
function testClock(): Clock & { slept: number[] } {
  let t = 1_000_000;
  const slept: number[] = [];
  return { slept, now: () => t, sleep: async (ms) => void (slept.push(ms), (t += ms)) };
}

const TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/lab/0123456789abcdef";
const PLACEMENT = "RunTask failed: MemberOf placement constraint unsatisfied.";

/**
 * An ECS stand-in. RunTask throws each of `failures` in turn, then starts the task; the task runs for
 * `runningPolls` describe calls and stops with exit code 0 (never, when Infinity).
 */
function ecsStandIn(failures: string[], runningPolls: number) {
  const calls: string[] = [];
  let polls = 0;
  const ecs: EcsApi = {
    async runTask() {
      calls.push("RunTask");
      const failure = failures.shift();
      if (failure !== undefined) throw new Error(failure);
      return TASK_ARN;
    },
    async describeTask() {
      polls++;
      const stopped = polls > runningPolls;
      return { taskArn: TASK_ARN, lastStatus: stopped ? "STOPPED" : "RUNNING", containers: [{ name: "hyperflow-engine", exitCode: stopped ? 0 : undefined }] };
    },
    async listRunning() {
      return [];
    },
  };
  return { ecs, calls, polls: () => polls };
}

const input = {
  cluster: "lab",
  taskDefinition: "lab-hyperflow-engine:1",
  placementExpression: "attribute:hyperflow.role == master",
  engineContainer: "hyperflow-engine",
};

describe("startEngineTask", () => {
  test("the master not joined yet (a placement failure, then no instance at all): retried every 15 s until RunTask starts the task", async () => {
    const clock = testClock();
    const { ecs, calls } = ecsStandIn([PLACEMENT, "InvalidParameterException: No Container Instances were found in your cluster."], 0);
    const waits: string[] = [];
    expect(await startEngineTask(ecs, input, { clock, onWait: (reason, ms) => waits.push(`${reason} / ${ms}`) })).toBe(TASK_ARN);
    expect(calls).toEqual(["RunTask", "RunTask", "RunTask"]);
    expect(clock.slept).toEqual([15_000, 15_000]);
    expect(waits).toEqual([`${PLACEMENT} / ${ENGINE_PLACEMENT_WAIT.timeoutMs}`]);
  });

  test("any other failure is not retried", async () => {
    const clock = testClock();
    const { ecs, calls } = ecsStandIn(["RunTask failed: RESOURCE:MEMORY"], 0);
    await expect(startEngineTask(ecs, input, { clock })).rejects.toThrow("RunTask failed: RESOURCE:MEMORY");
    expect(calls).toHaveLength(1);
    expect(clock.slept).toEqual([]);
  });

  test("a master that never joins: a clear error within the bound, not an endless loop", async () => {
    const clock = testClock();
    const start = clock.now();
    const { ecs, calls } = ecsStandIn(
      Array.from({ length: 1000 }, () => PLACEMENT),
      0,
    );
    const error = await startEngineTask(ecs, input, { clock }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnginePlacementError);
    expect((error as Error).message).toBe(
      `the engine could not be placed on the master of cluster lab: ${calls.length} RunTask attempts in 10 min failed, the last with "${PLACEMENT}". ` +
        'Is the master instance running and joined to the cluster? aws ecs list-container-instances --cluster lab --filter "attribute:hyperflow.role == master"',
    );
    expect(calls.length).toBe(41);
    expect(clock.now() - start).toBeLessThanOrEqual(ENGINE_PLACEMENT_WAIT.timeoutMs);
  });
});

describe("following the engine with a time limit", () => {
  test("an engine that never stops: followEngine gives up at the limit (by the clock), the task untouched", async () => {
    const clock = testClock();
    const { ecs, polls } = ecsStandIn([], Infinity);
    const logs = { events: async () => ({ events: [] }) };
    const r = await followEngine(ecs, logs, {
      cluster: "lab",
      taskArn: TASK_ARN,
      engineContainer: "hyperflow-engine",
      logGroup: "g",
      pollMs: 5000,
      timeoutMs: 60_000,
      now: clock.now,
      sleep: clock.sleep,
    });
    expect(r).toEqual({ taskArn: TASK_ARN, seconds: 60, timedOut: true });
    expect(polls()).toBe(13);
  });

  test("--timeout: seconds or a unit; a bad value is named with what is allowed", () => {
    expect([parseTimeout("3600"), parseTimeout("90m"), parseTimeout("25h"), parseTimeout("2d"), parseTimeout("0")]).toEqual([3600, 5400, 90_000, 172_800, 0]);
    expect(() => parseTimeout("soon")).toThrow(
      '--timeout "soon": allowed: a duration up to 30 d as seconds or with s, m, h or d (3600, 90m, 2h, 1d); 0 for no limit',
    );
    expect(() => parseTimeout("31d")).toThrow(/allowed: a duration up to 30 d/);
    expect([formatDuration(45_000), formatDuration(600_000), formatDuration(5_400_000), formatDuration(90_000_000)]).toEqual([
      "45 s",
      "10 min",
      "1 h 30 min",
      "1 d 1 h",
    ]);
  });
});

describe("hflow-infra run: RunTask retries and the follow timeout (S3 real; terraform, ECS and the clock stand-ins)", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-run-limits-"));
  const bin = path.join(tmp, "bin");
  const calls = path.join(tmp, "calls");
  const job = path.join(tmp, "job");
  const rgw = useRgw();
  let client: S3Client;
  const bucket = `run-limits-${process.pid}`;

  beforeAll(async () => {
    client = createS3Client({ region: "us-east-1", endpoint: rgw().endpoint, credentials: RGW_CREDENTIALS });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    fs.cpSync(FIXTURE_JOB, job, { recursive: true });
    fs.mkdirSync(bin);
    // Every stack deployed already: `output -json` answers with the outputs run needs.
    const outputs = {
      network: { vpc_id: { value: "vpc-0123456789abcdef0" } },
      ecs: { cluster_name: { value: "lab" } },
      runner: {
        bucket_name: { value: bucket },
        job_prefix: { value: "montage/" },
        cluster_name: { value: "lab" },
        engine_task_definition: { value: "arn:aws:ecs:us-east-1:123456789012:task-definition/lab-hyperflow-engine:3" },
        engine_log_group: { value: "/hyperflow/lab/engine" },
      },
    };
    fs.writeFileSync(path.join(tmp, "outputs.json"), JSON.stringify(outputs));
    fs.writeFileSync(
      path.join(bin, "tf"),
      `#!/bin/sh
echo "$(basename "$PWD") $*" >> "${calls}"
case "$1" in
  output) node -e 'process.stdout.write(JSON.stringify(require("${tmp}/outputs.json")[process.argv[1]] ?? {}))' "$(basename "$PWD")" ;;
esac
exit 0
`,
      { mode: 0o755 },
    );
  }, 120_000);
  afterAll(() => {
    client?.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(() => fs.rmSync(calls, { force: true }));

  // Images named in config: the run builds and pushes nothing (test/upload.test.ts covers that step).
  const OWN_IMAGES = { ecs: { images: { worker: "registry.example.org/lab/worker:1.0.0" } }, runner: { engineImage: "registry.example.org/lab/engine:1.0.0" } };
  async function run(args: string[], ecs: EcsApi, clock: Clock) {
    if (args[0] !== "-c") {
      const config = path.join(tmp, "own-images.json");
      fs.writeFileSync(config, JSON.stringify(OWN_IMAGES));
      args = ["-c", config, ...args];
    }
    const silent = { start() {}, fileDone() {}, bytesMoved() {}, settleInflight() {}, stop() {} };
    const logs = { events: async () => ({ events: [] }) };
    const deps: Partial<EngineDeps> = {
      apis: () => ({ ecs, logs, destroy() {} }),
      s3: () => createS3Client({ region: "us-east-1", endpoint: rgw().endpoint, credentials: RGW_CREDENTIALS }),
      progress: () => silent,
      pollMs: 5000,
      clock,
    };
    // The S3 server's keys, as a task role would give them (run checks for credentials first).
    const env = { TERRAFORM_BINARY_NAME: path.join(bin, "tf"), XDG_CACHE_HOME: path.join(tmp, "cache"), ...credentialsEnv(RGW_CREDENTIALS) };
    return runCli(["-o", path.join(tmp, "out"), ...args], env, deps);
  }

  test("a run right after deploy ecs: RunTask meets the placement failure twice, run waits for the master and finishes", async () => {
    const clock = testClock();
    const { ecs, calls: ecsCalls } = ecsStandIn([PLACEMENT, PLACEMENT], 2);
    const r = await run(["run", "--job-dir", job], ecs, clock);
    expect(r.err).toContain(`the master has not joined cluster lab yet (${PLACEMENT}); trying again for up to 10 min`);
    expect(ecsCalls).toEqual(["RunTask", "RunTask", "RunTask"]);
    expect(r.out).toMatch(/workflow finished: exit code 0/);
    expect(r.code).toBe(0);
  });

  test("an engine that does not stop: run gives up after runner.followTimeoutSeconds, exit 124, says what still runs and how to stop it", async () => {
    const clock = testClock();
    const start = clock.now();
    const config = path.join(tmp, "follow-10min.json");
    fs.writeFileSync(config, JSON.stringify({ ...OWN_IMAGES, runner: { ...OWN_IMAGES.runner, followTimeoutSeconds: 600 } }));
    const { ecs } = ecsStandIn([], Infinity);
    const r = await run(["-c", config, "run", "--job-dir", job], ecs, clock);
    expect(r.code).toBe(124);
    expect(r.out).toContain("gave up following the engine after 10 min (runner.followTimeoutSeconds); task 0123456789abcdef keeps running in cluster lab\n");
    expect(r.out).toContain("stop it with:   aws ecs stop-task --cluster lab --task 0123456789abcdef");
    expect(r.out).not.toMatch(/workflow (finished|FAILED)/);
    expect(clock.now() - start).toBe(600_000);
  });

  test("--timeout wins over the config; without either the default is 25 h, not forever", async () => {
    const clock = testClock();
    const r = await run(["run", "--job-dir", job, "--timeout", "90m"], ecsStandIn([], Infinity).ecs, clock);
    expect(r.code).toBe(124);
    expect(r.out).toContain("gave up following the engine after 1 h 30 min (--timeout)");
    const byDefault = await run(["run", "--job-dir", job], ecsStandIn([], Infinity).ecs, testClock());
    expect(byDefault.code).toBe(124);
    expect(byDefault.out).toContain("gave up following the engine after 1 d 1 h (runner.followTimeoutSeconds)");
  });

  test("a bad --timeout: exit 2 before terraform runs or anything starts", async () => {
    const { ecs, calls: ecsCalls } = ecsStandIn([], 0);
    const r = await run(["run", "--job-dir", job, "--timeout", "soon"], ecs, testClock());
    expect(r.code).toBe(2);
    expect(r.err).toContain('--timeout "soon": allowed:');
    expect(fs.existsSync(calls)).toBe(false);
    expect(ecsCalls).toEqual([]);
  });
});
