/** `runner`: the workflow bucket, the engine task and the upload of a job directory. */
import { z } from "zod";
import { ENGINE_TASK_DEFAULTS, WORKFLOW_BUCKET_DEFAULTS } from "../../constructs/core/defaults";
import { BUCKET_NAME_PREFIX, emptyOr, ENGINE_MEMORY_MIB, KEY_PREFIX, PINNED_IMAGE } from "../../constructs/core/rules";
import { checked, imageRef, intIn, REDIS_IMAGE, SEED_IMAGES } from "./common";

export const runner = z
  .strictObject({
    bucketPrefix: checked(z.string(), BUCKET_NAME_PREFIX)
      .default(WORKFLOW_BUCKET_DEFAULTS.namePrefix)
      .describe("Prefix of the generated workflow bucket name (seed `BUCKET_NAME` = hyperflow-1111, a fixed global name that collides)."),
    forceDestroy: z
      .boolean()
      .default(WORKFLOW_BUCKET_DEFAULTS.forceDestroy)
      .describe("Let `destroy runner` delete the bucket with everything in it (the seed: true). Default false: results survive a destroy; empty the bucket first."),
    prefix: checked(z.string(), KEY_PREFIX)
      .default("")
      .describe("Key prefix of the job in the bucket; `workdir/` and `input/` go below it. Default: the bucket root, as in the seed."),
    jobDir: z
      .string()
      .optional()
      .describe("Job directory (with workdir/ and input/) that `deploy runner` uploads, re-uploading only what changed. Env HFLOW_JOB_DIR overrides it."),
    engineImage: imageRef("HyperFlow engine image with amqpCommand and S3 storage (seed `krysp89/hyperflow-hflow`).", SEED_IMAGES.engine),
    redisImage: imageRef("Redis for the engine.", REDIS_IMAGE),
    fetchImage: imageRef("AWS CLI image that copies workdir/ from the bucket before the engine starts.", "public.ecr.aws/aws-cli/aws-cli:2.22.4"),
    engineMemoryMiB: intIn(ENGINE_MEMORY_MIB).default(ENGINE_TASK_DEFAULTS.engineMemoryMiB).describe("Memory reservation of the engine container."),
    taskContainer: checked(z.string().default(""), emptyOr(PINNED_IMAGE)).describe(
      "CONTAINER: image the executor runs each task in (seed default krysp89/hyperflow-amqp-executor, unpinned). Empty: tasks run inside the worker.",
    ),
  })
  .prefault({})
  .describe("The `runner` stack: workflow bucket, engine task (HyperFlow + Redis), and the upload of a job directory.");
