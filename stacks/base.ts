/**
 * What every AWS stack shares: the provider with default tags, the state backend, and the random
 * provider some constructs use.
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { LocalBackend, S3Backend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { BackendConfig } from "../config/schema";
import { terraformLiteral } from "../constructs/core/terraform-string";

interface AwsStackProps {
  readonly region: string;
  readonly backend: BackendConfig;
  /** Tags on every resource, through the provider's default_tags. */
  readonly tags: Readonly<Record<string, string>>;
}

/** Tags every hyperflow-infra resource carries, so a deployment can be found and costed. */
function standardTags(stack: string, tags: Readonly<Record<string, string>>): Record<string, string> {
  return { "hyperflow:stack": stack, "hyperflow:managed-by": "hyperflow-infra", ...tags };
}

export abstract class AwsStack extends TerraformStack {
  readonly region: string;
  readonly tags: Readonly<Record<string, string>>;
  constructor(scope: Construct, id: string, props: AwsStackProps) {
    super(scope, id);
    this.region = props.region;
    this.tags = standardTags(id, props.tags);
    new AwsProvider(this, "aws", { region: props.region, defaultTags: [{ tags: { ...this.tags } }] });
    new RandomProvider(this, "random");
    applyBackend(this, id, props.backend, props.region);
  }
}

/** The state backend of a stack (every stack, AWS or not, keeps state the same way). */
export function applyBackend(stack: TerraformStack, id: string, backend: BackendConfig, region: string): void {
  if (backend.type === "s3") {
    new S3Backend(stack, {
      bucket: backend.bucket,
      key: terraformLiteral(`${backend.keyPrefix}/${id}.tfstate`),
      region: backend.region ?? region,
      encrypt: true,
    });
    // cdktf 0.21's S3Backend has no use_lockfile: S3-native locking without a DynamoDB table.
    stack.addOverride("terraform.backend.s3.use_lockfile", true);
  } else {
    // Relative to cdktf.out/stacks/<id>: the state lives beside cdktf.out, so a fresh synth
    // (which may clear cdktf.out) never touches it.
    new LocalBackend(stack, { path: `../../../terraform.${id}.tfstate` });
  }
}
