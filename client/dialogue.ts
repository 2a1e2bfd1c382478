/**
 * A multi-turn dialogue with one running command: its replies in order, answers sent with the
 * same `id` (the server hands them to the handler's `ctx.recv()`), and the final result.
 *
 * @module
 */
import { type Deferred, deferred } from "./_deferred.ts";
import { SwitchboardError } from "./errors.ts";
import type { MessageId, Reply } from "./types.ts";

/**
 * A running dialogue, from `client.dialogue(command)`.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 *
 * const sb = connect("ws://127.0.0.1:18887/");
 * const d = sb.dialogue("wizard");
 * console.log((await d.next()).msg); // "What is your name? Reply with kwargs.name"
 * d.send({ name: "jw" });
 * console.log(await d.done); // { name: "jw" }
 * await sb.close();
 * ```
 */
export interface Dialogue<T = unknown> {
  /** The dialogue's id, on every message of it. */
  readonly id: MessageId;
  /**
   * The next reply, intermediate or final, in order.
   *
   * @returns The reply; rejects with the dialogue's error (a non-200 final reply, a timeout, a lost
   * connection), or with "Dialogue is over" after the final reply was taken.
   */
  next(): Promise<Reply>;
  /**
   * Answers the handler's `ctx.recv()`: sends a request with the dialogue's id and command.
   *
   * @param kwargs The answer's `kwargs`.
   * @param args The answer's `args`.
   * @throws {Error} When the dialogue is over (a late answer would start the command again).
   * @throws {SwitchboardError} 503 when the client is closed or its send queue is full.
   */
  send(kwargs?: Record<string, unknown>, args?: unknown[]): void;
  /** The final reply's `data`; rejects like `call` does. */
  readonly done: Promise<T>;
}

/** The dialogue and the client's handles to feed it. */
export interface DialogueControl<T> {
  dialogue: Dialogue<T>;
  /** Feeds a reply with the dialogue's id; returns true when it was the final one. */
  reply(reply: Reply): boolean;
  /** Ends the dialogue with an error. */
  fail(err: unknown): void;
}

/**
 * Makes a dialogue; the client feeds it the replies with its id.
 *
 * @param id The dialogue's id.
 * @param write Sends an answer (the client adds mode, action, src, id and command).
 * @returns The dialogue and its control handles.
 */
export function openDialogue<T>(
  id: MessageId,
  write: (answer: { kwargs?: Record<string, unknown>; args?: unknown[] }) => void,
): DialogueControl<T> {
  const replies: Reply[] = [];
  const waiters: Deferred<Reply>[] = [];
  const done = deferred<T>();
  let over = false;
  let error: unknown;

  const fail = (err: unknown) => {
    if (over) return;
    over = true;
    error = err;
    for (const w of waiters.splice(0)) w.reject(err);
    done.reject(err);
  };

  const dialogue: Dialogue<T> = {
    id,
    done: done.promise,
    next() {
      const reply = replies.shift();
      if (reply !== undefined) return Promise.resolve(reply);
      if (over) return Promise.reject(error ?? new Error("Dialogue is over"));
      const w = deferred<Reply>();
      waiters.push(w);
      return w.promise;
    },
    send(kwargs, args) {
      if (over) throw new Error("Dialogue is over");
      write({ kwargs, args });
    },
  };

  return {
    dialogue,
    fail,
    reply(reply) {
      const final = reply.more !== true;
      if (final && reply.code !== 200) {
        fail(SwitchboardError.from(reply));
        return true;
      }
      const w = waiters.shift();
      if (w !== undefined) w.resolve(reply);
      else replies.push(reply);
      if (final) {
        over = true;
        for (const rest of waiters.splice(0)) rest.reject(new Error("Dialogue is over"));
        done.resolve(reply.data as T);
      }
      return final;
    },
  };
}
