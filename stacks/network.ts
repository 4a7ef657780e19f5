/**
 * The `network` stack: the VPC every other AWS stack uses (default, new or existing). It comes first
 * so that monitoring and the cluster, deployed in either order, share one network; with the default
 * or an existing VPC it holds only data sources.
 */
import { TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import type { HyperflowConfig } from "../config/schema";
import { Network } from "../constructs/network/network";
import { AwsStack } from "./base";

export class NetworkStack extends AwsStack {
  readonly network: Network;
  constructor(scope: Construct, id: string, config: HyperflowConfig) {
    super(scope, id, { region: config.region, backend: config.backend, tags: config.tags });
    this.network = new Network(this, "Network", config.network.mode === "new" ? { ...config.network, name: config.ecs.clusterName } : config.network);
    new TerraformOutput(this, "vpc_id", { value: this.network.vpcId, description: "VPC of every stack" });
    new TerraformOutput(this, "subnet_ids", { value: this.network.subnetIds, description: "Subnets for instances" });
  }
}
