/**
 * One worker thread of the pool: started on the generic host script, with the shared flags the
 * job polls for cancellation, and its errors kept from taking the process down.
 *
 * @module
 */
import { BUSY_SLOT } from "./api.ts";
import type { FromWorker, ToWorker, WorkerErrorInfo } from "./host.ts";
import type { Slot, WorkerLog } from "./pool_types.ts";
import { CommandError } from "../wire/errors.ts";

const HOST_URL = new URL("./host.ts", import.meta.url).href;

/** Where a slot's events go (the pool). */
export interface SlotEvents {
  message(slot: Slot, msg: FromWorker): void;
  crash(slot: Slot, message: string): void;
}

/**
 * Starts a worker on the host script and sends it its flags.
 *
 * @param events Where its messages and crashes go.
 * @returns The new slot, idle.
 */
export function spawnSlot(events: SlotEvents): Slot {
  const worker = new Worker(HOST_URL, { type: "module", name: "switchboard-worker" });
  const slot: Slot = { worker, flags: new Int32Array(new SharedArrayBuffer(8)), dead: false };
  worker.onmessage = (e: MessageEvent<FromWorker>) => events.message(slot, e.data);
  worker.onerror = (e) => {
    e.preventDefault(); // otherwise the error takes the whole process down
    events.crash(slot, e.message);
  };
  worker.onmessageerror = () => events.crash(slot, "Cannot read a message from the worker");
  post(slot, { kind: "init", flags: slot.flags });
  return slot;
}

/** Sends a message to a slot's worker. */
export function post(slot: Slot, msg: ToWorker, transfer: Transferable[] = []): void {
  slot.worker.postMessage(msg, transfer);
}

/** Terminates a slot's worker (a thread stuck in a synchronous loop keeps running; see docs). */
export function terminate(slot: Slot): void {
  slot.dead = true;
  slot.worker.terminate();
}

/** Terminated workers whose thread may still spin in a synchronous loop. */
export class StuckThreads {
  #flags: Int32Array[] = [];

  /** Remembers a thread that did not answer its cancellation. */
  add(flags: Int32Array): void {
    this.#flags.push(flags);
  }

  /** Threads still inside their job: an abandoned thread clears its busy flag when it ends. */
  count(): number {
    this.#flags = this.#flags.filter((flags) => Atomics.load(flags, BUSY_SLOT) !== 0);
    return this.#flags.length;
  }
}

/**
 * The error a job's caller gets when its function threw: a `CommandError` thrown in the worker
 * keeps its code; anything else is a generic 500 and its details go to the log.
 */
export function jobFailure(name: string, info: WorkerErrorInfo, log: WorkerLog): CommandError {
  if (info.code !== undefined) return new CommandError(info.code, info.message, info.data);
  log("error", `Worker "${name}" failed: ${info.message}`, { worker: name, stack: info.stack });
  return new CommandError(500, `Worker "${name}" failed`);
}
