/**
 * The router: one checked message in, the right handler run, replies out. Requests without `id`
 * run one after another per connection (as the old library did); requests with `id` run at once,
 * up to MAX_INFLIGHT per connection. pub_sub messages go to the pub/sub handler.
 */
import { CommandError } from "../wire/errors.ts";
import { type Connection, ConnectionState, type RunningCommand } from "../session/connection.ts";
import type { ClientMessage, PubSubMessage, RequestMessage } from "../wire/protocol.ts";
import { Code, describeIssues, issuesToData } from "../wire/protocol.ts";
import { ackText, replyText } from "../wire/messages.ts";
import type { Command } from "./command.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { CommandRun, type RunHost } from "./command_run.ts";
import { canCallCommand } from "../session/permissions.ts";

/** What the router needs from the server. */
export interface RouterHost extends RunHost {
  readonly config: Config;
  readonly log: Logger;
  /** Commands by lower-case name. */
  readonly commands: Map<string, Command>;
  /** Handles sub, unsub and pub. */
  handlePubSub(conn: Connection, msg: PubSubMessage): void;
  /** Counts a request per command and code, for /metrics. */
  countRequest(command: string, code: number, ms: number): void;
}

/** Routes checked messages of every connection. */
export class Router {
  constructor(private readonly host: RouterHost) {}

  /**
   * Handles one checked message.
   *
   * @param conn The sender.
   * @param msg The message.
   */
  handle(conn: Connection, msg: ClientMessage): void {
    if (conn.state !== ConnectionState.Open) return;
    if (conn.src === undefined && typeof msg.src === "string") conn.src = msg.src;
    const id = msg.id;
    if (id === undefined) {
      const serial = conn.serial;
      if (serial !== null) {
        if (serial.waiting) serial.deliver(msg);
        else this.#queue(conn, msg);
        return;
      }
    } else {
      const running = conn.runningCount === 0 ? undefined : conn.running.get(id);
      if (running !== undefined) {
        running.deliver(msg);
        return;
      }
    }
    if (msg.mode === "req_res") this.#request(conn, msg as RequestMessage);
    else this.host.handlePubSub(conn, msg as PubSubMessage);
  }

  #queue(conn: Connection, msg: ClientMessage): void {
    if (conn.serialQueue.length >= this.host.config.MAX_INFLIGHT) {
      this.#reject(
        conn,
        msg,
        Code.RATE_LIMITED,
        `Too many queued requests (limit ${this.host.config.MAX_INFLIGHT})`,
      );
      return;
    }
    conn.serialQueue.push(msg);
  }

  /** Runs what waited behind a finished request without id, until one of them is async. */
  drain(conn: Connection): void {
    while (conn.serial === null && conn.serialQueue.length > 0) {
      if (conn.state !== ConnectionState.Open) {
        conn.serialQueue.length = 0;
        return;
      }
      this.handle(conn, conn.serialQueue.shift() as ClientMessage);
    }
  }

  #request(conn: Connection, msg: RequestMessage): void {
    const host = this.host;
    const command = host.commands.get(msg.command) ?? host.commands.get(msg.command.toLowerCase());
    if (command === undefined) {
      this.#reject(conn, msg, Code.NOT_FOUND, `Unknown command: ${JSON.stringify(msg.command)}`);
      return;
    }
    if (conn.auth !== undefined && !canCallCommand(conn.auth.permissions, command.name)) {
      this.#reject(conn, msg, Code.FORBIDDEN, `Forbidden: command "${command.name}"`);
      return;
    }
    if (msg.id !== undefined && conn.runningCount >= host.config.MAX_INFLIGHT) {
      this.#reject(
        conn,
        msg,
        Code.RATE_LIMITED,
        `Too many requests in flight (limit ${host.config.MAX_INFLIGHT})`,
      );
      return;
    }
    let args: unknown = msg.args ?? [];
    let kwargs: unknown = msg.kwargs ?? {};
    if (command.args !== undefined || command.kwargs !== undefined) {
      const checked = validate(command, args, kwargs);
      if (checked instanceof CommandError) {
        this.#reject(conn, msg, checked.code, checked.message, checked.data);
        return;
      }
      args = checked.args;
      kwargs = checked.kwargs;
    }
    new CommandRun(host, this, conn, msg, command, args, kwargs).start();
  }

  #reject(conn: Connection, msg: ClientMessage, code: number, text: string, data?: unknown): void {
    const src = this.host.config.SERVER_SRC;
    if (msg.mode === "req_res") {
      conn.send(replyText(src, msg.id, (msg as RequestMessage).command, { code, msg: text, data }));
      const known = this.host.commands.get((msg as RequestMessage).command.toLowerCase());
      // Unknown names share one label, so a client cannot grow the metrics without bound.
      this.host.countRequest(known?.name ?? "(unknown)", code, 0);
    } else {
      conn.send(ackText(src, msg.id, msg.topic, code, text, data));
    }
  }
}

/** Validates args and kwargs with the command's schemas. */
function validate(
  command: Command,
  args: unknown,
  kwargs: unknown,
): CommandError | { args: unknown; kwargs: unknown } {
  const issues = [];
  if (command.args !== undefined) {
    const r = command.args.safeParse(args);
    if (r.success) args = r.data;
    else issues.push(...r.error.issues.map((i) => ({ ...i, path: ["args", ...i.path] })));
  }
  if (command.kwargs !== undefined) {
    const r = command.kwargs.safeParse(kwargs);
    if (r.success) kwargs = r.data;
    else issues.push(...r.error.issues.map((i) => ({ ...i, path: ["kwargs", ...i.path] })));
  }
  if (issues.length > 0) {
    return new CommandError(
      Code.BAD_REQUEST,
      `Invalid arguments: ${describeIssues(issues)}`,
      issuesToData(issues),
    );
  }
  return { args, kwargs };
}

export type { RunningCommand };
