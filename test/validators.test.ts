/**
 * Generated user data and scripts checked by real tools from Debian: `cloud-init schema` for
 * cloud-config and `shellcheck` for every shell snippet, as Terraform will deliver them.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { terraformUnescape } from "../constructs/core/terraform-string";
import { CONFIG_VARIANTS, resources, synthConfig, type TfJson } from "./support/synth";

function requireTool(name: string): void {
  const r = spawnSync("sh", ["-c", `command -v ${name}`]);
  if (r.status !== 0) throw new Error(`${name} is not installed: run .ci/run or apt-get install ${name === "cloud-init" ? "cloud-init" : name}`);
}

/** Every cloud-config the stacks hand to instances (launch-template user data, base64). */
function cloudConfigs(stack: TfJson): [string, string][] {
  return resources(stack, "aws_launch_template").map((lt, i) => [`launch template ${i} (${lt.name_prefix})`, Buffer.from(lt.user_data, "base64").toString()]);
}

/** Every shell snippet in container definitions: `sh -c` commands and CMD-SHELL health checks. */
function shellSnippets(stack: TfJson): [string, string][] {
  const out: [string, string][] = [];
  for (const td of resources(stack, "aws_ecs_task_definition")) {
    for (const c of JSON.parse(td.container_definitions)) {
      const cmd: string[] | undefined = c.command;
      if (cmd && ["sh", "bash", "/bin/sh", "/bin/bash"].includes(cmd[0]) && cmd[1] === "-c") out.push([`${td.family}/${c.name} command`, terraformUnescape(cmd[2])]);
      const hc: string[] | undefined = c.healthCheck?.command;
      if (hc && hc[0] === "CMD-SHELL") out.push([`${td.family}/${c.name} healthCheck`, terraformUnescape(hc.slice(1).join(" "))]);
    }
  }
  // Deploy-time commands run by Terraform on the operator's machine.
  for (const [name, d] of Object.entries<any>(stack.resource?.terraform_data ?? {})) {
    for (const p of d.provisioner ?? []) {
      const cmd = p["local-exec"]?.command;
      // References become a plain word (what Terraform puts there is a bucket name), escapes are undone.
      if (cmd) out.push([`terraform_data.${name} local-exec`, terraformUnescape(cmd.replace(/(?<!\$)\$\{[^}]+\}/g, "resolved-value"))]);
    }
  }
  return out;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-validate-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.each(Object.entries(CONFIG_VARIANTS))("config variant: %s", (name, input) => {
  const { json } = synthConfig(input);
  const stacks = Object.values(json);

  test("every cloud-config passes `cloud-init schema`", () => {
    requireTool("cloud-init");
    const configs = stacks.flatMap(cloudConfigs);
    expect(configs.length).toBeGreaterThanOrEqual(2);
    for (const [where, text] of configs) {
      expect(text.startsWith("#cloud-config\n")).toBe(true);
      const file = path.join(tmp, `${name.replace(/\W+/g, "_")}-${configs.indexOf(configs.find((c) => c[0] === where)!)}.yaml`);
      fs.writeFileSync(file, text);
      const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`${where}: cloud-init schema failed:\n${r.stdout}${r.stderr}\n---\n${text}`);
    }
  });

  test("every shell snippet passes shellcheck", () => {
    requireTool("shellcheck");
    const snippets = stacks.flatMap(shellSnippets);
    expect(snippets.length).toBeGreaterThanOrEqual(2);
    for (const [where, script] of snippets) {
      const r = spawnSync("shellcheck", ["--shell=sh", "--severity=style", "-"], { input: `#!/bin/sh\n${script}\n`, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`${where}: shellcheck failed:\n${r.stdout}${r.stderr}\n---\n${script}`);
    }
  });
});

describe("the validators are real", () => {
  test("cloud-init schema rejects an invalid cloud-config", () => {
    requireTool("cloud-init");
    const file = path.join(tmp, "bad.yaml");
    fs.writeFileSync(file, "#cloud-config\nwrite_files: 7\n");
    expect(spawnSync("cloud-init", ["schema", "--config-file", file]).status).not.toBe(0);
  });
  test("shellcheck rejects an unquoted expansion", () => {
    requireTool("shellcheck");
    expect(() => execFileSync("shellcheck", ["--shell=sh", "-"], { input: '#!/bin/sh\nrm -rf $DIR/*\n', stdio: "pipe" })).toThrow();
  });
});
