/**
 * Account, partition and region of the stack a construct is in, from one place per stack (the idea of
 * aws-cdk's `Stack.of(this).account`). Constructs ask `AwsEnvironment.of(this)` instead of creating
 * their own `aws_caller_identity` / `aws_partition` data sources or taking the values as props.
 */
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack, Token } from "cdktf";
import { Construct } from "constructs";

const ID = "AwsEnvironment";

/**
 * One per stack, created on first use; each data source is created only when its value is first read,
 * so a stack that needs only the partition reads only the partition.
 */
export class AwsEnvironment extends Construct {
  /** The environment of the stack `scope` belongs to. */
  static of(scope: Construct): AwsEnvironment {
    const stack = TerraformStack.of(scope);
    const existing = stack.node.tryFindChild(ID);
    if (existing instanceof AwsEnvironment) return existing;
    if (existing) throw new Error(`AwsEnvironment: stack ${stack.node.id} already has a child named "${ID}" that is not an AwsEnvironment`);
    return new AwsEnvironment(stack, ID);
  }

  private callerIdentity?: DataAwsCallerIdentity;
  private awsPartition?: DataAwsPartition;
  private awsRegion?: DataAwsRegion;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
  }

  /** Account id of the credentials Terraform runs with (a token). */
  get accountId(): string {
    this.callerIdentity ??= new DataAwsCallerIdentity(this, "Account");
    return this.callerIdentity.accountId;
  }

  /** `aws`, `aws-cn` or `aws-us-gov` (a token): the first field of every ARN. */
  get partition(): string {
    this.awsPartition ??= new DataAwsPartition(this, "Partition");
    return this.awsPartition.partition;
  }

  /**
   * Region of the stack's default AWS provider, as the literal it was configured with; a data source
   * only when the provider has no literal region (a literal keeps log configurations and scripts
   * readable, and is what every stack of this repository has).
   */
  get region(): string {
    const provider = TerraformStack.of(this)
      .node.children.filter((c): c is AwsProvider => c instanceof AwsProvider)
      .find((p) => p.alias === undefined);
    const region = provider?.region;
    if (region !== undefined && !Token.isUnresolved(region)) return region;
    this.awsRegion ??= new DataAwsRegion(this, "Region");
    return this.awsRegion.region;
  }
}
