import { terraformLiteral, terraformUnescape } from "../constructs/core/terraform-string";

describe("terraformLiteral", () => {
  test("escapes interpolations and directives so they reach the machine literally", () => {
    expect(terraformLiteral('echo "${HOME}" %{if x}')).toBe('echo "$${HOME}" %%{if x}');
    expect(terraformLiteral("no markers")).toBe("no markers");
    expect(terraformLiteral("$HOME and $(date)")).toBe("$HOME and $(date)");
  });
  test("keeps cdktf token markers, escapes the text around them", () => {
    expect(terraformLiteral("s3://${TfToken[TOKEN.12]}/x/${name}")).toBe("s3://${TfToken[TOKEN.12]}/x/$${name}");
  });
  test("terraformUnescape is what Terraform delivers", () => {
    const text = "a ${b} %{c} $${d}";
    expect(terraformUnescape(terraformLiteral(text))).toBe(text);
  });
});
