/**
 * The measurement window every load scenario uses: a warm-up, then a timed window with the CPU
 * time of the server and of the load generator read at both ends.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { cpuSeconds, machineCpuSeconds } from "../proc.ts";

/** What happened inside the window. */
export interface WindowFigures {
  /** Length of the window in seconds (measured, not planned). */
  seconds: number;
  /** Operations counted inside the window. */
  ops: number;
  /** Operations per second. */
  rate: number;
  /** Server CPU use during the window, % of one core (all its threads). */
  serverCpu: number;
  /** Load-generator CPU use during the window, % of one core. */
  loadCpu: number;
  /**
   * CPU use of everything else on the machine during the window, % of one core: other
   * processes (tests, builds) that skew the figures. Near 0 on a quiet machine.
   */
  otherCpu: number;
  /** Server CPU time per operation, microseconds. */
  serverUsPerOp: number;
}

/** A warm-up followed by a measurement window; `open` says whether samples count. */
export class MeasureWindow {
  /** True while the measurement window is open: record latency samples only then. */
  open = false;
  #serverPid: number;

  /** @param serverPid The server's process id. */
  constructor(serverPid: number) {
    this.#serverPid = serverPid;
  }

  /**
   * Waits out the warm-up, then measures for `measureMs`.
   *
   * @param warmupMs Load runs but is not counted (JIT, socket buffers, GC reach steady state).
   * @param measureMs The window.
   * @param count Reads the running operation counter.
   * @returns The figures of the window.
   */
  async run(warmupMs: number, measureMs: number, count: () => number): Promise<WindowFigures> {
    await sleep(warmupMs);
    const start = this.#snapshot(count());
    this.open = true;
    await sleep(measureMs);
    this.open = false;
    const end = this.#snapshot(count());
    const seconds = (end.time - start.time) / 1000;
    const ops = end.ops - start.ops;
    const serverCpu = end.server - start.server;
    return {
      seconds,
      ops,
      rate: ops / seconds,
      serverCpu: (serverCpu / seconds) * 100,
      loadCpu: ((end.self - start.self) / seconds) * 100,
      otherCpu: ((end.machine - start.machine - serverCpu - (end.self - start.self)) / seconds) *
        100,
      serverUsPerOp: ops > 0 ? (serverCpu / ops) * 1e6 : NaN,
    };
  }

  #snapshot(ops: number) {
    return {
      ops,
      time: performance.now(),
      server: cpuSeconds(this.#serverPid),
      self: cpuSeconds("self"),
      machine: machineCpuSeconds(),
    };
  }
}

/**
 * The CPU figures of a window as metrics (keys `server_cpu`, `load_cpu`, `other_cpu`,
 * `server_us`).
 *
 * @param w The window's figures.
 * @returns Metrics to merge into a scenario's result.
 */
export function cpuMetrics(w: WindowFigures): Record<string, number> {
  return {
    server_cpu: w.serverCpu,
    load_cpu: w.loadCpu,
    other_cpu: w.otherCpu,
    server_us: w.serverUsPerOp,
  };
}
