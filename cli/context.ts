/**
 * What every command gets, and how a command module plugs into the program. A leaf of cli/: it imports
 * nothing from cli/ (and only types from elsewhere), so commands, program and workspace can all use it.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { Command } from "commander";
import type { EcrApi } from "../images/push";
import type { EcsApi, LogsApi } from "../runner/engine";
import type { StepProgress, SyncProgress } from "../runner/progress";

/** The options on the program itself (`-c`, `-r`, `-o`), as seen from any command. */
export interface GlobalOptions {
  readonly config?: string;
  readonly region?: string;
  readonly out: string;
}

/** Output sinks, so tests can run commands in-process. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
};

/** What `run` and `status` talk to; tests replace the AWS parts. */
export interface EngineDeps {
  apis(region: string): { ecs: EcsApi; logs: LogsApi; destroy(): void };
  s3(region: string, concurrency: number): S3Client;
  progress(label: string): SyncProgress;
  pollMs: number;
  /** How `images` and `run` build and push images. */
  images: ImageDeps;
}

/** What building and pushing images uses; tests replace ECR and the sources. */
export interface ImageDeps {
  /** ECR's control plane. @default - the AWS SDK's */
  ecr?(region: string): EcrApi & { destroy(): void };
  /** Progress of one step (a build, a push). @default - a rewritten line on a terminal, else lines on stderr */
  progress?(label: string): StepProgress;
  /** Repository root the images are built from. @default - this package's root */
  readonly root?: string;
  /** Base image of the builds (BASE build argument). @default "debian:bookworm-slim" */
  readonly base?: string;
  /** Environment to find and run podman or docker in. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** A command's implementation: resolves with its exit code (nothing means 0) or throws. */
export type ActionBody<A extends unknown[]> = (...args: A) => Promise<number | void> | number | void;

/** Handed to every command module when it registers. */
export interface CommandContext {
  readonly io: Io;
  /** The AWS services of `run`, `status` and `images`; what is given replaces the real one. @default - the real ones */
  readonly deps?: Partial<EngineDeps>;
  /** A commander action from an implementation: its result becomes the exit code, an error is printed and mapped to one. */
  action<A extends unknown[]>(body: ActionBody<A>): (...args: A) => Promise<void>;
}

/**
 * A module of cli/commands/: declares its command(s) on the program (name, options, help text, action).
 * Registering must stay cheap (every start registers every command): heavy modules (cdktf and the
 * providers, the AWS SDK, zod) are imported inside the actions.
 */
export interface CommandModule {
  register(program: Command, ctx: CommandContext): void;
}

/** The global options as seen from a command's action. */
export function globalsOf(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}
