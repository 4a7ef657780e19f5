/**
 * Prices for an estimate: from the AWS Price List API (GetProducts on the us-east-1 endpoint) when
 * credentials are there, kept in a cache file with the day they were retrieved
 * ($XDG_CACHE_HOME or ~/.cache, then hyperflow-infra/prices.json); otherwise from the cache, then the
 * embedded table (cost/prices.ts). Never fails an estimate: what cannot be fetched falls back, with a
 * note saying why. The AWS SDK is loaded only when the API is asked.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Price, PriceBook, PriceOrigin } from "./model";
import { type PriceListQuery, priceListQuery, unitOf } from "./price-keys";
import { EMBEDDED_SOURCE, embeddedPrice } from "./prices";

/** GetProducts as the estimator uses it (the SDK's PricingClient, or a stand-in in tests). */
export interface PriceListApi {
  getProducts(
    input: {
      ServiceCode: string;
      Filters: { Type: "TERM_MATCH"; Field: string; Value: string }[];
      FormatVersion: "aws_v1";
      MaxResults: number;
      NextToken?: string;
    },
    signal: AbortSignal,
  ): Promise<{ PriceList?: unknown; NextToken?: string }>;
  destroy(): void;
}

export type PriceMode = "auto" | "api" | "embedded";
export const PRICE_MODES: readonly PriceMode[] = ["auto", "api", "embedded"];

/** The Price List API has endpoints in us-east-1, eu-central-1 and ap-south-1; us-east-1 answers for every region. */
export const PRICING_ENDPOINT_REGION = "us-east-1";

/** The SDK's PricingClient behind PriceListApi (loaded here, on first use). */
export async function sdkPriceList(
  o: { endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } } = {},
): Promise<PriceListApi> {
  const { PricingClient, GetProductsCommand } = await import("@aws-sdk/client-pricing");
  const client = new PricingClient({
    region: PRICING_ENDPOINT_REGION,
    maxAttempts: 2,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
  });
  return { getProducts: (input, signal) => client.send(new GetProductsCommand(input), { abortSignal: signal }), destroy: () => client.destroy() };
}

/** The cache file: $XDG_CACHE_HOME (or ~/.cache)/hyperflow-infra/prices.json. */
export function defaultPriceCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "hyperflow-infra", "prices.json");
}

const CACHE_VERSION = 1;

interface CacheEntry {
  readonly usd: number;
  readonly unit: string;
  /** Day it was retrieved from the Price List API (YYYY-MM-DD). */
  readonly retrieved: string;
  readonly vcpu?: number;
}

interface CacheFile {
  readonly version: number;
  readonly source: string;
  /** By "<region> <key>". */
  readonly prices: Record<string, CacheEntry>;
}

function readCache(file: string, notes: string[]): Record<string, CacheEntry> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return {}; // no cache yet
  }
  try {
    const data = JSON.parse(text) as CacheFile;
    if (data.version === CACHE_VERSION && data.prices && typeof data.prices === "object") return data.prices;
  } catch {
    /* reported below */
  }
  notes.push(`price cache ${file} is unreadable: ignored (it is rewritten after the next Price List call)`);
  return {};
}

function writeCache(file: string, prices: Record<string, CacheEntry>, notes: string[]): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const data: CacheFile = { version: CACHE_VERSION, source: "AWS Price List API (GetProducts), on-demand", prices };
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(data, null, 1)}\n`);
    fs.renameSync(tmp, file);
  } catch (e) {
    notes.push(`price cache ${file} not written: ${(e as Error).message}`);
  }
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** One price from a GetProducts answer: the on-demand, first-tier USD price in the query's units. */
export async function fetchPrice(
  api: PriceListApi,
  query: PriceListQuery,
  signal: AbortSignal,
): Promise<{ usd: number; unit: string; vcpu?: number } | undefined> {
  const found: { usd: number; unit: string; vcpu?: number }[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await api.getProducts(
      {
        ServiceCode: query.serviceCode,
        Filters: Object.entries(query.filters).map(([Field, Value]) => ({ Type: "TERM_MATCH" as const, Field, Value })),
        FormatVersion: "aws_v1",
        MaxResults: 100,
        ...(token ? { NextToken: token } : {}),
      },
      signal,
    );
    for (const item of Array.isArray(out.PriceList) ? out.PriceList : []) found.push(...pricesIn(String(item), query));
    token = out.NextToken || undefined;
  } while (token && ++pages < 10);
  const distinct = [...new Set(found.map((f) => f.usd))];
  if (distinct.length !== 1) {
    if (distinct.length > 1) throw new Error(`${query.serviceCode} ${JSON.stringify(query.filters)} matched ${distinct.length} different prices`);
    return undefined;
  }
  return found[0];
}

/** The matching on-demand price dimensions of one Price List document. */
function pricesIn(document: string, query: PriceListQuery): { usd: number; unit: string; vcpu?: number }[] {
  type Dimension = { unit?: string; beginRange?: string; pricePerUnit?: { USD?: string } };
  let doc: { product?: { attributes?: Record<string, string> }; terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, Dimension> }> } };
  try {
    doc = JSON.parse(document);
  } catch {
    return [];
  }
  const attributes = doc.product?.attributes ?? {};
  if (query.usagetypeEndsWith && !(attributes.usagetype ?? "").endsWith(query.usagetypeEndsWith)) return [];
  const units = query.units.map((u) => u.toLowerCase());
  const vcpu = Number(attributes.vcpu);
  return Object.values(doc.terms?.OnDemand ?? {}).flatMap((term) =>
    Object.values(term.priceDimensions ?? {}).flatMap((d) => {
      const usd = Number(d.pricePerUnit?.USD);
      if (!units.includes((d.unit ?? "").toLowerCase()) || !Number.isFinite(usd) || (d.beginRange !== undefined && d.beginRange !== "0")) return [];
      return [{ usd, unit: d.unit!, ...(Number.isFinite(vcpu) && vcpu > 0 ? { vcpu } : {}) }];
    }),
  );
}

export interface ResolveOptions {
  /** auto: the API when credentials were found, else the cache and the embedded table; api: ask the API even for cached prices; embedded: the embedded table only. */
  readonly mode: PriceMode;
  /** Whether credentials were found (auto asks the API only then). */
  readonly hasCredentials: boolean;
  /** Cache file; none: no cache. */
  readonly cacheFile?: string;
  /** The Price List API. @default - the AWS SDK's, with the default credential chain */
  readonly api?: () => Promise<PriceListApi>;
  /** @default - now */
  readonly now?: Date;
  /** Cached prices younger than this are used without asking the API. @default 30 */
  readonly maxAgeDays?: number;
  /** For all Price List calls together. @default 15000 */
  readonly timeoutMs?: number;
}

/** A price book that remembers which origins and dates it served. */
export class ResolvedPrices implements PriceBook {
  private readonly served = new Map<string, Set<string>>();

  constructor(
    readonly region: string,
    private readonly prices: ReadonlyMap<string, Price>,
    /** Problems met while getting the prices. */
    readonly notes: readonly string[],
    private readonly cacheFile: string | undefined,
  ) {}

  price(key: string): Price | undefined {
    const p = this.prices.get(key) ?? embeddedPrice(this.region, key);
    if (p) this.served.set(p.origin, (this.served.get(p.origin) ?? new Set()).add(p.date));
    return p;
  }

  /** One sentence per origin of the prices served so far. */
  sources(): string[] {
    const dates = (o: PriceOrigin) => [...(this.served.get(o) ?? [])].sort().join(", ");
    const out: string[] = [];
    if (this.served.has("api")) out.push(`AWS Price List API (GetProducts, ${PRICING_ENDPOINT_REGION} endpoint), on-demand Linux, retrieved ${dates("api")}`);
    if (this.served.has("cache")) out.push(`AWS Price List API via the cache ${this.cacheFile}, on-demand Linux, retrieved ${dates("cache")}`);
    if (this.served.has("embedded")) out.push(EMBEDDED_SOURCE);
    return out;
  }
}

/**
 * Prices for `keys` in `region`: fresh cache entries, then the Price List API (auto: only with
 * credentials), then older cache entries, then the embedded table; the rest stay unknown.
 */
export async function resolvePrices(keys: readonly string[], region: string, o: ResolveOptions): Promise<ResolvedPrices> {
  const notes: string[] = [];
  const prices = new Map<string, Price>();
  if (o.mode === "embedded") return new ResolvedPrices(region, prices, notes, undefined);

  const now = o.now ?? new Date();
  const maxAgeMs = (o.maxAgeDays ?? 30) * 86_400_000;
  const cache = o.cacheFile ? readCache(o.cacheFile, notes) : {};
  const cached = (key: string): CacheEntry | undefined => cache[`${region} ${key}`];
  const fromCache = (key: string, e: CacheEntry): Price => ({
    usd: e.usd,
    unit: unitOf(key),
    origin: "cache",
    date: e.retrieved,
    ...(e.vcpu ? { vcpu: e.vcpu } : {}),
  });
  const fresh = (e: CacheEntry | undefined) => e !== undefined && now.getTime() - Date.parse(`${e.retrieved}T00:00:00Z`) <= maxAgeMs;

  const wanted = keys.filter((k) => priceListQuery(k, region) !== undefined && !(o.mode === "auto" && fresh(cached(k))));
  for (const k of keys) {
    const e = cached(k);
    if (e && fresh(e) && !wanted.includes(k)) prices.set(k, fromCache(k, e));
  }

  if (wanted.length > 0) {
    if (o.mode === "auto" && !o.hasCredentials) {
      notes.push("no AWS credentials found (see hflow-infra doctor): the Price List API was not asked; prices from the cache and the embedded table");
    } else {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), o.timeoutMs ?? 15_000);
      let api: PriceListApi | undefined;
      let changed = false;
      try {
        api = await (o.api ?? (() => sdkPriceList()))();
        const results = await Promise.allSettled(wanted.map((k) => fetchPrice(api!, priceListQuery(k, region)!, controller.signal)));
        const failures = new Set<string>();
        results.forEach((r, i) => {
          const key = wanted[i];
          if (r.status === "fulfilled" && r.value) {
            const retrieved = day(now);
            prices.set(key, { usd: r.value.usd, unit: unitOf(key), origin: "api", date: retrieved, ...(r.value.vcpu ? { vcpu: r.value.vcpu } : {}) });
            cache[`${region} ${key}`] = { usd: r.value.usd, unit: r.value.unit, retrieved, ...(r.value.vcpu ? { vcpu: r.value.vcpu } : {}) };
            changed = true;
          } else if (r.status === "rejected") {
            failures.add(errorText(r.reason));
          } else {
            notes.push(`Price List API: no price for ${key} in ${region}`);
          }
        });
        for (const f of failures) notes.push(`Price List API: ${f}`);
      } catch (e) {
        notes.push(`Price List API: ${errorText(e)}`);
      } finally {
        clearTimeout(timer);
        api?.destroy();
      }
      if (changed && o.cacheFile) writeCache(o.cacheFile, cache, notes);
    }
  }
  // Older cache entries beat the embedded table: they were retrieved, not written by hand.
  for (const k of keys) {
    const e = cached(k);
    if (!prices.has(k) && e) prices.set(k, fromCache(k, e));
  }
  return new ResolvedPrices(region, prices, notes, o.cacheFile);
}

function errorText(e: unknown): string {
  if (e && typeof e === "object") {
    const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    if (err.name === "AbortError") return "no answer in time";
    const status = err.$metadata?.httpStatusCode ? ` (HTTP ${err.$metadata.httpStatusCode})` : "";
    return `${err.name && err.name !== "Error" ? `${err.name}: ` : ""}${err.message ?? String(e)}${status}`;
  }
  return String(e);
}
