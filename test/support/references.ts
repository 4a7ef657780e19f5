/**
 * A stand-in for `terraform validate` (which needs providers this machine cannot download): every
 * `${…}` interpolation in a synthesized stack must refer to something the stack declares (resource,
 * data source, variable, local, module, remote state) or be a Terraform function call, and no `%{…}`
 * template directive may appear unescaped. A shell variable or a placeholder for another program that
 * was not escaped as `$${…}` / `%%{…}` shows up here as an unknown reference.
 */
import type { TfJson } from "./stack-json";

/** Terraform built-in functions (1.6+), enough to tell a call from a stray identifier. */
const FUNCTIONS = new Set(
  (
    "abs ceil floor log max min parseint pow signum chomp endswith format formatlist indent join lower regex regexall replace split startswith " +
    "strcontains strrev substr templatestring title trim trimprefix trimsuffix trimspace upper alltrue anytrue chunklist coalesce coalescelist " +
    "compact concat contains distinct element flatten index keys length list lookup map matchkeys merge one range reverse setintersection " +
    "setproduct setsubtract setunion slice sort sum transpose values zipmap base64decode base64encode base64gzip csvdecode jsondecode jsonencode " +
    "textdecodebase64 textencodebase64 urlencode yamldecode yamlencode abspath dirname pathexpand basename file fileexists fileset filebase64 " +
    "templatefile formatdate plantimestamp timeadd timecmp timestamp base64sha256 base64sha512 bcrypt filebase64sha256 filebase64sha512 filemd5 " +
    "filesha1 filesha256 filesha512 md5 rsadecrypt sha1 sha256 sha512 uuid uuidv5 cidrhost cidrnetmask cidrsubnet cidrsubnets can issensitive " +
    "nonsensitive sensitive tobool tolist tomap tonumber toset tostring try type ephemeralasnull"
  ).split(" "),
);
const KEYWORDS = new Set(["true", "false", "null", "for", "in", "if", "each", "count", "path", "self", "terraform"]);

interface Interpolation {
  /** JSON path of the string it was found in. */
  readonly where: string;
  /** The expression between `${` and `}`. */
  readonly expression: string;
}

/** Splits a Terraform template string into its interpolations (`$${` is a literal and skipped). */
export function interpolations(text: string, where = "$"): { found: Interpolation[]; directives: string[]; errors: string[] } {
  const found: Interpolation[] = [];
  const directives: string[] = [];
  const errors: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("$${", i) || text.startsWith("%%{", i)) {
      i += 3;
      continue;
    }
    if (text.startsWith("%{", i)) {
      directives.push(`${where}: template directive ${text.slice(i, i + 30)}…`);
      i += 2;
      continue;
    }
    if (text.startsWith("${", i)) {
      const end = matchBrace(text, i + 2);
      if (end < 0) {
        errors.push(`${where}: unterminated interpolation ${text.slice(i, i + 40)}…`);
        break;
      }
      found.push({ where, expression: text.slice(i + 2, end) });
      i = end + 1;
      continue;
    }
    i++;
  }
  return { found, directives, errors };
}

/** Index of the `}` closing an expression that starts at `start`, skipping strings and nested braces. */
function matchBrace(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      i = skipString(text, i);
      if (i < 0) return -1;
    } else if (c === "{" || c === "(" || c === "[") depth++;
    else if (c === ")" || c === "]") depth--;
    else if (c === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

/** Index of the quote closing the string literal opening at `start` (templates inside are skipped). */
function skipString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text.startsWith("$${", i)) i += 2;
    else if (text.startsWith("${", i)) {
      const end = matchBrace(text, i + 2);
      if (end < 0) return -1;
      i = end;
    } else if (text[i] === '"') return i;
  }
  return -1;
}

/** The string literals inside an expression (their own templates are checked recursively). */
function literals(expression: string): { literals: string[]; rest: string } {
  const lits: string[] = [];
  let rest = "";
  for (let i = 0; i < expression.length; i++) {
    if (expression[i] === '"') {
      const end = skipString(expression, i);
      lits.push(JSON.parse(expression.slice(i, end + 1)) as string);
      rest += '""';
      i = end;
    } else rest += expression[i];
  }
  return { literals: lits, rest };
}

interface Declared {
  readonly resources: Set<string>;
  readonly data: Set<string>;
  readonly variables: Set<string>;
  readonly locals: Set<string>;
  readonly modules: Set<string>;
}

export function declarations(stack: TfJson): Declared {
  const pairs = (block?: Record<string, Record<string, unknown>>) =>
    new Set(Object.entries(block ?? {}).flatMap(([type, byName]) => Object.keys(byName).map((n) => `${type}.${n}`)));
  const locals = new Set<string>();
  for (const l of [stack.locals ?? {}].flat()) for (const k of Object.keys(l)) locals.add(k);
  return {
    resources: pairs(stack.resource),
    data: pairs(stack.data as Record<string, Record<string, unknown>>),
    variables: new Set(Object.keys(stack.variable ?? {})),
    locals,
    modules: new Set(Object.keys(stack.module ?? {})),
  };
}

/** Problems with one expression: unknown references, unknown functions, stray identifiers. */
export function checkExpression(expression: string, declared: Declared, where: string): string[] {
  const problems: string[] = [];
  const { literals: lits, rest } = literals(expression);
  for (const lit of lits) problems.push(...checkString(lit, declared, where));
  // Object keys written as `key =` are names, not references.
  const code = rest.replace(/([A-Za-z_][\w-]*)\s*=(?!=)/g, "$1_KEY_ ");
  const re = /([A-Za-z_][\w-]*)((?:\.[A-Za-z_][\w-]*|\[[^\]]*\])*)\s*(\()?/g;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const [, head, tail, call] = m;
    const prev = code[m.index - 1];
    if (prev && /[\w.]/.test(prev)) continue; // part of a longer token (e.g. a number like 1.5e3)
    if (/^\d/.test(head) || head.endsWith("_KEY_")) continue;
    const parts = tail
      .split(".")
      .filter(Boolean)
      .map((p) => p.replace(/\[.*$/, ""));
    if (call) {
      if (!FUNCTIONS.has(head) && !head.startsWith("provider::")) problems.push(`${where}: \${${expression}} calls unknown function ${head}()`);
      continue;
    }
    if (KEYWORDS.has(head)) continue;
    const ok =
      head === "data"
        ? declared.data.has(`${parts[0]}.${parts[1]}`)
        : head === "var"
          ? declared.variables.has(parts[0])
          : head === "local"
            ? declared.locals.has(parts[0])
            : head === "module"
              ? declared.modules.has(parts[0])
              : parts.length > 0 && declared.resources.has(`${head}.${parts[0]}`);
    if (!ok) problems.push(`${where}: \${${expression}} refers to ${head}${tail}, which this stack does not declare`);
  }
  return problems;
}

function checkString(text: string, declared: Declared, where: string): string[] {
  const { found, directives, errors } = interpolations(text, where);
  return [...errors, ...directives, ...found.flatMap((f) => checkExpression(f.expression, declared, where))];
}

/** Checks every string of a stack. Returns problems (empty when every interpolation resolves). */
export function checkReferences(stack: TfJson): string[] {
  const declared = declarations(stack);
  const problems: string[] = [];
  const walk = (value: unknown, at: string) => {
    if (typeof value === "string") problems.push(...checkString(value, declared, at));
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${at}[${i}]`));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) if (k !== "//") walk(v, `${at}.${k}`);
  };
  for (const section of ["resource", "data", "output", "locals", "provider", "module"] as const) walk(stack[section], section);
  return problems;
}
