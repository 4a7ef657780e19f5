/**
 * CPU accounting for the benchmarks, from what Linux keeps: /proc/stat for the whole machine,
 * /proc/<pid>/stat for one process (utime + stime, and with `children` the waited-for children's
 * cutime + cstime), and a container's cgroup (v2 `cpu.stat` usage_usec, v1 `cpuacct.usage`) for
 * everything in it. All in seconds of CPU; undefined when the process or cgroup is gone.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

let ticks: number | undefined;
/** Clock ticks per second of /proc's times (`getconf CLK_TCK`, 100 on Linux). */
function clockTicks(): number {
  if (ticks === undefined) {
    const n = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim());
    ticks = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/** Busy CPU time of the whole machine so far, all cores (user, nice, system, irq, softirq; not steal, the time a VM did not get). */
export function machineBusySeconds(): number {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6]) / clockTicks();
}

/** CPU time of process `pid` (with `children`: also of its children that it has waited for). */
export function processSeconds(pid: number, children = false): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command name in parentheses (which may hold spaces): utime is the 12th of them.
  const f = stat
    .slice(stat.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  return (f[11] + f[12] + (children ? f[13] + f[14] : 0)) / clockTicks();
}

/**
 * The file holding the CPU time of the cgroup of process `pid` (a container's first process: the
 * container). Resolve it while the process runs: an exiting process reads as in the root cgroup.
 */
export function cgroupUsageFile(pid: number, root = "/sys/fs/cgroup"): string | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
  } catch {
    return undefined;
  }
  // cgroup v2: "0::<path>", cpu.stat's usage_usec; v1: "<n>:cpu,cpuacct:<path>", cpuacct.usage in ns.
  const v1 = lines.find((l) => l.split(":")[1]?.split(",").includes("cpuacct"));
  if (v1) return v1.split(":")[2] === "/" ? undefined : path.join(root, "cpuacct", v1.split(":")[2], "cpuacct.usage");
  const v2 = lines.find((l) => l.startsWith("0::"));
  if (v2) return v2.slice(3) === "/" ? undefined : path.join(root, v2.slice(3), "cpu.stat");
  return undefined;
}

/** Seconds of CPU in a file from `cgroupUsageFile`, or undefined when the cgroup is gone. */
export function cgroupSeconds(file: string | undefined): number | undefined {
  if (file === undefined) return undefined;
  try {
    const text = fs.readFileSync(file, "utf8");
    if (file.endsWith("cpuacct.usage")) return Number(text.trim()) / 1e9;
    const m = /^usage_usec (\d+)$/m.exec(text);
    return m ? Number(m[1]) / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** The sum of `xs`, or undefined when any is (a process or cgroup that is gone). */
export function total(xs: readonly (number | undefined)[]): number | undefined {
  let sum = 0;
  for (const x of xs) {
    if (x === undefined) return undefined;
    sum += x;
  }
  return sum;
}

/** Sum of `processSeconds` over `pids`; undefined when any is gone. */
export function processesSeconds(pids: readonly number[]): number | undefined {
  return total(pids.map((p) => processSeconds(p)));
}
