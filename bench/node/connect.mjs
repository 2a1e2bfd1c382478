/**
 * Opening and closing many connections with npm `ws`, a bounded number at a time so the
 * server's accept queue never overflows (as bench/scenarios/_connect.ts).
 *
 * `ws` is CommonJS and loaded with `require`, which also keeps `deno check bench/` from
 * resolving it (it is this package's dependency, not the Deno project's). `bufferutil`, when
 * installed, is picked up by `ws` itself for masking outgoing frames.
 *
 * @module
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
/** The `ws` WebSocket class. */
export const WebSocket = require("ws");

/**
 * Whether `ws` found `bufferutil` (its native frame masking).
 *
 * @returns {boolean} True when it is installed and loads.
 */
export function hasBufferutil() {
  try {
    require("bufferutil");
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens `count` connections to `url`.
 *
 * @param {string} url The server's WebSocket URL.
 * @param {number} count How many connections.
 * @param {{ concurrency?: number, timeoutMs?: number,
 *   attach?: (ws: WebSocket, index: number) => void,
 *   ready?: (ws: WebSocket, index: number) => Promise<void> }} [options] Connections opened at
 *   once (default 100), how long one may take (default 10 s), listeners to attach as soon as a
 *   socket exists (`ws` may emit a message that came with the handshake before "open" has
 *   been handled), and a readiness step that runs once a socket is open (e.g. subscribe and
 *   await the ack).
 * @returns {Promise<WebSocket[]>} The open sockets, in index order.
 * @throws {Error} When a connection fails or times out; the ones already open are closed.
 */
export async function openSockets(url, count, options = {}) {
  const { concurrency = 100, timeoutMs = 10_000, attach, ready } = options;
  const sockets = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      // No compression: neither server under test offers it, and it would cost the client.
      const ws = new WebSocket(url, { perMessageDeflate: false });
      sockets[i] = ws;
      attach?.(ws, i);
      let timer;
      const late = new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`Connection ${i + 1} of ${count} did not get ready in ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
      });
      try {
        await Promise.race([opened(ws, i).then(() => ready?.(ws, i)), late]);
      } finally {
        clearTimeout(timer);
      }
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
 * Waits for the next message on a socket.
 *
 * @param {WebSocket} ws An open socket with no other message listener.
 * @returns {Promise<string>} The message as text.
 */
export function nextMessage(ws) {
  return new Promise((resolve) => ws.once("message", (data) => resolve(data.toString())));
}

/**
 * Closes sockets and waits (at most `timeoutMs`) for them to close.
 *
 * @param {WebSocket[]} sockets Sockets in any state.
 * @param {number} [timeoutMs] Upper bound of the wait. Default 2 s.
 */
export async function closeSockets(sockets, timeoutMs = 2000) {
  const closed = sockets.map((ws) => {
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const promise = new Promise((resolve) => ws.once("close", () => resolve()));
    ws.removeAllListeners("message");
    // An error while closing (e.g. a reset) still ends in "close".
    ws.on("error", () => {});
    ws.close();
    return promise;
  });
  let timer;
  const late = new Promise((resolve) => timer = setTimeout(resolve, timeoutMs));
  await Promise.race([Promise.all(closed), late]);
  clearTimeout(timer);
}

function opened(ws, index) {
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve());
    // Kept for the socket's life: `ws` throws an "error" event nobody listens to. A later error
    // closes the socket, and what it then misses shows in the scenario's figures.
    ws.on(
      "error",
      (err) => reject(new Error(`Cannot open connection ${index + 1}: ${err.message}`)),
    );
  });
}
