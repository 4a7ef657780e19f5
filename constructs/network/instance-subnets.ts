/**
 * Which of a network's subnets can take an instance type: those in an availability zone that offers it.
 * Not every zone offers every type (in us-east-1 one zone has no t3: "t3.medium is not supported in your
 * requested Availability Zone"), and the default VPC has a subnet in every zone, listed in no particular
 * order. The selection is two data sources in the consumer's stack, read at plan time:
 *
 *   data.aws_ec2_instance_type_offerings  zones (location type availability-zone) offering the type
 *   data.aws_subnets                      the network's subnets (filter subnet-id) in those zones
 *                                         (filter availability-zone): the intersection, done by EC2
 *
 * and `ids` is that list sorted, so the same subnets give the same order on every plan and `first` (what
 * a single instance uses) stays put. Each data source has a postcondition that stops the plan with a
 * message naming the instance type when nothing is left.
 */
import { DataAwsEc2InstanceTypeOfferings } from "@cdktf/provider-aws/lib/data-aws-ec2-instance-type-offerings";
import { DataAwsSubnets } from "@cdktf/provider-aws/lib/data-aws-subnets";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { INSTANCE_TYPE } from "../core/rules";
import { requireRule } from "../core/validation";

export interface InstanceSubnetsProps {
  /** The subnets to choose from (a token list is fine, e.g. the network stack's). */
  readonly subnetIds: readonly string[];
  /** The instance type that must be offered in the subnets' zones. */
  readonly instanceType: string;
}

export class InstanceSubnets extends Construct {
  readonly offerings: DataAwsEc2InstanceTypeOfferings;
  readonly subnets: DataAwsSubnets;
  /** The chosen subnets, sorted by id (a token list). */
  readonly ids: string[];
  /** The first of `ids`: where a single instance goes. */
  readonly first: string;

  constructor(scope: Construct, id: string, props: InstanceSubnetsProps) {
    super(scope, id);
    requireRule("InstanceSubnets", "instanceType", props.instanceType, INSTANCE_TYPE);
    this.offerings = new DataAwsEc2InstanceTypeOfferings(this, "Offerings", {
      locationType: "availability-zone",
      filter: [{ name: "instance-type", values: [props.instanceType] }],
      lifecycle: {
        postcondition: [
          {
            condition: "${length(self.locations) > 0}",
            errorMessage: `No availability zone of this region offers ${props.instanceType}: choose another instance type.`,
          },
        ],
      },
    });
    this.subnets = new DataAwsSubnets(this, "Subnets", {
      filter: [
        { name: "subnet-id", values: [...props.subnetIds] },
        { name: "availability-zone", values: this.offerings.locations },
      ],
      lifecycle: {
        postcondition: [
          {
            condition: "${length(self.ids) > 0}",
            errorMessage: `None of the network's subnets is in an availability zone that offers ${props.instanceType}: give subnets in other zones, or choose another instance type.`,
          },
        ],
      },
    });
    this.ids = Fn.sort(this.subnets.ids);
    this.first = Fn.element(this.ids, 0);
  }
}
