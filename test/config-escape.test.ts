/**
 * Terraform reads `${…}` and `%{…}` in every string. Every string key of the configuration (found by
 * walking the schema: a new key is covered without editing this file) gets a value with both in it,
 * in every example config that can hold it; the config is then either rejected with an error naming the
 * key, or synthesized, and no stack may contain the value's interpolation unescaped.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HflowError } from "../common/errors";
import { ConfigError, validateConfig } from "../config/load";
import { type StringKey, stringKeys, valueAt, withValueAt } from "./support/config-keys";
import type { Json } from "./support/json";
import { JobDirError } from "../runner/job-dir";
import { CONFIG_VARIANTS, FIXTURE_JOB, synthConfig } from "./support/stack-json";

const KEYS = stringKeys();
/** Where job directories named by probe values are made. */
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-escape-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** The marker of key number `i`: an interpolation and a directive Terraform would evaluate. */
const marker = (i: number) => `\${hfp${i}}%{hfp${i}}`;

/** Where the value goes: alone, or into the key's own value (the example's or the default) after its first character. */
const SHAPES: Record<string, (i: number, current: string | undefined) => string> = {
  alone: (i) => `a${marker(i)}b`,
  inside: (i, current) => (current === undefined || current === "" ? `a${marker(i)}` : `${current.slice(0, 1)}${marker(i)}${current.slice(1)}`),
};

/** The path prefix a config error names for the key (up to its first list item or map entry). */
function reportedPath(k: StringKey): string {
  const names: string[] = [];
  for (const s of k.steps) {
    if (s.kind !== "prop") break;
    names.push(s.name);
  }
  return names.join(".");
}

interface Outcome {
  readonly key: string;
  readonly variant: string;
  readonly result: "rejected" | "escaped" | "not in any stack" | "LEAKED";
  readonly detail?: string;
}

/** Leaks in synthesized text: the marker's `${` not preceded by `$`, its `%{` not preceded by `%`. */
function leaks(text: string, i: number): string[] {
  const found: string[] = [];
  const dollar = new RegExp(`(?<!\\$)\\$\\{hfp${i}\\}`);
  const percent = new RegExp(`(?<!%)%\\{hfp${i}\\}`);
  for (const re of [dollar, percent]) {
    const m = re.exec(text);
    if (m) found.push(text.slice(Math.max(0, m.index - 60), m.index + 20));
  }
  return found;
}

/** Places every key in every example config that can hold it, synthesizes once per example, and reports each key in each. */
function probe(shape: (i: number, current: string | undefined) => string): Outcome[] {
  const outcomes: Outcome[] = [];
  const placed = new Set<number>();
  for (const [variant, base] of Object.entries(CONFIG_VARIANTS)) {
    // Every key this example can hold, alone: rejected keys are settled here, accepted ones are synthesized together.
    const accepted: number[] = [];
    for (const [i, k] of KEYS.entries()) {
      const current = valueAt(base, k.steps);
      const input = withValueAt(base, k.steps, shape(i, typeof current === "string" ? current : k.default));
      if (input === undefined) continue;
      placed.add(i);
      try {
        validateConfig(input);
        accepted.push(i);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        const named = e.problems.some((p) => p.path === reportedPath(k) || p.path.startsWith(`${reportedPath(k)}.`));
        outcomes.push({ key: k.key, variant, result: "rejected", detail: named ? undefined : `error names another key: ${e.message}` });
      }
    }
    // A value the synthesis itself refuses is rejected there, by name; except a job directory that does
    // not exist: then one is made by that name (a copy of the test job) and the synthesis tried again.
    const made = new Map<number, string>();
    let text: string | undefined;
    while (accepted.length > 0 && text === undefined) {
      let input: Json = base;
      for (const i of accepted) {
        const k = KEYS[i];
        const current = valueAt(base, k.steps);
        input = withValueAt(input, k.steps, made.get(i) ?? shape(i, typeof current === "string" ? current : k.default));
      }
      try {
        text = Object.values(synthConfig(input).text).join("\n");
      } catch (e) {
        const message = e instanceof HflowError ? e.message : "";
        const refused = accepted.find((i) => message.includes(`hfp${i}}`));
        if (refused === undefined) throw e;
        if (e instanceof JobDirError && !made.has(refused)) {
          const current = valueAt(base, KEYS[refused].steps);
          const dir = path.join(scratch, shape(refused, typeof current === "string" ? current : KEYS[refused].default));
          fs.cpSync(FIXTURE_JOB, dir, { recursive: true });
          made.set(refused, dir);
          continue;
        }
        outcomes.push({ key: KEYS[refused].key, variant, result: "rejected" });
        accepted.splice(accepted.indexOf(refused), 1);
      }
    }
    if (text === undefined) continue;
    for (const i of accepted) {
      const found = leaks(text, i);
      const escaped = text.includes(`$\${hfp${i}}`) || text.includes(`%%{hfp${i}}`);
      outcomes.push({
        key: KEYS[i].key,
        variant,
        result: found.length > 0 ? "LEAKED" : escaped ? "escaped" : "not in any stack",
        detail: found.length > 0 ? found.join(" … ") : undefined,
      });
    }
  }
  for (const [i, k] of KEYS.entries()) {
    if (!placed.has(i)) outcomes.push({ key: k.key, variant: "(none)", result: "LEAKED", detail: "no example config can hold this key" });
  }
  return outcomes;
}

describe.each(Object.entries(SHAPES))("a value with ${…} and %{…} at every string key of the schema (%s)", (_name, shape) => {
  const outcomes = probe(shape);

  test("the walk found the schema's string keys, including list items and map keys and values", () => {
    const keys = KEYS.map((k) => k.key);
    expect(keys).toEqual(expect.arrayContaining(["ecs.keyPairName", "tags.*", "tags.(name)", "adminCidrs.[]", "kubernetes.postJobs.[].command"]));
    expect([...new Set(outcomes.map((o) => o.key))].sort()).toEqual([...keys].sort());
  });

  test("no key leaks an interpolation into a stack, and a rejected key is the one the error names", () => {
    const bad = outcomes.filter((o) => o.result === "LEAKED" || o.detail !== undefined);
    expect(bad).toEqual([]);
  });

  test("values that are accepted do reach the stacks, escaped", () => {
    // ecs.keyPairName is free text that reaches the launch template: the probe is meaningful only if it lands somewhere.
    expect(outcomes.filter((o) => o.key === "ecs.keyPairName").map((o) => o.result)).toContain("escaped");
    // A job directory whose path holds both reaches the deploy-time upload's command, escaped.
    expect(outcomes.filter((o) => o.key === "runner.jobDir").map((o) => o.result)).toContain("escaped");
    expect(new Set(outcomes.filter((o) => o.result === "escaped").map((o) => o.key)).size).toBeGreaterThan(3);
  });
});
