/** `lambda`: HyperFlow tasks as AWS Lambda invocations, the engine as a Fargate task (no instances). */
import { z } from "zod";
import { LAMBDA_DEFAULTS } from "../../constructs/core/defaults";
import {
  emptyOr,
  fargateSizeProblem,
  KMS_KEY_ARN,
  LAMBDA_EPHEMERAL_STORAGE_MIB,
  LAMBDA_FUNCTION_NAME,
  LAMBDA_MEMORY_MIB,
  LAMBDA_RESERVED_CONCURRENCY,
  LAMBDA_TIMEOUT_SECONDS,
  LOG_RETENTION,
} from "../../constructs/core/rules";
import { checked, intIn, withCrossKeyChecks } from "./common";

const lambdaShape = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe(
      "Add the `lambda` stack: tasks run as invocations of a container-image function built from this project's worker image (`hflow-infra run --executor lambda`).",
    ),
  name: checked(z.string(), LAMBDA_FUNCTION_NAME)
    .default(LAMBDA_DEFAULTS.name)
    .describe("Name of the task function; also names its role, log group, ECR repositories (`<name>/worker`, `<name>/engine`) and the engine's ECS cluster."),
  memoryMiB: intIn(LAMBDA_MEMORY_MIB)
    .default(LAMBDA_DEFAULTS.memoryMiB)
    .describe("Memory of the function in MiB (Lambda gives CPU in proportion: 1,769 MiB is one vCPU)."),
  timeoutSeconds: intIn(LAMBDA_TIMEOUT_SECONDS)
    .default(LAMBDA_DEFAULTS.timeoutSeconds)
    .describe("Longest task, in seconds (Lambda allows at most 900). The handler kills a task 5 s before it to report a timeout as a failed task."),
  ephemeralStorageMiB: intIn(LAMBDA_EPHEMERAL_STORAGE_MIB)
    .default(LAMBDA_DEFAULTS.ephemeralStorageMiB)
    .describe("/tmp of the function in MiB, where a task's inputs and outputs are staged (512 to 10,240)."),
  reservedConcurrency: intIn(LAMBDA_RESERVED_CONCURRENCY)
    .optional()
    .describe(
      "Invocations that may run at once (reserved concurrency): a cap on parallel tasks and their cost. Default: none reserved, the account's unreserved pool.",
    ),
  architecture: z.enum(["x86_64", "arm64"]).default("x86_64").describe("Instruction set of the function; the worker image must be built for it."),
  kmsKeyArn: checked(z.string().default(""), emptyOr(KMS_KEY_ARN)).describe(
    "KMS key for the function's environment variables. Empty: Lambda's AWS managed key (aws/lambda); they are encrypted at rest either way.",
  ),
  logRetentionDays: checked(z.number().int().default(LAMBDA_DEFAULTS.logRetentionDays), LOG_RETENTION).describe(
    "Retention of the function's and the engine's log groups, in days (a value CloudWatch Logs accepts).",
  ),
  functionUrl: z
    .boolean()
    .default(false)
    .describe(
      "Also give the function a Function URL for HyperFlow's stock REST-style callers (awsLambdaCommand). Always with AWS_IAM auth: only signed requests of principals allowed to call it (the engine task's role) get through; never an open endpoint.",
    ),
  engineCpu: z
    .number()
    .int()
    .default(LAMBDA_DEFAULTS.engineCpu)
    .describe("CPU units of the engine's Fargate task (256, 512, 1024, 2048, 4096, 8192, 16384); the engine and its Redis sidecar share it."),
  engineMemoryMiB: z.number().int().default(LAMBDA_DEFAULTS.engineMemoryMiB).describe("Memory of the engine's Fargate task in MiB; must fit `engineCpu`."),
});

export const lambda = withCrossKeyChecks(lambdaShape, [
  {
    reads: [["engineCpu"], ["engineMemoryMiB"]],
    check: ({ engineCpu, engineMemoryMiB }, report) => {
      const problem = fargateSizeProblem(engineCpu, engineMemoryMiB);
      if (problem) report(problem.startsWith("cpu") ? ["engineCpu"] : ["engineMemoryMiB"], problem, problem.startsWith("cpu") ? engineCpu : engineMemoryMiB);
    },
  },
])
  .prefault({})
  .describe("The `lambda` stack: the task function (Lambda, container image), its ECR repositories, and the engine as a Fargate task with a Redis sidecar.");
