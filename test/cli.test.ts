import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resolveStacks } from "../cli/workspace";
import { nodeCheck, credentialsCheck } from "../cli/commands/doctor";
import { terraformColor } from "../cli/terraform";
import { credentialsEnv } from "./support/aws-env";
import { runCli as cli } from "./support/cli";

const root = path.join(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-cli-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function listTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return out;
}

describe("hflow-infra synth", () => {
  test("prints a table of stacks, resources and outputs", async () => {
    const out = path.join(tmp, "synth");
    const r = await cli(["-o", out, "synth"], { HFLOW_CONFIG: undefined, HFLOW_REGION: undefined });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^stack\s+resources\s+data sources\s+outputs/);
    expect(r.out).toMatch(/\necs\s+4\d\s+\d\s+broker_secret_name, cluster_name, engine_repository_url/);
    expect(fs.existsSync(path.join(out, "stacks", "ecs", "cdk.tf.json"))).toBe(true);
  });

  test("--json summary and --region override", async () => {
    const r = await cli(["-o", path.join(tmp, "json"), "--region", "eu-west-3", "synth", "--json"]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.region).toBe("eu-west-3");
    expect(summary.stacks.find((x: any) => x.stack === "ecs")).toEqual(expect.objectContaining({ outputs: expect.arrayContaining(["rabbitmq_ui"]) }));
  });

  test("bad config: exit 2, every problem printed, nothing synthesized", async () => {
    const cfg = path.join(tmp, "bad.json");
    fs.writeFileSync(cfg, JSON.stringify({ region: "moon-1", ecs: { asg: { min: 9 } }, adminCidrs: ["1.2.3.4"] }));
    const out = path.join(tmp, "never");
    const r = await cli(["-c", cfg, "-o", out, "synth"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/invalid configuration in .*bad\.json: 4 problems/);
    expect(r.err).toMatch(/region: is not an AWS region/);
    expect(r.err).toMatch(/adminCidrs\.0: is not a CIDR block/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test("bad region from the environment is bad input too", async () => {
    const r = await cli(["-o", path.join(tmp, "never2"), "synth"], { HFLOW_REGION: "nowhere" });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/region \(from HFLOW_REGION\): is not an AWS region; allowed: .*"nowhere"/);
  });

  test("the CLI and `node dist/main.js` (what cdktf synth runs) write the same cdktf.out", async () => {
    const mainJs = path.join(root, "dist", "main.js");
    if (!fs.existsSync(mainJs)) throw new Error("dist/main.js missing: npm test builds it first (npm run build)");
    const viaCli = path.join(tmp, "via-cli");
    const viaApp = path.join(tmp, "via-app");
    // Both from dist/, as users run them: `hflow-infra synth` and cdktf's `node dist/main.js`.
    const c = spawnSync(process.execPath, [path.join(root, "dist", "cli", "index.js"), "-o", viaCli, "synth"], {
      cwd: root,
      env: { ...process.env, HFLOW_CONFIG: "", HFLOW_REGION: "" },
      encoding: "utf8",
    });
    expect(c.status).toBe(0);
    const r = spawnSync(process.execPath, [mainJs], {
      cwd: root,
      env: { ...process.env, CDKTF_OUTDIR: viaApp, HFLOW_CONFIG: "", HFLOW_REGION: "" },
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    const a = listTree(viaCli);
    const b = listTree(viaApp);
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    const differing = Object.keys(a).filter((k) => a[k] !== b[k]);
    expect(differing).toEqual([]);
  });

  test("cdktf synth with HFLOW_JOB_DIR: the runner stack uploads that job on deploy, with the compiled CLI", () => {
    const out = path.join(tmp, "with-job");
    const job = path.join(__dirname, "fixtures", "montage-mini");
    const r = spawnSync(process.execPath, [path.join(root, "dist", "main.js")], {
      cwd: root,
      env: { ...process.env, CDKTF_OUTDIR: out, HFLOW_JOB_DIR: job, HFLOW_CONFIG: "" },
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    const runner = JSON.parse(fs.readFileSync(path.join(out, "stacks", "runner", "cdk.tf.json"), "utf8"));
    const cmd: string = Object.values<any>(runner.resource.terraform_data)[0].provisioner[0]["local-exec"].command;
    const cliPath = /^'node' '([^']+)'/.exec(cmd)![1];
    expect(fs.existsSync(cliPath)).toBe(true);
    expect(cmd).toContain(`--job-dir '${job}'`);
  });

  test("a bad job directory in HFLOW_JOB_DIR: the cdktf app exits 2 and writes nothing", () => {
    const out = path.join(tmp, "never4");
    const r = spawnSync(process.execPath, [path.join(root, "dist", "main.js")], {
      cwd: root,
      env: { ...process.env, CDKTF_OUTDIR: out, HFLOW_JOB_DIR: tmp, HFLOW_CONFIG: "" },
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/invalid job directory .*\n {2}- workdir\/: missing/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test("the cdktf app exits 2 on bad config and writes nothing", () => {
    const cfg = path.join(tmp, "bad2.json");
    fs.writeFileSync(cfg, '{ "ecs": { "workers": { "storage": "tape" } } }');
    const out = path.join(tmp, "never3");
    const r = spawnSync(process.execPath, [path.join(root, "dist", "main.js")], {
      cwd: root,
      env: { ...process.env, CDKTF_OUTDIR: out, HFLOW_CONFIG: cfg },
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/ecs\.workers\.storage: not allowed; allowed: "cloud", "nfs", "local" \(got "tape"\)/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe("hflow-infra deploy / diff / destroy", () => {
  const bin = path.join(tmp, "bin");
  const log = path.join(tmp, "tf.log");
  // These commands check for AWS credentials before terraform (test/credentials.test.ts): stand-in keys.
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  beforeAll(() => Object.assign(process.env, credentialsEnv({ accessKeyId: "AKIDSTANDIN", secretAccessKey: "standin-secret" })));
  afterAll(() => {
    for (const [k, v] of [
      ["AWS_ACCESS_KEY_ID", saved.id],
      ["AWS_SECRET_ACCESS_KEY", saved.secret],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  beforeAll(() => {
    fs.mkdirSync(bin, { recursive: true });
    // A stand-in terraform that records where and how it was called; `state list` answers $FAKE_TF_STATE.
    fs.writeFileSync(
      path.join(bin, "faketf"),
      `#!/bin/sh\necho "$(basename "$PWD") $*" >> "${log}"\n[ "$1" = state ] && [ -n "$FAKE_TF_STATE" ] && echo "$FAKE_TF_STATE"\nexit "\${FAKE_TF_EXIT:-0}"\n`,
      { mode: 0o755 },
    );
  });
  beforeEach(() => fs.rmSync(log, { force: true }));
  // Our output as a terminal or not (terraform inherits stdout and stderr).
  const tty = { stdout: Object.getOwnPropertyDescriptor(process.stdout, "isTTY"), stderr: Object.getOwnPropertyDescriptor(process.stderr, "isTTY") };
  function setTerminal(on: boolean): void {
    for (const s of [process.stdout, process.stderr]) Object.defineProperty(s, "isTTY", { value: on, configurable: true, writable: true });
  }
  beforeEach(() => setTerminal(false));
  afterAll(() => {
    for (const [name, d] of Object.entries(tty)) {
      const s = name === "stdout" ? process.stdout : process.stderr;
      if (d) Object.defineProperty(s, "isTTY", d);
      else delete (s as { isTTY?: boolean }).isTTY;
    }
  });

  test("unknown stack: exit 2 before anything runs", async () => {
    const r = await cli(["deploy", "ecs", "nope"], { TERRAFORM_BINARY_NAME: path.join(bin, "faketf") });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown stack "nope"; allowed: network, ecs, runner, all/);
    const g = await cli(["deploy", "grafana"], { TERRAFORM_BINARY_NAME: path.join(bin, "faketf") });
    expect(g.code).toBe(2);
    expect(g.err).toMatch(/stack "grafana" is not part of this configuration \(grafana needs "monitoring": \{ "enabled": true \}, batch an app in "batch"/);
    expect(fs.existsSync(log)).toBe(false);
  });

  test("missing binary: exit 3 with a clear message", async () => {
    const r = await cli(["-o", path.join(tmp, "d0"), "deploy", "ecs"], { TERRAFORM_BINARY_NAME: "definitely-not-terraform" });
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/definitely-not-terraform not found on PATH.*TERRAFORM_BINARY_NAME=tofu/);
  });

  test("deploy runs init + apply in the stack folder with the chosen binary", async () => {
    const r = await cli(["-o", path.join(tmp, "d1"), "deploy", "all", "--auto-approve"], { TERRAFORM_BINARY_NAME: path.join(bin, "faketf") });
    expect(r.code).toBe(0);
    expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual([
      "network init -input=false -no-color",
      "network apply -input=false -auto-approve -no-color",
      "ecs init -input=false -no-color",
      "ecs apply -input=false -auto-approve -no-color",
      "runner init -input=false -no-color",
      "runner apply -input=false -auto-approve -no-color",
    ]);
  });

  test("terraform colours only when our stdout and stderr are terminals (and not with NO_COLOR or TERM=dumb)", async () => {
    setTerminal(true);
    const r = await cli(["-o", path.join(tmp, "d4"), "diff", "ecs"], { TERRAFORM_BINARY_NAME: path.join(bin, "faketf"), NO_COLOR: undefined, TERM: "xterm" });
    expect(r.code).toBe(0);
    expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual(["ecs init -input=false", "ecs plan -input=false"]);
    const term = { stdout: { isTTY: true }, stderr: { isTTY: true } };
    expect(terraformColor(term, {})).toBe(true);
    expect(terraformColor(term, { NO_COLOR: "1" })).toBe(false);
    expect(terraformColor(term, { TERM: "dumb" })).toBe(false);
    expect(terraformColor({ stdout: { isTTY: true }, stderr: {} }, {})).toBe(false);
    expect(terraformColor({ stdout: {}, stderr: { isTTY: true } }, {})).toBe(false);
  });

  test("diff plans; destroy destroys; a failing terraform gives exit 1", async () => {
    const env = { TERRAFORM_BINARY_NAME: path.join(bin, "faketf") };
    expect((await cli(["-o", path.join(tmp, "d2"), "diff", "ecs"], env)).code).toBe(0);
    expect((await cli(["-o", path.join(tmp, "d2"), "destroy", "ecs"], { ...env, FAKE_TF_STATE: "aws_ecs_cluster.cluster" })).code).toBe(0);
    expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual([
      "ecs init -input=false -no-color",
      "ecs plan -input=false -no-color",
      "ecs init -input=false -no-color",
      "ecs state list",
      "ecs destroy -input=false -no-color",
    ]);
    const r = await cli(["-o", path.join(tmp, "d3"), "deploy", "ecs"], { ...env, FAKE_TF_EXIT: "1" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/ecs: terraform init failed with exit code 1/);
  });

  test("destroy all with nothing deployed says so, exits 0 and runs no terraform destroy", async () => {
    const r = await cli(["-o", path.join(tmp, "d5"), "destroy", "all", "--auto-approve"], {
      TERRAFORM_BINARY_NAME: path.join(bin, "faketf"),
      FAKE_TF_STATE: undefined,
    });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Nothing to destroy: none of runner, ecs, network is deployed\.$/m);
    expect(r.err).toMatch(/==> runner: nothing deployed \(no resources in its state\), skipped/);
    expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual([
      "runner init -input=false -no-color",
      "runner state list",
      "ecs init -input=false -no-color",
      "ecs state list",
      "network init -input=false -no-color",
      "network state list",
    ]);
  });

  test("stack order: dependency order, reversed for destroy", () => {
    const without = ["network", "ecs", "runner"] as const;
    expect(resolveStacks(["all"], "deploy", without)).toEqual(["network", "ecs", "runner"]);
    expect(resolveStacks(["runner", "ecs"], "deploy", without)).toEqual(["ecs", "runner"]);
    expect(resolveStacks(["all"], "destroy", without)).toEqual(["runner", "ecs", "network"]);
    expect(resolveStacks(["ecs", "grafana"], "deploy")).toEqual(["grafana", "ecs"]);
    expect(resolveStacks(["all"], "destroy", ["network", "grafana", "ecs", "runner"])).toEqual(["runner", "ecs", "grafana", "network"]);
    expect(resolveStacks(["k8s", "eks"], "deploy", ["network", "ecs", "runner", "eks", "k8s"])).toEqual(["eks", "k8s"]);
  });
});

describe("hflow-infra grafana", () => {
  const bin = path.join(tmp, "gbin");
  beforeAll(() => {
    fs.mkdirSync(bin, { recursive: true });
    const outputs = JSON.stringify({
      grafana_url: { value: "http://203.0.113.9:3000" },
      grafana_admin_secret_name: { value: "lab-monitoring/grafana-admin-abc" },
      influxdb_url: { value: "http://10.0.1.7:8086/hyperflow_tests" },
    });
    fs.writeFileSync(path.join(bin, "tf"), `#!/bin/sh\ncase "$1" in output) echo '${outputs}' ;; esac\nexit 0\n`, { mode: 0o755 });
  });

  test("prints the URL, the user and how to read the password", async () => {
    const cfg = path.join(tmp, "mon.json");
    fs.writeFileSync(cfg, JSON.stringify({ monitoring: { enabled: true }, region: "eu-west-1" }));
    const r = await cli(["-c", cfg, "-o", path.join(tmp, "g-out"), "grafana"], { TERRAFORM_BINARY_NAME: path.join(bin, "tf") });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^Grafana: +http:\/\/203\.0\.113\.9:3000\nUser: +admin\nPassword: +aws secretsmanager get-secret-value --region eu-west-1 --secret-id lab-monitoring\/grafana-admin-abc --query SecretString --output text/,
    );
    expect(r.out).toMatch(/HyperFlow \/ Workflow, HyperFlow \/ Cluster, HyperFlow \/ Hosts/);
  });

  test("monitoring disabled: exit 2 with what to set", async () => {
    const r = await cli(["-o", path.join(tmp, "g-out2"), "grafana"], { TERRAFORM_BINARY_NAME: path.join(bin, "tf"), HFLOW_CONFIG: undefined });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/monitoring is not enabled: set "monitoring": \{ "enabled": true \}/);
  });
});

describe("hflow-infra config and doctor", () => {
  test("config init writes a starter that config show accepts; refuses to overwrite", async () => {
    const file = path.join(tmp, "starter.json");
    expect((await cli(["config", "init", file])).code).toBe(0);
    const shown = await cli(["-c", file, "config", "show"]);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out).tags).toEqual({ project: "hyperflow" });
    const again = await cli(["config", "init", file]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/exists; use --force/);
  });

  test("config schema prints the JSON Schema", async () => {
    const r = await cli(["config", "schema"]);
    expect(JSON.parse(r.out).properties.ecs.properties.clusterName.default).toBe("ecs_test_cluster_hyperflow");
  });

  test("doctor reports each check; a missing terraform fails it", async () => {
    const r = await cli(["doctor"], { TERRAFORM_BINARY_NAME: "no-such-tofu" });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL\s+terraform\s+no-such-tofu not on PATH/);
    expect(r.out).toMatch(/ok\s+node/);
    expect(nodeCheck("20.8.0").ok).toBe(false);
    expect(nodeCheck("22.1.0").ok).toBe(true);
    expect(credentialsCheck({}, tmp).ok).toBe(false);
    expect(credentialsCheck({ AWS_PROFILE: "lab" }, tmp).detail).toMatch(/AWS_PROFILE=lab/);
  });

  test("doctor shows each config warning, not only how many", async () => {
    const cfg = path.join(tmp, "open.json");
    fs.writeFileSync(cfg, JSON.stringify({ adminCidrs: ["0.0.0.0/0"] }));
    const r = await cli(["-c", cfg, "doctor"], { TERRAFORM_BINARY_NAME: path.join(tmp, "bin", "faketf") });
    expect(r.out).toMatch(/ok\s+config\s+\S*open\.json \(\d+ warning\(s\)\)/);
    expect(r.out).toMatch(/^warn\s+config warning\s+adminCidrs contains 0\.0\.0\.0\/0: the RabbitMQ management UI is open to the whole internet\.$/m);
    const count = Number(/\((\d+) warning\(s\)\)/.exec(r.out)?.[1]);
    expect(r.out.match(/^warn\s+config warning /gm)).toHaveLength(count);
  });

  test("--help has examples; usage errors exit 2", async () => {
    const help = await cli(["deploy", "--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Example:\n {2}\$ hflow-infra deploy ecs --auto-approve/);
    expect((await cli(["--no-such-flag"])).code).toBe(2);
    expect((await cli(["deploy"])).code).toBe(2);
  });
});
