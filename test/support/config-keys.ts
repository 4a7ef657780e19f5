/**
 * Every string-typed key of the configuration, found by walking the JSON Schema the config command prints
 * (config/schema.ts `configJsonSchema`), and a way to put a value at such a key in a config. A key added
 * to the schema is found here without editing anything.
 */
import { configJsonSchema } from "../../config/schema";
import type { Json } from "./json";

/** One step of a key's path: an object property, the items of a list, the values or the names of a map. */
export type Step =
  | { readonly kind: "prop"; readonly name: string; readonly when?: { readonly key: string; readonly value: string } }
  | { readonly kind: "item" }
  | { readonly kind: "value" }
  | { readonly kind: "name" };

export interface StringKey {
  /** Dotted path as the loader reports it, with `[]` for list items, `*` for map values and `(name)` for map keys. */
  readonly key: string;
  readonly steps: readonly Step[];
  /** The schema's default, when it has one. */
  readonly default?: string;
}

interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
  readonly properties?: Record<string, SchemaNode>;
  readonly items?: SchemaNode;
  readonly additionalProperties?: SchemaNode | boolean;
  readonly propertyNames?: SchemaNode;
  readonly anyOf?: readonly SchemaNode[];
  readonly oneOf?: readonly SchemaNode[];
  readonly allOf?: readonly SchemaNode[];
  readonly default?: unknown;
}

function isFreeString(n: SchemaNode): boolean {
  const typed = n.type === "string" || (Array.isArray(n.type) && n.type.includes("string"));
  return typed && n.const === undefined && n.enum === undefined;
}

/** The discriminator of a union alternative: a property whose schema is a string constant. */
function discriminator(n: SchemaNode): { key: string; value: string } | undefined {
  for (const [key, p] of Object.entries(n.properties ?? {})) if (typeof p.const === "string") return { key, value: p.const };
  return undefined;
}

/** Every string key of the configuration schema (free-form or constrained; not constants and enums). */
export function stringKeys(schema: SchemaNode = configJsonSchema() as SchemaNode): StringKey[] {
  const out = new Map<string, StringKey>();
  const label = (steps: readonly Step[]) =>
    steps.map((s) => (s.kind === "prop" ? s.name : s.kind === "item" ? "[]" : s.kind === "value" ? "*" : "(name)")).join(".");
  const walk = (n: SchemaNode | undefined, steps: Step[], when?: { key: string; value: string }) => {
    if (!n || typeof n !== "object") return;
    if (isFreeString(n) && steps.length > 0) {
      const key = label(steps);
      if (!out.has(key)) out.set(key, typeof n.default === "string" ? { key, steps, default: n.default } : { key, steps });
    }
    for (const [name, p] of Object.entries(n.properties ?? {})) walk(p, [...steps, when ? { kind: "prop", name, when } : { kind: "prop", name }]);
    if (n.items) walk(n.items, [...steps, { kind: "item" }]);
    if (n.additionalProperties && typeof n.additionalProperties === "object") walk(n.additionalProperties, [...steps, { kind: "value" }]);
    if (n.propertyNames) walk(n.propertyNames, [...steps, { kind: "name" }]);
    for (const alt of [...(n.anyOf ?? []), ...(n.oneOf ?? [])]) walk(alt, steps, discriminator(alt));
    for (const part of n.allOf ?? []) walk(part, steps, when);
  };
  walk(schema, []);
  return [...out.values()];
}

/** Defaults of the discriminators of the schema's unions (what applies when the config leaves them out). */
const UNION_DEFAULTS: Readonly<Record<string, string>> = { type: "local", mode: "default" };

/** The value now at a key of `config` (the first list item, the first map entry), or undefined. */
export function valueAt(config: Json, steps: readonly Step[]): unknown {
  let cur: Json = config;
  for (const s of steps) {
    if (cur === null || typeof cur !== "object") return undefined;
    if (s.kind === "prop") cur = cur[s.name];
    else if (s.kind === "item") cur = Array.isArray(cur) ? cur[0] : undefined;
    else if (s.kind === "value") cur = Object.values(cur)[0];
    else cur = Object.keys(cur)[0];
  }
  return cur;
}

/**
 * A copy of `config` with `value` at the key, or undefined where the key cannot be reached in this config:
 * a union alternative other than the config's (`network.vpcId` in a config without `mode: existing`), or
 * an item of a list (or an entry of a map) of objects the config has none of. Missing objects on the way are created; a list of
 * strings gets the value as its first item, a map an extra entry (a map's key: an extra entry so named).
 */
export function withValueAt(config: Json, steps: readonly Step[], value: string): Json | undefined {
  const root: Json = structuredClone(config);
  let cur: Json = root;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    const last = i === steps.length - 1;
    if (s.kind === "prop") {
      if (s.when && (cur[s.when.key] ?? UNION_DEFAULTS[s.when.key]) !== s.when.value) return undefined;
      if (last) cur[s.name] = value;
      else {
        if (cur[s.name] === undefined) cur[s.name] = steps[i + 1].kind === "item" ? [] : {};
        cur = cur[s.name];
      }
    } else if (s.kind === "item") {
      if (!Array.isArray(cur)) return undefined;
      if (last) cur.splice(0, 1, value);
      else if (cur.length === 0 || typeof cur[0] !== "object") return undefined;
      else cur = cur[0];
    } else if (s.kind === "value") {
      if (last) cur["hflow-probe"] = value;
      else {
        // A map of objects (batch.apps): the probe goes into the config's first entry.
        const first: Json = Object.values(cur)[0];
        if (first === undefined || first === null || typeof first !== "object") return undefined;
        cur = first;
      }
    } else {
      if (!last) return undefined;
      cur[value] = "probe";
    }
  }
  return root;
}
