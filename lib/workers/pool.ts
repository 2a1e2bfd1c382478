/**
 * A fixed pool of module Web Workers that run the CPU-bound functions of `workers/<name>.ts`, so
 * one slow job never stalls the event loop that serves every client. See docs/workers.md.
 *
 * @module
 */
import { CommandError } from "../wire/errors.ts";
import { type Clock, systemClock } from "../clock.ts";
import { CANCEL_SLOT } from "./api.ts";
import type { FromWorker } from "./host.ts";
import {
  type Job,
  type PoolLimits,
  poolLimits,
  type RunOptions,
  type Slot,
  type WorkerLog,
  type WorkerPoolOptions,
  type WorkerPoolStats,
} from "./pool_types.ts";
import { jobFailure, post, spawnSlot, StuckThreads, terminate } from "./slot.ts";

export type { RunOptions, WorkerLog, WorkerPoolOptions, WorkerPoolStats };

/**
 * Runs named worker functions on a fixed, lazily started pool of module workers with a bounded
 * FIFO queue, per-job timeouts and cancellation.
 *
 * Errors are `CommandError`s: 404 unknown worker, 503 queue full or pool closed, 408 timed out,
 * 500 function threw (generic message; details go to `log`) or worker crashed. A `CommandError`
 * thrown inside the worker keeps its code and message. An aborted `signal` rejects with its reason.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool(
 *   { checksum: import.meta.resolve("./workers/checksum.ts") },
 *   { size: 1, queueLimit: 64, timeoutMs: 30_000, stuckLimit: 1 },
 * );
 * const bytes = new Uint8Array(1 << 20);
 * const sum = await pool.run<number>("checksum", bytes, { transfer: [bytes.buffer] });
 * await pool.close();
 * ```
 */
export class WorkerPool {
  #modules: Record<string, string>;
  #limits: PoolLimits;
  #log: WorkerLog;
  #clock: Clock;
  #slots: Slot[] = [];
  #retiring = new Set<Slot>();
  #queue: Job[] = [];
  #stuck = new StuckThreads();
  #counts = { completed: 0, failed: 0, timedOut: 0, restarts: 0 };
  #nextId = 0;
  #closed = false;
  #drained?: () => void;

  /**
   * Starts no worker: the first `run()` does.
   *
   * @param modules Worker name → absolute module URL (the routes file's `workers`).
   * @param options Limits; see `WorkerPoolOptions` for each default and meaning.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(modules: Record<string, string>, options: WorkerPoolOptions) {
    this.#modules = modules;
    this.#limits = poolLimits(options);
    this.#log = this.#limits.log;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Runs worker `name` on `input` (structured-cloned; `transfer` moves buffers instead).
   *
   * @param name A key of the modules table.
   * @param input The worker function's first argument.
   * @param opts Transfer list, abort signal and timeout of this job.
   * @returns The function's result (returned buffers arrive moved, not copied).
   * @throws {CommandError} 404, 408, 500 or 503 as described on the class.
   */
  run<T = unknown>(name: string, input: unknown, opts: RunOptions = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new CommandError(503, "Worker pool is closed"));
    const url = Object.hasOwn(this.#modules, name) ? this.#modules[name] : undefined;
    if (url === undefined) return Promise.reject(new CommandError(404, `Unknown worker "${name}"`));
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const slot = this.#idleSlot();
    if (!slot && this.#queue.length >= this.#limits.queueLimit) {
      const waiting = this.#queue.length;
      return Promise.reject(new CommandError(503, `Worker queue is full: ${waiting} jobs waiting`));
    }
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const job: Job = {
      id: ++this.#nextId,
      name,
      url,
      input,
      transfer: opts.transfer ?? [],
      resolve: resolve as (value: unknown) => void,
      reject,
      settled: false,
    };
    const timeoutMs = opts.timeoutMs ?? this.#limits.timeoutMs;
    if (timeoutMs > 0) {
      job.timer = this.#clock.setTimeout(() => this.#timeout(job, timeoutMs), timeoutMs);
    }
    if (signal) {
      job.signal = signal;
      job.onAbort = () => this.#cancel(job, signal.reason);
      signal.addEventListener("abort", job.onAbort, { once: true });
    }
    if (slot) this.#dispatch(slot, job);
    else this.#queue.push(job);
    return promise;
  }

  /**
   * Current counters; `stuck` drops again when an abandoned thread finishes its loop.
   *
   * @returns A snapshot of the pool's state.
   */
  stats(): WorkerPoolStats {
    return {
      size: this.#limits.size,
      started: this.#slots.length,
      busy: this.#slots.filter((s) => s.job).length,
      queued: this.#queue.length,
      ...this.#counts,
      stuck: this.#stuck.count(),
    };
  }

  /** True while at least `stuckLimit` abandoned threads are still spinning: restart the process. */
  get degraded(): boolean {
    return this.#stuck.count() >= this.#limits.stuckLimit;
  }

  /**
   * Rejects queued and running jobs with 503, gives running jobs `cancelGraceMs` to stop (so
   * `stats().stuck` is accurate afterwards) and terminates every worker. If `stuck` is then above
   * 0, a thread still spins and keeps the process alive: only `Deno.exit()` ends it.
   *
   * @returns A promise that resolves once every worker is terminated.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const closing = new CommandError(503, "Worker pool is closed");
    for (const job of this.#queue.splice(0)) this.#settle(job, false, closing);
    for (const slot of [...this.#slots]) {
      if (slot.job) this.#cancel(slot.job, closing);
      else terminate(slot);
    }
    this.#slots = [];
    if (this.#retiring.size === 0) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#drained = resolve;
    return promise;
  }

  #idleSlot(): Slot | undefined {
    const idle = this.#slots.find((s) => !s.job);
    if (idle || this.#closed || this.#slots.length >= this.#limits.size) return idle;
    return this.#spawn();
  }

  #spawn(): Slot {
    const slot = spawnSlot({
      message: (slot, msg) => this.#onMessage(slot, msg),
      crash: (slot, message) => this.#crash(slot, message),
    });
    this.#slots.push(slot);
    return slot;
  }

  #dispatch(slot: Slot, job: Job) {
    const { id, name, url, input } = job;
    try {
      post(slot, { kind: "job", id, name, url, input }, job.transfer);
    } catch (err) {
      this.#counts.failed++;
      const detail = err instanceof Error ? err.message : String(err);
      const error = new CommandError(500, `Cannot send input to worker "${name}": ${detail}`);
      return void this.#settle(job, false, error);
    }
    slot.job = job;
    job.slot = slot;
  }

  #pump() {
    while (this.#queue.length > 0) {
      const slot = this.#idleSlot();
      if (!slot) return;
      this.#dispatch(slot, this.#queue.shift()!);
    }
  }

  #onMessage(slot: Slot, msg: FromWorker) {
    if (slot.dead) return;
    if (msg.kind === "crash") return this.#crash(slot, msg.message, msg.stack);
    if (slot.retiring) {
      if (msg.id !== slot.retiring.job.id) return;
      slot.retiring.answered = true;
      if (msg.kind !== "alive") this.#retire(slot, false); // the job has ended: not stuck
      return;
    }
    const job = slot.job;
    if (!job || msg.id !== job.id || msg.kind === "alive") return;
    slot.job = job.slot = undefined;
    if (msg.kind === "result") {
      this.#counts.completed++;
      this.#settle(job, true, msg.value);
    } else {
      const info = msg.kind === "error"
        ? msg.error
        : { name: "CancelledError", message: "Job was cancelled" };
      this.#counts.failed++;
      this.#settle(job, false, jobFailure(job.name, info, this.#log));
    }
    this.#pump();
  }

  #crash(slot: Slot, message: string, stack?: string) {
    if (slot.dead) return;
    const job = slot.retiring?.job ?? slot.job;
    const name = job?.name;
    const what = job ? `Worker "${name}"` : "An idle worker";
    this.#log("error", `${what} crashed: ${message}`, { worker: name, stack });
    if (slot.retiring) return this.#retire(slot, false); // its caller has had its answer
    this.#remove(slot);
    terminate(slot);
    this.#counts.restarts++;
    if (job) {
      this.#counts.failed++;
      this.#settle(job, false, new CommandError(500, `Worker "${name}" crashed`));
    }
    this.#pump();
  }

  #timeout(job: Job, ms: number) {
    if (job.settled) return;
    const error = new CommandError(408, `Worker "${job.name}" timed out after ${ms} ms`);
    this.#counts.timedOut++;
    this.#log("warn", error.message, { worker: job.name, queued: !job.slot });
    this.#cancel(job, error);
  }

  /** Answers the caller now; a running job's worker is flagged, asked to stop, then replaced. */
  #cancel(job: Job, reason: unknown) {
    if (!this.#settle(job, false, reason)) return;
    const slot = job.slot;
    if (!slot) {
      this.#queue.splice(this.#queue.indexOf(job), 1);
      return;
    }
    slot.job = job.slot = undefined;
    this.#remove(slot); // a replacement may start at once
    Atomics.store(slot.flags, CANCEL_SLOT, 1);
    const timer = this.#clock.setTimeout(
      () => this.#retire(slot, !slot.retiring?.answered),
      this.#limits.graceMs,
    );
    slot.retiring = { job, answered: false, timer };
    this.#retiring.add(slot);
    post(slot, { kind: "cancel", id: job.id });
    this.#pump();
  }

  /** Ends a cancelled job's worker; `stuck` when it never answered, so it spins in a loop. */
  #retire(slot: Slot, stuck: boolean) {
    if (slot.dead) return;
    this.#clock.clearTimeout(slot.retiring?.timer);
    this.#retiring.delete(slot);
    terminate(slot);
    if (!this.#closed) this.#counts.restarts++;
    if (stuck) {
      this.#stuck.add(slot.flags);
      const name = slot.retiring?.job.name;
      const msg = `Worker "${name}" did not stop: terminated while stuck in a synchronous loop`;
      this.#log("warn", msg, { worker: name, stuck: this.#stuck.count() });
    }
    if (this.#closed && this.#retiring.size === 0) this.#drained?.();
  }

  #remove(slot: Slot) {
    const index = this.#slots.indexOf(slot);
    if (index >= 0) this.#slots.splice(index, 1);
  }

  #settle(job: Job, ok: boolean, value: unknown): boolean {
    if (job.settled) return false;
    job.settled = true;
    this.#clock.clearTimeout(job.timer);
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    if (ok) job.resolve(value);
    else job.reject(value);
    return true;
  }
}
