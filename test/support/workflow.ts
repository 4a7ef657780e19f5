/**
 * A HyperFlow workflow.json of command processes, for tests that run the real engine
 * (hyperflow-wms/hyperflow: a dataflow process fires once its `ins` arrive and sends its `outs`).
 */

/** One task: the executable and arguments the executor runs, the files it reads and writes. */
export interface Proc {
  name: string;
  executable: string;
  args: string[];
  ins: string[];
  outs: string[];
}

/**
 * The workflow document: every process calls `fn` (e.g. "amqpCommand", or "{{function}}" for the engine
 * to template from HF_VAR_function); the workflow's inputs are the files no process writes, its outputs
 * those no process reads.
 */
export function workflowDocument(name: string, fn: string, procs: readonly Proc[]) {
  const names = [...new Set(procs.flatMap((p) => [...p.ins, ...p.outs]))];
  const produced = new Set(procs.flatMap((p) => p.outs));
  const consumed = new Set(procs.flatMap((p) => p.ins));
  return {
    name,
    processes: procs.map((p) => ({
      name: p.name,
      function: fn,
      type: "dataflow",
      firingLimit: 1,
      config: { executor: { executable: p.executable, args: p.args } },
      ins: p.ins,
      outs: p.outs,
    })),
    signals: names.map((n) => ({ name: n })),
    ins: names.filter((n) => !produced.has(n)),
    outs: names.filter((n) => !consumed.has(n)),
  };
}
