/**
 * One network interface for three choices: the account's default VPC, a new VPC, or an existing VPC.
 * Consumers only see `vpcId`, `subnetIds`, `vpcCidr` and whether instances need a public IP.
 */
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { DataAwsSubnets } from "@cdktf/provider-aws/lib/data-aws-subnets";
import { DataAwsVpc } from "@cdktf/provider-aws/lib/data-aws-vpc";
import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { NETWORK_DEFAULTS } from "../core/defaults";
import { AZ_COUNT, NEW_VPC_CIDR, SUBNET_ID, VPC_ID } from "../core/rules";
import { PropsError, requireRule } from "../core/validation";

/** The account's default VPC and its default subnets (one per AZ, public IPs). */
export interface DefaultVpcNetworkProps {
  readonly mode: "default";
}

/** A new VPC with public subnets, and optionally private subnets behind one NAT gateway. */
export interface NewVpcNetworkProps {
  readonly mode: "new";
  /** CIDR of the VPC, prefix /16 to /20; subnets are /24 blocks carved from it. @default "10.0.0.0/16" */
  readonly cidr?: string;
  /** Availability zones that get subnets, 2 to 6. @default 2 */
  readonly azCount?: number;
  /** Private subnets behind one NAT gateway for the instances. @default false - public subnets, public IPs, no inbound rules */
  readonly privateSubnets?: boolean;
  /** Name prefix for the VPC's Name tags. @default "hyperflow" */
  readonly name?: string;
  /** Public subnets give instances a public IP themselves (for launchers that do not ask, e.g. EKS node groups). @default false */
  readonly mapPublicIpOnLaunch?: boolean;
}

/** A VPC that exists already, by id. */
export interface ExistingVpcNetworkProps {
  readonly mode: "existing";
  readonly vpcId: string;
  /** @default - every subnet of the VPC */
  readonly subnetIds?: readonly string[];
  /** Whether instances in the subnets need a public IP to reach AWS APIs and registries. @default true */
  readonly assignPublicIp?: boolean;
}

export type NetworkProps = DefaultVpcNetworkProps | NewVpcNetworkProps | ExistingVpcNetworkProps;

/** Where instances run. Build it once per stack and hand it to the constructs that need subnets. */
export class Network extends Construct {
  /** The VPC: a resource in "new" mode, a data source otherwise. */
  readonly resource: Vpc | DataAwsVpc;
  readonly vpcId: string;
  readonly vpcCidr: string;
  /** Subnets for instances (a token list). */
  readonly subnetIds: string[];
  /** Whether instances in `subnetIds` need a public IP to reach AWS APIs and registries. */
  readonly assignPublicIp: boolean;
  readonly mode: NetworkProps["mode"];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    Network.validate(props);
    this.mode = props.mode;
    switch (props.mode) {
      case "default": {
        const vpc = new DataAwsVpc(this, "DefaultVpc", { default: true });
        const subnets = new DataAwsSubnets(this, "DefaultSubnets", {
          filter: [
            { name: "vpc-id", values: [vpc.id] },
            { name: "default-for-az", values: ["true"] },
          ],
        });
        this.resource = vpc;
        this.vpcId = vpc.id;
        this.vpcCidr = vpc.cidrBlock;
        this.subnetIds = subnets.ids;
        this.assignPublicIp = true;
        break;
      }
      case "existing": {
        const vpc = new DataAwsVpc(this, "Vpc", { id: props.vpcId });
        this.resource = vpc;
        this.vpcId = vpc.id;
        this.vpcCidr = vpc.cidrBlock;
        this.subnetIds = props.subnetIds ? [...props.subnetIds] : new DataAwsSubnets(this, "Subnets", { filter: [{ name: "vpc-id", values: [vpc.id] }] }).ids;
        this.assignPublicIp = props.assignPublicIp ?? NETWORK_DEFAULTS.existingVpc.assignPublicIp;
        break;
      }
      case "new": {
        const built = this.buildVpc(props);
        this.resource = built.vpc;
        this.vpcId = built.vpc.id;
        this.vpcCidr = built.cidr;
        this.subnetIds = built.instanceSubnets;
        this.assignPublicIp = !(props.privateSubnets ?? NETWORK_DEFAULTS.newVpc.privateSubnets);
        break;
      }
    }
  }

  /** Props of every mode, checked before anything is built. */
  private static validate(props: NetworkProps): void {
    if (props.mode === "existing") {
      requireRule("Network", "vpcId", props.vpcId, VPC_ID);
      for (const subnet of props.subnetIds ?? []) requireRule("Network", "subnetIds", subnet, SUBNET_ID, { allowTokens: true });
      if (props.subnetIds?.length === 0)
        throw new PropsError("Network", "subnetIds", props.subnetIds, "at least one subnet id, or no list for every subnet of the VPC");
    } else if (props.mode === "new") {
      requireRule("Network", "azCount", props.azCount ?? NETWORK_DEFAULTS.newVpc.azCount, AZ_COUNT);
      requireRule("Network", "cidr", props.cidr ?? NETWORK_DEFAULTS.newVpc.cidr, NEW_VPC_CIDR);
    }
  }

  private buildVpc(props: NewVpcNetworkProps) {
    const cidr = props.cidr ?? NETWORK_DEFAULTS.newVpc.cidr;
    const azCount = props.azCount ?? NETWORK_DEFAULTS.newVpc.azCount;
    const name = props.name ?? "hyperflow";
    const prefix = Number(cidr.split("/")[1]);

    const azs = new DataAwsAvailabilityZones(this, "Azs", { state: "available", filter: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] });
    const vpc = new Vpc(this, "Vpc", { cidrBlock: cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: name } });
    // A new VPC's default security group allows all traffic between its members; take every rule away.
    new DefaultSecurityGroup(this, "DefaultSgLockdown", { vpcId: vpc.id, tags: { Name: `${name}-default-unused` } });
    const igw = new InternetGateway(this, "Igw", { vpcId: vpc.id, tags: { Name: name } });
    const publicRt = new RouteTable(this, "PublicRoutes", {
      vpcId: vpc.id,
      route: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
      tags: { Name: `${name}-public` },
    });
    const newbits = 24 - prefix;
    // Subnets are keyed by AZ index, and index i also defines the subnet (its /24 block and the i-th
    // available AZ), so an id always names the same subnet. (Private blocks start after the public
    // ones at azCount: changing azCount moves them, whatever their ids.)
    const publicSubnets: Subnet[] = [];
    for (let i = 0; i < azCount; i++) {
      const subnet = new Subnet(this, `Public${i}`, {
        vpcId: vpc.id,
        cidrBlock: Fn.cidrsubnet(cidr, newbits, i),
        availabilityZone: Fn.element(azs.names, i),
        mapPublicIpOnLaunch: props.mapPublicIpOnLaunch ?? false,
        tags: { Name: `${name}-public-${i}` },
      });
      new RouteTableAssociation(this, `Public${i}Routes`, { subnetId: subnet.id, routeTableId: publicRt.id });
      publicSubnets.push(subnet);
    }
    if (!props.privateSubnets) {
      return { vpc, cidr, instanceSubnets: publicSubnets.map((s) => s.id) };
    }
    const eip = new Eip(this, "NatIp", { domain: "vpc", tags: { Name: `${name}-nat` } });
    const nat = new NatGateway(this, "Nat", { allocationId: eip.id, subnetId: publicSubnets[0].id, tags: { Name: name }, dependsOn: [igw] });
    const privateRt = new RouteTable(this, "PrivateRoutes", {
      vpcId: vpc.id,
      route: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.id }],
      tags: { Name: `${name}-private` },
    });
    const privateSubnets: string[] = [];
    for (let i = 0; i < azCount; i++) {
      const subnet = new Subnet(this, `Private${i}`, {
        vpcId: vpc.id,
        cidrBlock: Fn.cidrsubnet(cidr, newbits, azCount + i),
        availabilityZone: Fn.element(azs.names, i),
        tags: { Name: `${name}-private-${i}` },
      });
      new RouteTableAssociation(this, `Private${i}Routes`, { subnetId: subnet.id, routeTableId: privateRt.id });
      privateSubnets.push(subnet.id);
    }
    return { vpc, cidr, instanceSubnets: privateSubnets };
  }
}
