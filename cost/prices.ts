/**
 * The embedded price table: what the estimate uses without AWS credentials (or without network), for
 * the regions this project defaults to and documents, and the instance types its defaults and
 * examples use (config defaults in constructs/core/defaults.ts, examples/*.json) plus a few neighbours.
 *
 * Source: the AWS price list's public on-demand prices (EC2 Linux, shared tenancy), as of EMBEDDED_AS_OF.
 * The values were written into this file by hand, not retrieved by the tool; `hflow-infra cost` says
 * so whenever it uses them, and prefers the Price List API (cost/pricing-client.ts) when it can.
 * A price missing here is an unknown item in the estimate, never zero.
 */
import type { Price, PriceBook } from "./model";
import { PriceKey, unitOf } from "./price-keys";

/** Date the embedded prices are stated for. */
export const EMBEDDED_AS_OF = "2025-01-01";

export const EMBEDDED_SOURCE = `embedded table: AWS price list, on-demand Linux, as of ${EMBEDDED_AS_OF} (written into cost/prices.ts, not retrieved)`;

/** [USD per hour, vCPUs] by instance type. */
type InstanceTable = Readonly<Record<string, readonly [number, number]>>;

/** us-east-1, and the same in us-east-2 and us-west-2 for these types. */
const EC2_US: InstanceTable = {
  "t3.micro": [0.0104, 2],
  "t3.small": [0.0208, 2],
  "t3.medium": [0.0416, 2],
  "t3.large": [0.0832, 2],
  "t3.xlarge": [0.1664, 4],
  "t4g.micro": [0.0084, 2],
  "t4g.small": [0.0168, 2],
  "t4g.medium": [0.0336, 2],
  "t4g.large": [0.0672, 2],
  "m5.large": [0.096, 2],
  "m5.xlarge": [0.192, 4],
  "m5.2xlarge": [0.384, 8],
  "m6i.large": [0.096, 2],
  "m6i.xlarge": [0.192, 4],
  "m6g.large": [0.077, 2],
  "m6g.xlarge": [0.154, 4],
  "m7g.large": [0.0816, 2],
  "m7g.xlarge": [0.1632, 4],
  "c5.large": [0.085, 2],
  "c5.xlarge": [0.17, 4],
  "c6g.large": [0.068, 2],
  "r5.large": [0.126, 2],
};

const EC2_EU_WEST_1: InstanceTable = {
  "t3.micro": [0.0114, 2],
  "t3.small": [0.0228, 2],
  "t3.medium": [0.0456, 2],
  "t3.large": [0.0912, 2],
  "t3.xlarge": [0.1824, 4],
  "t4g.micro": [0.0092, 2],
  "t4g.small": [0.0184, 2],
  "t4g.medium": [0.0368, 2],
  "t4g.large": [0.0736, 2],
  "m5.large": [0.107, 2],
  "m5.xlarge": [0.214, 4],
  "m5.2xlarge": [0.428, 8],
  "m6i.large": [0.107, 2],
  "m6i.xlarge": [0.214, 4],
  "m6g.large": [0.086, 2],
  "m6g.xlarge": [0.172, 4],
  "c5.large": [0.096, 2],
  "c5.xlarge": [0.192, 4],
  "r5.large": [0.141, 2],
};

const EC2_EU_CENTRAL_1: InstanceTable = {
  "t3.micro": [0.012, 2],
  "t3.small": [0.024, 2],
  "t3.medium": [0.048, 2],
  "t3.large": [0.096, 2],
  "t3.xlarge": [0.192, 4],
  "t4g.micro": [0.0096, 2],
  "t4g.small": [0.0192, 2],
  "t4g.medium": [0.0384, 2],
  "t4g.large": [0.0768, 2],
  "m5.large": [0.115, 2],
  "m5.xlarge": [0.23, 4],
  "m5.2xlarge": [0.46, 8],
  "m6i.large": [0.115, 2],
  "m6i.xlarge": [0.23, 4],
  "m6g.large": [0.092, 2],
  "m6g.xlarge": [0.184, 4],
  "c5.large": [0.097, 2],
  "c5.xlarge": [0.194, 4],
  "r5.large": [0.152, 2],
};

/** Prices that are the same in the US and EU regions below (per the unit of their key). */
const COMMON: Readonly<Record<string, number>> = {
  [PriceKey.publicIpv4Hour]: 0.005,
  [PriceKey.eksClusterHour]: 0.1,
  [PriceKey.cloudwatchAlarmStandard]: 0.1,
  [PriceKey.cloudwatchAlarmHighResolution]: 0.3,
  [PriceKey.cloudwatchMetric]: 0.3,
  [PriceKey.cloudwatchRequests]: 0.01,
  [PriceKey.cloudwatchMetricsRead]: 0.01,
  [PriceKey.secret]: 0.4,
  [PriceKey.secretsApi]: 0.05,
  [PriceKey.ecrStorage]: 0.1,
  [PriceKey.internetOut]: 0.09,
  [PriceKey.interAz]: 0.01,
  [PriceKey.lambdaRequests]: 0.2,
  [PriceKey.lambdaGbSecond("x86_64")]: 0.0000166667,
  [PriceKey.lambdaGbSecond("arm64")]: 0.0000133334,
  [PriceKey.s3Get]: 0.0004,
};

const US: Readonly<Record<string, number>> = {
  ...COMMON,
  [PriceKey.ebsStorage("gp3")]: 0.08,
  [PriceKey.ebsStorage("gp2")]: 0.1,
  [PriceKey.ebsStorage("st1")]: 0.045,
  [PriceKey.ebsStorage("sc1")]: 0.015,
  [PriceKey.natGatewayHour]: 0.045,
  [PriceKey.natGatewayGb]: 0.045,
  [PriceKey.logsIngestion]: 0.5,
  [PriceKey.logsStorage]: 0.03,
  [PriceKey.s3Standard]: 0.023,
  [PriceKey.s3Put]: 0.005,
  [PriceKey.loadBalancerHour("application")]: 0.0225,
  [PriceKey.loadBalancerHour("network")]: 0.0225,
  [PriceKey.loadBalancerHour("classic")]: 0.025,
  [PriceKey.fargateVcpuHour("x86_64")]: 0.04048,
  [PriceKey.fargateGbHour("x86_64")]: 0.004445,
  [PriceKey.fargateVcpuHour("arm64")]: 0.03238,
  [PriceKey.fargateGbHour("arm64")]: 0.00356,
  // ElastiCache for Redis OSS on-demand nodes (the JuiceFS metadata store's default and neighbours).
  // Not written for the EU regions: missing there means unknown, never zero.
  [PriceKey.elasticacheNode("cache.t4g.micro")]: 0.016,
  [PriceKey.elasticacheNode("cache.t4g.small")]: 0.032,
  [PriceKey.elasticacheNode("cache.t4g.medium")]: 0.065,
};

const EU_WEST_1: Readonly<Record<string, number>> = {
  ...COMMON,
  [PriceKey.ebsStorage("gp3")]: 0.088,
  [PriceKey.ebsStorage("gp2")]: 0.11,
  [PriceKey.natGatewayHour]: 0.048,
  [PriceKey.natGatewayGb]: 0.048,
  [PriceKey.s3Standard]: 0.023,
  [PriceKey.s3Put]: 0.005,
  [PriceKey.loadBalancerHour("application")]: 0.0252,
  [PriceKey.loadBalancerHour("network")]: 0.0252,
  [PriceKey.fargateVcpuHour("x86_64")]: 0.04048,
  [PriceKey.fargateGbHour("x86_64")]: 0.004445,
  [PriceKey.fargateVcpuHour("arm64")]: 0.03238,
  [PriceKey.fargateGbHour("arm64")]: 0.00356,
};

const EU_CENTRAL_1: Readonly<Record<string, number>> = {
  ...COMMON,
  [PriceKey.ebsStorage("gp3")]: 0.0952,
  [PriceKey.ebsStorage("gp2")]: 0.119,
  [PriceKey.natGatewayHour]: 0.052,
  [PriceKey.natGatewayGb]: 0.052,
  [PriceKey.s3Standard]: 0.0245,
  [PriceKey.loadBalancerHour("application")]: 0.027,
  [PriceKey.loadBalancerHour("network")]: 0.027,
  [PriceKey.fargateVcpuHour("x86_64")]: 0.04656,
  [PriceKey.fargateGbHour("x86_64")]: 0.00511,
};

const REGIONS: Readonly<Record<string, { readonly ec2: InstanceTable; readonly other: Readonly<Record<string, number>> }>> = {
  "us-east-1": { ec2: EC2_US, other: US },
  "us-east-2": { ec2: EC2_US, other: US },
  "us-west-2": { ec2: EC2_US, other: US },
  "eu-west-1": { ec2: EC2_EU_WEST_1, other: EU_WEST_1 },
  "eu-central-1": { ec2: EC2_EU_CENTRAL_1, other: EU_CENTRAL_1 },
};

/** Regions the embedded table has prices for. */
export const EMBEDDED_REGIONS: readonly string[] = Object.keys(REGIONS);

/** A price from the embedded table, or undefined. */
export function embeddedPrice(region: string, key: string): Price | undefined {
  const r = REGIONS[region];
  if (!r) return undefined;
  const instance = /^ec2\/instance\/(.+)$/.exec(key);
  if (instance) {
    const row = r.ec2[instance[1]];
    return row ? { usd: row[0], unit: "hour", origin: "embedded", date: EMBEDDED_AS_OF, vcpu: row[1] } : undefined;
  }
  const usd = r.other[key];
  return usd === undefined ? undefined : { usd, unit: unitOf(key), origin: "embedded", date: EMBEDDED_AS_OF };
}

/** A price book of the embedded table alone. */
export function embeddedPriceBook(region: string): PriceBook {
  return { region, price: (key) => embeddedPrice(region, key) };
}
