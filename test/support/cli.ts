/** The `hflow-infra` CLI run in-process, with its output captured and environment variables set for the call. */
import { main } from "../../cli/program";
import type { EngineDeps, Io } from "../../cli/context";

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `main(args)`; `env` entries are set (undefined: removed) for the call and restored after it. */
export async function runCli(args: readonly string[], env: Record<string, string | undefined> = {}, deps?: Partial<EngineDeps>): Promise<CliResult> {
  let out = "";
  let err = "";
  const io: Io = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) };
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return { code: await main([...args], io, deps), out, err };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
