/** `network`: the account's default VPC, a new VPC, or an existing VPC. */
import { z } from "zod";
import { NETWORK_DEFAULTS } from "../../constructs/core/defaults";
import { AZ_COUNT, NEW_VPC_CIDR, SUBNET_ID, VPC_ID } from "../../constructs/core/rules";
import { checked, cidr, intIn } from "./common";

const defaultVpc = z.strictObject({
  mode: z.literal("default"),
});
const newVpc = z.strictObject({
  mode: z.literal("new"),
  cidr: checked(cidr, NEW_VPC_CIDR).default(NETWORK_DEFAULTS.newVpc.cidr).describe("CIDR of the new VPC; subnets are /24 blocks carved from it."),
  azCount: intIn(AZ_COUNT)
    .default(NETWORK_DEFAULTS.newVpc.azCount)
    .describe("How many availability zones (taken from the region's available zones) get a subnet of each kind."),
  privateSubnets: z
    .boolean()
    .default(NETWORK_DEFAULTS.newVpc.privateSubnets)
    .describe(
      "Put instances in private subnets behind one NAT gateway (about 35 USD a month plus traffic). Default: public subnets with public IPs and no inbound rules, which costs nothing extra.",
    ),
});
const existingVpc = z.strictObject({
  mode: z.literal("existing"),
  vpcId: checked(z.string(), VPC_ID).describe("Id of the VPC to deploy into."),
  subnetIds: z.array(checked(z.string(), SUBNET_ID)).min(1).optional().describe("Subnets for the instances. Default: every subnet of the VPC."),
  assignPublicIp: z
    .boolean()
    .default(NETWORK_DEFAULTS.existingVpc.assignPublicIp)
    .describe("Give instances a public IP (needed when the subnets have no NAT gateway or VPC endpoints)."),
});
export const network = z
  .discriminatedUnion("mode", [defaultVpc, newVpc, existingVpc])
  .default({ mode: "default" })
  .describe("Where instances run: the account's default VPC, a new VPC, or an existing VPC.");
