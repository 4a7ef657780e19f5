/** Security-group rules used by several constructs, one rule resource each (no inline rules). */
import type { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import type { Construct } from "constructs";

/** Outbound traffic anywhere (image pulls, AWS APIs). */
export function allowEgressAll(scope: Construct, id: string, sg: SecurityGroup, description: string): VpcSecurityGroupEgressRule {
  return new VpcSecurityGroupEgressRule(scope, id, { securityGroupId: sg.id, description, ipProtocol: "-1", cidrIpv4: "0.0.0.0/0" });
}

/** One TCP port from each CIDR (IPv4 or IPv6); construct ids `<idPrefix><index>`. */
export function allowTcpFromCidrs(scope: Construct, idPrefix: string, sg: SecurityGroup, port: number, cidrs: readonly string[], description: string): VpcSecurityGroupIngressRule[] {
  return cidrs.map(
    (cidr, i) =>
      new VpcSecurityGroupIngressRule(scope, `${idPrefix}${i}`, {
        securityGroupId: sg.id,
        description,
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
        ...(cidr.includes(":") ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
      }),
  );
}
