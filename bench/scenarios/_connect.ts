/**
 * Opening and closing many WebSocket connections from the load generator, a bounded number at a
 * time so the server's accept queue never overflows.
 *
 * @module
 */

/** Options of `openSockets`. */
export interface OpenOptions {
  /** Connections opened at the same time. Default 100. */
  concurrency?: number;
  /** How long one connection may take to open and get ready. Default 10 s. */
  timeoutMs?: number;
  /** Runs once a socket is open; the connection counts as ready when it resolves. */
  ready?: (ws: WebSocket, index: number) => Promise<void>;
}

/**
 * Opens `count` connections to `url`.
 *
 * @param url The server's WebSocket URL.
 * @param count How many connections.
 * @param options Concurrency, timeout and a readiness step (e.g. subscribe and await the ack).
 * @returns The open sockets, in index order.
 * @throws {Error} When a connection fails or times out; the ones already open are closed.
 */
export async function openSockets(
  url: string,
  count: number,
  options: OpenOptions = {},
): Promise<WebSocket[]> {
  const { concurrency = 100, timeoutMs = 10_000, ready } = options;
  const sockets: WebSocket[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const ws = new WebSocket(url);
      sockets[i] = ws;
      const signal = AbortSignal.timeout(timeoutMs);
      await Promise.race([
        opened(ws, i).then(() => ready?.(ws, i)),
        abortion(signal, `Connection ${i + 1} of ${count} did not get ready in ${timeoutMs} ms`),
      ]);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  } catch (err) {
    await closeSockets(sockets.filter(Boolean));
    throw err;
  }
  return sockets;
}

/**
 * Waits for the next message on a socket (replacing `onmessage` until it arrives).
 *
 * @param ws An open socket.
 * @returns The message text.
 */
export function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => {
    ws.onmessage = (e) => {
      ws.onmessage = null;
      resolve(e.data as string);
    };
  });
}

/**
 * Closes sockets and waits (at most `timeoutMs`) for their close events.
 *
 * @param sockets Sockets in any state.
 * @param timeoutMs Upper bound of the wait. Default 2 s.
 */
export async function closeSockets(sockets: WebSocket[], timeoutMs = 2000): Promise<void> {
  const closed = sockets.map((ws) => {
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    ws.addEventListener("close", () => resolve(), { once: true });
    ws.close();
    return promise;
  });
  const timer = Promise.withResolvers<void>();
  const id = setTimeout(timer.resolve, timeoutMs);
  await Promise.race([Promise.all(closed), timer.promise]);
  clearTimeout(id);
}

function opened(ws: WebSocket, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => {
      const detail = e instanceof ErrorEvent ? e.message : "error event";
      reject(new Error(`Cannot open connection ${index + 1}: ${detail}`));
    };
  });
}

function abortion(signal: AbortSignal, message: string): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener("abort", () => reject(new Error(message)), { once: true });
  });
}
