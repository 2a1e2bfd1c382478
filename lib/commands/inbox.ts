/**
 * A running command's dialogue inbox: the messages of its dialogue that arrived before the
 * handler asked for them, and the handler's pending `ctx.recv()`.
 *
 * @module
 */
import type { ClientMessage } from "../wire/protocol.ts";

/** Dialogue messages kept for a handler that has not called recv() yet. */
export const MAX_INBOX = 64;

/** The messages of one dialogue on their way to `ctx.recv()`. */
export class Inbox {
  #queued: ClientMessage[] | undefined;
  #waiter: PromiseWithResolvers<ClientMessage> | undefined;

  /** True while the handler waits in `recv()`. */
  get waiting(): boolean {
    return this.#waiter !== undefined;
  }

  /**
   * The next message: a queued one, else the next to arrive.
   *
   * @param take Where a serial command takes the next message (its lane's queue), if any.
   */
  next(take?: () => ClientMessage | undefined): Promise<ClientMessage> {
    const queued = take !== undefined ? take() : this.#queued?.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    this.#waiter = Promise.withResolvers<ClientMessage>();
    return this.#waiter.promise;
  }

  /**
   * Hands a message to the waiting `recv()`, or keeps it.
   *
   * @returns false when the inbox is full and the message was not kept.
   */
  put(msg: ClientMessage): boolean {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve(msg);
      return true;
    }
    const queued = this.#queued ??= [];
    if (queued.length >= MAX_INBOX) return false;
    queued.push(msg);
    return true;
  }

  /**
   * Ends the dialogue: a pending `recv()` rejects with `reason`.
   *
   * @returns The messages that were never read.
   */
  close(reason: unknown): ClientMessage[] {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter !== undefined) {
      waiter.reject(reason);
      waiter.promise.catch(() => {});
    }
    const unread = this.#queued ?? [];
    this.#queued = undefined;
    return unread;
  }
}
