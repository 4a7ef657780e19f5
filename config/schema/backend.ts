/** `backend`: where Terraform keeps state. */
import { z } from "zod";
import { AWS_REGION, S3_BUCKET_NAME } from "../../constructs/core/rules";
import { checked } from "./common";

const localBackend = z.strictObject({
  type: z.literal("local"),
});
const s3Backend = z.strictObject({
  type: z.literal("s3"),
  bucket: checked(z.string(), S3_BUCKET_NAME).describe("Existing bucket for Terraform state."),
  keyPrefix: z.string().default("hyperflow-infra").describe("State objects are written to `<keyPrefix>/<stack>.tfstate`."),
  region: checked(z.string(), AWS_REGION).optional().describe("Region of the state bucket. Default: the deployment region."),
});
export const backend = z
  .discriminatedUnion("type", [localBackend, s3Backend])
  .default({ type: "local" })
  .describe(
    "Where Terraform keeps state. `local` writes `terraform.<stack>.tfstate` beside the output folder (cdktf.out); `s3` uses S3 with native lock files (`use_lockfile`, Terraform ≥ 1.10 / OpenTofu ≥ 1.10), no DynamoDB table.",
  );
