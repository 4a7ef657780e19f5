/**
 * This project's ECS task definitions, run on one machine (for test/e2e/montage-ecs.test.ts and
 * bench/e2e.ts): the cdktf app (`node dist/main.js`, what `cdktf synth` runs) synthesizes a config into
 * a CDKTF_OUTDIR; the engine and worker task definitions are found there by family suffix
 * (`-hyperflow-engine`, `-hyperflow-worker`); their containers start with podman or docker
 * (images/build.ts picks the tool) on the host network, so loopback services are reachable as on the
 * master instance, which runs the engine with host networking too.
 *
 * `localize()` keeps the container's environment, command and entry point and replaces only what points
 * at AWS, refusing anything it does not know how to replace:
 * - the `AMQP_URL` secret (Secrets Manager) → the local broker's URL; any other secret is an error;
 * - Terraform references to the workflow bucket (`${aws_s3_bucket.<id>.bucket|id}`) → the local bucket;
 *   any other reference (a secret ARN, a remote state output) is an error;
 * - `AWS_REGION` → the local S3 server's region; AWS_ENDPOINT_URL_S3 is added (the SDK v3 reads it;
 *   an IP endpoint is addressed path style, and the executor sets path style with any endpoint);
 * - the image → the locally built tag;
 * - credentials are added as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY only, standing in for the task
 *   role: the SDK's default chain reads them (on ECS it reads the role's endpoint instead).
 * Mirrored besides: entry point, working directory, user, read-only root, stop timeout; task volumes
 * without a host path become anonymous volumes at the same path. Not mirrored: memory, log
 * configuration, ulimits, health checks, host-path volumes (a configured worker's Docker socket).
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ContainerTool } from "../../images/build";

export interface ContainerDefinition {
  readonly name: string;
  readonly image: string;
  readonly essential?: boolean;
  readonly command?: string[];
  readonly entryPoint?: string[];
  readonly environment?: { name: string; value: string }[];
  readonly secrets?: { name: string; valueFrom: string }[];
  readonly mountPoints?: { sourceVolume: string; containerPath: string; readOnly?: boolean }[];
  readonly workingDirectory?: string;
  readonly user?: string;
  readonly readonlyRootFilesystem?: boolean;
  readonly stopTimeout?: number;
}

export interface TaskDefinition {
  readonly stack: string;
  readonly family: string;
  readonly networkMode?: string;
  readonly volumes: { name: string; hostPath?: string }[];
  readonly containers: ContainerDefinition[];
}

export interface SynthesizedTasks {
  readonly outdir: string;
  readonly engine: TaskDefinition;
  readonly worker: TaskDefinition;
  readonly seconds: number;
}

/** The repository root (dist/test/support → three up, test/support → two up). */
function repoRoot(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string }).name === "hyperflow-infra") return dir;
  }
  throw new Error(`no hyperflow-infra package.json above ${__dirname}`);
}

/**
 * Synthesizes `config` with the cdktf app (dist/main.js, from `npm run build`) into `outdir` and returns
 * the engine and worker task definitions found in cdktf.out.
 */
export function synthTaskDefinitions(config: object, outdir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-e2e-synth-"))): SynthesizedTasks {
  const root = repoRoot();
  const main = path.join(root, "dist", "main.js");
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run npm run build`);
  const started = Date.now();
  const cfg = path.join(outdir, "hyperflow.config.json");
  fs.writeFileSync(cfg, JSON.stringify(config, null, 2));
  const cdktfOut = path.join(outdir, "cdktf.out");
  const env: NodeJS.ProcessEnv = { ...process.env, HFLOW_CONFIG: cfg, CDKTF_OUTDIR: cdktfOut, CHECKPOINT_DISABLE: "1" };
  for (const k of ["HFLOW_REGION", "HFLOW_JOB_DIR", "AWS_REGION", "AWS_DEFAULT_REGION"]) delete env[k];
  const r = spawnSync(process.execPath, [main], { cwd: outdir, env, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`node dist/main.js: exit ${r.status ?? r.signal}\n${r.stderr}`);
  const found: TaskDefinition[] = [];
  const stacksDir = path.join(cdktfOut, "stacks");
  for (const stack of fs.readdirSync(stacksDir).sort()) {
    const file = path.join(stacksDir, stack, "cdk.tf.json");
    if (!fs.existsSync(file)) continue;
    const tf = JSON.parse(fs.readFileSync(file, "utf8")) as { resource?: Record<string, Record<string, Record<string, unknown>>> };
    for (const td of Object.values(tf.resource?.aws_ecs_task_definition ?? {})) {
      found.push({
        stack,
        family: String(td.family),
        networkMode: td.network_mode as string | undefined,
        volumes: ((td.volume as { name: string; host_path?: string }[] | undefined) ?? []).map((v) => ({ name: v.name, hostPath: v.host_path })),
        containers: JSON.parse(String(td.container_definitions)) as ContainerDefinition[],
      });
    }
  }
  const one = (suffix: string): TaskDefinition => {
    const matches = found.filter((t) => t.family.endsWith(suffix));
    if (matches.length !== 1)
      throw new Error(
        `expected one task definition whose family ends in ${suffix}, found ${matches.length}: ${found.map((t) => `${t.stack}/${t.family}`).join(", ")}`,
      );
    return matches[0];
  };
  return { outdir, engine: one("-hyperflow-engine"), worker: one("-hyperflow-worker"), seconds: (Date.now() - started) / 1000 };
}

/** What stands in for AWS on this machine. */
export interface LocalTarget {
  readonly image: string;
  readonly amqpUrl: string;
  readonly bucket: string;
  readonly s3Endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export interface LocalContainer {
  readonly image: string;
  readonly env: Readonly<Record<string, string>>;
  readonly command: readonly string[];
  readonly entryPoint?: readonly string[];
  readonly workingDirectory?: string;
  readonly user?: string;
  readonly readOnly: boolean;
  /** Seconds between SIGTERM and SIGKILL on stop (`stopTimeout`). */
  readonly stopTimeout?: number;
  /** Container paths of task volumes (anonymous volumes locally). */
  readonly volumes: readonly string[];
  /** Environment names whose value was replaced or added here (everything else is the task definition's). */
  readonly replaced: readonly string[];
  /** CPUs the container may run on (`--cpuset-cpus`, e.g. "0" or "0-2"). @default - every CPU of the machine */
  readonly cpus?: string;
}

/** A Terraform interpolation `${…}` that is not an escaped literal `$${…}`. */
const REFERENCE = /(?<!\$)\$\{([^}]*)\}/g;
const BUCKET_REFERENCE = /^aws_s3_bucket\.[\w-]+\.(bucket|id)$/;
const CREDENTIAL_NAMES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/** A string of a container definition with the bucket reference replaced and Terraform escapes undone. */
function literal(where: string, value: string, t: LocalTarget): string {
  const replaced = value.replace(REFERENCE, (whole, ref: string) => {
    if (BUCKET_REFERENCE.test(ref)) return t.bucket;
    throw new Error(`${where}: ${whole} points at AWS and has no local stand-in`);
  });
  if (/amazonaws\.com|^arn:/.test(replaced)) throw new Error(`${where}: ${JSON.stringify(replaced)} points at AWS and has no local stand-in`);
  return replaced.replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{");
}

/** The container as it would run on ECS, with only the AWS parts replaced (see the header). */
export function localize(task: TaskDefinition, def: ContainerDefinition, t: LocalTarget): LocalContainer {
  const where = (field: string) => `${task.family}/${def.name} ${field}`;
  const env: Record<string, string> = {};
  const replaced: string[] = [];
  for (const { name, value } of def.environment ?? []) {
    if (CREDENTIAL_NAMES.includes(name))
      throw new Error(`${where("environment")}: ${name} is set in the task definition (credentials belong to the task role)`);
    if (name.startsWith("AWS_ENDPOINT_URL")) throw new Error(`${where("environment")}: ${name} is set in the task definition`);
    if (name === "AWS_REGION" || name === "AWS_DEFAULT_REGION") {
      env[name] = t.region;
      replaced.push(name);
    } else env[name] = literal(where(`environment ${name}`), value, t);
  }
  for (const { name, valueFrom } of def.secrets ?? []) {
    if (name !== "AMQP_URL") throw new Error(`${where("secrets")}: ${name} (${valueFrom}) has no local stand-in`);
    env[name] = t.amqpUrl;
    replaced.push(name);
  }
  env.AWS_ENDPOINT_URL_S3 = t.s3Endpoint;
  env.AWS_ACCESS_KEY_ID = t.credentials.accessKeyId;
  env.AWS_SECRET_ACCESS_KEY = t.credentials.secretAccessKey;
  replaced.push("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY");
  if (!("AWS_REGION" in env)) {
    env.AWS_REGION = t.region;
    replaced.push("AWS_REGION");
  }
  const volumes: string[] = [];
  for (const m of def.mountPoints ?? []) {
    const v = task.volumes.find((x) => x.name === m.sourceVolume);
    if (!v) throw new Error(`${where("mountPoints")}: volume ${m.sourceVolume} is not in the task definition`);
    if (!v.hostPath) volumes.push(m.containerPath);
  }
  return {
    image: t.image,
    env,
    command: (def.command ?? []).map((a, i) => literal(where(`command[${i}]`), a, t)),
    entryPoint: def.entryPoint?.map((a, i) => literal(where(`entryPoint[${i}]`), a, t)),
    workingDirectory: def.workingDirectory,
    user: def.user,
    readOnly: def.readonlyRootFilesystem === true,
    stopTimeout: def.stopTimeout,
    volumes,
    replaced,
  };
}

/** The one essential container of a task definition (what the e2e test runs). */
export function essentialContainer(task: TaskDefinition): ContainerDefinition {
  const essential = task.containers.filter((c) => c.essential !== false);
  if (essential.length !== 1) throw new Error(`${task.family}: expected one essential container, found ${essential.map((c) => c.name).join(", ") || "none"}`);
  return essential[0];
}

export interface Exit {
  readonly exitCode: number;
  readonly seconds: number;
}

/** Containers started by one test file or benchmark (named `<prefix>-<name>`), removed by `removeAll()`. */
export class LocalContainers {
  private readonly names = new Set<string>();
  private readonly startedAt = new Map<string, number>();

  constructor(
    readonly tool: ContainerTool,
    readonly prefix = `hflow-e2e-${process.pid}`,
  ) {}

  private run(args: readonly string[], timeoutMs = 120_000): string {
    const r = spawnSync(this.tool.bin, [...this.tool.globalArgs, ...args], {
      env: this.tool.env,
      encoding: "utf8",
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error || r.status !== 0)
      throw new Error(`${this.tool.engine} ${args.slice(0, 3).join(" ")} …: ${r.error?.message ?? `exit ${r.status}`}\n${r.stderr}`);
    return r.stdout;
  }

  fullName(name: string): string {
    return `${this.prefix}-${name}`;
  }

  /** Starts a container in the background on the host network (`run -d`); returns its full name. */
  start(name: string, c: LocalContainer): string {
    const full = this.fullName(name);
    this.forceRemove([full]);
    const args = ["run", "-d", "--name", full, "--network", "host"];
    for (const [k, v] of Object.entries(c.env)) args.push("-e", `${k}=${v}`);
    if (c.entryPoint) args.push("--entrypoint", JSON.stringify(c.entryPoint));
    if (c.workingDirectory) args.push("--workdir", c.workingDirectory);
    if (c.user) args.push("--user", c.user);
    if (c.readOnly) args.push("--read-only");
    if (c.stopTimeout !== undefined) args.push("--stop-timeout", String(c.stopTimeout));
    if (c.cpus !== undefined) args.push("--cpuset-cpus", c.cpus);
    for (const v of c.volumes) args.push("-v", v);
    this.names.add(full);
    this.startedAt.set(full, Date.now());
    this.run([...args, c.image, ...c.command]);
    return full;
  }

  /** Waits for the container to exit; rejects after `timeoutMs` (the container keeps running). */
  wait(name: string, timeoutMs: number): Promise<Exit> {
    const full = this.fullName(name);
    return new Promise((resolve, reject) => {
      execFile(this.tool.bin, [...this.tool.globalArgs, "wait", full], { env: this.tool.env, timeout: timeoutMs, encoding: "utf8" }, (err, stdout) => {
        if (err) reject(new Error(`${full} did not exit within ${timeoutMs / 1000} s (${err.message})\n${this.logs(name).split("\n").slice(-20).join("\n")}`));
        else resolve({ exitCode: Number(stdout.trim()), seconds: (Date.now() - (this.startedAt.get(full) ?? Date.now())) / 1000 });
      });
    });
  }

  /** stdout and stderr of the container so far. */
  logs(name: string): string {
    const r = spawnSync(this.tool.bin, [...this.tool.globalArgs, "logs", this.fullName(name)], {
      env: this.tool.env,
      encoding: "utf8",
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return `${r.stdout ?? ""}${r.stderr ?? ""}`;
  }

  /** Polls the logs until `pattern` appears; rejects after `timeoutMs` or when the container exits first. */
  async waitForLog(name: string, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const logs = this.logs(name);
      if (pattern.test(logs)) return;
      if (!this.running(name)) throw new Error(`${this.fullName(name)} exited before logging ${pattern}:\n${logs.split("\n").slice(-20).join("\n")}`);
      if (Date.now() > deadline)
        throw new Error(`${this.fullName(name)} did not log ${pattern} within ${timeoutMs / 1000} s:\n${logs.split("\n").slice(-20).join("\n")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Host process id of the container's first process, while it runs (`inspect`). */
  pid(name: string): number {
    return Number(this.run(["inspect", "--format", "{{.State.Pid}}", this.fullName(name)]).trim());
  }

  running(name: string): boolean {
    const r = spawnSync(this.tool.bin, [...this.tool.globalArgs, "inspect", "--format", "{{.State.Running}}", this.fullName(name)], {
      env: this.tool.env,
      encoding: "utf8",
      timeout: 60_000,
    });
    return r.status === 0 && r.stdout.trim() === "true";
  }

  /** The container's environment as the runtime holds it (`inspect`). */
  environment(name: string): Record<string, string> {
    const list = JSON.parse(this.run(["inspect", "--format", "{{json .Config.Env}}", this.fullName(name)])) as string[];
    return Object.fromEntries(list.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
  }

  /** SIGKILL (`kill`), as when an instance dies under a task. */
  kill(name: string): void {
    this.run(["kill", this.fullName(name)]);
  }

  remove(name: string): void {
    const full = this.fullName(name);
    this.forceRemove([full]);
    this.names.delete(full);
  }

  removeAll(): void {
    if (this.names.size === 0) return;
    this.forceRemove([...this.names]);
    this.names.clear();
  }

  /** `rm -f` each name; a container that does not exist is no error (docker has no --ignore). */
  private forceRemove(names: readonly string[]): void {
    // -v: with the container go its anonymous volumes (the worker's /tmp scratch volume).
    for (const n of names) spawnSync(this.tool.bin, [...this.tool.globalArgs, "rm", "-f", "-v", n], { env: this.tool.env, stdio: "ignore", timeout: 120_000 });
  }
}
