/**
 * The cost model's vocabulary: prices (with where they came from), line items and their sums. A leaf
 * module: no project imports, no I/O.
 *
 * Every amount is an estimate in USD at on-demand prices. A month is 730 hours (AWS's own convention
 * in its price list and calculator). Things priced per month (secrets, alarms, GB-months) are divided
 * by 730 for their hourly share; things priced per hour are multiplied by 730.
 */

/** Hours in the month AWS prices by. */
export const HOURS_PER_MONTH = 730;

/** Where a price came from: the Price List API now, the on-disk cache of an earlier call, or the embedded table. */
export type PriceOrigin = "api" | "cache" | "embedded";

export interface Price {
  /** USD per `unit`. */
  readonly usd: number;
  /** e.g. "hour", "GB-month", "alarm-month", "1,000 requests". */
  readonly unit: string;
  readonly origin: PriceOrigin;
  /** Day the price was retrieved (api, cache) or the date the embedded table states (YYYY-MM-DD). */
  readonly date: string;
  /** vCPUs of an EC2 instance type (Batch sizes its compute environments in vCPUs). */
  readonly vcpu?: number;
}

/** A synchronous lookup: the estimator never waits for the network. */
export interface PriceBook {
  readonly region: string;
  price(key: string): Price | undefined;
}

/** A value at the three scales. */
export interface Range {
  readonly min: number;
  readonly desired: number;
  readonly max: number;
}

export const SCALES = ["min", "desired", "max"] as const;

export function fixed(n: number): Range {
  return { min: n, desired: n, max: n };
}

export function mapRange(r: Range, f: (n: number) => number): Range {
  return { min: f(r.min), desired: f(r.desired), max: f(r.max) };
}

export function addRanges(a: Range, b: Range): Range {
  return { min: a.min + b.min, desired: a.desired + b.desired, max: a.max + b.max };
}

/**
 * - priced: a running cost we can compute (hourly and monthly given);
 * - usage: billed by use (GB stored or moved, requests, invocations); `rates` say how much per unit;
 * - unknown: no price (an instance type not in the price source), or no model for the resource type.
 * Neither usage nor unknown lines count as zero: totals say "+ unknown items".
 */
export type LineKind = "priced" | "usage" | "unknown";

export interface PriceRef {
  readonly key: string;
  readonly usd: number;
  readonly unit: string;
  readonly origin: PriceOrigin;
  readonly date: string;
}

export interface CostLine {
  readonly stack: string;
  /** Service or kind of cost: "EC2", "EBS", "NAT gateway", "CloudWatch alarms", … */
  readonly category: string;
  /** What it is, for people: "workers: ASG montage-ASG, t3.medium". */
  readonly item: string;
  /** Terraform addresses the line is computed from. */
  readonly resources: readonly string[];
  readonly kind: LineKind;
  /** How many units at each scale (instances, GB, alarms, …). */
  readonly quantity?: Range;
  readonly unit?: string;
  /** The unit prices the amounts are computed from. */
  readonly prices?: readonly PriceRef[];
  /** priced lines only. */
  readonly hourly?: Range;
  readonly monthly?: Range;
  /** usage lines: what each unit of use costs, as text ("USD 0.045/GB processed"). */
  readonly rates?: readonly string[];
  /** usage lines of per-use services (Lambda, Fargate Batch): what one example amount of use costs. */
  readonly example?: { readonly what: string; readonly usd: number };
  readonly note?: string;
}

export interface StackCost {
  readonly stack: string;
  readonly lines: readonly CostLine[];
  /** Sum of the priced lines. */
  readonly hourly: Range;
  readonly monthly: Range;
  readonly usageItems: number;
  readonly unknownItems: number;
}

export interface CostReport {
  readonly estimate: true;
  readonly region: string;
  readonly hoursPerMonth: number;
  readonly stacks: readonly StackCost[];
  readonly hourly: Range;
  readonly monthly: Range;
  readonly usageItems: number;
  readonly unknownItems: number;
  /** Where the prices came from, one sentence each (e.g. the embedded table and its date). */
  readonly priceSources: readonly string[];
  /** Problems met while getting prices (an unreachable Price List API, an unreadable cache). */
  readonly notes: readonly string[];
}

const ZERO: Range = fixed(0);

/** The sums of a stack's lines. */
export function stackCost(stack: string, lines: readonly CostLine[]): StackCost {
  let hourly = ZERO;
  let monthly = ZERO;
  for (const l of lines) {
    if (l.kind !== "priced") continue;
    hourly = addRanges(hourly, l.hourly!);
    monthly = addRanges(monthly, l.monthly!);
  }
  return {
    stack,
    lines,
    hourly,
    monthly,
    usageItems: lines.filter((l) => l.kind === "usage").length,
    unknownItems: lines.filter((l) => l.kind === "unknown").length,
  };
}

/** The report over stacks: their sums added up. */
export function costReport(region: string, stacks: readonly StackCost[], priceSources: readonly string[], notes: readonly string[] = []): CostReport {
  return {
    estimate: true,
    region,
    hoursPerMonth: HOURS_PER_MONTH,
    stacks,
    hourly: stacks.reduce((a, s) => addRanges(a, s.hourly), ZERO),
    monthly: stacks.reduce((a, s) => addRanges(a, s.monthly), ZERO),
    usageItems: stacks.reduce((n, s) => n + s.usageItems, 0),
    unknownItems: stacks.reduce((n, s) => n + s.unknownItems, 0),
    priceSources,
    notes,
  };
}
