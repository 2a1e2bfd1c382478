/**
 * Time, owned by a server instance: every timer and clock read of the server goes through one
 * {@linkcode Clock}, so two servers in one process share nothing and tests can use a fake clock
 * instead of sleeping.
 *
 * @module
 */

/** A timer handle of a {@linkcode Clock} (opaque: only its clock understands it). */
export type TimerId = unknown;

/** The time source and timers of one server. */
export interface Clock {
  /** Milliseconds since the epoch (`Date.now()` for the system clock). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer; `undefined` and finished timers are ignored. */
  clearTimeout(id: TimerId | undefined): void;
}

/** Deno timers are 32-bit: a longer delay is re-armed by the caller. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The real clock: `Date.now()` and the runtime's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout> | undefined),
};

/**
 * Resolves after `ms` milliseconds of the given clock.
 *
 * @param clock The clock.
 * @param ms How long to wait.
 * @returns A promise that resolves then.
 */
export function delay(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
