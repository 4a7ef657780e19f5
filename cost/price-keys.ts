/**
 * Names of the prices the estimator asks for, their units, and for some of them the AWS Price List
 * query (GetProducts filters) that finds them. A leaf module: no project imports, no I/O.
 *
 * Price List attribute names and values (regionCode, instanceType, operatingSystem, tenancy,
 * preInstalledSw, capacitystatus, licenseModel, productFamily, volumeApiName, usagetype) are the ones
 * the AWS Price List Query API returns for AmazonEC2, AmazonEKS and AmazonVPC products (and cacheEngine for
 * AmazonElastiCache).
 */

export type Arch = "x86_64" | "arm64";
export type LoadBalancerKind = "application" | "network" | "gateway" | "classic";

export const PriceKey = {
  /** On-demand Linux, shared tenancy, per hour. */
  ec2Instance: (type: string) => `ec2/instance/${type}`,
  /** EBS volume storage per GB-month, by volume type (gp3, gp2, io1, st1, sc1, …). */
  ebsStorage: (volumeType: string) => `ebs/${volumeType}/gb-month`,
  natGatewayHour: "vpc/nat-gateway/hour",
  natGatewayGb: "vpc/nat-gateway/gb-processed",
  /** Every public IPv4 address, attached or not, since February 2024. */
  publicIpv4Hour: "vpc/public-ipv4/hour",
  /** An ElastiCache (Redis OSS) on-demand node, per hour, by node type. */
  elasticacheNode: (nodeType: string) => `elasticache/${nodeType}/hour`,
  /** EKS cluster in standard support. */
  eksClusterHour: "eks/cluster/hour",
  cloudwatchAlarmStandard: "cloudwatch/alarm-standard/month",
  cloudwatchAlarmHighResolution: "cloudwatch/alarm-high-resolution/month",
  cloudwatchMetric: "cloudwatch/custom-metric/month",
  /** PutMetricData, GetMetricStatistics, ListMetrics, … per 1,000 requests. */
  cloudwatchRequests: "cloudwatch/api/1000-requests",
  /** GetMetricData per 1,000 metrics requested. */
  cloudwatchMetricsRead: "cloudwatch/get-metric-data/1000-metrics",
  logsIngestion: "logs/ingestion/gb",
  logsStorage: "logs/storage/gb-month",
  secret: "secretsmanager/secret/month",
  secretsApi: "secretsmanager/api/10000-requests",
  s3Standard: "s3/standard/gb-month",
  s3Put: "s3/put/1000-requests",
  s3Get: "s3/get/1000-requests",
  ecrStorage: "ecr/storage/gb-month",
  internetOut: "data-transfer/internet-out/gb",
  interAz: "data-transfer/inter-az/gb",
  loadBalancerHour: (kind: LoadBalancerKind) => `elb/${kind}/hour`,
  lambdaRequests: "lambda/requests/1m",
  lambdaGbSecond: (arch: Arch) => `lambda/${arch}/gb-second`,
  fargateVcpuHour: (arch: Arch) => `fargate/${arch}/vcpu-hour`,
  fargateGbHour: (arch: Arch) => `fargate/${arch}/gb-hour`,
} as const;

/** The unit each key's price is per. */
export function unitOf(key: string): string {
  if (key.startsWith("ec2/instance/") || key.endsWith("/hour")) return "hour";
  if (key.endsWith("/gb-month")) return "GB-month";
  if (key.endsWith("/gb-processed") || key.endsWith("/gb")) return "GB";
  if (key.endsWith("/month")) return key.startsWith("cloudwatch/alarm") ? "alarm-month" : key.startsWith("cloudwatch/") ? "metric-month" : "secret-month";
  if (key.endsWith("/1000-requests")) return "1,000 requests";
  if (key.endsWith("/10000-requests")) return "10,000 requests";
  if (key.endsWith("/1000-metrics")) return "1,000 metrics";
  if (key.endsWith("/1m")) return "1M requests";
  if (key.endsWith("/gb-second")) return "GB-second";
  if (key.endsWith("/vcpu-hour")) return "vCPU-hour";
  if (key.endsWith("/gb-hour")) return "GB-hour";
  return "unit";
}

/** A GetProducts query and how to pick the one price from its answer. */
export interface PriceListQuery {
  readonly serviceCode: string;
  /** TERM_MATCH filters. */
  readonly filters: Readonly<Record<string, string>>;
  /** Price dimension units accepted (case-insensitive), e.g. "Hrs". */
  readonly units: readonly string[];
  /** A product attribute test when the filters leave more than the product we want. */
  readonly usagetypeEndsWith?: string;
}

/**
 * The Price List query of a key in a region, for the prices that matter most and vary most (instance
 * types, volumes, NAT gateways, EKS, public IPv4); undefined for the rest, which come from the
 * embedded table.
 */
export function priceListQuery(key: string, region: string): PriceListQuery | undefined {
  const instance = /^ec2\/instance\/(.+)$/.exec(key);
  if (instance) {
    return {
      serviceCode: "AmazonEC2",
      filters: {
        regionCode: region,
        instanceType: instance[1],
        operatingSystem: "Linux",
        tenancy: "Shared",
        preInstalledSw: "NA",
        capacitystatus: "Used",
        licenseModel: "No License required",
      },
      units: ["Hrs"],
    };
  }
  const ebs = /^ebs\/([a-z0-9]+)\/gb-month$/.exec(key);
  if (ebs) return { serviceCode: "AmazonEC2", filters: { regionCode: region, productFamily: "Storage", volumeApiName: ebs[1] }, units: ["GB-Mo"] };
  const cache = /^elasticache\/(cache\.[a-z0-9.]+)\/hour$/.exec(key);
  if (cache) {
    return {
      serviceCode: "AmazonElastiCache",
      filters: { regionCode: region, productFamily: "Cache Instance", instanceType: cache[1], cacheEngine: "Redis" },
      units: ["Hrs"],
    };
  }
  switch (key) {
    case PriceKey.natGatewayHour:
      return { serviceCode: "AmazonEC2", filters: { regionCode: region, productFamily: "NAT Gateway" }, units: ["Hrs"], usagetypeEndsWith: "NatGateway-Hours" };
    case PriceKey.natGatewayGb:
      return { serviceCode: "AmazonEC2", filters: { regionCode: region, productFamily: "NAT Gateway" }, units: ["GB"], usagetypeEndsWith: "NatGateway-Bytes" };
    case PriceKey.eksClusterHour:
      return { serviceCode: "AmazonEKS", filters: { regionCode: region }, units: ["Hrs", "Hours", "hours"], usagetypeEndsWith: "AmazonEKS-Hours:perCluster" };
    case PriceKey.publicIpv4Hour:
      return { serviceCode: "AmazonVPC", filters: { regionCode: region }, units: ["Hrs"], usagetypeEndsWith: "PublicIPv4:InUseAddress" };
    default:
      return undefined;
  }
}
