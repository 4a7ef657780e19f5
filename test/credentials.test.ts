/**
 * Commands that need AWS check for credentials first: with an empty environment `deploy`, `diff`,
 * `destroy`, `status` and `run` stop with exit 2 and doctor's hint, before any terraform process or
 * request. One home for the check and the hint (cli/credentials.ts), shared with `doctor`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CREDENTIALS_HINT, credentialSources, instanceRole, requireAwsCredentials, stacksNeedAws } from "../cli/credentials";
import { credentialsCheck } from "../cli/commands/doctor";
import { validateConfig } from "../config/load";
import { credentialsEnv, noCredentialsEnv } from "./support/aws-env";
import { runCli } from "./support/cli";
import { serve } from "./support/http-recorder";
import { FIXTURE_JOB } from "./support/stack-json";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-creds-"));
const home = path.join(tmp, "home");
const bin = path.join(tmp, "bin");
const calls = path.join(tmp, "terraform-calls");
beforeAll(() => {
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(bin, { recursive: true });
  // A terraform that records each start: no line may appear.
  fs.writeFileSync(path.join(bin, "tf"), `#!/bin/sh\necho "$*" >> "${calls}"\nexit 0\n`, { mode: 0o755 });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** An empty environment for AWS: no variables, a home without ~/.aws, no instance metadata. */
const EMPTY = noCredentialsEnv(home);

describe("with an empty environment, every command that needs AWS stops first", () => {
  const commands: string[][] = [
    ["deploy", "all", "--auto-approve"],
    ["deploy", "ecs"],
    ["diff", "network"],
    ["destroy", "all", "--auto-approve"],
    ["status"],
    ["run", "--job-dir", FIXTURE_JOB, "--yes"],
  ];
  test.each(commands.map((c) => [c.join(" "), c] as const))("%s: exit 2 with doctor's hint, no terraform, no request", async (_name, args) => {
    const aws = await serve((_req, res) => res.writeHead(500).end());
    fs.rmSync(calls, { force: true });
    try {
      const r = await runCli(["-o", path.join(tmp, "out"), ...args], {
        ...EMPTY,
        TERRAFORM_BINARY_NAME: path.join(bin, "tf"),
        AWS_ENDPOINT_URL: aws.url,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: aws.url,
      });
      expect(r.code).toBe(2);
      expect(r.err).toContain("needs AWS credentials, and none were found");
      expect(r.err).toContain(CREDENTIALS_HINT);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(fs.existsSync(calls)).toBe(false);
      expect(aws.seen).toEqual([]);
    } finally {
      await aws.close();
    }
  });

  test("doctor gives the same hint", () => {
    const check = credentialsCheck(EMPTY, home);
    expect(check.ok).toBe(false);
    expect(check.detail).toContain(CREDENTIALS_HINT);
  });
});

describe("what counts as credentials", () => {
  test("each source the SDK's chain reads without a network call", () => {
    expect(credentialSources({}, home)).toEqual([]);
    expect(credentialSources({ AWS_PROFILE: "lab" }, home)).toEqual(["AWS_PROFILE=lab"]);
    expect(credentialSources(credentialsEnv({ accessKeyId: "a", secretAccessKey: "b" }), home)).toHaveLength(1);
    expect(credentialSources({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/creds" }, home)).toEqual(["container role"]);
    const aws = path.join(tmp, "home2", ".aws");
    fs.mkdirSync(aws, { recursive: true });
    fs.writeFileSync(path.join(aws, "config"), "[default]\nregion = eu-west-1\n");
    expect(credentialSources({}, path.join(tmp, "home2"))).toEqual([path.join(aws, "config")]);
  });

  test("an instance role, through the metadata service (IMDSv2), when nothing else is there", async () => {
    const imds = await serve((req, res) => {
      if (req.method === "PUT" && req.url === "/latest/api/token") res.writeHead(200).end("token-1");
      else if (req.url === "/latest/meta-data/iam/security-credentials/" && req.headers["x-aws-ec2-metadata-token"] === "token-1")
        res.writeHead(200).end("lab-role");
      else res.writeHead(404).end();
    });
    const none = await serve((_req, res) => res.writeHead(404).end());
    try {
      expect(await instanceRole({ AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url })).toBe(true);
      await expect(requireAwsCredentials("deploy", { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url }, home)).resolves.toBeUndefined();
      expect(await instanceRole({ AWS_EC2_METADATA_SERVICE_ENDPOINT: none.url })).toBe(false);
      expect(await instanceRole({ AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url, AWS_EC2_METADATA_DISABLED: "true" })).toBe(false);
      await expect(requireAwsCredentials("status", { AWS_EC2_METADATA_SERVICE_ENDPOINT: none.url }, home)).rejects.toThrow(/^status needs AWS credentials/);
    } finally {
      await imds.close();
      await none.close();
    }
  });

  test("stacks that do not talk to AWS need no AWS credentials (unless the state is in S3)", () => {
    const kind = validateConfig({ kubernetes: { cluster: "existing" } }).config;
    expect(stacksNeedAws(["k8s"], kind)).toBe(false);
    expect(stacksNeedAws(["k8s", "ecs"], kind)).toBe(true);
    const gke = validateConfig({ adminCidrs: ["203.0.113.0/24"], kubernetes: { cluster: "gke", gke: { project: "hyperflow-lab-1" } } }).config;
    expect(stacksNeedAws(["gke", "k8s"], gke)).toBe(false);
    const s3State = validateConfig({ kubernetes: { cluster: "existing" }, backend: { type: "s3", bucket: "my-tf-state" } }).config;
    expect(stacksNeedAws(["k8s"], s3State)).toBe(true);
  });
});
