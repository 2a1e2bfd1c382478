/**
 * The dispatcher: every checked message of every connection comes here first. It owns each
 * connection's lane — the serial queue of requests without `id`, the running commands by `id` —
 * and so routes dialogue messages to their handler's `ctx.recv()`. Requests without `id` run one
 * after another per connection (as the old library did); requests with `id` run at once, up to
 * MAX_INFLIGHT per connection. pub_sub messages that are not part of a dialogue go to pub/sub.
 *
 * A message with `"dialogue": true` (extension, sent by the SDK for dialogue answers) is only
 * ever an answer: when its command has already ended it gets a 400 instead of starting the
 * command again.
 *
 * @module
 */
import type { Connection } from "../session/connection.ts";
import { ConnectionState } from "../session/connection.ts";
import type { ClientMessage, MessageId, PubSubMessage, RequestMessage } from "../wire/protocol.ts";
import { Code } from "../wire/protocol.ts";
import { errorText } from "../wire/messages.ts";
import { canCallCommand } from "../session/permissions.ts";
import { CommandRun, type RunHost } from "./command_run.ts";
import { validateArguments } from "./command.ts";
import { Lane } from "./lane.ts";

/** What the dispatcher needs from the server's wiring. */
export interface DispatchHost extends RunHost {
  /** Handles a sub, unsub or pub that is not part of a dialogue. */
  pubsub(conn: Connection, msg: PubSubMessage): void;
}

/** Routes the checked messages of every connection and owns their running commands. */
export class Dispatcher {
  readonly #host: DispatchHost;
  readonly #lanes = new Map<Connection, Lane>();

  /** @param host Commands, settings, and where pub_sub messages and replies go. */
  constructor(host: DispatchHost) {
    this.#host = host;
  }

  /** Running commands on every connection. */
  get running(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.runningCount;
    return n;
  }

  /**
   * Handles one checked message.
   *
   * @param conn The sender.
   * @param msg The message.
   */
  handle(conn: Connection, msg: ClientMessage): void {
    if (conn.state !== ConnectionState.Open) return;
    if (conn.src === undefined && typeof msg.src === "string") conn.src = msg.src;
    // No lane anywhere (only synchronous commands so far): skip the lookup.
    const lane = this.#lanes.size === 0 ? undefined : this.#lanes.get(conn);
    if (lane !== undefined) {
      const id = msg.id;
      if (id === undefined) {
        const serial = lane.serial;
        if (serial !== null) {
          if (serial.waiting) serial.deliver(msg);
          else this.#queue(conn, lane, msg);
          return;
        }
      } else {
        const running = lane.running.get(id);
        if (running !== undefined) return running.deliver(msg);
      }
    }
    if (msg.dialogue === true) {
      const which = msg.id === undefined ? "without id" : `with id ${JSON.stringify(msg.id)}`;
      return this.#reject(conn, msg, Code.BAD_REQUEST, `Not read: no running command ${which}`);
    }
    if (msg.mode === "req_res") this.#request(conn, msg as RequestMessage, lane);
    else this.#host.pubsub(conn, msg as PubSubMessage);
  }

  /**
   * Ends every command of a connection that left (their signals abort; no reply is sent).
   *
   * @param conn The connection.
   */
  drop(conn: Connection): void {
    const lane = this.#lanes.get(conn);
    if (lane === undefined) return;
    this.#lanes.delete(conn);
    lane.cancelAll(new DOMException("Client left", "AbortError"));
  }

  /**
   * Cancels every running command (server shutting down): each client still open gets a 503.
   *
   * @param reason The abort reason their signals get.
   */
  cancelAll(reason: unknown): void {
    for (const lane of [...this.#lanes.values()]) lane.cancelAll(reason);
  }

  #queue(conn: Connection, lane: Lane, msg: ClientMessage): void {
    const limit = this.#host.config.MAX_INFLIGHT;
    if (lane.queue.length >= limit) {
      this.#reject(conn, msg, Code.RATE_LIMITED, `Too many queued requests (limit ${limit})`);
      return;
    }
    lane.queue.push(msg);
  }

  /** Runs what waited behind a finished request without id, until one of them is async. */
  #drain(conn: Connection, lane: Lane): void {
    while (lane.serial === null && lane.queue.length > 0) {
      if (conn.state !== ConnectionState.Open) {
        lane.queue.length = 0;
        break;
      }
      this.handle(conn, lane.queue.shift() as ClientMessage);
    }
    if (lane.idle) this.#lanes.delete(conn);
  }

  #request(conn: Connection, msg: RequestMessage, lane: Lane | undefined): void {
    const host = this.#host;
    const command = host.commands.get(msg.command) ?? host.commands.get(msg.command.toLowerCase());
    if (command === undefined) {
      this.#reject(conn, msg, Code.NOT_FOUND, `Unknown command: ${JSON.stringify(msg.command)}`);
      return;
    }
    if (conn.auth !== undefined && !canCallCommand(conn.auth.permissions, command.name)) {
      this.#reject(conn, msg, Code.FORBIDDEN, `Forbidden: command "${command.name}"`);
      return;
    }
    const limit = host.config.MAX_INFLIGHT;
    if (msg.id !== undefined && (lane?.runningCount ?? 0) >= limit) {
      this.#reject(conn, msg, Code.RATE_LIMITED, `Too many requests in flight (limit ${limit})`);
      return;
    }
    let args: unknown = msg.args ?? [];
    let kwargs: unknown = msg.kwargs ?? {};
    if (command.args !== undefined || command.kwargs !== undefined) {
      const checked = validateArguments(command, args, kwargs);
      if (!checked.ok) {
        const { code, message, data } = checked.error;
        return this.#reject(conn, msg, code, message, data);
      }
      args = checked.args;
      kwargs = checked.kwargs;
    }
    const run = new CommandRun(host, conn, msg, command, args, kwargs);
    if (run.start()) return; // finished synchronously: no lane needed
    // The lane may be gone (an earlier run ended while this one's handler ran): look again.
    let own = this.#lanes.get(conn);
    if (own === undefined) this.#lanes.set(conn, own = new Lane());
    own.add(run, () => this.#ended(conn, run));
  }

  #ended(conn: Connection, run: CommandRun): void {
    const lane = this.#lanes.get(conn);
    if (lane === undefined) return; // the connection left
    lane.remove(run);
    if (run.id === undefined) this.#drain(conn, lane);
    else if (lane.idle) this.#lanes.delete(conn);
  }

  #reject(conn: Connection, msg: ClientMessage, code: number, text: string, data?: unknown): void {
    conn.send(errorText(this.#host.config.SERVER_SRC, msg, code, text, data));
    if (msg.mode === "req_res") {
      const known = this.#host.commands.get((msg as RequestMessage).command.toLowerCase());
      // Unknown names share one label, so a client cannot grow the metrics without bound.
      this.#host.countRequest(known?.name ?? "(unknown)", code, 0);
    }
  }
}

export type { MessageId };
