/**
 * Time, owned by a server instance: every timer and clock read of the server goes through one
 * {@linkcode Clock}, so two servers in one process share nothing and tests can use a fake clock
 * instead of sleeping.
 *
 * @module
 */
import { setImmediate } from "node:timers";

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
  /**
   * Calls `fn` at the end of the current turn of the event loop: after every message read in
   * this turn has been handled, before the loop waits for more I/O.
   */
  endOfTurn(fn: () => void): void;
}

/** Deno timers are 32-bit: a longer delay is re-armed by the caller. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The real clock: `Date.now()` and the runtime's timers. The end of a turn is `setImmediate`:
 * in Deno it runs once the messages of every socket read in this turn have been dispatched (a
 * microtask would run after each message; `setTimeout(0)` a millisecond or more later).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  endOfTurn: (fn) => void setImmediate(fn),
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
