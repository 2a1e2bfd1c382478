/**
 * Test helpers: a real server on a free port and a real WebSocket client with an inbox.
 * Every wait is bounded, so a missing message fails the test instead of hanging it.
 */
import type { Switchboard } from "../lib/server.ts";
import { createServer, type ServerOptions } from "../lib/create_server.ts";
import routes from "../routes.gen.ts";
import { createLogger } from "../lib/log.ts";

/** A parsed message from the server. */
// deno-lint-ignore no-explicit-any
export type Msg = Record<string, any>;

/**
 * Starts the repository's app on a free port, quiet unless TEST_LOG is set.
 *
 * @param options Settings and overrides (`routes`, `root`, any config key).
 * @returns The running server; use `await using` or call `shutdown()`.
 */
export async function startServer(options: ServerOptions = {}): Promise<Switchboard> {
  const level = (Deno.env.get("TEST_LOG") ?? "silent") as "silent";
  return await createServer({
    routes,
    port: 0,
    host: "127.0.0.1",
    logger: createLogger(level, "pretty"),
    ...options,
  });
}

/** The WebSocket URL of a server. */
export function wsUrl(server: Switchboard, query = ""): string {
  return `ws://127.0.0.1:${server.port}/${query}`;
}

/** A test client with an inbox of parsed messages. */
export class Client {
  readonly inbox: Msg[] = [];
  readonly raw: string[] = [];
  closed: Promise<CloseEvent>;
  closeEvent: CloseEvent | undefined;
  #waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    const { promise, resolve } = Promise.withResolvers<CloseEvent>();
    this.closed = promise;
    ws.onmessage = (e) => {
      this.raw.push(String(e.data));
      for (const line of String(e.data).split("\n")) if (line) this.inbox.push(JSON.parse(line));
      this.#wake();
    };
    ws.onclose = (e) => {
      this.closeEvent = e;
      resolve(e);
      this.#wake();
    };
  }

  /**
   * Connects and waits for the socket to open.
   *
   * @param url The server's WebSocket URL.
   * @param protocols Passed to WebSocket.
   * @returns The open client.
   */
  static async connect(url: string, protocols?: string | string[]): Promise<Client> {
    const ws = new WebSocket(url, protocols);
    const client = new Client(ws);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (e) =>
        reject(new Error(`Cannot connect to ${url}: ${(e as ErrorEvent).message}`));
    });
    ws.onerror = () => {};
    return client;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Sends an object as JSON, or a string as it is. */
  send(msg: unknown): void {
    this.ws.send(typeof msg === "string" ? msg : JSON.stringify(msg));
  }

  /**
   * Waits for the first message in the inbox that matches, removes and returns it.
   *
   * @param match A predicate (default: any message).
   * @param timeoutMs How long to wait.
   * @returns The message.
   * @throws {Error} When none arrives in time or the socket closes.
   */
  async next(match: (m: Msg) => boolean = () => true, timeoutMs = 5000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const i = this.inbox.findIndex(match);
      if (i >= 0) return this.inbox.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0 || this.closeEvent) {
        throw new Error(
          `No matching message within ${timeoutMs} ms${
            this.closeEvent ? " (socket closed)" : ""
          }; inbox: ${JSON.stringify(this.inbox).slice(0, 500)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a request and waits for its final reply (the first without `more`). */
  async request(msg: Msg, timeoutMs = 5000): Promise<Msg> {
    this.send({ mode: "req_res", action: "req", src: "front", ...msg });
    return await this.next(
      (m) => m.action === "res" && !m.more && (msg.id === undefined || m.id === msg.id),
      timeoutMs,
    );
  }

  /** Waits until `n` messages matching are in the inbox; returns them without removing. */
  async waitFor(
    n: number,
    match: (m: Msg) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Msg[]> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.inbox.filter(match);
      if (found.length >= n) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.closeEvent) {
        throw new Error(`Only ${found.length} of ${n} messages within ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Closes and waits for the close to finish. */
  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}

/** A request message with defaults filled in. */
export function req(command: string, extra: Msg = {}): Msg {
  return { mode: "req_res", action: "req", src: "front", command, ...extra };
}

/** The heartbeat reply: the seed's five fields plus the `command` extension. */
export const HEARTBEAT = {
  mode: "req_res",
  action: "res",
  src: "control",
  command: "web",
  code: 200,
  msg: "success",
} as const;

/**
 * Starts a server, connects one client, runs `fn`, and always closes both.
 *
 * @param fn The test body.
 * @param options Server settings and overrides.
 */
export async function withServer(
  fn: (server: Switchboard, c: Client) => Promise<void>,
  options: ServerOptions = {},
): Promise<void> {
  const server = await startServer(options);
  const c = await Client.connect(wsUrl(server));
  try {
    await fn(server, c);
  } finally {
    await c.close();
    await server.shutdown();
  }
}
