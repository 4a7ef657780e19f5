/** Markdown reference of every config key, generated from the schema (docs/config.md is this text). */
import { configJsonSchema } from "./schema";

interface Node {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, Node>;
  anyOf?: Node[];
  oneOf?: Node[];
  enum?: unknown[];
  const?: unknown;
  items?: Node;
  additionalProperties?: Node | boolean;
}

export function configReference(): string {
  const rows: string[] = [];
  const walk = (node: Node, at: string, variant?: string) => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const keyPath = `${at}${key}`;
      const alternatives = child.anyOf ?? child.oneOf;
      if (alternatives && alternatives.some((a) => a.properties)) {
        rows.push(row(keyPath, child, "object"));
        for (const alt of alternatives) {
          const tag = Object.entries(alt.properties ?? {}).find(([, p]) => p.const !== undefined);
          walk(alt, `${keyPath}.`, tag ? `${tag[0]} = "${String(tag[1].const)}"` : undefined);
        }
        continue;
      }
      if (child.const !== undefined) continue; // the discriminator itself is described by the variant
      rows.push(row(keyPath, child, typeOf(child), variant));
      if (child.properties) walk(child, `${keyPath}.`, variant);
      // A map of objects (e.g. batch.apps): its entries' keys under `<name>`.
      const entry = child.additionalProperties;
      if (typeof entry === "object" && entry.properties) walk(entry, `${keyPath}.<name>.`, variant);
    }
  };
  walk(configJsonSchema() as Node, "");
  return [
    "# Configuration reference",
    "",
    "Generated from `config/schema.ts` (`npm run docs`); a test keeps it in sync. Every key is optional.",
    "The file is `hyperflow.config.json` (comments allowed), `--config FILE` or `HFLOW_CONFIG`.",
    "",
    '"Seed" means the deployments hyperflow-infra replaces (docs/design.md, "Terms"); "seed `x`" names what a key replaces',
    "there, mostly a Terraform variable of hyperflow-wms/hyperflow-terraform-ecs (`variables.tf`, `variables_const.tf`) or, for the",
    "runner, of `runner/variables.tf` in its fork mtsznowak/hyperflow-terraform-ecs.",
    "",
    "| key | type | default | description |",
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

function typeOf(n: Node): string {
  if (n.enum) return n.enum.map((v) => JSON.stringify(v)).join(" \\| ");
  if (n.type === "array") return `${typeOf(n.items ?? {})}[]`;
  return Array.isArray(n.type) ? n.type.join(" \\| ") : (n.type ?? "any");
}

function row(keyPath: string, n: Node, type: string, variant?: string): string {
  const def = n.default === undefined ? "–" : `\`${JSON.stringify(n.default)}\``;
  const when = variant ? ` (when ${variant})` : "";
  const text = `${n.description ?? ""}${when}`.replace(/\|/g, "\\|").replace(/\n/g, " ");
  return `| \`${keyPath}\` | ${type} | ${def} | ${text} |`;
}
