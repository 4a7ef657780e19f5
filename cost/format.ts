/** The estimate as a terminal table (`hflow-infra cost`, and before `deploy` / `run` apply) and as JSON. */
import type { CostLine, CostReport, Range, StackCost } from "./model";

/** Amounts: 4 decimals an hour, 2 a month; a true zero (nothing runs at that scale) is "0". */
const usd4 = (n: number) => (n === 0 ? "0" : n.toFixed(4));
const usd2 = (n: number) => (n === 0 ? "0" : n.toFixed(2));

/** Widest item column; longer items wrap. */
const ITEM_WIDTH = 50;
/** Notes and rates wrap at this width. */
const TEXT_WIDTH = 110;

/** "1" when the three scales agree, else "0 / 0 / 5". */
function range(r: Range, f: (n: number) => string): string {
  const [a, b, c] = [f(r.min), f(r.desired), f(r.max)];
  return a === b && b === c ? a : `${a} / ${b} / ${c}`;
}

function qty(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString("en-US") : Number(n.toPrecision(4)).toLocaleString("en-US");
}

const SINGULAR: Readonly<Record<string, string>> = {
  instances: "instance",
  addresses: "address",
  gateways: "gateway",
  secrets: "secret",
  metrics: "metric",
  "alarm metrics": "alarm metric",
  alarms: "alarm",
  clusters: "cluster",
  "load balancers": "load balancer",
  tasks: "task",
  nodes: "node",
  vCPUs: "vCPU",
};

function quantity(l: CostLine): string {
  if (!l.quantity) return "";
  const unit = l.unit ?? "";
  const one = l.quantity.min === 1 && l.quantity.desired === 1 && l.quantity.max === 1;
  return `${range(l.quantity, qty)} ${one ? (SINGULAR[unit] ?? unit) : unit}`.trim();
}

/** Greedy word wrap. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line || out.length === 0) out.push(line);
  return out;
}

/** "+ unknown items (3 usage-based, 1 unknown)", or nothing. */
export function unknownSuffix(s: { usageItems: number; unknownItems: number }): string {
  const parts = [s.usageItems > 0 && `${s.usageItems} usage-based`, s.unknownItems > 0 && `${s.unknownItems} unknown`].filter(Boolean);
  return parts.length === 0 ? "" : ` + unknown items (${parts.join(", ")})`;
}

function cells(l: CostLine): [string, string, string, string] {
  const item = `${l.category}: ${l.item}`;
  if (l.kind === "priced") return [item, quantity(l), range(l.hourly!, usd4), range(l.monthly!, usd2)];
  const word = l.kind === "usage" ? "usage-based" : "unknown";
  return [item, quantity(l), word, word];
}

function details(l: CostLine): string[] {
  const out: string[] = [];
  if (l.kind === "usage" && l.rates && l.rates.length > 0) out.push(l.rates.join("; "));
  if (l.example) out.push(`e.g. ${l.example.what}: USD ${usd2(l.example.usd)}`);
  if (l.note) out.push(l.note);
  return out;
}

function stackTable(s: StackCost): string[] {
  const header: [string, string, string, string] = ["item", "quantity", "USD/hour", "USD/month"];
  const body = s.lines.map(cells);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (i === 0 ? Math.min(ITEM_WIDTH, b[0].length) : b[i].length))));
  const row = (c: readonly string[]) =>
    c
      .map((x, i) => (i >= 2 ? x.padStart(widths[i]) : x.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const out = [`stack ${s.stack}`, `  ${row(header)}`, `  ${row(widths.map((w) => "-".repeat(w)))}`];
  s.lines.forEach((l, i) => {
    const [item, ...rest] = body[i];
    const itemLines = wrap(item, widths[0]);
    out.push(`  ${row([itemLines[0], ...rest])}`);
    for (const more of itemLines.slice(1)) out.push(`    ${more}`);
    for (const d of details(l)) for (const t of wrap(d, TEXT_WIDTH - 6)) out.push(`      ${t}`);
  });
  if (s.lines.length === 0) out.push("  (nothing billed: data sources only)");
  const total = wrap(`total ${s.stack}: USD ${range(s.hourly, usd4)} per hour, USD ${range(s.monthly, usd2)} per month${unknownSuffix(s)}`, TEXT_WIDTH - 2);
  out.push(...total.map((t, i) => (i === 0 ? `  ${t}` : `    ${t}`)));
  return out;
}

/** The whole report for a terminal. */
export function formatCostTable(r: CostReport): string {
  const out = [
    `ESTIMATE of what the stacks cost in ${r.region}: on-demand USD, a month = ${r.hoursPerMonth} h, free tiers not subtracted.`,
    `"a / b / c" is at the minimum / desired / maximum scale.`,
    "",
  ];
  for (const s of r.stacks) out.push(...stackTable(s), "");
  out.push(
    ...wrap(
      `ESTIMATED total (${r.stacks.map((s) => s.stack).join(", ")}): USD ${range(r.hourly, usd4)} per hour, USD ${range(r.monthly, usd2)} per month${unknownSuffix(r)}`,
      TEXT_WIDTH,
    ),
  );
  if (r.usageItems + r.unknownItems > 0) out.push("Usage-based and unknown items are not in the totals; they are not zero.");
  for (const s of r.priceSources) out.push(`Prices: ${s}`); // one line each: greppable
  for (const n of r.notes) out.push(...wrap(`Note: ${n}`, TEXT_WIDTH));
  return out.join("\n");
}

/** The report as JSON (amounts to 6 decimals). */
export function formatCostJson(r: CostReport): string {
  return JSON.stringify(r, (_k, v) => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1e6) / 1e6 : v), 2);
}
