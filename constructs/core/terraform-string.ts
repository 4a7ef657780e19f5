/**
 * Terraform reads `${…}` and `%{…}` inside every string as interpolation or a template directive. Text
 * that must reach a machine literally (shell scripts, cloud-config, placeholders meant for other
 * programs) goes through `terraformLiteral` first: Terraform turns `$${` back into `${` and `%%{` into `%{`.
 *
 * cdktf token markers (`${TfToken[…]}`, what a resource attribute is before synth) are kept as they
 * are, so a literal may mix text and references.
 */
const TOKEN = /\$\{TfToken\[[^\]]+\]\}/g;

export function terraformLiteral(text: string): string {
  let out = "";
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    out += escape(text.slice(last, m.index));
    out += m[0];
    last = (m.index ?? 0) + m[0].length;
  }
  return out + escape(text.slice(last));
}

function escape(text: string): string {
  // Replacement functions, not strings: in a replacement string "$$" means a single "$".
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}

/** The inverse: what Terraform delivers for a string literal that contains no interpolation. */
export function terraformUnescape(text: string): string {
  return text.replace(/\$\$\{/g, () => "${").replace(/%%\{/g, () => "%{");
}
