import type { LoadedConfig } from "../../config/load";
import type { EcrApi } from "../../images/push";
import { progressFor, type StepProgress, stepProgressFor } from "../../runner/progress";
import type { EngineDeps, GlobalOptions, ImageDeps, Io } from "../context";

/** Load and validate the configuration for a command, printing its warnings. Throws ConfigError. */
export async function loadForCommand(globals: GlobalOptions, io: Io): Promise<LoadedConfig> {
  const { loadConfig } = await import("../../config/load"); // zod: only for commands that read the config
  const loaded = loadConfig({ configPath: globals.config, region: globals.region });
  for (const w of loaded.warnings) io.err(`warning: ${w}`);
  return loaded;
}

/** ImageDeps with every service present. */
export type ImageServices = ImageDeps & {
  ecr(region: string): EcrApi & { destroy(): void };
  progress(label: string): StepProgress;
};

/** The image services: what is given, the real ones (ECR through the AWS SDK, loaded here) for the rest. */
export async function imageServices(io: Io, given: ImageDeps = {}): Promise<ImageServices> {
  return {
    ...given,
    ecr: given.ecr ?? (await import("../../images/ecr")).awsEcr,
    progress: given.progress ?? ((label) => stepProgressFor(label, process.stderr, (l) => io.err(l))),
  };
}

/** EngineDeps with every service present. */
export type EngineServices = Omit<EngineDeps, "images"> & { images: ImageServices };

/** The services of `run` and `status`: what is given, the real AWS ones (the SDK is loaded here) for the rest. */
export async function engineDeps(io: Io, given: Partial<EngineDeps> = {}): Promise<EngineServices> {
  const apis = given.apis ?? (await import("../../runner/engine")).awsEngineApis;
  let s3 = given.s3;
  if (!s3) {
    const [{ createS3Client }, { maxSocketsFor }] = await Promise.all([import("../../runner/s3-client"), import("../../runner/s3-sync")]);
    s3 = (region, concurrency) => createS3Client({ region, maxSockets: maxSocketsFor({ concurrency }) });
  }
  return {
    apis,
    s3,
    progress: given.progress ?? ((label) => progressFor(label)),
    pollMs: given.pollMs ?? 5000,
    images: await imageServices(io, given.images),
  };
}
