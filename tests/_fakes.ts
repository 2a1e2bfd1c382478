/**
 * In-process test doubles: a fake clock that only moves when told, a fake socket that records
 * what is sent, and a server built without a listener whose connections use fake sockets. Tests
 * built on them run in milliseconds and never sleep.
 */
import { type Clock, type TimerId } from "../lib/clock.ts";
import { parseConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { loadRoutes } from "../lib/routes.ts";
import { Switchboard } from "../lib/server.ts";
import type { Connection, SocketLike } from "../lib/session/connection.ts";
import type { Principal } from "../lib/session/auth.ts";

// deno-lint-ignore no-explicit-any
export type Msg = Record<string, any>;

/** A clock whose time moves only with `advance`; due timers fire in order (a 0 ms timer after 1 ms). */
export class FakeClock implements Clock {
  #now: number;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  readonly #turnEnd: (() => void)[] = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#next++;
    // At least 1 ms, as runtimes clamp: a timer that re-arms itself with 0 cannot spin `advance`.
    this.#timers.set(id, { at: this.#now + Math.max(1, ms), fn });
    return id;
  }

  clearTimeout(id: TimerId | undefined): void {
    this.#timers.delete(id as number);
  }

  endOfTurn(fn: () => void): void {
    this.#turnEnd.push(fn);
  }

  /** Ends the current turn of the (pretend) event loop: runs what waits for it. */
  endTurn(): void {
    while (this.#turnEnd.length > 0) this.#turnEnd.shift()!();
  }

  /** Timers not fired yet, and callbacks waiting for the end of the turn. */
  get pending(): number {
    return this.#timers.size + this.#turnEnd.length;
  }

  /** Ends the turn, then moves the time forward, firing every timer due by then, earliest first. */
  advance(ms: number): void {
    this.endTurn();
    const until = this.#now + ms;
    for (;;) {
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= until && (first === undefined || entry[1].at < first[1].at)) {
          first = entry;
        }
      }
      if (first === undefined) break;
      this.#timers.delete(first[0]);
      this.#now = Math.max(this.#now, first[1].at);
      first[1].fn();
      this.endTurn(); // each timer runs in a turn of its own
    }
    this.#now = until;
  }
}

/** A socket that records frames; `bufferedAmount` is set by the test. */
export class FakeSocket implements SocketLike {
  readonly frames: string[] = [];
  bufferedAmount = 0;
  closed: { code?: number; reason?: string } | undefined;

  send(data: string): void {
    this.frames.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closed ??= { code, reason };
  }

  /** The close code the server chose, if it closed the socket. */
  get closeCode(): number | undefined {
    return this.closed?.code;
  }

  /** Every message sent, batched frames split, parsed. */
  messages(): Msg[] {
    return this.frames.flatMap((f) => f.split("\n")).map((line) => JSON.parse(line));
  }

  /** Forgets what was sent so far. */
  clear(): void {
    this.frames.length = 0;
  }
}

/** A server without a listener, on a fake clock; nothing to shut down but its broker and pool. */
export function fakeServer(settings: Record<string, unknown> = {}): Switchboard {
  const config = parseConfig({ LOG_LEVEL: "silent", ...settings } as never);
  const clock = new FakeClock();
  return new Switchboard(config, loadRoutes({}), { clock, logger: createLogger("silent", "json") });
}

/** The fake clock of a server made by {@linkcode fakeServer}. */
export function clockOf(server: Switchboard): FakeClock {
  return server.clock as FakeClock;
}

/** One client of a fake server: its connection and socket, already open. */
export interface FakeClient {
  conn: Connection;
  socket: FakeSocket;
  /** Sends one frame (a message object or raw text) through the intake. */
  send(msg: Msg | string): void;
  /** Every message it got, parsed. */
  messages(): Msg[];
  /** Closes its socket from the client's side. */
  leave(): void;
}

/** Opens a client on a fake server. */
export function fakeClient(
  server: Switchboard,
  options: { batch?: boolean; src?: string; auth?: Principal; ip?: string } = {},
): FakeClient {
  const socket = new FakeSocket();
  const conn = server.hub.attach(socket, { ip: options.ip ?? "127.0.0.1", ...options });
  conn.handleEvent(new Event("open"));
  return {
    conn,
    socket,
    send: (msg) =>
      conn.handleEvent(
        new MessageEvent("message", { data: typeof msg === "string" ? msg : JSON.stringify(msg) }),
      ),
    messages: () => socket.messages(),
    leave: () => conn.handleEvent(new Event("close")),
  };
}

/** Lets pending promise callbacks run (handlers that await resolved promises). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
