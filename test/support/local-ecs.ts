/**
 * The ECS deployment on one machine, from real parts only, for the end-to-end test and benchmark:
 * Debian's RabbitMQ (test/support/rabbitmq.ts) with a firehose tap (broker-tap.ts), Ceph RGW
 * (rgw.ts) as S3, our engine and worker images (images/build.ts), and the engine and worker task
 * definitions that the cdktf app synthesizes for `config`, run with podman or docker on the host
 * network with only their AWS parts replaced (ecs-local.ts). Jobs go into RGW through our uploader
 * (runner/s3-sync.ts), as `hflow-infra upload` sends them.
 */
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildBase, buildImage, detectContainerTool, type ContainerTool } from "../../images/build";
import { parseRunResult, type RunResult } from "../../images/run-result";
import { validateJobDir } from "../../runner/job-dir";
import { createS3Client } from "../../runner/s3-client";
import { syncToS3, type SyncResult } from "../../runner/s3-sync";
import { BrokerTap } from "./broker-tap";
import { essentialContainer, LocalContainers, localize, synthTaskDefinitions, type LocalContainer, type SynthesizedTasks } from "./ecs-local";
import { startRabbitMq, type RabbitMq } from "./rabbitmq";
import { RGW_CREDENTIALS, startRgw, type Rgw } from "./rgw";

/** The job queue amqpCommand publishes to (hyperflow-wms/hyperflow functions/amqpCommand.js). */
export const JOB_QUEUE = "hyperflow.jobs";
/** Region of the local S3 server (RGW's default zone group answers to any; the SDK signs with this). */
export const LOCAL_REGION = "us-east-1";

export interface LocalEcsOptions {
  /** hyperflow-infra configuration to synthesize (the task definitions come from it). */
  readonly config: object;
  readonly log?: (line: string) => void;
}

export interface Timings {
  readonly images: number;
  readonly services: number;
  readonly synth: number;
}

export class LocalEcs {
  private constructor(
    readonly tool: ContainerTool,
    readonly images: { readonly engine: string; readonly worker: string },
    readonly rgw: Rgw,
    readonly rabbit: RabbitMq,
    readonly tap: BrokerTap,
    readonly tasks: SynthesizedTasks,
    readonly s3: S3Client,
    readonly containers: LocalContainers,
    readonly timings: Timings,
  ) {}

  static async start(o: LocalEcsOptions): Promise<LocalEcs> {
    const log = o.log ?? (() => undefined);
    const tool = detectContainerTool();
    let t = Date.now();
    const base = buildBase({ tool, log });
    const engine = buildImage("engine", { tool, base, log });
    const worker = buildImage("worker", { tool, base, log });
    const images = (Date.now() - t) / 1000;
    t = Date.now();
    // Synthesize while nothing else runs, then bring the servers up side by side.
    const tasks = synthTaskDefinitions(o.config);
    const synth = (Date.now() - t) / 1000;
    t = Date.now();
    const [rgw, rabbit] = await Promise.all([startRgw(), startRabbitMq()]);
    const tap = await BrokerTap.open(rabbit);
    const services = (Date.now() - t) / 1000;
    const s3 = createS3Client({ region: LOCAL_REGION, endpoint: rgw.endpoint, credentials: RGW_CREDENTIALS });
    return new LocalEcs(tool, { engine: engine.ref, worker: worker.ref }, rgw, rabbit, tap, tasks, s3, new LocalContainers(tool), { images, services, synth });
  }

  async stop(): Promise<void> {
    this.containers.removeAll();
    await this.tap?.close();
    await this.rabbit?.stop();
    this.s3?.destroy();
    this.rgw?.stop();
    fs.rmSync(this.tasks.outdir, { recursive: true, force: true });
  }

  private target(bucket: string, image: string) {
    return { image, amqpUrl: this.rabbit.url, bucket, s3Endpoint: this.rgw.endpoint, region: LOCAL_REGION, credentials: RGW_CREDENTIALS };
  }

  /** The engine task definition's container for a run against `bucket`. */
  engineContainer(bucket: string): LocalContainer {
    return localize(this.tasks.engine, essentialContainer(this.tasks.engine), this.target(bucket, this.images.engine));
  }

  workerContainer(bucket: string): LocalContainer {
    return localize(this.tasks.worker, essentialContainer(this.tasks.worker), this.target(bucket, this.images.worker));
  }

  /** Key prefix of the job (`runner.prefix`): the engine's S3_PATH is `<prefix>input/`. */
  get jobPrefix(): string {
    const s3Path = this.engineContainer("b").env.S3_PATH ?? "";
    if (!s3Path.endsWith("input/")) throw new Error(`engine S3_PATH ${JSON.stringify(s3Path)} does not end in input/`);
    return s3Path.slice(0, -"input/".length);
  }

  /** The workflow file the engine task definition's command runs (`hflow run /workdir/<file>`), if it names one. */
  get workflowFile(): string | undefined {
    const cmd = essentialContainer(this.tasks.engine).command ?? [];
    const target = cmd[cmd.indexOf("run") + 1];
    return cmd.includes("run") && target?.endsWith(".json") ? path.posix.basename(target) : undefined;
  }

  /** Creates `bucket` and uploads the job directory below the job prefix with our uploader. */
  async upload(bucket: string, jobDir: string): Promise<SyncResult> {
    await this.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const job = validateJobDir(jobDir);
    const result = await syncToS3({ client: this.s3, bucket, prefix: this.jobPrefix, files: job.files });
    if (!result.verified || result.failed.length > 0) throw new Error(`upload to ${bucket} failed: ${JSON.stringify(result.failed)}`);
    return result;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  async getObject(bucket: string, key: string): Promise<Buffer> {
    const r = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  }

  async keys(bucket: string, prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) out.push(o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  /** The result marker of the one run in `bucket` (`<prefix>runs/<run-id>/result.json`). */
  async result(bucket: string): Promise<RunResult> {
    const markers = (await this.keys(bucket, `${this.jobPrefix}runs/`)).filter((k) => k.endsWith("/result.json"));
    if (markers.length !== 1) throw new Error(`expected one result marker in ${bucket}, found ${markers.length}: ${markers.join(", ")}`);
    return parseRunResult((await this.getObject(bucket, markers[0])).toString("utf8"));
  }

  /** Starts a worker container and waits until it consumes the job queue. */
  async startWorker(name: string, bucket: string): Promise<void> {
    this.containers.start(name, this.workerContainer(bucket));
    await this.containers.waitForLog(name, /amqp: consuming/, 60_000);
  }

  startEngine(name: string, bucket: string): void {
    this.containers.start(name, this.engineContainer(bucket));
  }

  /** Client connections the broker has now (names as in the tap's `connection`). */
  connections(): string[] {
    return this.rabbit
      .ctl(["list_connections", "name", "--no-table-headers", "--quiet"])
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  }

  /** Drops jobs a failed run left in the queue, so the next run starts clean. */
  async purgeJobs(): Promise<void> {
    await this.tap.channel.assertQueue(JOB_QUEUE, { durable: true });
    await this.tap.channel.purgeQueue(JOB_QUEUE);
  }
}
