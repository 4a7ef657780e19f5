/**
 * Instances go only to subnets whose availability zone offers their instance type (not every zone offers
 * every type), in a stable order: the master and the monitoring host to the first such subnet by id, the
 * worker group to all of them. Synth assertions over every network mode, and the reference check on the
 * expressions (a stand-in for `terraform validate`).
 */
import { checkReferences } from "./support/references";
import { only, synthConfig, type TfJson } from "./support/stack-json";

/** `${sort(data.aws_subnets.X.ids)}` or `${element(sort(data.aws_subnets.X.ids), 0)}` → the data source X. */
function selection(json: TfJson, expression: string, kind: "all" | "first"): { subnets: any; offerings: any } {
  const pattern = kind === "all" ? /^\$\{sort\(data\.aws_subnets\.([^.]+)\.ids\)\}$/ : /^\$\{element\(sort\(data\.aws_subnets\.([^.]+)\.ids\), 0\)\}$/;
  const m = pattern.exec(expression);
  if (!m) throw new Error(`not a ${kind} subnet selection: ${expression}`);
  const subnets = json.data!.aws_subnets[m[1]];
  const zones = subnets.filter.find((f: any) => f.name === "availability-zone").values as string;
  const o = /^\$\{data\.aws_ec2_instance_type_offerings\.([^.]+)\.locations\}$/.exec(zones);
  if (!o) throw new Error(`zones do not come from an offerings data source: ${zones}`);
  return { subnets, offerings: json.data!.aws_ec2_instance_type_offerings[o[1]] };
}

const candidates = (subnets: any) => subnets.filter.find((f: any) => f.name === "subnet-id").values;

function expectOffered(offerings: any, instanceType: string) {
  expect(offerings.location_type).toBe("availability-zone");
  expect(offerings.filter).toEqual([{ name: "instance-type", values: [instanceType] }]);
  expect(offerings.lifecycle.postcondition).toEqual([{ condition: "${length(self.locations) > 0}", error_message: expect.stringContaining(instanceType) }]);
}

function expectSelection(subnets: any, instanceType: string) {
  expect(subnets.filter.map((f: any) => f.name)).toEqual(["subnet-id", "availability-zone"]);
  expect(subnets.lifecycle.postcondition).toEqual([{ condition: "${length(self.ids) > 0}", error_message: expect.stringContaining(`offers ${instanceType}`) }]);
}

function masterSubnet(ecs: TfJson): string {
  const lt = Object.values<any>(ecs.resource!.aws_launch_template).find((t) => t.name_prefix.includes("-master-"));
  return lt.network_interfaces[0].subnet_id;
}

const NETWORK_SUBNETS = /^\$\{data\.terraform_remote_state\.cross-stack-reference-input-network\.outputs\.cross-stack-output-/;

describe.each([
  ["default VPC", { network: { mode: "default" } }],
  ["new VPC", { network: { mode: "new", azCount: 3 } }],
  ["existing VPC, every subnet", { network: { mode: "existing", vpcId: "vpc-0abc1234" } }],
  ["existing VPC, named subnets", { network: { mode: "existing", vpcId: "vpc-0abc1234", subnetIds: ["subnet-0def5678", "subnet-0abc1234"] } }],
])("%s", (_name, network) => {
  const { json } = synthConfig({
    ...network,
    adminCidrs: ["203.0.113.0/24"],
    ecs: { instanceType: "t3.medium", masterInstanceType: "m7g.large" },
    monitoring: { enabled: true, instanceType: "t4g.small" },
  });

  test("master: the first subnet, by id, whose zone offers the master's type", () => {
    const { subnets, offerings } = selection(json.ecs, masterSubnet(json.ecs), "first");
    expectOffered(offerings, "m7g.large");
    expectSelection(subnets, "m7g.large");
    expect(only(json.ecs, "aws_instance").subnet_id).toBeUndefined();
  });

  test("worker group: every subnet whose zone offers the workers' type, sorted", () => {
    const { subnets, offerings } = selection(json.ecs, only(json.ecs, "aws_autoscaling_group").vpc_zone_identifier, "all");
    expectOffered(offerings, "t3.medium");
    expectSelection(subnets, "t3.medium");
  });

  test("monitoring host and its data volume: the first subnet, by id, whose zone offers its type", () => {
    const host = only(json.grafana, "aws_instance");
    const { subnets, offerings } = selection(json.grafana, host.subnet_id, "first");
    expectOffered(offerings, "t4g.small");
    expectSelection(subnets, "t4g.small");
    // The data volume's zone is the chosen subnet's.
    const [subnetName, subnet] = Object.entries<any>(json.grafana.data!.aws_subnet)[0];
    expect(subnet.id).toBe(host.subnet_id);
    expect(only(json.grafana, "aws_ebs_volume").availability_zone).toBe(`\${data.aws_subnet.${subnetName}.availability_zone}`);
  });

  test("the candidates are the network's subnets: from the network stack, or the ones named in config", () => {
    for (const [stack, expr] of [
      [json.ecs, masterSubnet(json.ecs)],
      [json.ecs, only(json.ecs, "aws_autoscaling_group").vpc_zone_identifier],
      [json.grafana, only(json.grafana, "aws_instance").subnet_id],
    ] as const) {
      const { subnets } = selection(stack, expr, expr.startsWith("${element(") ? "first" : "all");
      const given = candidates(subnets);
      const named = (network.network as { subnetIds?: string[] }).subnetIds;
      if (named) expect(given).toEqual(named);
      else if (Array.isArray(given)) for (const id of given) expect(id).toMatch(NETWORK_SUBNETS);
      else expect(given).toMatch(NETWORK_SUBNETS);
    }
  });

  test("every expression refers to something declared", () => {
    expect(checkReferences(json.ecs)).toEqual([]);
    expect(checkReferences(json.grafana)).toEqual([]);
  });
});

test("master and workers of one type: each selection reads its own offerings of that type", () => {
  const { json } = synthConfig({ ecs: { instanceType: "c7g.xlarge" } });
  const offerings = Object.values<any>(json.ecs.data!.aws_ec2_instance_type_offerings);
  expect(offerings.map((o) => o.filter[0].values)).toEqual([["c7g.xlarge"], ["c7g.xlarge"]]);
});
