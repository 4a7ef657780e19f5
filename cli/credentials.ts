/**
 * Where AWS credentials would come from, and the one hint for when there are none: used by `doctor`
 * (which reports) and by the commands that need AWS (`deploy`, `diff`, `destroy`, `status`, `run`, `app run`),
 * which stop with exit 2 before Terraform or the SDK is started.
 *
 * The sources are those of the AWS SDK's default chain and Terraform's AWS provider (aws/aws-sdk-js-v3
 * packages/credential-provider-node defaultProvider: environment, shared files and profiles, SSO, web
 * identity, container role, instance role). All but the instance role are seen without a network call;
 * the instance role only through the instance metadata service, which `requireAwsCredentials` asks
 * (once, with a one-second bound) only when nothing else was found.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { ExitCode, HflowError } from "../common/errors";
import type { HyperflowConfig } from "../config/schema";
import type { StackName } from "../stacks/app";

/** What to do when there are no credentials: the same words in doctor and in every command's error. */
export const CREDENTIALS_HINT = "aws sso login, AWS_PROFILE, or an instance/container role";

/** The credential sources found without a network call (empty: none). */
export function credentialSources(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string[] {
  const sources: string[] = [];
  if (env.AWS_PROFILE) sources.push(`AWS_PROFILE=${env.AWS_PROFILE}`);
  if (env.AWS_ACCESS_KEY_ID) sources.push("environment variables (prefer roles or SSO profiles)");
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE) sources.push("web identity token");
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) sources.push("container role");
  for (const f of [env.AWS_SHARED_CREDENTIALS_FILE ?? path.join(home, ".aws", "credentials"), env.AWS_CONFIG_FILE ?? path.join(home, ".aws", "config")]) {
    if (fs.existsSync(f)) sources.push(f);
  }
  return sources;
}

/** No AWS credentials anywhere the SDK and Terraform look. Bad input (exit 2): nothing was started. */
export class CredentialsError extends HflowError {
  readonly exitCode = ExitCode.badInput;
  constructor(what: string) {
    super(
      `${what} needs AWS credentials, and none were found (environment, AWS_PROFILE, ~/.aws/credentials and ~/.aws/config, web identity, container or instance role); ${CREDENTIALS_HINT}. \`hflow-infra doctor\` shows what it checks.`,
    );
    this.name = "CredentialsError";
  }
}

/**
 * Whether the instance metadata service gives this machine a role (IMDSv2: a token, then the role list),
 * within `timeoutMs`. Honours the SDK's AWS_EC2_METADATA_DISABLED and AWS_EC2_METADATA_SERVICE_ENDPOINT.
 */
export async function instanceRole(env: NodeJS.ProcessEnv = process.env, timeoutMs = 1000): Promise<boolean> {
  if ((env.AWS_EC2_METADATA_DISABLED ?? "").toLowerCase() === "true") return false;
  const base = env.AWS_EC2_METADATA_SERVICE_ENDPOINT ?? "http://169.254.169.254";
  const call = (method: string, p: string, headers: Record<string, string>) =>
    new Promise<{ status: number; body: string }>((resolve) => {
      const req = http.request(new URL(p, base), { method, headers, timeout: timeoutMs }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve({ status: 0, body: "" }));
      req.end();
    });
  const token = await call("PUT", "/latest/api/token", { "x-aws-ec2-metadata-token-ttl-seconds": "60" });
  if (token.status !== 200) return false;
  const roles = await call("GET", "/latest/meta-data/iam/security-credentials/", { "x-aws-ec2-metadata-token": token.body });
  return roles.status === 200 && roles.body.trim() !== "";
}

/** Throws CredentialsError (exit 2) unless AWS credentials are somewhere; `what` names the command. */
export async function requireAwsCredentials(what: string, env: NodeJS.ProcessEnv = process.env, home = os.homedir()): Promise<void> {
  if (credentialSources(env, home).length > 0) return;
  if (await instanceRole(env)) return;
  throw new CredentialsError(what);
}

/**
 * Whether acting on these stacks talks to AWS: every stack but `gke`, and `k8s` on an existing or GKE
 * cluster (Kubernetes and Google credentials), unless the state itself is in S3.
 */
export function stacksNeedAws(stacks: readonly StackName[], config: Pick<HyperflowConfig, "backend" | "kubernetes">): boolean {
  if (config.backend.type === "s3") return stacks.length > 0;
  return stacks.some((s) => s !== "gke" && (s !== "k8s" || config.kubernetes.cluster === "eks"));
}
