import "cdktf/lib/testing/adapters/jest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { readConfig } from "../images/engine/entrypoint";
import { runResultKey } from "../images/run-result";
import { imageTag } from "../images/tag";
import { JobDirError, jobContentHash, validateJobDir } from "../runner/job-dir";
import { containers, FIXTURE_JOB, only, resources, synthConfig } from "./support/stack-json";

describe("runner stack with a job directory", () => {
  const { text, json: all } = synthConfig({
    runner: { jobDir: FIXTURE_JOB, prefix: "montage/" },
    ecs: { clusterName: "lab", metricsUrl: "http://10.0.0.5:8086/hyperflow_tests" },
  });
  const json = all.runner;
  const bucketRef = (attr: string) => `\${aws_s3_bucket.${Object.keys(json.resource!.aws_s3_bucket)[0]}.${attr}}`;

  test("a new bucket per deployment: generated name, kept on destroy by default", () => {
    expect(text.runner).toHaveResourceWithProperties(S3Bucket, { bucket_prefix: "hyperflow-", force_destroy: false });
    expect(only(json, "aws_s3_bucket").bucket).toBeUndefined();
  });

  test("bucket: SSE, public access blocked, ACLs off, TLS only, stale multipart uploads expire", () => {
    const sse = only(json, "aws_s3_bucket_server_side_encryption_configuration");
    expect(sse.rule[0].apply_server_side_encryption_by_default.sse_algorithm).toBe("AES256");
    expect(text.runner).toHaveResourceWithProperties(S3BucketPublicAccessBlock, {
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(text.runner).toHaveResourceWithProperties(S3BucketOwnershipControls, { rule: { object_ownership: "BucketOwnerEnforced" } });
    const policy = JSON.parse(only(json, "aws_s3_bucket_policy").policy);
    expect(policy.Statement[0]).toEqual(expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }));
    const lifecycle = only(json, "aws_s3_bucket_lifecycle_configuration");
    expect(lifecycle.rule[0].abort_incomplete_multipart_upload).toEqual([{ days_after_initiation: 1 }]);
  });

  test("engine task: one container, our engine image from the ecs stack's repository under imageTag, the entrypoint's environment", () => {
    const td = only(json, "aws_ecs_task_definition");
    expect(td.family).toBe("lab-hyperflow-engine");
    expect(td.network_mode).toBe("host");
    expect(td.volume).toEqual([]);
    const list = containers(td);
    expect(list.map((c) => c.name)).toEqual(["hyperflow-engine"]);
    const [engine] = list;
    expect(engine.essential).toBe(true);
    expect(engine.image).toMatch(
      /^\$\{data\.terraform_remote_state\.cross-stack-reference-input-ecs\.outputs\.cross-stack-output-aws_ecr_repositoryEngineRepository[^}]*repository_url\}:[0-9a-f]{12}$/,
    );
    expect(engine.image.endsWith(`:${imageTag("engine")}`)).toBe(true);
    expect(json.output!.engine_image.value).toBe(engine.image);
    // The command is accepted by the entrypoint, which takes the workflow file and workdir from it.
    expect(engine.command).toEqual(["/hyperflow/bin/hflow", "run", "/workdir/dag.json", "-s"]);
    const env = Object.fromEntries(engine.environment.map((e: any) => [e.name, e.value]));
    expect(env).toEqual({
      S3_BUCKET: bucketRef("bucket"),
      S3_PATH: "montage/input/",
      AWS_REGION: "us-east-1",
      HF_VAR_function: "amqpCommand",
      HFLOW_TIMEOUT_SECONDS: "86400",
      INFLUXDB_URL: "http://10.0.0.5:8086/hyperflow_tests",
    });
    expect(engine.secrets).toEqual([
      {
        name: "AMQP_URL",
        valueFrom: expect.stringMatching(
          /^\$\{data\.terraform_remote_state\.cross-stack-reference-input-ecs\.outputs\.cross-stack-output-aws_secretsmanager_secret[^}]+\}:amqp_url::$/,
        ),
      },
    ]);
    expect(engine.dependsOn).toBeUndefined();
    expect(engine.mountPoints).toEqual([]);
    // What the entrypoint makes of it: the job's prefix, the workflow file, the time limit.
    const cfg = readConfig({ ...env, S3_BUCKET: "b" }, engine.command);
    expect(cfg).toMatchObject({
      prefix: "montage/",
      workdir: "/workdir",
      workflowFile: "dag.json",
      timeoutMs: 86_400_000,
      region: "us-east-1",
      externalRedis: false,
    });
  });

  test("task role reads only this bucket and writes only run results below the prefix; the ecs stack's worker role gets read-write on it", () => {
    const policies = resources(json, "aws_iam_role_policy");
    const statements = (p: any) => JSON.parse(p.policy).Statement;
    const engineRead = policies.find((p) => p.name === "WorkflowBucketRead");
    expect(
      statements(engineRead)
        .flatMap((s: any) => s.Action)
        .sort(),
    ).toEqual(["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket"]);
    expect(statements(engineRead).flatMap((s: any) => s.Resource)).toEqual([bucketRef("arn"), `${bucketRef("arn")}/*`]);
    const results = policies.find((p) => p.name === "WriteRunResults");
    expect(results.role).toBe(engineRead.role);
    expect(statements(results)).toEqual([{ Sid: "PutRunResult", Effect: "Allow", Action: ["s3:PutObject"], Resource: [`${bucketRef("arn")}/montage/runs/*`] }]);
    expect(`montage/${runResultKey("", "abc")}`).toBe("montage/runs/abc/result.json");
    const workers = policies.find((p) => p.name === "WorkersUseBucket");
    expect(workers.role).toMatch(/cross-stack-output-aws_iam_role.*Workers_TaskRole/);
    expect(statements(workers).flatMap((s: any) => s.Action)).toContain("s3:PutObject");
  });

  test("log group with retention; cross-stack state read from the ecs stack's backend", () => {
    expect(only(json, "aws_cloudwatch_log_group")).toEqual(expect.objectContaining({ name: "/hyperflow/lab/engine", retention_in_days: 30 }));
    expect((json.data as any).terraform_remote_state["cross-stack-reference-input-ecs"].config.path).toBe("../../../terraform.ecs.tfstate");
  });

  test("deploy uploads the job: terraform_data with our uploader, replaced when the content changes", () => {
    const data = only(json, "terraform_data");
    const cmd: string = data.provisioner[0]["local-exec"].command;
    expect(cmd).toMatch(
      /^'node' '.*\/cli\/index\.js' --region 'us-east-1' upload --job-dir '.*montage-mini' --bucket \$\{aws_s3_bucket\.[^}]+\.bucket\} --prefix 'montage\/' --outage-timeout 90$/,
    );
    expect(data.triggers_replace.content).toBe(jobContentHash(validateJobDir(FIXTURE_JOB).files));
  });

  test("outputs", () => {
    expect(
      Object.keys(json.output!)
        .filter((k) => !k.startsWith("cross-stack"))
        .sort(),
    ).toEqual(["bucket_name", "cluster_name", "engine_image", "engine_log_group", "engine_task_definition", "job_prefix"]);
  });
});

describe("runner stack with a configured engine image (the seed's layout)", () => {
  const { json } = synthConfig({
    runner: { prefix: "montage/", engineImage: "krysp89/hyperflow-hflow:latest", taskContainer: "hyperflowwms/montage-worker:6.0-je1.4.0", timeoutSeconds: 60 },
    ecs: { clusterName: "lab", metricsUrl: "http://10.0.0.5:8086/hyperflow_tests", images: { worker: "krysp89/hyperflow-worker-nfs:latest" } },
  });
  const runner = json.runner;
  const bucketRef = (attr: string) => `\${aws_s3_bucket.${Object.keys(runner.resource!.aws_s3_bucket)[0]}.${attr}}`;

  test("fetch workdir/ from the bucket, Redis, then the configured engine with the seed's environment", () => {
    const [fetch, redis, engine] = containers(only(runner, "aws_ecs_task_definition"));
    expect(fetch.command).toEqual(["s3", "cp", "--recursive", "--only-show-errors", `s3://${bucketRef("bucket")}/montage/workdir/`, "/workdir/"]);
    expect(fetch.essential).toBe(false);
    expect(redis.command).toContain("127.0.0.1");
    expect(engine.image).toBe("krysp89/hyperflow-hflow:latest");
    const env = Object.fromEntries(engine.environment.map((e: any) => [e.name, e.value]));
    expect(env).toEqual({
      S3_BUCKET: bucketRef("bucket"),
      S3_PATH: "montage/input/",
      REDIS_URL: "redis://127.0.0.1:6379",
      AWS_REGION: "us-east-1",
      METRIC_COLLECTOR: "http://10.0.0.5:8086/hyperflow_tests",
      CONTAINER: "hyperflowwms/montage-worker:6.0-je1.4.0",
    });
    expect(engine.dependsOn).toEqual([
      { containerName: "fetch-workdir", condition: "SUCCESS" },
      { containerName: "redis", condition: "START" },
    ]);
    // The seed's engine writes no result marker: its role only reads.
    expect(
      resources(runner, "aws_iam_role_policy")
        .map((p) => p.name)
        .sort(),
    ).toEqual(["ReadBrokerSecret", "WorkersUseBucket", "WorkflowBucketRead"]);
  });
});

describe("runner stack without a job directory", () => {
  const { json } = synthConfig({});
  test("no upload resource; the engine runs workdir/dag.json by default", () => {
    expect(resources(json.runner, "terraform_data")).toHaveLength(0);
    expect(containers(only(json.runner, "aws_ecs_task_definition"))[0].command[2]).toBe("/workdir/dag.json");
  });
});

describe("job content hash", () => {
  test("changes with a same-size edit even when the mtime is set back; stable otherwise", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-hash-"));
    fs.cpSync(FIXTURE_JOB, dir, { recursive: true });
    const before = jobContentHash(validateJobDir(dir).files);
    expect(jobContentHash(validateJobDir(dir).files)).toBe(before);
    const f = path.join(dir, "input", "region.hdr");
    const st = fs.statSync(f);
    const data = fs.readFileSync(f);
    data[0] = data[0] === 0x41 ? 0x42 : 0x41;
    fs.writeFileSync(f, data);
    fs.utimesSync(f, st.atime, st.mtime);
    expect(jobContentHash(validateJobDir(dir).files)).not.toBe(before);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a bad job directory stops the synth with every problem", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-badjob-"));
    fs.mkdirSync(path.join(dir, "workdir"));
    expect(() => synthConfig({ runner: { jobDir: dir } })).toThrow(JobDirError);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
