/**
 * The measurement window: a warm-up, then a timed window with the CPU time of the server, of
 * this process and of the whole machine read at both ends (as bench/scenarios/_window.ts).
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { cpuSeconds, machineCpuSeconds } from "./proc.mjs";

/** A warm-up followed by a measurement window; `open` says whether samples count. */
export class MeasureWindow {
  /** True while the measurement window is open: record latency samples only then. */
  open = false;
  #serverPid;

  /** @param {number} serverPid The server's process id. */
  constructor(serverPid) {
    this.#serverPid = serverPid;
  }

  /**
   * Waits out the warm-up, then measures for `measureMs`.
   *
   * @param {number} warmupMs Load runs but is not counted.
   * @param {number} measureMs The window.
   * @param {() => number} count Reads the running operation counter.
   * @returns {Promise<Record<string, number>>} `rate` (operations/s) and the CPU figures
   *   (`server_cpu`, `load_cpu`, `other_cpu` in % of a core, `server_us` per operation).
   */
  async run(warmupMs, measureMs, count) {
    await sleep(warmupMs);
    const start = this.#snapshot(count());
    this.open = true;
    await sleep(measureMs);
    this.open = false;
    const end = this.#snapshot(count());
    const seconds = (end.time - start.time) / 1000;
    const ops = end.ops - start.ops;
    const server = end.server - start.server;
    const self = end.self - start.self;
    return {
      rate: ops / seconds,
      server_cpu: (server / seconds) * 100,
      load_cpu: (self / seconds) * 100,
      other_cpu: ((end.machine - start.machine - server - self) / seconds) * 100,
      server_us: ops > 0 ? (server / ops) * 1e6 : NaN,
    };
  }

  #snapshot(ops) {
    return {
      ops,
      time: performance.now(),
      server: cpuSeconds(this.#serverPid),
      self: cpuSeconds("self"),
      machine: machineCpuSeconds(),
    };
  }
}
