/**
 * Terraform reads `${…}` and `%{…}` inside every string as interpolation or a template directive. Text
 * that must reach a machine literally (shell scripts, cloud-config, placeholders meant for other
 * programs) goes through `terraformLiteral` first: Terraform turns `$${` back into `${` and `%%{` into `%{`.
 *
 * Never pass a string that contains cdktf tokens: their `${TfToken[…]}` markers would be escaped too.
 */
export function terraformLiteral(text: string): string {
  return text.replace(/\$\{/g, "$${").replace(/%\{/g, "%%{");
}

/** The inverse: what Terraform delivers for a string literal that contains no interpolation. */
export function terraformUnescape(text: string): string {
  return text.replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{");
}
