/**
 * The app entrypoint (images/app/entrypoint.ts): its decisions as functions, and its Lambda mode for
 * real: the Runtime API loop against the local control plane (test/support/lambda-control-plane.ts),
 * inputs and outputs in Ceph RGW, a real program (sh) run in the working directory.
 * The multi-node join with real MPI across containers is test/e2e/batch-mpi.test.ts.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  eventInput,
  hostfile,
  inputKey,
  knownHosts,
  main,
  missingNodes,
  networkOf,
  outputKey,
  ownAddress,
  parseArgs,
  programArgs,
  readAppEnv,
  sshConfig,
  sshdConfig,
  topology,
} from "../images/app/entrypoint";
import { LambdaControlPlane } from "./support/lambda-control-plane";
import { RGW_CREDENTIALS, type Rgw, startRgw } from "./support/rgw";

const APP_ENV = { HFLOW_APP_BUCKET: "appbucket", HFLOW_APP_INPUT_PREFIX: "in/", HFLOW_APP_OUTPUT_PREFIX: "out/", HFLOW_APP_OUTPUTS: "r.txt" };

describe("arguments and environment", () => {
  test("--input KEY|- -- PROGRAM ARGS", () => {
    expect(parseArgs(["--input", "in/a.dat", "--", "/opt/app/x", "{input}"])).toEqual({ input: "in/a.dat", command: ["/opt/app/x", "{input}"] });
    expect(parseArgs(["--input", "-", "--", "x"]).input).toBeUndefined();
    expect(() => parseArgs(["--input", "a"])).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/^no program/) }));
    expect(() => parseArgs(["--bogus", "--", "x"])).toThrow(/unknown argument "--bogus"/);
  });
  test("the job definition's variables; a missing or bad one is exit 2 naming it", () => {
    const env = readAppEnv({ ...APP_ENV, AWS_BATCH_JOB_ID: "abc-123#2", HFLOW_APP_SLOTS_PER_NODE: "4" });
    expect(env).toMatchObject({ bucket: "appbucket", outputs: ["r.txt"], jobId: "abc-123", slotsPerNode: 4, joinTimeoutMs: 600_000, workdir: "/work/job" });
    expect(() => readAppEnv({ ...APP_ENV, HFLOW_APP_BUCKET: "" })).toThrow(/HFLOW_APP_BUCKET is not set/);
    expect(() => readAppEnv({ ...APP_ENV, HFLOW_APP_OUTPUTS: "a/b" })).toThrow(/HFLOW_APP_OUTPUTS has "a\/b"/);
    expect(() => readAppEnv({ ...APP_ENV, HFLOW_APP_JOIN_TIMEOUT_SECONDS: "soon" })).toThrow(/HFLOW_APP_JOIN_TIMEOUT_SECONDS="soon": allowed: an integer/);
  });
  test("topology from Batch's variables: the main node has no main-node address, the others must", () => {
    expect(topology({})).toEqual({ role: "single" });
    const mnp = { AWS_BATCH_JOB_NUM_NODES: "3", AWS_BATCH_JOB_MAIN_NODE_INDEX: "0" };
    expect(topology({ ...mnp, AWS_BATCH_JOB_NODE_INDEX: "0" })).toEqual({ role: "main", nodes: 3, index: 0 });
    expect(topology({ ...mnp, AWS_BATCH_JOB_NODE_INDEX: "2", AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS: "10.0.1.5" })).toEqual({
      role: "child",
      nodes: 3,
      index: 2,
      mainAddress: "10.0.1.5",
    });
    expect(() => topology({ ...mnp, AWS_BATCH_JOB_NODE_INDEX: "1" })).toThrow(/AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS=""/);
    expect(() => topology({ ...mnp, AWS_BATCH_JOB_NODE_INDEX: "3" })).toThrow(/AWS_BATCH_JOB_NODE_INDEX="3": allowed: an integer from 0 to 2/);
  });
  test("input keys stay below the input prefix; {input} needs an input", () => {
    expect(inputKey("a.dat", "in/")).toBe("in/a.dat");
    expect(inputKey("in/x/a.dat", "in/")).toBe("in/x/a.dat");
    expect(() => inputKey("../etc/passwd", "in/")).toThrow(/no empty, \. or \.\. segments/);
    expect(() => inputKey("in/", "in/")).toThrow(/allowed: an object name below/);
    expect(programArgs(["x", "--in={input}", "{input}.out"], "a.dat")).toEqual(["x", "--in=a.dat", "a.dat.out"]);
    expect(() => programArgs(["x", "{input}"], undefined)).toThrow(/uses \{input\} but this run has no input/);
    expect(outputKey({ outputPrefix: "out/", jobId: "j1" }, "r.txt")).toBe("out/j1/r.txt");
  });
  test("Lambda events: an EventBridge Object Created event or {input}", () => {
    expect(eventInput({ "detail-type": "Object Created", detail: { bucket: { name: "b" }, object: { key: "in/a.dat" } } })).toBe("in/a.dat");
    expect(eventInput({ input: "in/b" })).toBe("in/b");
    expect(eventInput({})).toBeUndefined();
  });
});

describe("the multi-node files", () => {
  test("hostfile main first, known_hosts per reported key on the SSH port, ssh keeps host key checking on", () => {
    expect(
      hostfile([
        { address: "10.0.0.1", slots: 2 },
        { address: "10.0.0.2", slots: 2 },
      ]),
    ).toBe("10.0.0.1 slots=2\n10.0.0.2 slots=2\n");
    expect(knownHosts([{ address: "10.0.0.2", hostKey: "ssh-ed25519 AAAA node-1\n" }], 2222)).toBe("[10.0.0.2]:2222 ssh-ed25519 AAAA node-1\n");
    const ssh = sshConfig({ identity: "/h/id", knownHosts: "/h/kh", port: 2222, user: "hflow" });
    expect(ssh).toContain("StrictHostKeyChecking yes");
    expect(ssh).toContain("GlobalKnownHostsFile /dev/null");
    const sshd = sshdConfig({ port: 2222, hostKey: "/h/hk", authorizedKeys: "/h/ak", pidFile: "/h/p", user: "hflow" });
    expect(sshd).toMatch(/^PasswordAuthentication no$/m);
    expect(sshd).toMatch(/^AllowUsers hflow$/m);
    expect(sshd).toMatch(/^PermitRootLogin no$/m);
  });
  test("who is missing, networks, own address", () => {
    expect(missingNodes(4, 0, [1, 3])).toEqual([2]);
    expect(networkOf("10.89.0.7/24")).toBe("10.89.0.0/24");
    expect(networkOf("172.31.33.200/20")).toBe("172.31.32.0/20");
    const lo = { address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4" as const, mac: "00:00:00:00:00:00", internal: true, cidr: "127.0.0.1/8" };
    const eth = { ...lo, address: "10.0.3.9", internal: false, cidr: "10.0.3.9/22" };
    const ecsLink = { ...lo, address: "169.254.172.2", internal: false, cidr: "169.254.172.2/22" };
    expect(ownAddress({ lo: [lo], "ecs-eth0": [ecsLink], eth0: [eth] })).toEqual({ address: "10.0.3.9", cidr: "10.0.0.0/22" });
    expect(() => ownAddress({ lo: [lo] })).toThrow(/no IPv4 address/);
  });
});

describe("Lambda mode: the Runtime API loop, RGW, a real program", () => {
  let rgw: Rgw;
  let s3: S3Client;
  let plane: LambdaControlPlane;
  let work: string;
  const saved = { ...process.env };
  beforeAll(async () => {
    rgw = await startRgw();
    s3 = new S3Client({ region: "us-east-1", endpoint: rgw.endpoint, forcePathStyle: true, credentials: RGW_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: "appbucket" }));
    await s3.send(new PutObjectCommand({ Bucket: "appbucket", Key: "in/n.txt", Body: "hello\n" }));
    plane = await LambdaControlPlane.start();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-app-lambda-"));
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: rgw.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey,
    });
  }, 120_000);
  afterAll(async () => {
    process.env = saved;
    await plane?.close();
    s3?.destroy();
    rgw?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const invoke = async (payload: unknown) => {
    const r = await fetch(`${plane.endpoint}/2015-03-31/functions/app/invocations`, { method: "POST", body: JSON.stringify(payload) });
    return { error: r.headers.get("x-amz-function-error"), body: (await r.json()) as Record<string, unknown> };
  };
  const listed = async (prefix: string) =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: "appbucket", Prefix: prefix }))).Contents ?? []).map((o) => o.Key);

  test("an upload event runs the program on the object and uploads its output; failures are failed invocations with nothing uploaded", async () => {
    const api = await plane.addFunction("app", { timeoutSeconds: 60 });
    const env = { ...process.env, ...APP_ENV, HFLOW_APP_WORKDIR: path.join(work, "job"), AWS_LAMBDA_RUNTIME_API: api };
    // The program: upper-case the input into r.txt, unless the input says to fail.
    const program = ["sh", "-c", 'grep -q fail "$1" && exit 3; tr a-z A-Z < "$1" > r.txt', "sh", "{input}"];
    const loop = main(["--input", "-", "--", ...program], env, { maxInvocations: 3 });

    const ok = await invoke({ "detail-type": "Object Created", detail: { bucket: { name: "b" }, object: { key: "in/n.txt" } } });
    expect({ error: ok.error, message: ok.body.errorMessage }).toEqual({ error: null, message: undefined });
    const [url] = ok.body.outputs as string[];
    expect(url).toMatch(/^s3:\/\/appbucket\/out\/[0-9a-f-]{36}\/r\.txt$/);
    const key = url.slice("s3://appbucket/".length);
    expect(await (await s3.send(new GetObjectCommand({ Bucket: "appbucket", Key: key }))).Body!.transformToString()).toBe("HELLO\n");

    const missing = await invoke({ input: "in/absent.txt" });
    expect(missing).toMatchObject({
      error: "Unhandled",
      body: { errorType: "AppError", errorMessage: "input s3://appbucket/in/absent.txt does not exist", exitCode: 1 },
    });

    await s3.send(new PutObjectCommand({ Bucket: "appbucket", Key: "in/bad.txt", Body: "fail\n" }));
    const failed = await invoke({ input: "bad.txt" });
    expect(failed).toMatchObject({ error: "Unhandled", body: { errorMessage: "sh exited with status 3 (nothing uploaded)", exitCode: 3 } });

    expect(await loop).toBe(0);
    expect(await listed("out/")).toEqual([key]);
  }, 120_000);
});
