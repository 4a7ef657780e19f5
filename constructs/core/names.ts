/**
 * Names derived from other names. Cloud ids have length limits and most must end with a letter or
 * digit (GCP service account ids, GKE node pool and cluster names, GCP label keys); a plain
 * `.slice(0, n)` can leave a `-` at the cut, which the API then refuses.
 */

/** `name` cut to at most `maxLength` characters, without separators (`-`, `_`, `.`) left at the end of the cut. */
export function truncateName(name: string, maxLength: number): string {
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError(`truncateName: maxLength must be a positive integer (got ${maxLength})`);
  if (name.length <= maxLength) return name;
  return name.slice(0, maxLength).replace(/[-_.]+$/, "");
}

/**
 * A GCP resource name from any text: lowercase letters, digits and `-` only, starting with a letter
 * (`fallbackStart` is put in front otherwise), at most `maxLength` characters, not ending with `-`.
 */
export function gcpName(text: string, maxLength: number, fallbackStart = "x"): string {
  let s = text.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
  if (!/^[a-z]/.test(s)) s = `${fallbackStart}-${s}`;
  return truncateName(s, maxLength).replace(/-+$/, "");
}
