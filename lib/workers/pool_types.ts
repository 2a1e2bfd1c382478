/**
 * The types of the worker pool: its options and counters, and the job and slot records it keeps.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";

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
  /** The timers of job time limits and cancellations. Default: the system clock. */
  clock?: Clock;
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

/** One `run()` call, from the queue to its answer. */
export interface Job {
  id: number;
  name: string;
  url: string;
  input: unknown;
  transfer: Transferable[];
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
  timer?: TimerId;
  slot?: Slot;
  settled: boolean;
}

/** One worker thread of the pool. */
export interface Slot {
  worker: Worker;
  flags: Int32Array;
  job?: Job;
  dead: boolean;
  /** Set after a cancellation while the pool waits for the job to answer. */
  retiring?: { job: Job; answered: boolean; timer: TimerId };
}

/** The pool's options, checked, with their defaults. */
export interface PoolLimits {
  size: number;
  queueLimit: number;
  timeoutMs: number;
  stuckLimit: number;
  graceMs: number;
  log: WorkerLog;
}

const defaultLog: WorkerLog = (level, msg, extra) =>
  extra ? console[level](msg, extra) : console[level](msg);

/**
 * Checks the pool's options and fills in the defaults.
 *
 * @param options The options given to `new WorkerPool()`.
 * @returns The limits.
 * @throws {RangeError} When an option is out of range.
 */
export function poolLimits(options: WorkerPoolOptions): PoolLimits {
  return {
    size: checkInt("size", options.size, 1),
    queueLimit: checkInt("queueLimit", options.queueLimit, 0),
    timeoutMs: checkInt("timeoutMs", options.timeoutMs, 0),
    stuckLimit: checkInt("stuckLimit", options.stuckLimit, 1),
    graceMs: checkInt("cancelGraceMs", options.cancelGraceMs ?? 250, 0),
    log: options.log ?? defaultLog,
  };
}

function checkInt(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Invalid worker pool option "${name}": expected an integer of at least ${min}`,
    );
  }
  return value;
}
