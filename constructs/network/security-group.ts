/** Security-group rules used by several constructs, one rule resource each (no inline rules). */
import type { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import type { Construct } from "constructs";

/** Outbound traffic anywhere (image pulls, AWS APIs). */
export function allowEgressAll(scope: Construct, id: string, sg: SecurityGroup, description: string): VpcSecurityGroupEgressRule {
  return new VpcSecurityGroupEgressRule(scope, id, { securityGroupId: sg.id, description, ipProtocol: "-1", cidrIpv4: "0.0.0.0/0" });
}

/**
 * Construct id of the rule for one CIDR: `<idPrefix>-<cidr with . : / as _>`, e.g. `AdminUi-203_0_113_0_24`.
 * Keyed by the CIDR, not its position, so removing one CIDR from the list leaves the other rules in
 * place in Terraform state. IPv4 and IPv6 never map to the same id (an IPv6 CIDR has `::` or 8 groups).
 */
function cidrRuleId(idPrefix: string, cidr: string): string {
  return `${idPrefix}-${cidr.replace(/[.:/]/g, "_")}`;
}

interface TcpFromCidrsOptions {
  /** Prefix of the rules' construct ids (see `cidrRuleId`). */
  readonly idPrefix: string;
  readonly securityGroup: SecurityGroup;
  readonly port: number;
  /** IPv4 or IPv6 CIDRs, each at most once (the caller validates). */
  readonly cidrs: readonly string[];
  readonly description: string;
}

/** One TCP port from each CIDR (IPv4 or IPv6), one rule per CIDR. */
export function allowTcpFromCidrs(scope: Construct, options: TcpFromCidrsOptions): VpcSecurityGroupIngressRule[] {
  return options.cidrs.map(
    (cidr) =>
      new VpcSecurityGroupIngressRule(scope, cidrRuleId(options.idPrefix, cidr), {
        securityGroupId: options.securityGroup.id,
        description: options.description,
        ipProtocol: "tcp",
        fromPort: options.port,
        toPort: options.port,
        ...(cidr.includes(":") ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
      }),
  );
}
