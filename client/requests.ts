/**
 * Requests in flight, without the socket's life cycle: pending requests by id, the bounded queue
 * of what could not be sent yet, local time limits and abort signals. The client gives it the
 * open socket, takes it away on a drop, and closes it for good.
 *
 * @module
 */
import { SwitchboardError } from "./errors.ts";
import type { Message, MessageId } from "./types.ts";

/** What a request does with the messages that carry its id. */
export interface RequestHandlers {
  /** Handles a message; returns true when it was the last one. */
  receive(msg: Message): boolean;
  /** Ends the request with an error (time limit, abort, client closed, lost connection). */
  fail(err: unknown): void;
  /** The socket it went out on closed (default: `fail` with 503 "Connection lost"). */
  drop?(): void;
}

/** A local time limit and an abort signal. */
export interface RequestLimits {
  /** Milliseconds; 0 for none (default: the client's). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Pending {
  /** Whether it went out on the current socket (else it is still queued). */
  sent: boolean;
  receive(msg: Message): void;
  drop(): void;
  fail(err: unknown): void;
}

/**
 * The requests of one client.
 *
 * @example
 * ```ts
 * import { Requests } from "./requests.ts";
 *
 * const requests = new Requests({ maxQueue: 10 });
 * requests.start(1, { mode: "req_res", action: "req", id: 1, command: "web" }, "Call", {}, {
 *   receive: (msg) => (console.log(msg.code), true),
 *   fail: (err) => console.error(err),
 * }); // queued until `open(socket)`
 * ```
 */
export class Requests {
  #pending = new Map<MessageId, Pending>();
  /** Ids given up locally (time limit, abort): their late replies are dropped. */
  #ignored = new Set<MessageId>();
  #queue: { id: MessageId; text: string }[] = [];
  #socket: { send(text: string): void } | undefined;
  #closed = false;
  #maxQueue: number;
  #timeoutMs: number | undefined;

  /**
   * @param options `maxQueue`: most messages held while not open; `timeoutMs`: the default limit.
   */
  constructor(options: { maxQueue: number; timeoutMs?: number }) {
    this.#maxQueue = options.maxQueue;
    this.#timeoutMs = options.timeoutMs;
  }

  /**
   * Sends a message and feeds the messages with its id to `on` until one is the last.
   *
   * @param id The message's id.
   * @param message The message (with that id).
   * @param what How time-limit errors name it: `Call "x"`.
   * @param limits Time limit and abort signal.
   * @param on What to do with the messages and errors.
   */
  start(
    id: MessageId,
    message: Record<string, unknown>,
    what: string,
    limits: RequestLimits,
    on: RequestHandlers,
  ): void {
    const { signal } = limits;
    const timeoutMs = limits.timeoutMs ?? this.#timeoutMs;
    if (signal?.aborted) return on.fail(signal.reason);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const end = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#pending.delete(id);
      this.#unqueue(id);
    };
    const giveUp = (err: unknown) => {
      if (pending.sent) this.#ignored.add(id);
      end();
      on.fail(err);
    };
    const onAbort = () => giveUp(signal?.reason);
    const pending: Pending = {
      sent: false,
      receive: (msg) => on.receive(msg) && end(),
      drop: () => {
        end();
        if (on.drop) on.drop();
        else on.fail(new SwitchboardError(503, "Connection lost"));
      },
      fail: (err) => (end(), on.fail(err)),
    };
    this.#pending.set(id, pending);
    if (timeoutMs !== undefined && timeoutMs > 0) {
      const err = new SwitchboardError(408, `${what} timed out after ${timeoutMs} ms`);
      timer = setTimeout(() => giveUp(err), timeoutMs);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      this.write(JSON.stringify(message), id);
    } catch (err) {
      pending.fail(err);
    }
  }

  /**
   * Sends on the open socket, else queues.
   *
   * @param text The serialised message.
   * @param id The request it belongs to.
   * @throws {SwitchboardError} 503 when closed or when the queue is full.
   */
  write(text: string, id: MessageId): void {
    if (this.#socket !== undefined) {
      this.#socket.send(text);
      const pending = this.#pending.get(id);
      if (pending !== undefined) pending.sent = true;
      return;
    }
    if (this.#closed) throw new SwitchboardError(503, "Client closed");
    if (this.#queue.length >= this.#maxQueue) {
      throw new SwitchboardError(503, `Send queue is full (${this.#maxQueue} messages)`);
    }
    this.#queue.push({ id, text });
  }

  /**
   * Hands a message with an id to its request.
   *
   * @param msg A message from the server.
   * @returns True when it belonged to a request (or to one given up).
   */
  route(msg: Message): boolean {
    const id = msg.id;
    if (id === undefined) return false;
    const pending = this.#pending.get(id);
    if (pending !== undefined) {
      pending.receive(msg);
      return true;
    }
    if (!this.#ignored.has(id)) return false;
    if (msg.more !== true) this.#ignored.delete(id);
    return true;
  }

  /**
   * A socket opened: sends on it from now on, the queue first.
   *
   * @param socket The open socket.
   * @param before Runs before the queue is sent (the client restores its subscriptions there).
   */
  open(socket: { send(text: string): void }, before?: () => void): void {
    this.#socket = socket;
    before?.();
    const queue = this.#queue;
    this.#queue = [];
    for (const { id, text } of queue) this.write(text, id);
  }

  /** The socket closed: what went out on it is dropped; what is queued waits for the next. */
  lost(): void {
    this.#socket = undefined;
    this.#ignored.clear();
    for (const pending of [...this.#pending.values()]) if (pending.sent) pending.drop();
  }

  /** No socket will come: fails everything pending or queued with `err`, and later writes. */
  close(err: SwitchboardError): void {
    this.#socket = undefined;
    this.#closed = true;
    for (const pending of [...this.#pending.values()]) pending.fail(err);
    this.#queue = [];
  }

  #unqueue(id: MessageId): void {
    if (this.#queue.some((e) => e.id === id)) this.#queue = this.#queue.filter((e) => e.id !== id);
  }
}
