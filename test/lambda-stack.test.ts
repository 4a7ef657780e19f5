/** The `lambda` stack: task function, its role and logs, the engine's Fargate task; and config checks of the `lambda` section. */
import { validateConfig } from "../config/load";
import { imageTag } from "../images/tag";
import { stackNames } from "../stacks/app";
import { containers, only, resources, synthConfig } from "./support/stack-json";

const input = {
  runner: { prefix: "montage/" },
  lambda: { enabled: true, name: "lab-tasks", memoryMiB: 3008, timeoutSeconds: 600, ephemeralStorageMiB: 4096, reservedConcurrency: 50, logRetentionDays: 14 },
};

describe("lambda stack", () => {
  const { json: all } = synthConfig(input);
  const json = all.lambda;
  type Statement = { Sid: string; Action: string[]; Resource: string[]; Condition?: unknown };
  const policies = (): Record<string, Statement[]> =>
    Object.fromEntries(resources(json, "aws_iam_role_policy").map((p) => [p.name, JSON.parse(p.policy).Statement as Statement[]]));

  test("only with lambda.enabled, after the network stack", () => {
    expect(stackNames(validateConfig({}).config)).not.toContain("lambda");
    expect(stackNames(validateConfig(input).config)).toEqual(["network", "ecs", "runner", "lambda"]);
  });

  test("function: container image from our worker repository under its content tag, the configured limits, /tmp, concurrency, own log group", () => {
    const f = only(json, "aws_lambda_function");
    const workerRepo = resources(json, "aws_ecr_repository").find((r) => r.name === "lab-tasks/worker")!;
    expect(workerRepo.image_tag_mutability).toBe("IMMUTABLE");
    expect(f).toMatchObject({
      function_name: "lab-tasks",
      package_type: "Image",
      architectures: ["x86_64"],
      memory_size: 3008,
      timeout: 600,
      ephemeral_storage: { size: 4096 },
      reserved_concurrent_executions: 50,
    });
    expect(f.image_uri).toMatch(new RegExp(`^\\$\\{aws_ecr_repository\\.WorkerRepository_[0-9A-F]+\\.repository_url\\}:${imageTag("worker")}$`));
    expect(f.environment.variables).toEqual({
      STORAGE: "s3",
      S3_BUCKET: expect.stringMatching(/^\$\{aws_s3_bucket\.Bucket_\w+\.bucket\}$/),
      SCRATCH_DIR: "/tmp/hflow-jobs",
    });
    expect(f.kms_key_arn).toBeUndefined();
    const group = resources(json, "aws_cloudwatch_log_group").find((g) => g.name === "/aws/lambda/lab-tasks")!;
    expect(group.retention_in_days).toBe(14);
    expect(f.logging_config.log_group).toMatch(/^\$\{aws_cloudwatch_log_group\.Tasks_Logs_\w+\.name\}$/);
    expect(resources(json, "aws_lambda_function_url")).toEqual([]);
  });

  test("function role: the bucket's job prefix only (objects, listing with an s3:prefix condition), its own log group", () => {
    const st = policies().TaskFunction;
    expect(st.map((s) => s.Sid)).toEqual(["StageJobFiles", "ListJobFiles", "WriteOwnLogs"]);
    expect(st[0].Resource).toEqual([expect.stringMatching(/^\$\{aws_s3_bucket\.Bucket_\w+\.arn\}\/montage\/\*$/)]);
    expect(st[0].Action).toEqual(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]);
    expect(st[1].Condition).toEqual({ StringLike: { "s3:prefix": ["montage/*"] } });
    expect(st[2].Resource).toEqual([expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.Tasks_Logs_\w+\.arn\}:\*$/)]);
    const pull = JSON.parse(only(json, "aws_ecr_repository_policy").policy).Statement[0];
    expect(pull.Principal).toEqual({ Service: "lambda.amazonaws.com" });
    expect(pull.Condition.StringLike["aws:sourceArn"]).toMatch(/:function:lab-tasks$/);
  });

  test("engine: a Fargate task (no instances) with a Redis sidecar from the engine image, started when Redis is healthy", () => {
    expect(resources(json, "aws_instance")).toEqual([]);
    expect(resources(json, "aws_autoscaling_group")).toEqual([]);
    expect(only(json, "aws_ecs_cluster_capacity_providers").capacity_providers).toEqual(["FARGATE"]);
    const td = only(json, "aws_ecs_task_definition");
    expect(td).toMatchObject({ requires_compatibilities: ["FARGATE"], network_mode: "awsvpc", cpu: "1024", memory: "2048" });
    const [redis, engine] = containers(td);
    expect(redis).toMatchObject({ name: "redis", essential: false, entryPoint: ["redis-server"] });
    expect(redis.image).toBe(engine.image);
    expect(engine.image).toMatch(new RegExp(`:${imageTag("engine")}$`));
    expect(engine.dependsOn).toEqual([{ containerName: "redis", condition: "HEALTHY" }]);
    const env = Object.fromEntries(engine.environment.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({
      HF_VAR_function: "lambdaCommand",
      HFLOW_EXECUTOR: "lambda",
      HFLOW_LAMBDA_FUNCTION: expect.stringMatching(/^\$\{aws_lambda_function\.Tasks_\w+\.function_name\}$/),
      HFLOW_REDIS: "external",
      REDIS_URL: "redis://127.0.0.1:6379",
      S3_PATH: "montage/input/",
    });
    expect(Object.keys(env)).not.toContain("PATH");
    expect(Object.keys(env)).not.toContain("AMQP_URL");
    expect(td.container_definitions).not.toMatch(/"secrets":\[\{/);
  });

  test("engine task role: read the bucket, write run results, invoke this function and nothing else; no inbound traffic", () => {
    const invoke = policies().InvokeTaskFunction;
    expect(invoke).toEqual([
      {
        Sid: "InvokeTaskFunction",
        Effect: "Allow",
        Action: ["lambda:InvokeFunction"],
        Resource: [expect.stringMatching(/^\$\{aws_lambda_function\.Tasks_\w+\.arn\}$/)],
      },
    ]);
    expect(policies().WriteRunResults[0].Resource).toEqual([expect.stringMatching(/\/montage\/runs\/\*$/)]);
    expect(resources(json, "aws_vpc_security_group_ingress_rule")).toEqual([]);
  });

  test("Function URL (opt-in): AWS_IAM auth, and the engine may call it", () => {
    const { json: withUrl } = synthConfig({ lambda: { enabled: true, functionUrl: true } });
    expect(only(withUrl.lambda, "aws_lambda_function_url").authorization_type).toBe("AWS_IAM");
    const st = resources(withUrl.lambda, "aws_iam_role_policy").find((p) => p.name === "InvokeTaskFunction")!;
    expect(JSON.parse(st.policy).Statement[0].Action).toEqual(["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]);
  });
});

describe("lambda config: limits checked up front, each error names the key, the value and what is allowed", () => {
  const problems = (lambda: object) => {
    try {
      validateConfig({ lambda: { enabled: true, ...lambda } });
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };
  test.each([
    [{ timeoutSeconds: 901 }, "lambda.timeoutSeconds"],
    [{ memoryMiB: 64 }, "lambda.memoryMiB"],
    [{ ephemeralStorageMiB: 20_000 }, "lambda.ephemeralStorageMiB"],
    [{ reservedConcurrency: 0 }, "lambda.reservedConcurrency"],
    [{ name: "has space" }, "lambda.name"],
    [{ kmsKeyArn: "alias/mine" }, "lambda.kmsKeyArn"],
    [{ logRetentionDays: 10 }, "lambda.logRetentionDays"],
  ])("%j is refused at %s", (bad, key) => {
    expect(problems(bad)).toMatch(new RegExp(`${key.replace(".", "\\.")}: .*allowed`));
  });
  test("engine cpu and memory must be a Fargate size", () => {
    expect(problems({ engineCpu: 1024, engineMemoryMiB: 1024 })).toContain(
      "lambda.engineMemoryMiB: memory 1024 MiB does not fit cpu 1024; allowed with cpu 1024: 2048 to 8192 in steps of 1024 (got 1024)",
    );
    expect(problems({ engineCpu: 300 })).toContain(
      "lambda.engineCpu: cpu 300 is not a Fargate size; allowed: 256, 512, 1024, 2048, 4096, 8192, 16384 (got 300)",
    );
    expect(problems({ engineCpu: 256, engineMemoryMiB: 512 })).toBe("");
  });
});
