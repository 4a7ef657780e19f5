/** `runner`: the workflow bucket, the engine task and the upload of a job directory. */
import { z } from "zod";
import { ENGINE_TASK_DEFAULTS, WORKFLOW_BUCKET_DEFAULTS } from "../../constructs/core/defaults";
import { BUCKET_NAME_PREFIX, emptyOr, ENGINE_MEMORY_MIB, KEY_PREFIX, OUTAGE_SECONDS, PINNED_IMAGE, RUN_TIMEOUT_SECONDS } from "../../constructs/core/rules";
import { DEFAULT_OUTAGE_SECONDS } from "../../runner/endpoint-health";
import { checked, imageRef, intIn, REDIS_IMAGE, requiredImageRef, SEED_IMAGES, withCrossKeyChecks } from "./common";

/** `runner.followTimeoutSeconds`: the engine's default time limit and an hour to get it started. */
const FOLLOW_TIMEOUT_SECONDS = ENGINE_TASK_DEFAULTS.timeoutSeconds + 3600;

const runnerShape = z.strictObject({
  bucketPrefix: checked(z.string(), BUCKET_NAME_PREFIX)
    .default(WORKFLOW_BUCKET_DEFAULTS.namePrefix)
    .describe("Prefix of the generated workflow bucket name (seed `BUCKET_NAME` = hyperflow-1111, a fixed global name that collides)."),
  forceDestroy: z
    .boolean()
    .default(WORKFLOW_BUCKET_DEFAULTS.forceDestroy)
    .describe(
      "Let `destroy runner` delete the bucket with everything in it (the seed: true). Default false: results survive a destroy; empty the bucket first.",
    ),
  prefix: checked(z.string(), KEY_PREFIX)
    .default("")
    .describe("Key prefix of the job in the bucket; `workdir/` and `input/` go below it. Default: the bucket root, as in the seed."),
  jobDir: z
    .string()
    .optional()
    .describe("Job directory (with workdir/ and input/) that `deploy runner` uploads, re-uploading only what changed. Env HFLOW_JOB_DIR overrides it."),
  engineImage: requiredImageRef(
    `HyperFlow engine image. Default: this project's engine image (images/engine: HyperFlow 1.7.0 and an entrypoint that fetches workdir/, starts Redis, runs the workflow and writes the result marker), pushed by the CLI to the cluster's ECR repository \`<cluster>/engine\` under its content tag; the task then has this one container. An image named here runs the seed's way instead: beside a container that copies workdir/ from the bucket (\`fetchImage\`) and a Redis container (\`redisImage\`), with HyperFlow at /hyperflow/bin/hflow. The seed's image (${SEED_IMAGES.engine}, only published as \`latest\`) is such an opt-in; pin it by digest.`,
  ).optional(),
  redisImage: imageRef("Redis for the engine; only with a configured `engineImage` (this project's engine image runs its own).", REDIS_IMAGE),
  fetchImage: imageRef(
    "AWS CLI image that copies workdir/ from the bucket before the engine starts; only with a configured `engineImage` (this project's engine image fetches it itself).",
    "public.ecr.aws/aws-cli/aws-cli:2.22.4",
  ),
  timeoutSeconds: intIn(RUN_TIMEOUT_SECONDS)
    .default(ENGINE_TASK_DEFAULTS.timeoutSeconds)
    .describe(
      "Time limit of a workflow run in the engine (HFLOW_TIMEOUT_SECONDS of this project's engine image; the run then fails with exit code 124). 0: none. Not applied to a configured `engineImage`.",
    ),
  followTimeoutSeconds: intIn(RUN_TIMEOUT_SECONDS)
    .default(FOLLOW_TIMEOUT_SECONDS)
    .describe(
      "How long `hflow-infra run` follows the engine before it gives up with exit code 124 (the task keeps running; `run --timeout` overrides it). Default 25 hours: the engine's default time limit (`timeoutSeconds`) plus an hour for placement, image pulls and the fetch. 0: no limit.",
    ),
  uploadOutageSeconds: intIn(OUTAGE_SECONDS)
    .default(DEFAULT_OUTAGE_SECONDS)
    .describe(
      "How long `hflow-infra run`, and the deploy-time upload of the `runner` stack, wait for the S3 endpoint when it stops answering during the upload (no answer, or only 5xx, from every request) before they stop with exit code 75; a re-run uploads only what is missing (`upload --outage-timeout` is the same bound). 0: no bound.",
    ),
  engineMemoryMiB: intIn(ENGINE_MEMORY_MIB).default(ENGINE_TASK_DEFAULTS.engineMemoryMiB).describe("Memory reservation of the engine container."),
  taskContainer: checked(z.string().default(""), emptyOr(PINNED_IMAGE)).describe(
    "CONTAINER: image the executor runs each task in (seed default krysp89/hyperflow-amqp-executor, unpinned); only with a configured `engineImage` and `ecs.images.worker` (the seed's engine passes it on and the seed's worker starts it; this project's run tasks inside the worker), and it gives the workers the Docker socket (`ecs.workers.dockerAccess`). Empty: tasks run inside the worker.",
  ),
});
export const runner = withCrossKeyChecks(runnerShape, [
  {
    reads: [["taskContainer"], ["engineImage"]],
    check: ({ taskContainer, engineImage }, report) => {
      if (taskContainer !== "" && engineImage === undefined) {
        report(
          ["taskContainer"],
          "needs runner.engineImage: this project's engine and executor run tasks inside the worker; allowed: empty, or set runner.engineImage to an engine that passes CONTAINER on",
          taskContainer,
        );
      }
    },
  },
])
  .prefault({})
  .describe("The `runner` stack: workflow bucket, engine task (HyperFlow with its Redis), and the upload of a job directory.");
