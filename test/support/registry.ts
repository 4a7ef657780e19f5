/**
 * A real container registry for push tests: the CNCF distribution registry from Debian's
 * `docker-registry` package, on a loopback port, with its own config, storage directory and one
 * htpasswd user (bcrypt through perl's crypt(), which is libxcrypt's). Plain HTTP, as a loopback
 * registry may be; clients use `--tls-verify=false` for it.
 *
 * Also the ECR control plane in front of it (GetAuthorizationToken, DescribeImages) in the SDK's
 * shapes: the token is base64 `AWS:<password>` as ECR's is, and DescribeImages asks the registry.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { DescribeImagesCommandInput, DescribeImagesCommandOutput, GetAuthorizationTokenCommandOutput } from "@aws-sdk/client-ecr";
import type { EcrApi } from "../../images/push";
import { freePort } from "./rgw";

export interface Registry {
  /** `127.0.0.1:<port>` */
  readonly host: string;
  readonly user: string;
  readonly password: string;
  /** The manifest digest of `<repository>:<tag>`, or undefined when the registry does not have it. */
  digest(repository: string, tag: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

export async function startRegistry(): Promise<Registry> {
  for (const tool of ["docker-registry", "perl"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
      throw new Error(`${tool} is not installed: run .ci/run, or apt-get install docker-registry`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-registry-"));
  const user = "AWS";
  const password = crypto.randomBytes(18).toString("base64url");
  // bcrypt salt: 22 characters of ./A-Za-z0-9
  const salt = `$2b$05$${crypto.randomBytes(16).toString("base64").replace(/\+/g, ".").replace(/=+$/, "").slice(0, 22)}`;
  const hash = spawnSync("perl", ["-e", "print crypt($ENV{PW}, $ENV{SALT})"], {
    env: { PATH: process.env.PATH, PW: password, SALT: salt },
    encoding: "utf8",
  }).stdout;
  if (!hash.startsWith("$2b$")) throw new Error(`perl crypt() gave no bcrypt hash (${JSON.stringify(hash)})`);
  fs.writeFileSync(path.join(dir, "htpasswd"), `${user}:${hash}\n`);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  fs.writeFileSync(
    path.join(dir, "config.yml"),
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${path.join(dir, "data")}`,
      "http:",
      `  addr: ${host}`,
      `  secret: ${crypto.randomBytes(16).toString("hex")}`,
      "auth:",
      "  htpasswd:",
      "    realm: hflow-test",
      `    path: ${path.join(dir, "htpasswd")}`,
      "",
    ].join("\n"),
  );
  const log = fs.openSync(path.join(dir, "registry.log"), "a");
  const child: ChildProcess = spawn("docker-registry", ["serve", path.join(dir, "config.yml")], { stdio: ["ignore", log, log] });
  fs.closeSync(log);
  const basic = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited with ${child.exitCode}: ${fs.readFileSync(path.join(dir, "registry.log"), "utf8").slice(-2000)}`);
    const status = await fetch(`http://${host}/v2/`, { headers: { authorization: basic } }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`docker-registry on ${host} did not answer within 20 s (last status ${status})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    user,
    password,
    async digest(repository, tag) {
      const r = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, { method: "HEAD", headers: { authorization: basic, accept: MANIFEST_TYPES } });
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw new Error(`registry HEAD ${repository}:${tag}: HTTP ${r.status}`);
      return r.headers.get("docker-content-digest") ?? "";
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** ECR's error shape for a tag the repository lacks (what the SDK throws). */
function imageNotFound(repositoryName: string, tag: string): Error {
  return Object.assign(
    new Error(`The image with imageId {imageDigest:'null', imageTag:'${tag}'} does not exist within the repository with name '${repositoryName}'`),
    {
      name: "ImageNotFoundException",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
    },
  );
}

/** The ECR stand-in for a registry, recording every call. */
export function fakeEcr(registry: Registry): EcrApi & { destroy(): void; calls: { op: string; input: unknown }[] } {
  const calls: { op: string; input: unknown }[] = [];
  return {
    calls,
    async getAuthorizationToken(input): Promise<GetAuthorizationTokenCommandOutput> {
      calls.push({ op: "GetAuthorizationToken", input });
      return {
        $metadata: { httpStatusCode: 200 },
        authorizationData: [
          {
            authorizationToken: Buffer.from(`${registry.user}:${registry.password}`).toString("base64"),
            proxyEndpoint: `https://${registry.host}`,
            expiresAt: new Date(Date.now() + 12 * 3600_000),
          },
        ],
      };
    },
    async describeImages(input: DescribeImagesCommandInput): Promise<DescribeImagesCommandOutput> {
      calls.push({ op: "DescribeImages", input });
      const tags = (input.imageIds ?? []).map((i) => i.imageTag!);
      const details = [];
      for (const tag of tags) {
        const digest = await registry.digest(input.repositoryName!, tag);
        if (digest === undefined) throw imageNotFound(input.repositoryName!, tag);
        details.push({ repositoryName: input.repositoryName, imageDigest: digest, imageTags: [tag] });
      }
      return { $metadata: { httpStatusCode: 200 }, imageDetails: details };
    },
    destroy() {},
  };
}
