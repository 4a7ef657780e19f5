/**
 * The app entrypoint of the `batch` stack's images (images/app/Containerfile): one program for a
 * single-node Batch job, every node of a multi-node parallel (MPI) job, and a Lambda function.
 *
 *   hflow-app --input KEY|- -- PROGRAM [ARG…]     (`{input}` in an ARG becomes the input's file name)
 *
 * Environment (set by the job definition, constructs/batch/app.ts): HFLOW_APP_BUCKET,
 * HFLOW_APP_INPUT_PREFIX, HFLOW_APP_OUTPUT_PREFIX, HFLOW_APP_OUTPUTS (comma-separated file names),
 * HFLOW_APP_JOIN_TIMEOUT_SECONDS, HFLOW_APP_SLOTS_PER_NODE, optional HFLOW_APP_WORKDIR (default
 * /work/job) and HFLOW_APP_JOIN_PORT (2100), HFLOW_APP_SSH_PORT (2222). S3 through the AWS SDK's default
 * chain; AWS_ENDPOINT_URL_S3 points it at another S3 (tests: Ceph RGW).
 *
 * What one run does: download the input (if any) from s3://bucket/<input prefix>… into the working
 * directory, run the program there, check that every declared output exists, upload them all to
 * <output prefix><job id>/ (or none: an upload that fails deletes what it put), exit with the program's
 * status. A missing input, a program not found (127), a missing output, a failed upload: one line on
 * stderr beginning "hflow-app: ", a non-zero exit, nothing under the output prefix.
 *
 * Multi-node parallel jobs. Batch starts the same container on every node and sets
 * AWS_BATCH_JOB_NUM_NODES, AWS_BATCH_JOB_NODE_INDEX, AWS_BATCH_JOB_MAIN_NODE_INDEX and, on every node
 * but the main one, AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS (AWS Batch User Guide, "Multi-node
 * parallel jobs", environment variables). The join, over HTTP on the main node's JOIN port, inside the
 * job's security group:
 *   1. main: makes a fresh ed25519 key pair for this job (never in the image, never stored), listens;
 *   2. child: GET /key (retrying until the join deadline) → the main node's public key;
 *   3. child: makes its own ed25519 host key, authorizes the main node's key (and nothing else), starts
 *      sshd as the image's user on the SSH port, then POST /join {index, address, hostKey, slots};
 *   4. main: waits for every index until HFLOW_APP_JOIN_TIMEOUT_SECONDS; a node that never joins fails
 *      the job ("node(s) 2 of 3 did not join…", exit 1); then writes known_hosts from the reported host
 *      keys (StrictHostKeyChecking stays on), an ssh config and the hostfile, runs
 *      `mpirun --hostfile … PROGRAM …` across all nodes, uploads the outputs;
 *   5. child: GET /done (held open) → the main node's exit code when it is done; the child stops sshd and
 *      exits 0. A main node that goes away fails the child.
 * Every node downloads the input itself (the same command and input key reach every node); outputs are
 * the main node's (rank 0 writes them, as MPI programs do).
 *
 * Lambda: with AWS_LAMBDA_RUNTIME_API set, the same run serves each invocation (the Runtime API loop of
 * executor/lambda/runtime-api.ts); the input key comes from the event (an EventBridge "Object Created"
 * event, or {"input": KEY}); a failed run is a failed invocation whose error document
 * ({errorType, errorMessage, exitCode}) carries the exit code the run would have had on Batch.
 *
 * Replaces grycap/scar examples/architrave/run.sh (Batch branch): no AWS CLI download at run time, no
 * SSH keys from a password-protected archive, no `StrictHostKeyChecking no`, no NOPASSWD sudo, and a
 * deadline instead of 30 × 3 s of waiting for a hostfile to fill.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { DeleteObjectCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { FunctionError, runRuntimeLoop } from "../../executor/lambda/runtime-api";

/** An error that ends the run: its message is the one line, `exitCode` the status. */
export class AppError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const NO_INPUT = "-";

export interface AppArgs {
  /** Object key or name below the input prefix; undefined: none. */
  readonly input?: string;
  readonly command: readonly string[];
}

/** `--input KEY|- -- PROGRAM [ARG…]`; bad usage is exit code 2. */
export function parseArgs(argv: readonly string[]): AppArgs {
  let input: string | undefined;
  let i = 0;
  for (; i < argv.length && argv[i] !== "--"; i++) {
    if (argv[i] === "--input" && i + 1 < argv.length) input = argv[++i];
    else throw new AppError(`unknown argument ${JSON.stringify(argv[i])}; allowed: --input KEY|- -- PROGRAM [ARG…]`, 2);
  }
  const command = argv.slice(i + 1);
  if (i === argv.length || command.length === 0) throw new AppError("no program: allowed: --input KEY|- -- PROGRAM [ARG…]", 2);
  return { input: input === undefined || input === NO_INPUT || input === "" ? undefined : input, command };
}

export interface AppEnv {
  readonly bucket: string;
  readonly inputPrefix: string;
  readonly outputPrefix: string;
  readonly outputs: readonly string[];
  readonly workdir: string;
  readonly joinTimeoutMs: number;
  readonly slotsPerNode: number;
  readonly joinPort: number;
  readonly sshPort: number;
  /** The job's id without Batch's `#<node>` suffix: the folder of its outputs. */
  readonly jobId: string;
}

function intEnv(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new AppError(`${name}=${JSON.stringify(raw)}: allowed: an integer from ${min} to ${max}`, 2);
  return n;
}

const PREFIX = /^([A-Za-z0-9!_.*'()-]+\/)*$/;
const FILE = /^(?!\.\.?$)[A-Za-z0-9._-]{1,255}$/;

export function readAppEnv(env: NodeJS.ProcessEnv): AppEnv {
  const need = (name: string) => {
    const v = env[name];
    if (v === undefined || v === "") throw new AppError(`${name} is not set: allowed: what the app's job definition sets (the batch stack)`, 2);
    return v;
  };
  const bucket = need("HFLOW_APP_BUCKET");
  const inputPrefix = env.HFLOW_APP_INPUT_PREFIX ?? "";
  const outputPrefix = env.HFLOW_APP_OUTPUT_PREFIX ?? "";
  for (const [k, v] of [
    ["HFLOW_APP_INPUT_PREFIX", inputPrefix],
    ["HFLOW_APP_OUTPUT_PREFIX", outputPrefix],
  ])
    if (!PREFIX.test(v)) throw new AppError(`${k}=${JSON.stringify(v)}: allowed: empty, or segments ending in /`, 2);
  const outputs = need("HFLOW_APP_OUTPUTS").split(",");
  for (const o of outputs) if (!FILE.test(o)) throw new AppError(`HFLOW_APP_OUTPUTS has ${JSON.stringify(o)}: allowed: file names without /`, 2);
  const rawId = env.AWS_BATCH_JOB_ID || env.HFLOW_APP_JOB_ID || `local-${Date.now()}`;
  return {
    bucket,
    inputPrefix,
    outputPrefix,
    outputs,
    workdir: env.HFLOW_APP_WORKDIR || "/work/job",
    joinTimeoutMs: intEnv(env, "HFLOW_APP_JOIN_TIMEOUT_SECONDS", 600, 1, 86_400) * 1000,
    slotsPerNode: intEnv(env, "HFLOW_APP_SLOTS_PER_NODE", 1, 1, 1024),
    joinPort: intEnv(env, "HFLOW_APP_JOIN_PORT", 2100, 1024, 65_535),
    sshPort: intEnv(env, "HFLOW_APP_SSH_PORT", 2222, 1024, 65_535),
    jobId: rawId.replace(/#\d+$/, ""),
  };
}

/** This node's part in the job, from Batch's environment (no AWS_BATCH_JOB_NUM_NODES: a single-node job). */
export type Topology =
  | { readonly role: "single" }
  | { readonly role: "main"; readonly nodes: number; readonly index: number }
  | { readonly role: "child"; readonly nodes: number; readonly index: number; readonly mainAddress: string };

export function topology(env: NodeJS.ProcessEnv): Topology {
  const nodes = intEnv(env, "AWS_BATCH_JOB_NUM_NODES", 1, 1, 1000);
  if (nodes === 1) return { role: "single" };
  const index = intEnv(env, "AWS_BATCH_JOB_NODE_INDEX", -1, 0, nodes - 1);
  const main = intEnv(env, "AWS_BATCH_JOB_MAIN_NODE_INDEX", -1, 0, nodes - 1);
  if (index < 0 || main < 0)
    throw new AppError("AWS_BATCH_JOB_NODE_INDEX and AWS_BATCH_JOB_MAIN_NODE_INDEX must be set in a multi-node job (Batch sets them)", 2);
  if (index === main) return { role: "main", nodes, index };
  const mainAddress = env.AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS;
  if (!mainAddress || !/^\d{1,3}(\.\d{1,3}){3}$/.test(mainAddress))
    throw new AppError(
      `AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS=${JSON.stringify(mainAddress ?? "")}: allowed: the main node's IPv4 address (Batch sets it on every other node)`,
      2,
    );
  return { role: "child", nodes, index, mainAddress };
}

/** The object key of an input: a key below the input prefix as given, else the name below the prefix. */
export function inputKey(input: string, inputPrefix: string): string {
  const key = input.startsWith(inputPrefix) ? input : inputPrefix + input;
  const rest = key.slice(inputPrefix.length);
  if (rest === "" || rest.endsWith("/") || rest.split("/").some((s) => s === ".." || s === "." || s === ""))
    throw new AppError(`input ${JSON.stringify(input)}: allowed: an object name below ${JSON.stringify(inputPrefix)} (no empty, . or .. segments)`, 2);
  return key;
}

/** The program's argument vector with `{input}` replaced by the input's file name. */
export function programArgs(command: readonly string[], inputName: string | undefined): string[] {
  if (inputName === undefined && command.some((a) => a.includes("{input}")))
    throw new AppError("the command uses {input} but this run has no input: allowed: --input KEY (hflow-infra app run --input, or an upload)", 2);
  return command.map((a) => (inputName === undefined ? a : a.split("{input}").join(inputName)));
}

/** `<output prefix><job id>/<file>`. */
export function outputKey(env: Pick<AppEnv, "outputPrefix" | "jobId">, file: string): string {
  return `${env.outputPrefix}${env.jobId}/${file}`;
}

/** The hostfile mpirun reads: one line per node, main first. */
export function hostfile(nodes: readonly { address: string; slots: number }[]): string {
  return nodes.map((n) => `${n.address} slots=${n.slots}\n`).join("");
}

/** ssh settings for mpirun's launches: the job's key, the reported host keys only, no prompts. */
export function sshConfig(o: { identity: string; knownHosts: string; port: number; user: string }): string {
  return [
    "Host *",
    `  Port ${o.port}`,
    `  User ${o.user}`,
    `  IdentityFile ${o.identity}`,
    "  IdentitiesOnly yes",
    `  UserKnownHostsFile ${o.knownHosts}`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  BatchMode yes",
    "  LogLevel ERROR",
    "",
  ].join("\n");
}

/** known_hosts lines for the nodes on a non-standard port (`[address]:port key`). */
export function knownHosts(nodes: readonly { address: string; hostKey: string }[], port: number): string {
  return nodes.map((n) => `[${n.address}]:${port} ${n.hostKey.trim()}\n`).join("");
}

/** sshd settings for a child node: the image's user, key authentication with the main node's key only. */
export function sshdConfig(o: { port: number; hostKey: string; authorizedKeys: string; pidFile: string; user: string }): string {
  return [
    `Port ${o.port}`,
    `HostKey ${o.hostKey}`,
    `PidFile ${o.pidFile}`,
    `AuthorizedKeysFile ${o.authorizedKeys}`,
    `AllowUsers ${o.user}`,
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin no",
    "UsePAM no",
    "X11Forwarding no",
    "AllowTcpForwarding no",
    "AllowAgentForwarding no",
    "PermitTunnel no",
    "",
  ].join("\n");
}

/** Which of the expected node indexes have not joined. */
export function missingNodes(nodes: number, main: number, joined: Iterable<number>): number[] {
  const have = new Set(joined);
  return Array.from({ length: nodes }, (_, i) => i).filter((i) => i !== main && !have.has(i));
}

// ---------------------------------------------------------------------------------------------------
// Effects

const log = (line: string) => process.stderr.write(`hflow-app: ${line}\n`);

function s3(): S3Client {
  // Region and endpoint from the environment as the SDK reads them (AWS_REGION, AWS_ENDPOINT_URL_S3).
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL;
  return new S3Client({ ...(endpoint ? { forcePathStyle: true } : {}) });
}

async function download(client: S3Client, bucket: string, key: string, file: string): Promise<void> {
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const partial = `${file}.partial`;
    await pipeline(res.Body as NodeJS.ReadableStream, fs.createWriteStream(partial));
    fs.renameSync(partial, file);
  } catch (e) {
    const name = (e as { name?: string }).name;
    if (name === "NoSuchKey" || name === "NotFound") throw new AppError(`input s3://${bucket}/${key} does not exist`);
    throw new AppError(`downloading s3://${bucket}/${key} failed: ${(e as Error).message}`);
  }
}

/** Uploads every output or none: after a failed upload the ones already put are deleted. */
async function uploadAll(client: S3Client, env: AppEnv, dir: string): Promise<string[]> {
  const missing = env.outputs.filter((o) => !fs.statSync(path.join(dir, o), { throwIfNoEntry: false })?.isFile());
  if (missing.length > 0) throw new AppError(`output${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not produced by the app (nothing uploaded)`);
  const done: string[] = [];
  try {
    for (const o of env.outputs) {
      const key = outputKey(env, o);
      await new Upload({ client, params: { Bucket: env.bucket, Key: key, Body: fs.createReadStream(path.join(dir, o)) }, leavePartsOnError: false }).done();
      done.push(key);
    }
  } catch (e) {
    for (const key of done) await client.send(new DeleteObjectCommand({ Bucket: env.bucket, Key: key })).catch(() => undefined);
    throw new AppError(`uploading outputs to s3://${env.bucket}/${outputKey(env, "")} failed (none kept): ${(e as Error).message}`);
  }
  return done.map((k) => `s3://${env.bucket}/${k}`);
}

/** Runs a program with inherited output; resolves with its status (127 when it does not exist). */
function run(argv: readonly string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ["ignore", "inherit", "inherit"] });
    child.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT" || e.code === "EACCES") reject(new AppError(`executable ${JSON.stringify(argv[0])} not found or not executable`, 127));
      else reject(new AppError(`starting ${argv[0]} failed: ${e.message}`));
    });
    child.once("exit", (code, signal) => resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0)));
  });
}

/** Prepares the working directory and fetches the input; returns the input's file name. */
async function stageIn(client: S3Client, env: AppEnv, input: string | undefined): Promise<string | undefined> {
  fs.rmSync(env.workdir, { recursive: true, force: true });
  fs.mkdirSync(env.workdir, { recursive: true });
  if (input === undefined) return undefined;
  const key = inputKey(input, env.inputPrefix);
  const name = path.posix.basename(key);
  await download(client, env.bucket, key, path.join(env.workdir, name));
  return name;
}

async function runOnce(args: AppArgs, env: AppEnv, wrap: (argv: string[]) => string[] = (a) => a): Promise<string[]> {
  const client = s3();
  const inputName = await stageIn(client, env, args.input);
  const argv = programArgs(args.command, inputName);
  const status = await run(wrap(argv), env.workdir);
  if (status !== 0) throw new AppError(`${argv[0]} exited with status ${status} (nothing uploaded)`, status);
  const uploaded = await uploadAll(client, env, env.workdir);
  for (const u of uploaded) log(`output ${u}`);
  return uploaded;
}

/**
 * This node's IPv4 address (the main node has no AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS), with its
 * network: the first interface that is neither loopback nor link-local (in awsvpc mode ECS adds a
 * 169.254.172.0/22 interface for the credentials endpoint, which other nodes cannot reach).
 */
export function ownAddress(interfaces = os.networkInterfaces()): { address: string; cidr: string } {
  for (const list of Object.values(interfaces))
    for (const i of list ?? [])
      if (i.family === "IPv4" && !i.internal && i.cidr && !i.address.startsWith("169.254.")) return { address: i.address, cidr: networkOf(i.cidr) };
  throw new AppError("no IPv4 address on a network interface");
}

/** `10.0.1.7/24` → `10.0.1.0/24`. */
export function networkOf(cidr: string): string {
  const [addr, bits] = cidr.split("/");
  const n = addr.split(".").reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${bits}`;
}

function sshDir(): string {
  const dir = path.join(os.homedir(), ".hflow-ssh");
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { mode: 0o700 });
  return dir;
}

function keygen(file: string, comment: string): string {
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { encoding: "utf8" });
  if (r.status !== 0) throw new AppError(`ssh-keygen failed: ${(r.stderr || r.error?.message || "").trim()}`);
  return fs.readFileSync(`${file}.pub`, "utf8").trim();
}

interface Joined {
  readonly index: number;
  readonly address: string;
  readonly hostKey: string;
  readonly slots: number;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
      if (body.length > 64 * 1024) req.destroy(new Error("join message too large"));
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

async function runMain(args: AppArgs, env: AppEnv, t: Extract<Topology, { role: "main" }>): Promise<number> {
  const dir = sshDir();
  const identity = path.join(dir, "id_job");
  const publicKey = keygen(identity, `hflow-app-job-${env.jobId}`);
  const self = ownAddress();
  const joined = new Map<number, Joined>();
  const waiting: http.ServerResponse[] = [];
  let finished: number | undefined;
  let allJoined: () => void = () => undefined;
  const everyone = new Promise<void>((r) => (allJoined = r));

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    if (req.method === "GET" && req.url === "/key") return send(200, { publicKey, nodes: t.nodes });
    if (req.method === "GET" && req.url === "/done") {
      if (finished !== undefined) return send(200, { exitCode: finished });
      waiting.push(res);
      return;
    }
    if (req.method === "POST" && req.url === "/join") {
      readBody(req)
        .then((text) => {
          const m = JSON.parse(text) as Partial<Joined>;
          const ok =
            Number.isInteger(m.index) &&
            m.index! >= 0 &&
            m.index! < t.nodes &&
            m.index !== t.index &&
            typeof m.address === "string" &&
            /^\d{1,3}(\.\d{1,3}){3}$/.test(m.address) &&
            typeof m.hostKey === "string" &&
            /^ssh-ed25519 [A-Za-z0-9+/=]+( .*)?$/.test(m.hostKey) &&
            Number.isInteger(m.slots) &&
            m.slots! >= 1;
          if (!ok) return send(400, { error: "allowed: {index, address, hostKey (ssh-ed25519), slots}" });
          if (joined.has(m.index!)) return send(409, { error: `node ${m.index} has joined already` });
          joined.set(m.index!, m as Joined);
          log(`node ${m.index} joined from ${m.address} (${joined.size + 1} of ${t.nodes})`);
          if (joined.size === t.nodes - 1) allJoined();
          return send(200, { ok: true });
        })
        .catch((e) => send(400, { error: (e as Error).message }));
      return;
    }
    send(404, { error: "allowed: GET /key, POST /join, GET /done" });
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(env.joinPort, "0.0.0.0", resolve));
  log(`main node ${t.index} at ${self.address}: waiting up to ${env.joinTimeoutMs / 1000} s for ${t.nodes - 1} node(s) on port ${env.joinPort}`);

  const release = (code: number) => {
    finished = code;
    for (const res of waiting.splice(0)) res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ exitCode: code }));
  };
  try {
    const client = s3();
    const inputName = await stageIn(client, env, args.input);
    const argv = programArgs(args.command, inputName);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), env.joinTimeoutMs)));
    const outcome = await Promise.race([everyone.then(() => "ok" as const), deadline]);
    clearTimeout(timer);
    if (outcome === "late") {
      const missing = missingNodes(t.nodes, t.index, joined.keys());
      throw new AppError(
        `node${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${t.nodes} did not join within ${env.joinTimeoutMs / 1000} s (nothing run, nothing uploaded)`,
      );
    }
    const nodes = [{ index: t.index, address: self.address, slots: env.slotsPerNode }, ...[...joined.values()].sort((a, b) => a.index - b.index)];
    const files = {
      hostfile: path.join(dir, "hostfile"),
      knownHosts: path.join(dir, "known_hosts"),
      config: path.join(dir, "ssh_config"),
    };
    fs.writeFileSync(files.hostfile, hostfile(nodes));
    fs.writeFileSync(files.knownHosts, knownHosts([...joined.values()], env.sshPort));
    fs.writeFileSync(files.config, sshConfig({ identity, knownHosts: files.knownHosts, port: env.sshPort, user: os.userInfo().username }));
    const np = nodes.reduce((a, n) => a + n.slots, 0);
    const mpirun = [
      "mpirun",
      "--hostfile",
      files.hostfile,
      "-np",
      String(np),
      "--wdir",
      env.workdir,
      "--mca",
      "plm_rsh_agent",
      "ssh",
      "--mca",
      "plm_rsh_args",
      `-F ${files.config}`,
      "--mca",
      "btl",
      "self,tcp",
      "--mca",
      "btl_tcp_if_include",
      self.cidr,
      "--mca",
      "oob_tcp_if_include",
      self.cidr,
    ];
    log(`running ${argv[0]} on ${t.nodes} nodes, ${np} ranks`);
    const status = await run([...mpirun, ...argv], env.workdir);
    if (status !== 0) throw new AppError(`mpirun ${argv[0]} exited with status ${status} (nothing uploaded)`, status);
    for (const u of await uploadAll(client, env, env.workdir)) log(`output ${u}`);
    release(0);
    return 0;
  } catch (e) {
    release(e instanceof AppError ? e.exitCode : 1);
    throw e;
  } finally {
    // Let the children read their answer before the listener goes.
    await new Promise((r) => setTimeout(r, 200));
    server.closeAllConnections?.();
    server.close();
  }
}

function request(method: string, url: string, body?: unknown, timeoutMs = 10_000): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { "content-type": "application/json" }, timeout: timeoutMs }, (res) => {
      readBody(res)
        .then((text) => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }))
        .catch(reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function waitForPort(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > deadline) reject(new AppError(`sshd did not listen on port ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

async function runChild(args: AppArgs, env: AppEnv, t: Extract<Topology, { role: "child" }>): Promise<number> {
  const deadline = Date.now() + env.joinTimeoutMs;
  const base = `http://${t.mainAddress}:${env.joinPort}`;
  // The same input on every node: the program finds it in the same directory everywhere.
  await stageIn(s3(), env, args.input);
  let key: string | undefined;
  for (;;) {
    try {
      const r = await request("GET", `${base}/key`, undefined, 5000);
      if (r.status === 200 && typeof r.json.publicKey === "string") {
        key = r.json.publicKey;
        break;
      }
    } catch {
      /* the main node is not listening yet */
    }
    if (Date.now() > deadline) throw new AppError(`main node ${t.mainAddress}:${env.joinPort} did not answer within ${env.joinTimeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const dir = sshDir();
  const hostKeyFile = path.join(dir, "host_key");
  const hostKey = keygen(hostKeyFile, `hflow-app-node-${t.index}`);
  const authorized = path.join(dir, "authorized_keys");
  fs.writeFileSync(authorized, `no-port-forwarding,no-agent-forwarding,no-X11-forwarding ${key}\n`, { mode: 0o600 });
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(
    config,
    sshdConfig({ port: env.sshPort, hostKey: hostKeyFile, authorizedKeys: authorized, pidFile: path.join(dir, "sshd.pid"), user: os.userInfo().username }),
  );
  const sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "inherit", "inherit"] });
  const sshdExit = new Promise<number>((r) => sshd.once("exit", (c) => r(c ?? 1)));
  try {
    await Promise.race([waitForPort(env.sshPort, Date.now() + 10_000), sshdExit.then((c) => Promise.reject(new AppError(`sshd exited with status ${c}`)))]);
    const self = ownAddress();
    const r = await request("POST", `${base}/join`, { index: t.index, address: self.address, hostKey, slots: env.slotsPerNode });
    if (r.status !== 200) throw new AppError(`the main node refused to let node ${t.index} join: ${String(r.json.error ?? r.status)}`);
    log(`node ${t.index} joined main node ${t.mainAddress}`);
    const done = await request("GET", `${base}/done`, undefined, 0).catch((e) => {
      throw new AppError(`lost the main node ${t.mainAddress}: ${(e as Error).message}`);
    });
    log(`main node finished with status ${String(done.json.exitCode)}`);
    return 0;
  } finally {
    sshd.kill("SIGTERM");
  }
}

/** The input key of a Lambda event: an EventBridge S3 "Object Created" event, or `{ "input": KEY }`. */
export function eventInput(event: unknown): string | undefined {
  const e = event as { detail?: { object?: { key?: unknown } }; input?: unknown } | null;
  const key = e?.detail?.object?.key ?? e?.input;
  return typeof key === "string" && key !== "" && key !== NO_INPUT ? key : undefined;
}

/** `lambda`: options of the Runtime API loop (tests stop it after some invocations). */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, lambda: { maxInvocations?: number } = {}): Promise<number> {
  try {
    const args = parseArgs(argv);
    const appEnv = readAppEnv(env);
    if (env.AWS_LAMBDA_RUNTIME_API) {
      await runRuntimeLoop(
        async (event, invocation) => {
          try {
            const outputs = await runOnce({ ...args, input: eventInput(event) ?? args.input }, { ...appEnv, jobId: invocation.requestId });
            return { outputs };
          } catch (e) {
            // The error document carries the run's exit code (`hflow-infra app run --on lambda` exits with it).
            if (e instanceof AppError) throw new FunctionError(e.name, e.message, { exitCode: e.exitCode });
            throw e;
          }
        },
        { ...lambda, api: env.AWS_LAMBDA_RUNTIME_API, log },
      );
      return 0;
    }
    const t = topology(env);
    if (t.role === "single") {
      await runOnce(args, appEnv);
      return 0;
    }
    return t.role === "main" ? await runMain(args, appEnv, t) : await runChild(args, appEnv, t);
  } catch (e) {
    if (e instanceof AppError) {
      log(e.message);
      return e.exitCode;
    }
    log(`unexpected error: ${(e as Error)?.message ?? String(e)}`);
    return 70;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
