/**
 * One connection's lane in the dispatcher: the running command without `id` and the messages
 * waiting behind it, and the running commands with an `id`. Only the dispatcher makes and
 * changes lanes; a command run only takes its queued dialogue messages from its own.
 *
 * @module
 */
import type { CommandRun, RunLane } from "./command_run.ts";
import type { ClientMessage, MessageId } from "../wire/protocol.ts";

/** The running commands of one connection. */
export class Lane implements RunLane {
  /** The running command without id: later messages without id wait behind it. */
  serial: CommandRun | null = null;
  /** Messages without id waiting for `serial` to finish. */
  readonly queue: ClientMessage[] = [];
  /** Running commands with an id, by id: dialogue messages go to them. */
  readonly running = new Map<MessageId, CommandRun>();

  /** How many commands run (with or without id). */
  get runningCount(): number {
    return this.running.size + (this.serial === null ? 0 : 1);
  }

  /** Whether nothing runs or waits: the dispatcher then forgets the lane. */
  get idle(): boolean {
    return this.serial === null && this.running.size === 0 && this.queue.length === 0;
  }

  /** The next queued message without id, for a serial command's `recv()`. */
  takeQueued(): ClientMessage | undefined {
    return this.queue.shift();
  }

  /**
   * Registers an asynchronous run.
   *
   * @param run The run, still going.
   * @param onEnd Called once when it ends, however it ends.
   */
  add(run: CommandRun, onEnd: () => void): void {
    if (run.id === undefined) this.serial = run;
    else this.running.set(run.id, run);
    run.attach(this, onEnd);
  }

  /** Forgets a run that ended. */
  remove(run: CommandRun): void {
    if (run.id === undefined) {
      if (this.serial === run) this.serial = null;
    } else if (this.running.get(run.id) === run) this.running.delete(run.id);
  }

  /** Drops the waiting messages and cancels every run. */
  cancelAll(reason: unknown): void {
    this.queue.length = 0;
    this.serial?.cancel(reason);
    for (const run of [...this.running.values()]) run.cancel(reason);
  }
}
