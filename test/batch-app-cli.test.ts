/**
 * `hflow-infra app run`: the SubmitJob request it builds, how it reads a job's end, and the whole
 * command against a small local stand-in of the AWS Batch API (REST-JSON, as the API reference
 * documents: POST /v1/submitjob, POST /v1/describejobs), reached through AWS_ENDPOINT_URL_BATCH.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { submitJobRequest } from "../cli/app-requests";
import { jobOutcome } from "../cli/commands/app";
import { validateConfig } from "../config/load";
import { runCli } from "./support/cli";
import { serve } from "./support/http-recorder";
import { credentialsEnv } from "./support/aws-env";

const APPS = {
  batch: {
    apps: {
      mpi: { imageTag: "1.0.0", command: ["/opt/app/pi", "{input}", "pi.txt"], outputs: ["pi.txt"], nodes: 3 },
      one: { imageTag: "1.0.0", command: ["/opt/app/pi"], outputs: ["pi.txt"], fargate: true, inputPrefix: "in/", outputPrefix: "out/" },
    },
  },
};
const config = validateConfig(APPS).config;

describe("the SubmitJob request", () => {
  const now = new Date("2026-11-30T19:20:21.123Z");
  test("queue by kind, job definition by name, the input key as parameter `input`", () => {
    expect(submitJobRequest(config, "mpi", "n.txt", now)).toEqual({
      jobName: "hyperflow-apps-mpi-20261130T192021",
      jobQueue: "hyperflow-apps-multinode",
      jobDefinition: "hyperflow-apps-mpi",
      parameters: { input: "apps/mpi/input/n.txt" },
    });
    expect(submitJobRequest(config, "one", "in/a/b.dat", now)).toMatchObject({ jobQueue: "hyperflow-apps-fargate", parameters: { input: "in/a/b.dat" } });
    expect(submitJobRequest(config, "one", undefined, now).parameters).toEqual({ input: "-" });
  });
  test.each([
    ["nope", "x", /app "nope" is not configured; allowed: mpi, one/],
    ["mpi", "../secret", /--input "\.\.\/secret": allowed: an object name below apps\/mpi\/input\//],
    ["mpi", "a//b", /allowed: an object name below/],
    ["mpi", "apps/mpi/input/", /allowed: an object name below/],
  ])("app %s, input %s: refused", (name, input, message) => {
    expect(() => submitJobRequest(config, name, input)).toThrow(message);
  });
});

describe("a job's end", () => {
  test("succeeded: 0; failed: the container's exit code and Batch's reasons; running: not done", () => {
    expect(jobOutcome({ jobId: "j", status: "SUCCEEDED" })).toMatchObject({ done: true, exitCode: 0 });
    expect(jobOutcome({ jobId: "j", status: "RUNNING" })).toEqual({ done: false, status: "RUNNING" });
    expect(jobOutcome({ jobId: "j", status: "FAILED", statusReason: "Essential container in task exited", container: { exitCode: 127 } })).toEqual({
      done: true,
      status: "FAILED",
      exitCode: 127,
      line: "job j failed with exit code 127: Essential container in task exited",
    });
    // A multi-node job reports per attempt; a timeout has no exit code.
    expect(jobOutcome({ jobId: "j", status: "FAILED", attempts: [{ container: { exitCode: 3 } }] })).toMatchObject({ done: true, exitCode: 3 });
    expect(jobOutcome({ jobId: "j", status: "FAILED", statusReason: "Job attempt duration exceeded timeout" })).toMatchObject({
      exitCode: 1,
      line: "job j failed: Job attempt duration exceeded timeout",
    });
  });
});

describe("app run against a local Batch API stand-in", () => {
  let dir: string;
  let cfg: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-app-cli-"));
    cfg = path.join(dir, "hyperflow.config.json");
    fs.writeFileSync(cfg, JSON.stringify(APPS));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Batch answering SubmitJob with job "job-1", then DescribeJobs with each status of `statuses` in turn (the last repeats). */
  async function batchApi(statuses: object[]) {
    let polls = 0;
    return serve((req, res) => {
      const reply = (body: object): void => {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      };
      if (req.method === "POST" && req.url === "/v1/submitjob")
        return reply({ jobArn: "arn:aws:batch:us-east-1:123456789012:job/job-1", jobName: JSON.parse(req.body).jobName, jobId: "job-1" });
      if (req.method === "POST" && req.url === "/v1/describejobs") {
        const s = statuses[Math.min(polls++, statuses.length - 1)];
        return reply({ jobs: [{ jobId: "job-1", jobName: "x", jobQueue: "q", jobDefinition: "d", startedAt: 1, ...s }] });
      }
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: `no ${req.method} ${req.url}` }));
    });
  }
  const env = (url: string) => ({
    AWS_ENDPOINT_URL_BATCH: url,
    ...credentialsEnv({ accessKeyId: "AKIDTEST", secretAccessKey: "secret" }),
    AWS_REGION: "us-east-1",
    HFLOW_REGION: undefined,
  });

  test("submits to the app's queue and definition with the input, follows to SUCCEEDED, exit 0", async () => {
    const api = await batchApi([{ status: "RUNNABLE" }, { status: "RUNNING" }, { status: "SUCCEEDED" }]);
    try {
      const r = await runCli(["-c", cfg, "app", "run", "mpi", "--input", "n.txt", "--poll", "0.05"], env(api.url));
      expect(r).toMatchObject({ code: 0 });
      expect(r.out).toContain("job job-1 succeeded");
      expect(r.out).toContain("outputs: apps/mpi/output/job-1/");
      const submit = JSON.parse(api.seen.find((s) => s.url === "/v1/submitjob")!.body);
      expect(submit).toMatchObject({
        jobQueue: "hyperflow-apps-multinode",
        jobDefinition: "hyperflow-apps-mpi",
        parameters: { input: "apps/mpi/input/n.txt" },
      });
      expect(api.seen.filter((s) => s.url === "/v1/describejobs").map((s) => JSON.parse(s.body))).toEqual([
        { jobs: ["job-1"] },
        { jobs: ["job-1"] },
        { jobs: ["job-1"] },
      ]);
      expect(api.seen[0].headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/batch\/aws4_request/);
    } finally {
      await api.close();
    }
  });

  test("a failed job: its exit code and reason", async () => {
    const api = await batchApi([{ status: "FAILED", statusReason: "Essential container in task exited", container: { exitCode: 127 } }]);
    try {
      const r = await runCli(["-c", cfg, "app", "run", "one", "--poll", "0.05"], env(api.url));
      expect(r.code).toBe(127);
      expect(r.err).toContain("job job-1 failed with exit code 127: Essential container in task exited");
    } finally {
      await api.close();
    }
  });

  test("--timeout: exit 124, the job keeps running", async () => {
    const api = await batchApi([{ status: "RUNNING" }]);
    try {
      const r = await runCli(["-c", cfg, "app", "run", "one", "--poll", "0.05", "--timeout", "0.2"], env(api.url));
      expect(r.code).toBe(124);
      expect(r.err).toMatch(/job job-1 is still RUNNING after 0\.2 s; it keeps running/);
    } finally {
      await api.close();
    }
  });

  test.each([
    [["app", "run", "nope"], 'app "nope" is not configured; allowed: mpi, one'],
    [
      ["app", "run", "mpi", "--input", "../x"],
      `--input "../x": allowed: an object name below apps/mpi/input/ (segments of letters, digits and !_.*'()-, no . or ..)`,
    ],
    [["app", "run", "mpi", "--timeout", "soon"], '--timeout "soon": allowed: a number of seconds, 0 or more'],
  ])("bad input %j: exit 2, one line, nothing submitted", async (args, line) => {
    const api = await batchApi([{ status: "SUCCEEDED" }]);
    try {
      const r = await runCli(["-c", cfg, ...args], env(api.url));
      expect(r.code).toBe(2);
      expect(r.err.trim()).toBe(line);
      expect(api.seen).toEqual([]);
    } finally {
      await api.close();
    }
  });
});
