/**
 * `hflow-infra status` with lambda.enabled: engine runs in progress in the lambda stack's own Fargate
 * cluster next to the ECS cluster, and finished runs from the result markers in the lambda stack's bucket
 * (S3: Ceph RGW; terraform and ECS: stand-ins, as in test/upload.test.ts).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { EngineDeps } from "../cli/context";
import { resultMarker } from "./support/run-result";
import { createS3Client } from "../runner/s3-client";
import { credentialsEnv } from "./support/aws-env";
import { runCli } from "./support/cli";
import { RGW_CREDENTIALS } from "./support/rgw";
import { useRgw } from "./support/rgw-fixture";

const rgw = useRgw();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-status-lambda-"));
let client: S3Client;
const BUCKET = `status-lambda-${process.pid}`;
const s3 = () => createS3Client({ region: "us-east-1", endpoint: rgw().endpoint, credentials: RGW_CREDENTIALS });

/** terraform stand-in: `init` succeeds, `output -json` prints what outputs.json has for the stack folder. */
function terraformStandIn(outputs: Record<string, Record<string, string>>): string {
  const state = path.join(tmp, "state");
  fs.mkdirSync(state, { recursive: true });
  const v = Object.fromEntries(Object.entries(outputs).map(([stack, o]) => [stack, Object.fromEntries(Object.entries(o).map(([k, x]) => [k, { value: x }]))]));
  fs.writeFileSync(path.join(state, "outputs.json"), JSON.stringify(v));
  const bin = path.join(tmp, "tf");
  fs.writeFileSync(
    bin,
    `#!/bin/sh
stack=$(basename "$PWD")
echo "$stack $1" >> "${state}/calls"
case "$1" in
  output) node -e 'process.stdout.write(JSON.stringify(require("${state}/outputs.json")[process.argv[1]] ?? {}))' "$stack" ;;
esac
exit 0
`,
    { mode: 0o755 },
  );
  return bin;
}

beforeAll(async () => {
  client = s3();
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const result = resultMarker("run-l", { engine: { hyperflow: "1.7.0", function: "awsLambdaCommand" } });
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "wf/runs/run-l/result.json", Body: JSON.stringify(result) }));
}, 150_000);
afterAll(() => {
  client?.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("lambda.enabled: runs in progress in both clusters, finished runs from the lambda stack's bucket", async () => {
  const cfg = path.join(tmp, "hyperflow.config.json");
  fs.writeFileSync(cfg, JSON.stringify({ ecs: { clusterName: "lab" }, lambda: { enabled: true, name: "hf-fn" } }));
  const tf = terraformStandIn({ runner: {}, lambda: { bucket_name: BUCKET, job_prefix: "wf/", cluster_name: "hf-fn" } });
  const listed: string[] = [];
  const ecs = {
    async listRunning(cluster: string, family: string) {
      listed.push(`${cluster} ${family}`);
      return cluster === "hf-fn"
        ? [
            {
              taskArn: "arn:aws:ecs:us-east-1:123456789012:task/hf-fn/0123456789abcdef",
              lastStatus: "RUNNING",
              startedAt: new Date(Date.now() - 65_000),
              containers: [],
            },
          ]
        : [];
    },
  };
  const deps = { apis: () => ({ ecs, logs: {}, destroy() {} }), s3, pollMs: 1 } as unknown as Partial<EngineDeps>;
  const r = await runCli(
    ["-c", cfg, "-o", path.join(tmp, "out"), "status"],
    {
      TERRAFORM_BINARY_NAME: tf,
      AWS_REGION: "us-east-1",
      HFLOW_REGION: undefined,
      ...credentialsEnv({ accessKeyId: "AKIDTEST", secretAccessKey: "test-secret" }),
    },
    deps,
  );
  expect(r.err).not.toMatch(/failed/);
  expect(r.code).toBe(0);
  // The lambda stack's engine task family is the same function of its cluster name (engineFamily).
  expect(listed).toEqual(["lab lab-hyperflow-engine", "hf-fn hf-fn-hyperflow-engine"]);
  const lines = r.out.split("\n");
  expect(lines.slice(0, 4)).toEqual([
    "no engine runs in progress in cluster lab",
    "engine runs in progress in cluster hf-fn (lambda stack):",
    expect.stringMatching(/^task\s+status\s+started \(UTC\)\s+running for$/),
    expect.stringMatching(/^0123456789abcdef\s+RUNNING\s+\S+ \S+\s+1 min \d+ s$/),
  ]);
  expect(lines).toContain("finished runs: none (the runner stack is not deployed: hflow-infra deploy runner)");
  expect(lines).toContain(`finished runs (latest 1, s3://${BUCKET}/wf/runs/):`);
  expect(lines.some((l) => /^run-l\s+succeeded\s+27\/0\/27\s+2 min 3 s\s+2026-11-30 10:02:03\s+montage$/.test(l))).toBe(true);
  expect(
    fs
      .readFileSync(path.join(tmp, "state", "calls"), "utf8")
      .trim()
      .split("\n"),
  ).toEqual(["runner init", "runner output", "lambda init", "lambda output"]);
}, 120_000);
