/**
 * One running command: the `ctx` its handler sees, its time limit, its dialogue inbox, and the
 * final reply. A synchronous handler finishes without timers, promises or an AbortController.
 */
import { CommandError } from "../wire/errors.ts";
import { type Connection, ConnectionState } from "../session/connection.ts";
import type { ClientMessage, MessageId, Outgoing, RequestMessage } from "../wire/protocol.ts";
import { Code } from "../wire/protocol.ts";
import { errorText, replyText, successText } from "../wire/messages.ts";
import { Inbox, MAX_INBOX } from "./inbox.ts";
import {
  type ClientInfo,
  type Command,
  type CommandContext,
  type OffloadOptions,
  type PublishMessage,
  Reply,
} from "./command.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Clock, TimerId } from "../clock.ts";

/** What a running command needs from the server. */
export interface RunHost {
  readonly config: Config;
  readonly log: Logger;
  /** Commands by lower-case name. */
  readonly commands: Map<string, Command>;
  publish(topic: string, msg: PublishMessage): void;
  broadcast(msg: Outgoing): void;
  offload<T>(name: string, input: unknown, options?: OffloadOptions): Promise<T>;
  countRequest(command: string, code: number, ms: number): void;
  /** The filters a client holds (its subscriptions live in the hub). */
  filtersOf(conn: Connection): ReadonlySet<string>;
  /** The server's clock, for time limits. */
  readonly clock: Clock;
}

/** Where a serial command takes the messages queued behind it (its lane in the dispatcher). */
export interface RunLane {
  takeQueued(): ClientMessage | undefined;
}

/** One command execution; it is the handler's `ctx`. */
export class CommandRun implements CommandContext<unknown, unknown> {
  readonly id: MessageId | undefined;
  readonly command: string;
  #done = false;
  #ac: AbortController | undefined;
  #timer: TimerId | undefined;
  #lane: RunLane | undefined;
  #onEnd: (() => void) | undefined;
  #inbox: Inbox | undefined;
  /** When an asynchronous handler started; synchronous ones are not timed (they take µs). */
  #started = 0;
  #reason: unknown;

  constructor(
    private readonly host: RunHost,
    readonly conn: Connection,
    readonly req: RequestMessage,
    private readonly def: Command,
    readonly args: unknown,
    readonly kwargs: unknown,
  ) {
    this.id = req.id;
    this.command = req.command;
  }

  get client(): ClientInfo {
    const { id, src, ip, principal } = this.conn;
    return { id, src, ip, principal, topics: this.host.filtersOf(this.conn) };
  }

  get config(): Config {
    return this.host.config;
  }

  get log(): Logger {
    return this.host.log;
  }

  get signal(): AbortSignal {
    if (this.#ac === undefined) {
      this.#ac = new AbortController();
      if (this.#reason !== undefined) this.#ac.abort(this.#reason);
    }
    return this.#ac.signal;
  }

  get waiting(): boolean {
    return this.#inbox?.waiting ?? false;
  }

  /**
   * Runs the handler.
   *
   * @returns true when it finished synchronously (replied already); false when it goes on, and
   *   the dispatcher then attaches it to the connection's lane.
   */
  start(): boolean {
    let result: unknown;
    try {
      result = this.def.handle(this);
    } catch (err) {
      this.#fail(err);
      return true;
    }
    if (!isThenable(result)) {
      this.#finish(result);
      return true;
    }
    this.#started = performance.now();
    const ms = this.def.timeoutMs ?? this.host.config.HANDLER_TIMEOUT_MS;
    this.#timer = this.host.clock.setTimeout(() => this.#timeout(ms), ms);
    result.then((v) => this.#finish(v), (err) => this.#fail(err));
    return false;
  }

  /**
   * Attaches the running command to its lane (the dispatcher calls it right after `start`).
   *
   * @param lane Where a serial command's queued messages wait.
   * @param onEnd Called once when the run ends, after its final reply.
   */
  attach(lane: RunLane, onEnd: () => void): void {
    this.#lane = lane;
    this.#onEnd = onEnd;
  }

  send(reply: Outgoing): void {
    if (this.#done) {
      if (this.host.log.enabled("debug")) {
        this.host.log.debug("Reply after the command finished was dropped", {
          command: this.command,
        });
      }
      return;
    }
    this.conn.send(
      replyText(this.host.config.SERVER_SRC, this.id, this.command, { ...reply, more: true }),
    );
  }

  progress(percent: number, msg?: string, data?: unknown): void {
    const process = Math.max(0, Math.min(100, Math.round(Number(percent) || 0)));
    this.send({ msg: msg ?? "running", data, process });
  }

  recv(): Promise<ClientMessage> {
    if (!this.conn.dialogue) {
      return Promise.reject(new CommandError(Code.BAD_REQUEST, noDialogue(this.def.name)));
    }
    if (this.#done) {
      return Promise.reject(this.#ac?.signal.reason ?? new Error("Command has finished"));
    }
    const lane = this.#lane;
    const take = this.id === undefined && lane !== undefined ? () => lane.takeQueued() : undefined;
    return (this.#inbox ??= new Inbox()).next(take);
  }

  deliver(msg: ClientMessage): void {
    if ((this.#inbox ??= new Inbox()).put(msg)) return;
    const text = `Too many unread dialogue messages (limit ${MAX_INBOX})`;
    this.conn.send(errorText(this.host.config.SERVER_SRC, msg, Code.RATE_LIMITED, text));
  }

  publish(topic: string, msg: PublishMessage): void {
    this.host.publish(topic, msg);
  }

  broadcast(msg: Outgoing): void {
    this.host.broadcast(msg);
  }

  offload<T = unknown>(name: string, input: unknown, options?: OffloadOptions): Promise<T> {
    // The job stops when the handler ends as well as on the caller's own signal.
    const own = options?.signal;
    const signal = own === undefined ? this.signal : AbortSignal.any([own, this.signal]);
    return this.host.offload<T>(name, input, { ...options, signal });
  }

  /** Ends the run without a reply (client gone) or with 503 (server shutting down). */
  cancel(reason: unknown): void {
    if (this.#done) return;
    this.#end(reason);
    if (this.conn.state === ConnectionState.Open) {
      this.#reply(Code.UNAVAILABLE, "Server is shutting down");
    }
    this.#next();
  }

  #finish(value: unknown): void {
    if (this.#done) return;
    const src = this.host.config.SERVER_SRC;
    let text: string;
    try {
      text = value instanceof Reply
        ? replyText(src, this.id, this.command, value.fields)
        : successText(src, this.id, this.command, value);
    } catch (err) {
      // A BigInt or a cycle in the result: the handler's bug, reported like a throw.
      this.#fail(new TypeError(`Cannot serialise the result: ${(err as Error).message}`));
      return;
    }
    this.#end();
    this.conn.send(text);
    this.#count(value instanceof Reply ? value.fields.code ?? Code.OK : Code.OK);
    this.#next();
  }

  #fail(err: unknown): void {
    if (this.#done) return;
    this.#end(err);
    if (err instanceof CommandError) {
      this.#reply(err.code, err.message, err.data);
    } else {
      const e = err instanceof Error ? err : new Error(String(err));
      this.host.log.error(`Command "${this.def.name}" failed: ${e.message}`, {
        client: this.conn.id,
        stack: e.stack,
      });
      this.#reply(Code.FAILED, `Command "${this.def.name}" failed`);
    }
    this.#next();
  }

  #timeout(ms: number): void {
    if (this.#done) return;
    this.#timer = undefined;
    this.#end(new DOMException(`Command timed out after ${ms} ms`, "TimeoutError"));
    this.host.log.warn(`Command "${this.def.name}" timed out after ${ms} ms`, {
      client: this.conn.id,
    });
    this.#reply(Code.TIMEOUT, `Command "${this.def.name}" timed out after ${ms} ms`);
    this.#next();
  }

  #reply(code: number, msg: string, data?: unknown): void {
    this.conn.send(
      replyText(this.host.config.SERVER_SRC, this.id, this.command, { code, msg, data }),
    );
    this.#count(code);
  }

  #count(code: number): void {
    this.host.countRequest(
      this.def.name,
      code,
      this.#started === 0 ? 0 : performance.now() - this.#started,
    );
  }

  /** Marks the run finished; with a reason, aborts the handler's signal and any recv(). */
  #end(reason?: unknown): void {
    this.#done = true;
    if (this.#timer !== undefined) this.host.clock.clearTimeout(this.#timer);
    if (reason !== undefined) {
      this.#reason = reason;
      this.#ac?.abort(reason);
    }
    const unread = this.#inbox?.close(reason ?? new Error("Command has finished"));
    if (unread !== undefined && unread.length > 0 && this.conn.state === ConnectionState.Open) {
      // A message of this dialogue that the handler never read still deserves a reply.
      const text = `Not read: command "${this.def.name}" with id ${
        JSON.stringify(this.id)
      } ended before reading it`;
      const src = this.host.config.SERVER_SRC;
      for (const msg of unread) this.conn.send(errorText(src, msg, Code.BAD_REQUEST, text));
    }
  }

  /** Hands the lane back to the dispatcher (which runs what waited behind a serial command). */
  #next(): void {
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.();
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null &&
    typeof (v as PromiseLike<unknown>).then === "function";
}

/** Why `ctx.recv()` fails for a client that cannot answer (the backend HTTP API). */
function noDialogue(name: string): string {
  return `Command "${name}" waits for a further message (ctx.recv()): it cannot run over HTTP`;
}
