/**
 * A description of the machine and runtime, printed with the results: figures mean little
 * without it.
 *
 * @module
 */

/** The machine and runtime a benchmark ran on. */
export interface Machine {
  /** CPU model from /proc/cpuinfo. */
  cpu: string;
  /** Logical cores. */
  cores: number;
  /** Total memory, GiB. */
  memoryGiB: number;
  /** Kernel release. */
  kernel: string;
  deno: string;
  v8: string;
  /** Load average (1 min) when the run started: other work on the machine skews figures. */
  loadAverage: number;
  /** Open-file limit of this process (servers and load generator inherit it). */
  openFiles: string;
}

/**
 * Describes this machine.
 *
 * @returns The description; fields that cannot be read say "unknown".
 */
export function describeMachine(): Machine {
  const cpuinfo = read("/proc/cpuinfo");
  const meminfo = read("/proc/meminfo");
  const memKb = Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? NaN);
  return {
    cpu: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round((memKb / 1024 / 1024) * 10) / 10,
    kernel: read("/proc/sys/kernel/osrelease").trim() || "unknown",
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    loadAverage: Deno.loadavg()[0],
    openFiles: openFileLimit(),
  };
}

function read(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function openFileLimit(): string {
  const line = read("/proc/self/limits").split("\n").find((l) => l.startsWith("Max open files"));
  return line?.split(/\s{2,}/)[1] ?? "unknown";
}
