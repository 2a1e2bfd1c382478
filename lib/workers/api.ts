/**
 * What a worker module (`workers/<name>.ts`) imports: the type of its default export, the context
 * it receives, the cancellation error, `CommandError` and the `transfer()` helper for results.
 * This file runs inside the worker thread, so it imports nothing heavier than lib/wire/errors.ts
 * (import it rather than lib/mod.ts, which would load the whole server into every worker).
 *
 * @example
 * ```ts
 * // workers/checksum.ts
 * import { defineWorker } from "../lib/workers/api.ts";
 *
 * export default defineWorker((bytes: Uint8Array, ctx) => {
 *   let sum = 0;
 *   for (let i = 0; i < bytes.length; i++) {
 *     if ((i & 0xffff) === 0) ctx.throwIfCancelled(); // cheap: one atomic read per 64 KiB
 *     sum = (sum + bytes[i]) >>> 0;
 *   }
 *   return sum;
 * });
 * ```
 *
 * @module
 */

/**
 * Throw one from a worker function to send its code and message to the client (for example
 * `new CommandError(400, "Image is empty")`); anything else thrown becomes a 500.
 */
export { CommandError } from "../wire/errors.ts";

/** Slot of the shared `Int32Array` that the pool sets to 1 when the running job is cancelled. */
export const CANCEL_SLOT = 0;
/** Slot of the shared `Int32Array` that the worker holds at 1 while a job runs. */
export const BUSY_SLOT = 1;

/** The second argument of a worker function. */
export interface WorkerContext {
  /** The worker's name (`workers/<name>.ts` → `"<name>"`). */
  readonly name: string;
  /**
   * Aborted when the job is cancelled (caller aborted or timed out). Only fires while the worker's
   * event loop is free, so it serves async work (`fetch`, timers); loops use `cancelled()`.
   */
  readonly signal: AbortSignal;
  /** True once the job is cancelled. One atomic read: cheap enough to call inside hot loops. */
  cancelled(): boolean;
  /**
   * Throws a `CancelledError` if the job is cancelled.
   *
   * @throws {CancelledError} When the job was cancelled.
   */
  throwIfCancelled(): void;
}

/**
 * The default export of a worker module: gets the (structured-cloned) input and returns the
 * output, or a promise of it.
 */
export type WorkerFunction<I = unknown, O = unknown> = (
  input: I,
  ctx: WorkerContext,
) => O | Promise<O>;

/**
 * Identity helper that only exists for type inference of the context argument.
 *
 * @param fn The worker function.
 * @returns `fn` unchanged.
 * @example
 * ```ts
 * export default defineWorker((n: number) => n * 2);
 * ```
 */
export function defineWorker<I, O>(fn: WorkerFunction<I, O>): WorkerFunction<I, O> {
  return fn;
}

/** Thrown by `ctx.throwIfCancelled()`; the pool treats it as an acknowledged cancellation. */
export class CancelledError extends Error {
  /** @param message Why the job stopped. */
  constructor(message = "Job was cancelled") {
    super(message);
    this.name = "CancelledError";
  }
}

/** Marks a result whose buffers must be moved to the caller instead of copied. */
export const TRANSFER: unique symbol = Symbol.for("switchboard.worker.transfer");

/** A result wrapped by `transfer()`. */
export interface TransferResult<T> {
  /** The buffers to move. */
  readonly [TRANSFER]: Transferable[];
  /** The result the caller gets. */
  readonly value: T;
}

/**
 * Wraps a result so that the listed buffers are moved to the caller (no copy). Only needed for
 * buffers nested inside a result: a returned `ArrayBuffer`, or a typed array that spans its whole
 * buffer, is moved automatically.
 *
 * @param value The result the caller gets.
 * @param list Buffers inside `value` to move; the worker must not use them afterwards.
 * @returns A wrapper the worker host unwraps before posting.
 * @example
 * ```ts
 * export default (input: { width: number }) => {
 *   const pixels = new Uint8Array(input.width * 4);
 *   return transfer({ width: input.width, pixels }, [pixels.buffer]);
 * };
 * ```
 */
export function transfer<T>(value: T, list: Transferable[]): TransferResult<T> {
  return { [TRANSFER]: list, value };
}

/**
 * Builds the context of one job.
 *
 * @param name The worker's name.
 * @param flags The worker's shared flags (see `CANCEL_SLOT`).
 * @param signal Aborted by the host when the pool sends a cancel message.
 * @returns The context passed to the worker function.
 */
export function createContext(name: string, flags: Int32Array, signal: AbortSignal): WorkerContext {
  const cancelled = () => Atomics.load(flags, CANCEL_SLOT) !== 0;
  return {
    name,
    signal,
    cancelled,
    throwIfCancelled() {
      if (cancelled()) throw new CancelledError();
    },
  };
}
