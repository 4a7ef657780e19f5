/**
 * An estimate of several synthesized stacks: the price keys they need, the prices (Price List API,
 * cache or embedded table), the lines and totals. The entry point of cost/ for the CLI.
 */
import { estimateStack, priceKeysOf, type SynthesizedStack } from "./estimate";
import { type CostReport, costReport, type PriceBook } from "./model";
import { resolvePrices, type ResolveOptions } from "./pricing-client";

export interface StackJson {
  readonly stack: string;
  readonly json: SynthesizedStack;
}

/** The report from a price book you already have (pure). */
export function estimateWith(stacks: readonly StackJson[], book: PriceBook, priceSources: readonly string[], notes: readonly string[] = []): CostReport {
  return costReport(
    book.region,
    stacks.map((s) => estimateStack(s.stack, s.json, book)),
    priceSources,
    notes,
  );
}

/** Prices first (only the keys these stacks need), then the report. */
export async function estimateCost(stacks: readonly StackJson[], region: string, o: ResolveOptions): Promise<CostReport> {
  const prices = await resolvePrices(priceKeysOf(stacks, region), region, o);
  const costs = stacks.map((s) => estimateStack(s.stack, s.json, prices));
  return costReport(region, costs, prices.sources(), prices.notes);
}
