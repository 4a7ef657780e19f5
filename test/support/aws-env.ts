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
