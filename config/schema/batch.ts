/**
 * `batch`: container apps (what SCAR does for grycap/scar examples/architrave) on AWS Batch, single-node
 * or multi-node parallel with MPI, optionally also as a Lambda container-image function, started on
 * demand (`hflow-infra app run`) or by an upload to the app's input prefix (S3 → EventBridge → Batch or Lambda).
 */
import { z } from "zod";
import {
  APP_MEMORY_MIB,
  APP_NAME,
  APP_NODES,
  APP_TIMEOUT_SECONDS,
  APP_VCPUS,
  BATCH_NAME,
  COMMAND_ARG,
  FARGATE_LIMITS,
  JOIN_TIMEOUT_SECONDS,
  LAMBDA_LIMITS,
  MAX_VCPUS,
  OUTPUT_FILE,
} from "../../constructs/batch/rules";
import { BUCKET_NAME_PREFIX, IMAGE_TAG, KEY_PREFIX, LOG_RETENTION, PINNED_IMAGE, ruleMessage } from "../../constructs/core/rules";
import { checked, distinctItems, instanceType, intIn, withCrossKeyChecks } from "./common";

const appShape = z.strictObject({
  image: checked(z.string(), PINNED_IMAGE)
    .optional()
    .describe(
      "Image of the app, pinned. Default: the stack's ECR repository `<batch.name>/<app>` under `imageTag` (build it FROM this project's images/app, which has the entrypoint, OpenMPI and OpenSSH). Lambda needs an image in that repository.",
    ),
  imageTag: checked(z.string(), IMAGE_TAG)
    .optional()
    .describe("Tag of the app's image in the stack's ECR repository (tags are immutable); required unless `image` is set."),
  command: z
    .array(checked(z.string(), COMMAND_ARG))
    .min(1)
    .describe(
      'The app and its arguments, run in the job\'s working directory after the input is downloaded there; `{input}` in an argument becomes the input\'s file name (SCAR: APP_BIN and APP_PARAMS). Multi-node jobs run it under `mpirun` across all nodes. Example: ["/opt/app/simest", "{input}", "result.txt"].',
    ),
  outputs: distinctItems(z.array(checked(z.string(), OUTPUT_FILE)), "distinct file names")
    .min(1)
    .describe(
      "Files the app must write in its working directory; each is uploaded to `<outputPrefix><job id>/<file>`. A run that leaves one out fails and uploads none.",
    ),
  vcpus: intIn(APP_VCPUS).default(1).describe("vCPUs per node (container)."),
  memoryMiB: intIn(APP_MEMORY_MIB).default(2048).describe("Memory per node (container), MiB (SCAR's architrave needs at least 1.2 GB)."),
  nodes: intIn(APP_NODES)
    .default(1)
    .describe(
      "Nodes of a job: 1 runs one container; more runs a multi-node parallel job whose nodes find each other from Batch's environment and run the command with mpirun (on-demand EC2 only).",
    ),
  inputPrefix: checked(z.string(), KEY_PREFIX)
    .optional()
    .describe("Key prefix of inputs in the stack's bucket (SCAR `input`). Default `apps/<app>/input/`. The job role reads only here."),
  outputPrefix: checked(z.string(), KEY_PREFIX)
    .optional()
    .describe("Key prefix of outputs (SCAR `output`). Default `apps/<app>/output/`. The job role writes only here."),
  timeoutSeconds: intIn(APP_TIMEOUT_SECONDS).default(3600).describe("Time limit of a job attempt; Batch then stops the job (failed)."),
  joinTimeoutSeconds: intIn(JOIN_TIMEOUT_SECONDS)
    .default(600)
    .describe("Multi-node jobs: how long the main node waits for every other node to join before it fails the job."),
  trigger: z
    .boolean()
    .default(false)
    .describe("Run the app on every upload to `inputPrefix` (S3 → EventBridge → Batch SubmitJob with the object key), as SCAR's trigger does."),
  lambda: z
    .boolean()
    .default(false)
    .describe(
      `Also deploy the app as a Lambda container-image function (1 node, timeout ≤ ${LAMBDA_LIMITS.timeoutSeconds} s, memory ≤ ${LAMBDA_LIMITS.memoryMiB} MiB); with \`trigger\`, uploads go to Lambda instead of Batch.`,
    ),
  fargate: z
    .boolean()
    .default(false)
    .describe(`Run the Batch job on Fargate instead of EC2 (1 node, ≤ ${FARGATE_LIMITS.vcpus} vCPU, ≤ ${FARGATE_LIMITS.memoryMiB} MiB).`),
});

export type AppConfig = z.output<typeof appShape>;

const app = withCrossKeyChecks(appShape, [
  {
    reads: [["image"], ["imageTag"]],
    check: ({ image, imageTag }, report) => {
      if (image === undefined && imageTag === undefined)
        report(["imageTag"], "is missing: the app needs an image; allowed: imageTag (pushed to the stack's ECR repository) or image (a pinned reference)");
      if (image !== undefined && imageTag !== undefined)
        report(["imageTag"], "is set together with image; allowed: one of them (imageTag names an image in the stack's repository)", imageTag);
    },
  },
  {
    reads: [["lambda"], ["nodes"], ["timeoutSeconds"], ["memoryMiB"], ["image"]],
    check: (a, report) => {
      if (!a.lambda) return;
      if (a.nodes !== 1) report(["lambda"], "needs nodes 1: a Lambda function is one process; allowed: false, or nodes 1", true);
      if (a.timeoutSeconds > LAMBDA_LIMITS.timeoutSeconds)
        report(["timeoutSeconds"], `is more than Lambda allows with lambda true; allowed: 60 to ${LAMBDA_LIMITS.timeoutSeconds}`, a.timeoutSeconds);
      if (a.memoryMiB > LAMBDA_LIMITS.memoryMiB)
        report(["memoryMiB"], `is more than Lambda allows with lambda true; allowed: 512 to ${LAMBDA_LIMITS.memoryMiB}`, a.memoryMiB);
      if (a.image !== undefined)
        report(["image"], "is set with lambda true: Lambda runs images from an ECR repository of the account only; allowed: unset, with imageTag", a.image);
    },
  },
  {
    reads: [["fargate"], ["nodes"], ["vcpus"], ["memoryMiB"]],
    check: (a, report) => {
      if (!a.fargate) return;
      if (a.nodes !== 1) report(["fargate"], "needs nodes 1: Batch runs multi-node parallel jobs on EC2 only; allowed: false, or nodes 1", true);
      if (a.vcpus > FARGATE_LIMITS.vcpus) report(["vcpus"], `is more than Fargate allows; allowed: 1 to ${FARGATE_LIMITS.vcpus} with fargate true`, a.vcpus);
      if (a.memoryMiB > FARGATE_LIMITS.memoryMiB)
        report(["memoryMiB"], `is more than Fargate allows; allowed: 512 to ${FARGATE_LIMITS.memoryMiB} with fargate true`, a.memoryMiB);
    },
  },
]);

/** Apps by name; a bad name is reported at its own key with what is allowed (a record key check in zod says only "Invalid key"). */
const appNames = z.record(z.string(), app).superRefine((apps, ctx) => {
  for (const name of Object.keys(apps)) {
    const message = ruleMessage(APP_NAME, name);
    if (message !== undefined) ctx.addIssue({ code: "custom", path: [name], message, input: name });
  }
});

export const batch = z
  .strictObject({
    name: checked(z.string(), BATCH_NAME)
      .default("hyperflow-apps")
      .describe("Prefix of the stack's Batch resources (compute environments, job queues, job definitions `<name>-<app>`) and of its ECR repositories."),
    apps: appNames
      .default({})
      .describe("Container apps by name (1 to 32 lowercase letters, digits and -). The `batch` stack exists when at least one app is configured."),
    instanceTypes: distinctItems(z.array(instanceType()).min(1), "distinct instance types")
      .default(["c6i.large", "c6i.xlarge", "m6i.large", "m6i.xlarge"])
      .describe("EC2 instance types of the compute environments (SCAR: m3.medium). Multi-node jobs need a type with at least an app's vcpus and memory."),
    maxVcpus: intIn(MAX_VCPUS).default(64).describe("Most vCPUs each compute environment runs at once (it scales to zero when idle; SCAR: 2)."),
    spot: z
      .boolean()
      .default(true)
      .describe("Single-node EC2 jobs try a Spot compute environment first, then on-demand. Multi-node jobs always run on on-demand instances."),
    rootVolumeSizeGiB: z.number().int().min(30).max(16_384).default(30).describe("Encrypted gp3 root volume of the instances, GiB."),
    bucketPrefix: checked(z.string(), BUCKET_NAME_PREFIX)
      .default("hyperflow-apps-")
      .describe("Prefix of the generated name of the stack's bucket (inputs and outputs of every app; SCAR: a fixed `scar-architrave`)."),
    forceDestroy: z.boolean().default(false).describe("Let `destroy batch` delete the bucket with everything in it."),
    logRetentionDays: checked(z.number().int().default(30), LOG_RETENTION).describe("Days CloudWatch keeps job and function logs (SCAR: 30)."),
  })
  .prefault({})
  .describe(
    "The `batch` stack: container apps on AWS Batch (single-node, or multi-node parallel with MPI) and optionally on Lambda, with their bucket, ECR repositories and S3 triggers. Deployed only when `apps` names one.",
  );
