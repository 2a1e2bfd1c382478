/**
 * A fixed pool of module Web Workers that run the CPU-bound functions of `workers/<name>.ts`, so
 * one slow job never stalls the event loop that serves every client. See docs/workers.md.
 *
 * @module
 */
import { CommandError } from "../wire/errors.ts";
import { BUSY_SLOT, CANCEL_SLOT } from "./api.ts";
import type { FromWorker, ToWorker, WorkerErrorInfo } from "./host.ts";

const HOST_URL = new URL("./host.ts", import.meta.url).href;

/** Where the pool reports worker failures, timeouts and stuck threads. */
export type WorkerLog = (
  level: "warn" | "error",
  msg: string,
  extra?: Record<string, unknown>,
) => void;

/** Options of `new WorkerPool()`. */
export interface WorkerPoolOptions {
  /** Most workers running at once (config `WORKERS`: cores − 1, at least 1). Integer ≥ 1. */
  size: number;
  /** Most jobs waiting for a free worker; one more gets a 503. Integer ≥ 0. */
  queueLimit: number;
  /** Default limit of one `run()`, queue wait included; past it the caller gets a 408. 0 = none. */
  timeoutMs: number;
  /** `degraded` turns true once this many abandoned threads are still stuck. Integer ≥ 1. */
  stuckLimit: number;
  /**
   * How long a cancelled job's worker may take to answer before it is counted as stuck in a
   * synchronous loop (it is terminated either way). Default 250.
   */
  cancelGraceMs?: number;
  /** Receives failures with details (worker messages, stacks). Default: `console.warn`/`error`. */
  log?: WorkerLog;
}

/** Options of one `run()`. */
export interface RunOptions {
  /** Buffers in `input` to move to the worker instead of copying; detached for the caller. */
  transfer?: Transferable[];
  /** Aborting drops the job from the queue, or terminates and replaces its worker. */
  signal?: AbortSignal;
  /** Overrides the pool's `timeoutMs` for this job (0 = none). */
  timeoutMs?: number;
}

/** Counters returned by `WorkerPool.stats()`. */
export interface WorkerPoolStats {
  /** Configured pool size. */
  size: number;
  /** Workers alive and available to the pool. */
  started: number;
  /** Workers running a job. */
  busy: number;
  /** Jobs waiting for a worker. */
  queued: number;
  /** Jobs that returned a result. */
  completed: number;
  /** Jobs whose function threw, whose worker crashed or whose input could not be sent. */
  failed: number;
  /** Jobs answered with 408. */
  timedOut: number;
  /** Workers terminated after a crash or a cancellation (replaced when next needed). */
  restarts: number;
  /** Terminated workers whose thread is still inside its job (a busy CPU core each). */
  stuck: number;
}

interface Job {
  id: number;
  name: string;
  url: string;
  input: unknown;
  transfer: Transferable[];
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
  timer?: ReturnType<typeof setTimeout>;
  slot?: Slot;
  settled: boolean;
}

interface Slot {
  worker: Worker;
  flags: Int32Array;
  job?: Job;
  dead: boolean;
  /** Set after a cancellation while the pool waits for the job to answer. */
  retiring?: { job: Job; answered: boolean; timer: ReturnType<typeof setTimeout> };
}

const defaultLog: WorkerLog = (level, msg, extra) =>
  extra ? console[level](msg, extra) : console[level](msg);

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
  #size: number;
  #queueLimit: number;
  #timeoutMs: number;
  #stuckLimit: number;
  #graceMs: number;
  #log: WorkerLog;
  #slots: Slot[] = [];
  #retiring = new Set<Slot>();
  #queue: Job[] = [];
  #stuck: Int32Array[] = [];
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
    this.#size = checkInt("size", options.size, 1);
    this.#queueLimit = checkInt("queueLimit", options.queueLimit, 0);
    this.#timeoutMs = checkInt("timeoutMs", options.timeoutMs, 0);
    this.#stuckLimit = checkInt("stuckLimit", options.stuckLimit, 1);
    this.#graceMs = checkInt("cancelGraceMs", options.cancelGraceMs ?? 250, 0);
    this.#log = options.log ?? defaultLog;
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
    if (!slot && this.#queue.length >= this.#queueLimit) {
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
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    if (timeoutMs > 0) job.timer = setTimeout(() => this.#timeout(job, timeoutMs), timeoutMs);
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
      size: this.#size,
      started: this.#slots.length,
      busy: this.#slots.filter((s) => s.job).length,
      queued: this.#queue.length,
      ...this.#counts,
      stuck: this.#stuckCount(),
    };
  }

  /** True while at least `stuckLimit` abandoned threads are still spinning: restart the process. */
  get degraded(): boolean {
    return this.#stuckCount() >= this.#stuckLimit;
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
      else this.#terminate(slot);
    }
    this.#slots = [];
    if (this.#retiring.size === 0) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#drained = resolve;
    return promise;
  }

  #idleSlot(): Slot | undefined {
    const idle = this.#slots.find((s) => !s.job);
    if (idle || this.#closed || this.#slots.length >= this.#size) return idle;
    return this.#spawn();
  }

  #spawn(): Slot {
    const worker = new Worker(HOST_URL, { type: "module", name: "switchboard-worker" });
    const slot: Slot = { worker, flags: new Int32Array(new SharedArrayBuffer(8)), dead: false };
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.#onMessage(slot, e.data);
    worker.onerror = (e) => {
      e.preventDefault(); // otherwise the error takes the whole process down
      this.#crash(slot, e.message);
    };
    worker.onmessageerror = () => this.#crash(slot, "Cannot read a message from the worker");
    this.#post(slot, { kind: "init", flags: slot.flags });
    this.#slots.push(slot);
    return slot;
  }

  #post(slot: Slot, msg: ToWorker, transfer: Transferable[] = []) {
    slot.worker.postMessage(msg, transfer);
  }

  #dispatch(slot: Slot, job: Job) {
    const { id, name, url, input } = job;
    try {
      this.#post(slot, { kind: "job", id, name, url, input }, job.transfer);
    } catch (err) {
      this.#counts.failed++;
      const detail = err instanceof Error ? err.message : String(err);
      this.#settle(
        job,
        false,
        new CommandError(500, `Cannot send input to worker "${name}": ${detail}`),
      );
      return;
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
      this.#settle(job, false, this.#failure(job.name, info));
    }
    this.#pump();
  }

  #failure(name: string, info: WorkerErrorInfo): CommandError {
    if (info.code !== undefined) return new CommandError(info.code, info.message, info.data);
    this.#log("error", `Worker "${name}" failed: ${info.message}`, {
      worker: name,
      stack: info.stack,
    });
    return new CommandError(500, `Worker "${name}" failed`);
  }

  #crash(slot: Slot, message: string, stack?: string) {
    if (slot.dead) return;
    const job = slot.retiring?.job ?? slot.job;
    const name = job?.name;
    const what = job ? `Worker "${name}"` : "An idle worker";
    this.#log("error", `${what} crashed: ${message}`, { worker: name, stack });
    if (slot.retiring) return this.#retire(slot, false); // its caller has had its answer
    this.#remove(slot);
    this.#terminate(slot);
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
    const timer = setTimeout(() => this.#retire(slot, !slot.retiring?.answered), this.#graceMs);
    slot.retiring = { job, answered: false, timer };
    this.#retiring.add(slot);
    this.#post(slot, { kind: "cancel", id: job.id });
    this.#pump();
  }

  /** Ends a cancelled job's worker; `stuck` when it never answered, so it spins in a loop. */
  #retire(slot: Slot, stuck: boolean) {
    if (slot.dead) return;
    clearTimeout(slot.retiring?.timer);
    this.#retiring.delete(slot);
    this.#terminate(slot);
    if (!this.#closed) this.#counts.restarts++;
    if (stuck) {
      this.#stuck.push(slot.flags);
      const name = slot.retiring?.job.name;
      const msg = `Worker "${name}" did not stop: terminated while stuck in a synchronous loop`;
      this.#log("warn", msg, { worker: name, stuck: this.#stuckCount() });
    }
    if (this.#closed && this.#retiring.size === 0) this.#drained?.();
  }

  #terminate(slot: Slot) {
    slot.dead = true;
    slot.worker.terminate();
  }

  #remove(slot: Slot) {
    const index = this.#slots.indexOf(slot);
    if (index >= 0) this.#slots.splice(index, 1);
  }

  #settle(job: Job, ok: boolean, value: unknown): boolean {
    if (job.settled) return false;
    job.settled = true;
    clearTimeout(job.timer);
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    if (ok) job.resolve(value);
    else job.reject(value);
    return true;
  }

  /** Abandoned threads clear their busy flag when their loop ends; only count those still in it. */
  #stuckCount(): number {
    this.#stuck = this.#stuck.filter((flags) => Atomics.load(flags, BUSY_SLOT) !== 0);
    return this.#stuck.length;
  }
}

function checkInt(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Invalid worker pool option "${name}": expected an integer of at least ${min}`,
    );
  }
  return value;
}
