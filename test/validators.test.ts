/**
 * Generated user data and scripts checked by real tools from Debian: `cloud-init schema` for
 * cloud-config and `shellcheck` for every shell snippet, as Terraform will deliver them.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { terraformUnescape } from "../constructs/core/terraform-string";
import { DATA_LABEL, monitoringStartScript } from "../constructs/monitoring/monitoring-host";
import { CONFIG_VARIANTS, resources, synthConfig, type TfJson } from "./support/stack-json";

function requireTool(name: string): void {
  const r = spawnSync("sh", ["-c", `command -v ${name}`]);
  const pkg: Record<string, string> = { "mkfs.xfs": "xfsprogs" };
  if (r.status !== 0) throw new Error(`${name} is not installed: run .ci/run or apt-get install ${pkg[name] ?? name}`);
}

/** What Terraform delivers for a string: references become a plain word, escapes are undone. */
const delivered = (text: string) => terraformUnescape(text.replace(/(?<!\$)\$\{[^}]+\}/g, "resolved-value"));

/** Every cloud-config the stacks hand to instances: launch templates (base64) and instances (plain). */
function cloudConfigs(stack: TfJson): [string, string][] {
  return [
    ...resources(stack, "aws_launch_template")
      .filter((lt) => typeof lt.user_data === "string")
      .map((lt, i): [string, string] => [`launch template ${i} (${lt.name_prefix})`, Buffer.from(lt.user_data, "base64").toString()]),
    ...resources(stack, "aws_instance")
      .filter((i) => typeof i.user_data === "string")
      .map((i, n): [string, string] => [`instance ${n} (${i.tags?.Name})`, delivered(i.user_data)]),
  ];
}

/** Scripts written by cloud-config write_files (gz+b64 or b64 content starting with #!). */
function writtenScripts(cloudConfig: string): [string, string][] {
  const out: [string, string][] = [];
  const lines = cloudConfig.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^ {2}- path: (.+)$/.exec(lines[i]);
    if (!m) continue;
    const block = lines.slice(i + 1, i + 4).join("\n");
    const encoding = /encoding: (\S+)/.exec(block)?.[1];
    const content = /content: (\S+)/.exec(block)?.[1];
    if (!encoding || !content) continue;
    const raw = Buffer.from(content, "base64");
    const text = (encoding === "gz+b64" ? zlib.gunzipSync(raw) : raw).toString();
    if (text.startsWith("#!")) out.push([m[1], text]);
  }
  return out;
}

/** Every shell snippet in container definitions: `sh -c` commands and CMD-SHELL health checks. */
function shellSnippets(stack: TfJson): [string, string][] {
  const out: [string, string][] = [];
  for (const td of resources(stack, "aws_ecs_task_definition")) {
    for (const c of JSON.parse(td.container_definitions)) {
      const cmd: string[] | undefined = c.command;
      if (cmd && ["sh", "bash", "/bin/sh", "/bin/bash"].includes(cmd[0]) && cmd[1] === "-c")
        out.push([`${td.family}/${c.name} command`, terraformUnescape(cmd[2])]);
      const hc: string[] | undefined = c.healthCheck?.command;
      if (hc && hc[0] === "CMD-SHELL") out.push([`${td.family}/${c.name} healthCheck`, terraformUnescape(hc.slice(1).join(" "))]);
    }
  }
  // Kubernetes containers started with a shell.
  for (const [type, byName] of Object.entries<any>(stack.resource ?? {})) {
    if (!type.startsWith("kubernetes_")) continue;
    for (const [name, r] of Object.entries<any>(byName)) {
      for (const c of r.spec?.template?.spec?.container ?? []) {
        const cmd: string[] | undefined = c.command;
        if (cmd && ["/bin/sh", "sh", "/bin/bash"].includes(cmd[0]) && cmd[1] === "-c") out.push([`${type}.${name}/${c.name}`, delivered(cmd[2])]);
      }
    }
  }
  // Deploy-time commands run by Terraform on the operator's machine.
  for (const [name, d] of Object.entries<any>(stack.resource?.terraform_data ?? {})) {
    for (const p of d.provisioner ?? []) {
      const cmd = p["local-exec"]?.command;
      // References become a plain word (what Terraform puts there is a bucket name), escapes are undone.
      if (cmd) out.push([`terraform_data.${name} local-exec`, delivered(cmd)]);
    }
  }
  for (const [where, config] of cloudConfigs(stack)) for (const [file, script] of writtenScripts(config)) out.push([`${where}: ${file}`, script]);
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
    expect(configs.length).toBeGreaterThanOrEqual(2); // at least the ECS master and workers
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
      const full = script.startsWith("#!") ? script : `#!/bin/sh\n${script}\n`;
      const shell = /^#!\/bin\/bash/.test(full) ? "bash" : "sh";
      const r = spawnSync("shellcheck", [`--shell=${shell}`, "--severity=style", "-"], { input: full, encoding: "utf8" });
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
    expect(() => execFileSync("shellcheck", ["--shell=sh", "-"], { input: "#!/bin/sh\nrm -rf $DIR/*\n", stdio: "pipe" })).toThrow();
  });
});

describe("monitoring host user data", () => {
  test("the data volume's filesystem label is one mkfs.xfs accepts", () => {
    requireTool("mkfs.xfs");
    const img = path.join(tmp, "xfs.img");
    fs.writeFileSync(img, "");
    fs.truncateSync(img, 320 * 1024 * 1024); // sparse: XFS wants at least 300 MB
    const ok = spawnSync("mkfs.xfs", ["-q", "-L", DATA_LABEL, img], { encoding: "utf8" });
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    expect(monitoringStartScript()).toContain(`mkfs.xfs -L ${DATA_LABEL} "$device"`);
    const tooLong = spawnSync("mkfs.xfs", ["-q", "-f", "-L", "hyperflow-data", img], { encoding: "utf8" });
    expect(tooLong.status).not.toBe(0); // the label the first version used
  });

  const { json } = synthConfig({ monitoring: { enabled: true } });
  test("the boot script inside the cloud-config is found and passes shellcheck as bash", () => {
    const scripts = shellSnippets(json.grafana!).filter(([where]) => where.endsWith("/usr/local/sbin/hyperflow-monitoring-start"));
    expect(scripts).toHaveLength(1);
    const r = spawnSync("shellcheck", ["--shell=bash", "--severity=style", "-"], { input: scripts[0][1], encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
