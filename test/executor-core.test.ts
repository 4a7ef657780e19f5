/**
 * The executor core in-process, with real processes and real directories (no broker): settings from
 * the environment, job parsing, the storage decision, nfs/local staging, timeouts that reach the whole
 * process group, bounded tails, and metrics that never fail a task.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { createContext, type ExecutorContext, executeJob } from "../executor/execute";
import { parseJob } from "../executor/job";
import { InfluxWriter, toLine } from "../executor/metrics";
import { Tail } from "../executor/run";
import { loadSettings, type Settings } from "../executor/settings";
import { resolveStorage } from "../executor/storage";
import { freePort } from "./support/rgw";

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hflow-core-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function mkdir(...parts: string[]): string {
  const d = path.join(tmp, ...parts);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function context(env: Record<string, string>): ExecutorContext & { lines: string[] } {
  const lines: string[] = [];
  const ctx = createContext(loadSettings(env), (l) => lines.push(l));
  return Object.assign(ctx, { lines });
}

describe("settings from the environment", () => {
  test("what the worker task definition sets today is accepted (STORAGE=cloud, S3_BUCKET, THREADS, FEATURE_DOWNLOAD, NFS_MOUNT empty)", () => {
    const s = loadSettings({
      STORAGE: "cloud",
      S3_BUCKET: "my-bucket",
      THREADS: "3",
      FEATURE_DOWNLOAD: "DISABLED",
      NFS_MOUNT: "",
      AWS_REGION: "eu-west-1",
      INFLUXDB_URL: "http://10.0.0.5:8086/hyperflow_tests",
      AMQP_URL: "amqp://u:p@10.0.0.4:5672",
    });
    expect(s).toMatchObject({
      storage: "s3",
      bucket: "my-bucket",
      threads: 3,
      featureDownload: false,
      nfsMount: undefined,
      influxUrl: "http://10.0.0.5:8086/hyperflow_tests",
      amqpUrl: "amqp://u:p@10.0.0.4:5672",
      queue: "hyperflow.jobs",
      s3ForcePathStyle: false,
    });
  });

  test("defaults: storage cloud (bucket and prefix may come from jobs); threads = cores; timeout one day", () => {
    expect(loadSettings({})).toMatchObject({ storage: "s3", bucket: undefined, s3Path: undefined });
    const s = loadSettings({ S3_BUCKET: "b-1" });
    expect(s.threads).toBeGreaterThanOrEqual(1);
    expect(s.taskTimeoutMs).toBe(86_400_000);
    expect(s.amqpUrl).toBe("amqp://localhost:5672");
  });

  test.each([
    [{ STORAGE: "ftp" }, 'STORAGE="ftp" is not valid; allowed: cloud (or s3), nfs, local'],
    [{ STORAGE: "nfs" }, 'NFS_MOUNT="" is not valid; allowed: the shared directory (required with STORAGE=nfs)'],
    [{ STORAGE: "local", WORKDIR: "relative/dir" }, 'WORKDIR="relative/dir" is not valid; allowed: an absolute directory path'],
    [{ S3_BUCKET: "b-1", THREADS: "0" }, 'THREADS="0" is not valid; allowed: an integer from 1 to 256'],
    [{ S3_BUCKET: "b-1", THREADS: "2.5" }, 'THREADS="2.5" is not valid; allowed: an integer from 1 to 256'],
    [{ S3_BUCKET: "Bad_Bucket" }, 'S3_BUCKET="Bad_Bucket" is not valid; allowed: an S3 bucket name'],
    [{ S3_BUCKET: "b-1", S3_PATH: "/abs/" }, 'S3_PATH="/abs/" is not valid; allowed: a key prefix inside the bucket (starts with /)'],
    [{ S3_BUCKET: "b-1", TASK_TIMEOUT: "soon" }, 'TASK_TIMEOUT="soon" is not valid; allowed: a number of seconds from 0.1 to 2592000'],
    [{ S3_BUCKET: "b-1", INFLUXDB_URL: "http://influx:8086" }, 'INFLUXDB_URL="http://influx:8086" is not valid; allowed: http(s)://host:port/database'],
    [{ S3_BUCKET: "b-1", FEATURE_DOWNLOAD: "maybe" }, 'FEATURE_DOWNLOAD="maybe" is not valid; allowed: true/false (also 1/0, yes/no, ENABLED/DISABLED)'],
  ])("%j → %s", (env, message) => {
    expect(() => loadSettings(env)).toThrow(message);
  });

  test("an S3 endpoint from the environment switches to path-style addressing", () => {
    expect(loadSettings({ S3_BUCKET: "b-1", AWS_ENDPOINT_URL_S3: "http://127.0.0.1:7480" }).s3ForcePathStyle).toBe(true);
    expect(loadSettings({ S3_BUCKET: "b-1", AWS_ENDPOINT_URL_S3: "http://127.0.0.1:7480", S3_FORCE_PATH_STYLE: "false" }).s3ForcePathStyle).toBe(false);
  });
});

describe("job messages", () => {
  test("the engine's shape: signals with names and bookkeeping, args as array or string, env values as text", () => {
    const job = parseJob(
      Buffer.from(
        JSON.stringify({
          executable: "mProjectPP",
          args: "-X -x 0.99 in.fits  out.fits",
          env: { N: 3 },
          inputs: [{ name: "in.fits", _id: 0, sigIdx: 1 }],
          outputs: ["out.fits"],
          options: { storage: "local", workdir: "/w" },
        }),
      ),
    );
    expect(job).toEqual({
      executable: "mProjectPP",
      args: ["-X", "-x", "0.99", "in.fits", "out.fits"],
      env: { N: "3" },
      inputs: [{ name: "in.fits", _id: 0, sigIdx: 1 }],
      outputs: [{ name: "out.fits" }],
      options: { storage: "local", workdir: "/w" },
    });
  });

  test.each([
    ["[1,2]", "not a JSON object"],
    ['{"executable": ""}', "executable must be a non-empty string"],
    ['{"executable": "x", "args": {"a": 1}}', "args must be an array or a string"],
    ['{"executable": "x", "args": [null]}', "args[0] must be a string or a number, not null"],
    ['{"executable": "x", "env": {"A-B": "1"}}', 'env name "A-B" is not a variable name'],
    ['{"executable": "x", "inputs": [{"id": 1}]}', "inputs[0] has no name"],
    ['{"executable": "x", "outputs": [{"name": "/etc/passwd"}]}', 'outputs[0].name "/etc/passwd" is an absolute path'],
    ['{"executable": "x", "inputs": [{"name": "a/../../b"}]}', 'inputs[0].name "a/../../b" leaves the storage (..)'],
    ['{"executable": "x", "options": "s3"}', "options must be an object"],
  ])("%s is malformed: %s", (body, message) => {
    expect(() => parseJob(body)).toThrow(`malformed job message: ${message}`);
  });
});

describe("the storage decision: the worker's environment is authoritative", () => {
  const s3Settings = (extra: Record<string, string> = {}): Settings => loadSettings({ STORAGE: "cloud", S3_BUCKET: "worker-bucket", ...extra });
  const noS3 = () => {
    throw new Error("no S3 client in this test");
  };
  const fakeS3 = (() => ({})) as never;

  test("s3: the message's bucket and storage are ignored and reported; its prefix is used when S3_PATH is unset", () => {
    const r = resolveStorage(
      s3Settings(),
      parseJob({ executable: "x", options: { storage: "nfs", bucket: "other", prefix: "runs/7/input/", wfid: "w", unknown: 1 } }),
      fakeS3,
    );
    expect(r.storage.where).toBe("s3://worker-bucket/runs/7/input/");
    expect(r.ignored).toEqual([
      'storage="nfs" (this worker\'s STORAGE is s3)',
      'bucket="other" (S3_BUCKET is worker-bucket)',
      "unknown (not an option this executor reads)",
    ]);
  });

  test("s3 without S3_BUCKET (the runner stack grants the role its bucket, the task definition does not name it): the message's bucket is used", () => {
    const settings = loadSettings({ STORAGE: "cloud" });
    expect(resolveStorage(settings, parseJob({ executable: "x", options: { storage: "s3", bucket: "run-bucket", prefix: "p/" } }), fakeS3).storage.where).toBe(
      "s3://run-bucket/p/",
    );
    expect(() => resolveStorage(settings, parseJob({ executable: "x", options: { bucket: "Not A Bucket" } }), fakeS3)).toThrow(
      'options.bucket "Not A Bucket" is not an S3 bucket name',
    );
    expect(() => resolveStorage(settings, parseJob({ executable: "x", options: { storage: "local" } }), fakeS3)).toThrow(
      "no bucket: the worker has no S3_BUCKET and the job message has no options.bucket",
    );
  });

  test("s3: S3_PATH from the environment wins over the message's prefix", () => {
    const r = resolveStorage(s3Settings({ S3_PATH: "fixed/" }), parseJob({ executable: "x", options: { prefix: "runs/7/" } }), fakeS3);
    expect(r.storage.where).toBe("s3://worker-bucket/fixed/");
    expect(r.ignored).toEqual(['prefix="runs/7/" (S3_PATH is "fixed/")']);
  });

  test("credentials anywhere in the options or as AWS variables in env are reported (by name, never by value) and not used", () => {
    const job = parseJob({
      executable: "x",
      env: { AWS_SESSION_TOKEN: "tok-value" },
      options: { cloud_storage: { provider: "AWS", aws_access_key_id: "AKIAVALUE", aws_secret_access_key: "SECRETVALUE" }, password: "pw-value" },
    });
    const r = resolveStorage(s3Settings(), job, fakeS3);
    expect(r.storage.where).toBe("s3://worker-bucket/");
    expect(r.ignored).toEqual([
      "options.cloud_storage.aws_access_key_id (credentials are never taken from job messages)",
      "options.cloud_storage.aws_secret_access_key (credentials are never taken from job messages)",
      "options.password (credentials are never taken from job messages)",
      "env.AWS_SESSION_TOKEN (credentials are never taken from job messages)",
    ]);
    expect(r.ignored.join(" ")).not.toMatch(/VALUE|tok-value|pw-value/);
  });

  test("nfs/local: the message's workdir is used only inside the configured directory", () => {
    const root = mkdir("nfs-root");
    const settings = loadSettings({ STORAGE: "nfs", NFS_MOUNT: root });
    expect(resolveStorage(settings, parseJob({ executable: "x", options: { workdir: `${root}/run1` } }), noS3).storage.where).toBe(`${root}/run1`);
    const outside = resolveStorage(settings, parseJob({ executable: "x", options: { workdir: `${root}-evil/run1` } }), noS3);
    expect(outside.storage.where).toBe(root);
    expect(outside.ignored).toEqual([`workdir="${root}-evil/run1" (not inside NFS_MOUNT=${root})`]);
    const dotdot = resolveStorage(settings, parseJob({ executable: "x", options: { workdir: `${root}/../etc` } }), noS3);
    expect(dotdot.storage.where).toBe(root);
  });

  test("options.container is refused rather than silently run inside the worker", async () => {
    const ctx = context({ STORAGE: "local", WORKDIR: mkdir("container") });
    const { reply } = await executeJob({ executable: "/bin/true", options: { container: "some/image:1" } }, "c1", ctx);
    expect(reply).toMatchObject({ exit_status: -2, error: "config", exceptions: [expect.stringMatching(/not supported by this executor/)] });
  });
});

describe("staging and running, in-process", () => {
  test("nfs: inputs are copied into a per-job directory and outputs copied back; the job directory is removed", async () => {
    const shared = mkdir("nfs");
    const scratch = mkdir("scratch-nfs");
    fs.mkdirSync(path.join(shared, "run", "sub"), { recursive: true });
    fs.writeFileSync(path.join(shared, "run", "sub", "in.txt"), "12345");
    const ctx = context({ STORAGE: "nfs", NFS_MOUNT: shared, SCRATCH_DIR: scratch });
    const { reply, points } = await executeJob(
      {
        executable: "/bin/sh",
        args: ["-c", "pwd > where.txt; cp sub/in.txt out.txt; echo changed > sub/in.txt"],
        inputs: [{ name: "sub/in.txt" }],
        outputs: [{ name: "out.txt" }, { name: "where.txt" }],
        options: { storage: "nfs", workdir: `${shared}/run` },
      },
      "nfs-1",
      ctx,
    );
    expect(reply).toMatchObject({ exit_status: 0, exceptions: [], metrics: { input_size: 5, storage: "nfs" } });
    expect(fs.readFileSync(path.join(shared, "run", "out.txt"), "utf8")).toBe("12345");
    // The task ran in its own directory under SCRATCH_DIR; the shared input was not touched.
    expect(fs.readFileSync(path.join(shared, "run", "where.txt"), "utf8").trim()).toMatch(new RegExp(`^${scratch}/nfs-1-`));
    expect(fs.readFileSync(path.join(shared, "run", "sub", "in.txt"), "utf8")).toBe("12345");
    expect(fs.readdirSync(scratch)).toEqual([]);
    expect(fs.readdirSync(path.join(shared, "run")).filter((f) => f.includes(".hflow-"))).toEqual([]);
    expect(points.map((p) => p.measurement)).toContain("execution_times");
  });

  test("local: the task runs in the work directory itself", async () => {
    const work = mkdir("local");
    fs.writeFileSync(path.join(work, "in.txt"), "abc");
    const ctx = context({ STORAGE: "local", WORKDIR: work });
    const { reply } = await executeJob(
      { executable: "/bin/sh", args: ["-c", "pwd; wc -c < in.txt > n.txt"], inputs: ["in.txt"], outputs: ["n.txt"] },
      "local-1",
      ctx,
    );
    expect(reply).toMatchObject({ exit_status: 0, stdout: `${work}\n`, metrics: { input_size: 3, output_size: 2 } });
  });

  test("a timeout kills the task's whole process group, also what it started in the background", async () => {
    const work = mkdir("timeout");
    const ctx = context({ STORAGE: "local", WORKDIR: work, TASK_TIMEOUT: "0.5", KILL_GRACE: "0.5" });
    const t = Date.now();
    // The shell ignores TERM, so the grace period and SIGKILL are needed; its background child writes its pid.
    const { reply } = await executeJob({ executable: "/bin/sh", args: ["-c", "trap '' TERM; sleep 60 & echo $! > bg.pid; wait"] }, "t-1", ctx);
    expect(reply).toMatchObject({ exit_status: 124, error: "timeout" });
    expect(Date.now() - t).toBeLessThan(5_000);
    const bg = Number(fs.readFileSync(path.join(work, "bg.pid"), "utf8"));
    // Gone, or a zombie waiting for its new parent to reap it: either way no longer running.
    const state = () => (fs.existsSync(`/proc/${bg}/stat`) ? fs.readFileSync(`/proc/${bg}/stat`, "utf8").split(") ")[1]?.[0] : "gone");
    for (let i = 0; i < 20 && !["gone", "Z"].includes(state() ?? ""); i++) await new Promise((r) => setTimeout(r, 50));
    expect(["gone", "Z"]).toContain(state());
  });

  test("a task ended by a signal reports 128 + the signal number", async () => {
    const ctx = context({ STORAGE: "local", WORKDIR: mkdir("signal") });
    const { reply } = await executeJob({ executable: "/bin/sh", args: ["-c", "kill -SEGV $$"] }, "s-1", ctx);
    expect(reply).toMatchObject({ exit_status: 139, error: "signal", exceptions: ["/bin/sh was killed by SIGSEGV"] });
  });

  test("a directory that is not executable is a spawn error", async () => {
    const ctx = context({ STORAGE: "local", WORKDIR: mkdir("spawn") });
    const { reply } = await executeJob({ executable: "/tmp" }, "x-1", ctx);
    expect(reply).toMatchObject({ exit_status: -1, error: "spawn", exceptions: [expect.stringMatching(/cannot run \/tmp: not executable/)] });
  });
});

describe("output tails", () => {
  test("keep the last bytes and say how many were dropped, at a character boundary", () => {
    const t = new Tail(10);
    t.push(Buffer.from("0123456789"));
    t.push(Buffer.from("abcdé")); // é is two bytes
    expect(t.toString()).toBe("[… 6 earlier bytes not kept]\n6789abcdé");
    const cut = new Tail(3);
    cut.push(Buffer.from("aé")); // the last 3 bytes are a + é: nothing to skip
    expect(cut.toString()).toBe("aé");
    const mid = new Tail(1);
    mid.push(Buffer.from("é")); // keeping 1 byte would split é: it is dropped
    expect(mid.toString()).toBe("[… 2 earlier bytes not kept]\n");
    const zero = new Tail(0);
    zero.push(Buffer.from("abc"));
    expect(zero.toString()).toBe("[… 3 earlier bytes not kept]\n");
  });
});

describe("metrics", () => {
  test("line protocol: tags sorted and escaped, strings quoted, numbers always floats, empty tags left out", () => {
    expect(
      toLine({
        measurement: "execution_log",
        tags: { workerId: "w 1", jobId: "a,b=c", procId: undefined, hfId: "" },
        fields: { stage: 'say "hi"\\', n: 3, x: 0.5, ok: true, skip: undefined },
        time: 5n,
      }),
    ).toBe('execution_log,jobId=a\\,b\\=c,workerId=w\\ 1 stage="say \\"hi\\"\\\\",n=3.0,x=0.5,ok=true 5');
    expect(toLine({ measurement: "m", tags: {}, fields: { a: undefined }, time: 1n })).toBeUndefined();
  });

  test("an unreachable or failing InfluxDB is logged and never throws; a missing database is created once", async () => {
    const lines: string[] = [];
    const dead = new InfluxWriter(`http://127.0.0.1:${await freePort()}/db`, (l) => lines.push(l), 1_000);
    await expect(dead.write([{ measurement: "m", tags: {}, fields: { v: 1 }, time: 1n }])).resolves.toBeUndefined();
    expect(lines[0]).toMatch(/metrics: write to InfluxDB failed \(1 in a row\): .*ECONNREFUSED/);

    const seen: string[] = [];
    let created = false;
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url!.startsWith("/query")) {
        created = true;
        res.writeHead(200).end("{}");
      } else if (!created) res.writeHead(404).end('{"error":"database not found: \\"hyperflow_tests\\""}');
      else res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const w = new InfluxWriter(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hyperflow_tests`, (l) => lines.push(l));
      await w.write([{ measurement: "m", tags: {}, fields: { v: 1 }, time: 1n }]);
      expect(seen).toEqual([
        "POST /write?db=hyperflow_tests&precision=ns",
        `POST /query?q=${encodeURIComponent('CREATE DATABASE "hyperflow_tests"').replace(/%20/g, "+")}`,
        "POST /write?db=hyperflow_tests&precision=ns",
      ]);
      expect(lines).toHaveLength(1);
    } finally {
      server.close();
    }
  });
});
