/**
 * Prices from the AWS Price List API: the SDK's PricingClient against a loopback stand-in that speaks
 * GetProducts' wire shape (AWS JSON 1.1, X-Amz-Target AWSPriceListService.GetProducts, PriceList as JSON
 * strings, NextToken paging), the cache file and its dates, the fallbacks (no credentials, errors, no
 * answer) to the cache and the embedded table; and `hflow-infra cost` / `deploy` from the command line.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { terraformColor } from "../cli/terraform";
import { PriceKey } from "../cost/price-keys";
import { EMBEDDED_SOURCE } from "../cost/prices";
import { defaultPriceCacheFile, fetchPrice, type PriceListApi, resolvePrices, sdkPriceList } from "../cost/pricing-client";
import { estimateCost } from "../cost/report";
import { CONFIG_VARIANTS, synthConfig } from "./support/stack-json";
import { credentialsEnv, noCredentialsEnv } from "./support/aws-env";
import { runCli as cli } from "./support/cli";

/** terraform gets `-no-color` unless this test's stdout and stderr are terminals (cli/terraform.ts). */
const NO_COLOR = terraformColor() ? "" : " -no-color";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-cost-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// The stand-in: a catalog of products, filtered by TERM_MATCH, one product per page.

interface Product {
  readonly serviceCode: string;
  readonly attributes: Record<string, string>;
  readonly unit: string;
  readonly usd: string;
}

/** A Price List document as GetProducts returns it (aws_v1): the product, and OnDemand and Reserved terms. */
function document(p: Product, i: number): string {
  const sku = `SKU${i}`;
  return JSON.stringify({
    product: { productFamily: p.attributes.productFamily ?? "Compute Instance", attributes: { servicecode: p.serviceCode, ...p.attributes }, sku },
    serviceCode: p.serviceCode,
    terms: {
      OnDemand: {
        [`${sku}.JRTCKXETXF`]: {
          offerTermCode: "JRTCKXETXF",
          sku,
          effectiveDate: "2026-11-01T00:00:00Z",
          priceDimensions: {
            [`${sku}.JRTCKXETXF.6YS6EN2CT7`]: {
              unit: p.unit,
              endRange: "Inf",
              description: `USD ${p.usd} per ${p.unit}`,
              appliesTo: [],
              rateCode: `${sku}.JRTCKXETXF.6YS6EN2CT7`,
              beginRange: "0",
              pricePerUnit: { USD: p.usd },
            },
          },
          termAttributes: {},
        },
      },
      // A reserved price the client must not pick.
      Reserved: {
        [`${sku}.4NA7Y494T4`]: { priceDimensions: { [`${sku}.4NA7Y494T4.6YS6EN2CT7`]: { unit: p.unit, beginRange: "0", pricePerUnit: { USD: "0.0001" } } } },
      },
    },
    version: "20261101000000",
    publicationDate: "2026-11-01T00:00:00Z",
  });
}

const ec2 = (instanceType: string, usd: string, vcpu: string, extra: Record<string, string> = {}): Product => ({
  serviceCode: "AmazonEC2",
  attributes: {
    regionCode: "us-east-1",
    instanceType,
    operatingSystem: "Linux",
    tenancy: "Shared",
    preInstalledSw: "NA",
    capacitystatus: "Used",
    licenseModel: "No License required",
    vcpu,
    usagetype: `BoxUsage:${instanceType}`,
    ...extra,
  },
  unit: "Hrs",
  usd,
});

/** Prices unlike the embedded table's, so a test sees where each came from. */
const CATALOG: Product[] = [
  ec2("t3.medium", "0.0420000000", "2"),
  ec2("t3.medium", "0.0900000000", "2", { operatingSystem: "Windows" }),
  ec2("t3.medium", "0.0420000000", "2", { capacitystatus: "UnusedCapacityReservation" }),
  ec2("m5.large", "0.0970000000", "2"),
  {
    serviceCode: "AmazonEC2",
    attributes: { regionCode: "us-east-1", productFamily: "Storage", volumeApiName: "gp3", usagetype: "EBS:VolumeUsage.gp3" },
    unit: "GB-Mo",
    usd: "0.0810000000",
  },
  {
    serviceCode: "AmazonEC2",
    attributes: { regionCode: "us-east-1", productFamily: "NAT Gateway", usagetype: "NatGateway-Hours" },
    unit: "Hrs",
    usd: "0.0460000000",
  },
  {
    serviceCode: "AmazonEC2",
    attributes: { regionCode: "us-east-1", productFamily: "NAT Gateway", usagetype: "NatGateway-Bytes" },
    unit: "GB",
    usd: "0.0460000000",
  },
  { serviceCode: "AmazonEKS", attributes: { regionCode: "us-east-1", usagetype: "USE1-AmazonEKS-Hours:extendedSupport" }, unit: "Hrs", usd: "0.6000000000" },
  { serviceCode: "AmazonEKS", attributes: { regionCode: "us-east-1", usagetype: "USE1-AmazonEKS-Hours:perCluster" }, unit: "Hrs", usd: "0.1100000000" },
  { serviceCode: "AmazonVPC", attributes: { regionCode: "us-east-1", usagetype: "USE1-PublicIPv4:IdleAddress" }, unit: "Hrs", usd: "0.0050000000" },
  { serviceCode: "AmazonVPC", attributes: { regionCode: "us-east-1", usagetype: "USE1-PublicIPv4:InUseAddress" }, unit: "Hrs", usd: "0.0051000000" },
  // Two different prices for one query: the client must not pick one at random.
  ec2("c5.large", "0.0850000000", "2"),
  ec2("c5.large", "0.0860000000", "2"),
];

interface Request {
  readonly target: string;
  readonly contentType: string;
  readonly authorization: string;
  readonly body: {
    ServiceCode: string;
    Filters: { Type: string; Field: string; Value: string }[];
    FormatVersion: string;
    MaxResults: number;
    NextToken?: string;
  };
}

/** mode: answer from the catalog, refuse (AccessDenied), or never answer. */
async function standIn(mode: "ok" | "denied" | "silent" = "ok") {
  const requests: Request[] = [];
  const server = http.createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      const body = JSON.parse(text) as Request["body"];
      requests.push({
        target: String(req.headers["x-amz-target"]),
        contentType: String(req.headers["content-type"]),
        authorization: String(req.headers.authorization),
        body,
      });
      if (mode === "silent") return; // keep the connection open, answer nothing
      if (mode === "denied") {
        res.writeHead(400, { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": "AccessDeniedException" });
        res.end(JSON.stringify({ __type: "AccessDeniedException", message: "User is not authorized to perform: pricing:GetProducts" }));
        return;
      }
      const matches = CATALOG.map((p, i) => [p, i] as const).filter(
        ([p]) => p.serviceCode === body.ServiceCode && body.Filters.every((f) => f.Type === "TERM_MATCH" && p.attributes[f.Field] === f.Value),
      );
      const start = Number(body.NextToken ?? 0);
      const page = matches.slice(start, start + 1); // one product a page: the client must follow NextToken
      const next = start + 1 < matches.length ? String(start + 1) : undefined;
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify({ FormatVersion: "aws_v1", PriceList: page.map(([p, i]) => document(p, i)), ...(next ? { NextToken: next } : {}) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    requests,
    api: () => sdkPriceList({ endpoint, credentials: { accessKeyId: "AKIDSTANDIN", secretAccessKey: "standin-secret" } }),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

const NOW = new Date("2026-11-30T12:00:00Z");
const daysLater = (n: number) => new Date(NOW.getTime() + n * 86_400_000);

const KEYS = [
  PriceKey.ec2Instance("t3.medium"),
  PriceKey.ebsStorage("gp3"),
  PriceKey.natGatewayHour,
  PriceKey.natGatewayGb,
  PriceKey.eksClusterHour,
  PriceKey.publicIpv4Hour,
  PriceKey.secret,
];

describe("Price List API through the SDK, against a loopback stand-in", () => {
  test("GetProducts wire shape: AWS JSON 1.1, signed for pricing in us-east-1, TERM_MATCH filters; the on-demand price, paging followed", async () => {
    const s = await standIn();
    const api = await s.api();
    try {
      const signal = new AbortController().signal;
      const t3 = await fetchPrice(
        api,
        {
          serviceCode: "AmazonEC2",
          filters: {
            regionCode: "us-east-1",
            instanceType: "t3.medium",
            operatingSystem: "Linux",
            tenancy: "Shared",
            preInstalledSw: "NA",
            capacitystatus: "Used",
            licenseModel: "No License required",
          },
          units: ["Hrs"],
        },
        signal,
      );
      expect(t3).toEqual({ usd: 0.042, unit: "Hrs", vcpu: 2 });
      const r = s.requests[0];
      expect(r.target).toBe("AWSPriceListService.GetProducts");
      expect(r.contentType).toBe("application/x-amz-json-1.1");
      expect(r.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDSTANDIN\/\d{8}\/us-east-1\/pricing\/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$/,
      );
      expect(r.body).toMatchObject({ ServiceCode: "AmazonEC2", FormatVersion: "aws_v1", MaxResults: 100 });
      expect(r.body.Filters).toContainEqual({ Type: "TERM_MATCH", Field: "instanceType", Value: "t3.medium" });
      // NAT gateways: hours and bytes are two products; the bytes come on the second page.
      const before = s.requests.length;
      const gb = await fetchPrice(
        api,
        { serviceCode: "AmazonEC2", filters: { regionCode: "us-east-1", productFamily: "NAT Gateway" }, units: ["GB"], usagetypeEndsWith: "NatGateway-Bytes" },
        signal,
      );
      expect(gb).toEqual({ usd: 0.046, unit: "GB" });
      expect(s.requests.slice(before).map((q) => q.body.NextToken ?? null)).toEqual([null, "1"]);
      // Two different prices for one query: an error, not a guess.
      await expect(
        fetchPrice(api, { serviceCode: "AmazonEC2", filters: { regionCode: "us-east-1", instanceType: "c5.large" }, units: ["Hrs"] }, signal),
      ).rejects.toThrow(/matched 2 different prices/);
      // Nothing matches: no price.
      expect(
        await fetchPrice(api, { serviceCode: "AmazonEC2", filters: { regionCode: "us-east-1", instanceType: "z9.nano" }, units: ["Hrs"] }, signal),
      ).toBeUndefined();
    } finally {
      api.destroy();
      await s.close();
    }
  });

  test("with credentials: the API's prices, cached with their date; a fresh cache answers without a call; an old one is refreshed", async () => {
    const s = await standIn();
    const cacheFile = path.join(tmp, "fresh", "hyperflow-infra", "prices.json");
    try {
      const first = await resolvePrices(KEYS, "us-east-1", { mode: "auto", hasCredentials: true, cacheFile, api: s.api, now: NOW });
      expect(first.notes).toEqual([]);
      expect(first.price(PriceKey.ec2Instance("t3.medium"))).toEqual({ usd: 0.042, unit: "hour", origin: "api", date: "2026-11-30", vcpu: 2 });
      expect(first.price(PriceKey.ebsStorage("gp3"))).toMatchObject({ usd: 0.081, unit: "GB-month", origin: "api" });
      expect(first.price(PriceKey.natGatewayHour)).toMatchObject({ usd: 0.046, origin: "api" });
      expect(first.price(PriceKey.natGatewayGb)).toMatchObject({ usd: 0.046, origin: "api" });
      expect(first.price(PriceKey.eksClusterHour)).toMatchObject({ usd: 0.11, origin: "api" }); // perCluster, not extended support
      expect(first.price(PriceKey.publicIpv4Hour)).toMatchObject({ usd: 0.0051, origin: "api" }); // in use, not idle
      expect(first.price(PriceKey.secret)).toMatchObject({ usd: 0.4, origin: "embedded" }); // no Price List query for it
      expect(first.sources()).toEqual(["AWS Price List API (GetProducts, us-east-1 endpoint), on-demand Linux, retrieved 2026-11-30", EMBEDDED_SOURCE]);
      const cache = JSON.parse(fs.readFileSync(cacheFile, "utf8"));
      expect(cache).toMatchObject({
        version: 1,
        prices: { "us-east-1 ec2/instance/t3.medium": { usd: 0.042, unit: "Hrs", retrieved: "2026-11-30", vcpu: 2 } },
      });
      expect(Object.keys(cache.prices)).toHaveLength(6);

      const calls = s.requests.length;
      const second = await resolvePrices(KEYS, "us-east-1", { mode: "auto", hasCredentials: true, cacheFile, api: s.api, now: daysLater(10) });
      expect(s.requests.length).toBe(calls);
      expect(second.price(PriceKey.ec2Instance("t3.medium"))).toEqual({ usd: 0.042, unit: "hour", origin: "cache", date: "2026-11-30", vcpu: 2 });
      expect(second.sources()[0]).toBe(`AWS Price List API via the cache ${cacheFile}, on-demand Linux, retrieved 2026-11-30`);

      const third = await resolvePrices(KEYS, "us-east-1", { mode: "auto", hasCredentials: true, cacheFile, api: s.api, now: daysLater(40) });
      expect(s.requests.length).toBeGreaterThan(calls);
      expect(third.price(PriceKey.ec2Instance("t3.medium"))).toMatchObject({ origin: "api", date: "2027-01-09" });
      expect(JSON.parse(fs.readFileSync(cacheFile, "utf8")).prices["us-east-1 ec2/instance/t3.medium"].retrieved).toBe("2027-01-09");

      // mode api asks even when the cache is fresh (a refresh).
      const before = s.requests.length;
      await resolvePrices([PriceKey.ec2Instance("t3.medium")], "us-east-1", { mode: "api", hasCredentials: false, cacheFile, api: s.api, now: daysLater(41) });
      expect(s.requests.length).toBe(before + 1);
    } finally {
      await s.close();
    }
  });

  test("without credentials: no call; the cache (even an old one) beats the embedded table; without a cache the embedded table, and it says so", async () => {
    let asked = 0;
    const api = async (): Promise<PriceListApi> => {
      asked++;
      throw new Error("must not be called");
    };
    const none = await resolvePrices(KEYS, "us-east-1", {
      mode: "auto",
      hasCredentials: false,
      cacheFile: path.join(tmp, "none", "prices.json"),
      api,
      now: NOW,
    });
    expect(asked).toBe(0);
    expect(none.price(PriceKey.ec2Instance("t3.medium"))).toEqual({ usd: 0.0416, unit: "hour", origin: "embedded", date: "2025-01-01", vcpu: 2 });
    expect(none.sources()).toEqual([EMBEDDED_SOURCE]);
    expect(EMBEDDED_SOURCE).toMatch(/^embedded table: AWS price list, on-demand Linux, as of \d{4}-\d{2}-\d{2}/);
    expect(none.notes).toEqual([expect.stringMatching(/^no AWS credentials found .*the Price List API was not asked/)]);

    const old = path.join(tmp, "old", "prices.json");
    fs.mkdirSync(path.dirname(old), { recursive: true });
    fs.writeFileSync(
      old,
      JSON.stringify({
        version: 1,
        source: "x",
        prices: { "us-east-1 ec2/instance/t3.medium": { usd: 0.0433, unit: "Hrs", retrieved: "2026-01-02", vcpu: 2 } },
      }),
    );
    const stale = await resolvePrices(KEYS, "us-east-1", { mode: "auto", hasCredentials: false, cacheFile: old, api, now: NOW });
    expect(stale.price(PriceKey.ec2Instance("t3.medium"))).toMatchObject({ usd: 0.0433, origin: "cache", date: "2026-01-02" });
    expect(stale.price(PriceKey.ebsStorage("gp3"))).toMatchObject({ origin: "embedded" });
    expect(stale.sources()).toEqual([`AWS Price List API via the cache ${old}, on-demand Linux, retrieved 2026-01-02`, EMBEDDED_SOURCE]);

    // --prices embedded: the table only, whatever the cache holds.
    const embedded = await resolvePrices(KEYS, "us-east-1", { mode: "embedded", hasCredentials: true, cacheFile: old, api, now: NOW });
    expect(embedded.price(PriceKey.ec2Instance("t3.medium"))).toMatchObject({ usd: 0.0416, origin: "embedded" });
    expect(asked).toBe(0);

    // An unreadable cache is reported and ignored.
    fs.writeFileSync(old, "{ not json");
    const broken = await resolvePrices(KEYS, "us-east-1", { mode: "auto", hasCredentials: false, cacheFile: old, api, now: NOW });
    expect(broken.notes[0]).toMatch(/price cache .* is unreadable: ignored/);
    expect(broken.price(PriceKey.ec2Instance("t3.medium"))).toMatchObject({ origin: "embedded" });
  });

  test("a refusing or silent API: the estimate goes on with the embedded table and notes why", async () => {
    const denied = await standIn("denied");
    try {
      const r = await resolvePrices([PriceKey.ec2Instance("t3.medium")], "us-east-1", {
        mode: "auto",
        hasCredentials: true,
        cacheFile: path.join(tmp, "denied.json"),
        api: denied.api,
        now: NOW,
      });
      expect(r.price(PriceKey.ec2Instance("t3.medium"))).toMatchObject({ origin: "embedded", usd: 0.0416 });
      expect(r.notes).toEqual([
        expect.stringMatching(/^Price List API: AccessDeniedException: User is not authorized to perform: pricing:GetProducts \(HTTP 400\)$/),
      ]);
      expect(fs.existsSync(path.join(tmp, "denied.json"))).toBe(false);
    } finally {
      await denied.close();
    }
    const silent = await standIn("silent");
    try {
      const started = Date.now();
      const r = await resolvePrices([PriceKey.ec2Instance("m5.large")], "us-east-1", {
        mode: "auto",
        hasCredentials: true,
        api: silent.api,
        now: NOW,
        timeoutMs: 300,
      });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(r.price(PriceKey.ec2Instance("m5.large"))).toMatchObject({ origin: "embedded", usd: 0.096 });
      expect(r.notes).toEqual(["Price List API: no answer in time"]);
    } finally {
      await silent.close();
    }
  });

  test("an estimate of the synthesized ecs-minimal stacks with API prices: EC2 and EBS from the API, the rest embedded, both named", async () => {
    const s = await standIn();
    try {
      const { json, config } = synthConfig(CONFIG_VARIANTS["ecs-minimal"]);
      const stacks = (["network", "ecs", "runner"] as const).map((stack) => ({ stack, json: json[stack] }));
      const report = await estimateCost(stacks, config.region, {
        mode: "auto",
        hasCredentials: true,
        cacheFile: path.join(tmp, "estimate.json"),
        api: s.api,
        now: NOW,
      });
      const ecs = report.stacks.find((x) => x.stack === "ecs")!;
      const master = ecs.lines.find((l) => l.category === "EC2" && /-master/.test(l.item))!;
      expect(master.prices).toEqual([{ key: "ec2/instance/t3.medium", usd: 0.042, unit: "hour", origin: "api", date: "2026-11-30" }]);
      expect(master.monthly!.max).toBeCloseTo(0.042 * 730, 9);
      expect(ecs.lines.find((l) => l.category === "Secrets Manager" && l.kind === "priced")!.prices![0].origin).toBe("embedded");
      expect(report.priceSources).toEqual(["AWS Price List API (GetProducts, us-east-1 endpoint), on-demand Linux, retrieved 2026-11-30", EMBEDDED_SOURCE]);
      // Only what the stacks need was asked: t3.medium, gp3, public IPv4 (no NAT gateway, no EKS here).
      expect(new Set(s.requests.map((r) => `${r.body.ServiceCode} ${r.body.Filters.map((f) => f.Value).join(",")}`))).toEqual(
        new Set(["AmazonEC2 us-east-1,t3.medium,Linux,Shared,NA,Used,No License required", "AmazonEC2 us-east-1,Storage,gp3", "AmazonVPC us-east-1"]),
      );
    } finally {
      await s.close();
    }
  });

  test("the cache lives under $XDG_CACHE_HOME, else ~/.cache", () => {
    expect(defaultPriceCacheFile({ XDG_CACHE_HOME: "/x/cache" })).toBe("/x/cache/hyperflow-infra/prices.json");
    expect(defaultPriceCacheFile({})).toBe(path.join(os.homedir(), ".cache", "hyperflow-infra", "prices.json"));
  });
});

// ---------------------------------------------------------------------------------------------
// The command line.

/** No credentials anywhere: an empty home, no AWS variables. */
const NO_CREDENTIALS = {
  ...noCredentialsEnv(path.join(tmp, "home")),
  HOME: path.join(tmp, "home"),
  XDG_CACHE_HOME: path.join(tmp, "home", ".cache"),
  HFLOW_PRICES: undefined,
};

describe("hflow-infra cost", () => {
  beforeAll(() => fs.mkdirSync(NO_CREDENTIALS.HOME, { recursive: true }));

  test("without credentials: the table of every stack from the embedded table, labelled as estimate and saying so", async () => {
    const r = await cli(["-o", path.join(tmp, "out-cost"), "cost"], NO_CREDENTIALS);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ESTIMATE of what the stacks cost in us-east-1/);
    expect(r.out).toMatch(/\nstack network\n[\s\S]*\nstack ecs\n[\s\S]*\nstack runner\n/);
    expect(r.out).toMatch(/\nESTIMATED total \(network, ecs, runner\): USD [\d.]+ \/ [\d.]+ \/ [\d.]+ per hour/);
    expect(r.out).toMatch(/\+ unknown items \(\d+ usage-based\)/);
    expect(r.out).toContain(`Prices: ${EMBEDDED_SOURCE}`);
    expect(r.out).toMatch(/Note: no AWS credentials found/);
  });

  test("--json of named stacks; bad stack and bad --prices: exit 2", async () => {
    const r = await cli(["-o", path.join(tmp, "out-cost"), "cost", "ecs", "--json", "--prices", "embedded"], NO_CREDENTIALS);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report).toMatchObject({ estimate: true, region: "us-east-1", hoursPerMonth: 730, notes: [] });
    expect(report.stacks.map((s: { stack: string }) => s.stack)).toEqual(["ecs"]);
    const bad = await cli(["cost", "--prices", "cheap"], NO_CREDENTIALS);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--prices "cheap" is not allowed; allowed: auto, api, embedded/);
    const env = await cli(["cost"], { ...NO_CREDENTIALS, HFLOW_PRICES: "free" });
    expect(env.code).toBe(2);
    expect(env.err).toMatch(/HFLOW_PRICES "free" is not allowed/);
    expect((await cli(["cost", "nope"], NO_CREDENTIALS)).code).toBe(2);
  });

  test("with credentials: prices from the Price List API (the SDK's own endpoint setting), cached under XDG_CACHE_HOME", async () => {
    const s = await standIn();
    const cache = path.join(tmp, "xdg-api");
    try {
      const r = await cli(["-o", path.join(tmp, "out-cost-api"), "cost", "ecs", "--json"], {
        ...NO_CREDENTIALS,
        XDG_CACHE_HOME: cache,
        ...credentialsEnv({ accessKeyId: "AKIDSTANDIN", secretAccessKey: "standin-secret" }),
        AWS_ENDPOINT_URL_PRICING: s.endpoint,
      });
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const report = JSON.parse(r.out);
      expect(report.priceSources[0]).toMatch(/^AWS Price List API \(GetProducts, us-east-1 endpoint\), on-demand Linux, retrieved \d{4}-\d{2}-\d{2}$/);
      const master = report.stacks[0].lines.find((l: { item: string }) => /-master \(t3\.medium\)/.test(l.item));
      expect(master.prices[0]).toMatchObject({ usd: 0.042, origin: "api" });
      expect(s.requests.length).toBeGreaterThan(0);
      expect(JSON.parse(fs.readFileSync(path.join(cache, "hyperflow-infra", "prices.json"), "utf8")).prices["us-east-1 ec2/instance/t3.medium"].usd).toBe(
        0.042,
      );
    } finally {
      await s.close();
    }
  });

  test("deploy shows the estimate of the stacks it applies before terraform runs, and goes on with --auto-approve", async () => {
    const bin = path.join(tmp, "bin");
    const log = path.join(tmp, "tf.log");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, "faketf"), `#!/bin/sh\necho "$(basename "$PWD") $*" >> "${log}"\n`, { mode: 0o755 });
    // deploy checks for credentials first; prices from the embedded table (no Price List call with these stand-in keys).
    const DEPLOYABLE = { ...NO_CREDENTIALS, ...credentialsEnv({ accessKeyId: "AKIDSTANDIN", secretAccessKey: "standin-secret" }) };
    const r = await cli(["-o", path.join(tmp, "out-deploy"), "deploy", "ecs", "--auto-approve"], {
      ...DEPLOYABLE,
      HFLOW_PRICES: "embedded",
      TERRAFORM_BINARY_NAME: path.join(bin, "faketf"),
    });
    expect(r.code).toBe(0);
    const estimate = r.err.indexOf("ESTIMATE of what the stacks cost");
    expect(estimate).toBeGreaterThanOrEqual(0);
    expect(estimate).toBeLessThan(r.err.indexOf("==> ecs: "));
    expect(r.err).toMatch(/\nstack ecs\n/);
    expect(r.err).not.toMatch(/\nstack runner\n/); // only what is applied
    expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual([`ecs init -input=false${NO_COLOR}`, `ecs apply -input=false -auto-approve${NO_COLOR}`]);
    // A broken price setting never stops a deploy.
    const bad = await cli(["-o", path.join(tmp, "out-deploy"), "deploy", "ecs", "--auto-approve"], {
      ...DEPLOYABLE,
      TERRAFORM_BINARY_NAME: path.join(bin, "faketf"),
      HFLOW_PRICES: "nope",
    });
    expect(bad.code).toBe(0);
    expect(bad.err).toMatch(/warning: no cost estimate: HFLOW_PRICES "nope" is not allowed/);
    // diff and destroy apply nothing new: no estimate.
    const diff = await cli(["-o", path.join(tmp, "out-deploy"), "diff", "ecs"], { ...DEPLOYABLE, TERRAFORM_BINARY_NAME: path.join(bin, "faketf") });
    expect(diff.err).not.toMatch(/ESTIMATE/);
  });
});
