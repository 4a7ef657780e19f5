/**
 * Credentials for local stand-ins (Ceph RGW, loopback AWS API stand-ins) as a process environment: what
 * the AWS SDK's default credential chain reads, standing in for a task role. The one place tests build
 * such an environment, so no test file spells out a key variable with a literal value.
 */
export interface TestCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export function credentialsEnv(c: TestCredentials): { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string } {
  return { AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey };
}

/**
 * No AWS credentials anywhere for a child process: every variable of the SDK's default chain unset, a
 * home without ~/.aws, no instance metadata, and no HyperFlow config or region from the environment.
 */
export function noCredentialsEnv(home: string): Record<string, string | undefined> {
  return {
    HOME: home,
    AWS_PROFILE: undefined,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_SHARED_CREDENTIALS_FILE: undefined,
    AWS_CONFIG_FILE: undefined,
    AWS_EC2_METADATA_DISABLED: "true",
    HFLOW_CONFIG: undefined,
    HFLOW_REGION: undefined,
    HFLOW_JOB_DIR: undefined,
  };
}

/** Runs `fn` with `vars` in process.env (undefined: unset), then puts each of them back as it was. */
export async function withEnv<T>(vars: Readonly<Record<string, string | undefined>>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (values: Readonly<Record<string, string | undefined>>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(vars);
  try {
    return await fn();
  } finally {
    set(before);
  }
}
