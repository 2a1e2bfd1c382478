/**
 * A minimal NATS client over WebSocket on npm `ws`: connect (INFO, CONNECT, PING → PONG),
 * subscribe, publish with a PING after each PUB as its acknowledgement, answer the server's
 * PINGs. The protocol itself is in nats_wire.mjs.
 *
 * @module
 */
import { openSockets } from "./connect.mjs";
import { connectLine, NatsParser, PING, PONG, pub, subLine } from "./nats_wire.mjs";

/** Handlers of the NATS connections of `openNats`. */
export class NatsHandlers {
  /**
   * Called with each delivered payload. @type {(index: number, payload: string) => void}
   */
  onMsg = () => {};
  /** Called for each WebSocket frame received after set-up. @type {() => void} */
  onFrame = () => {};
  /** Called for each PONG after set-up. @type {() => void} */
  onPong = () => {};
  /** Called with each -ERR after set-up. @type {(text: string) => void} */
  onErr = () => {};
}

/**
 * Opens `count` NATS connections, each subscribed to `subject` when one is given. A connection
 * answers the server's INFO with CONNECT (and SUB) and a PING; it is ready when the PONG comes:
 * from then on the server has the subscription.
 *
 * @param {string} url The WebSocket URL of nats-server.
 * @param {number} count How many connections.
 * @param {{ subject?: string, handlers: NatsHandlers }} options What to subscribe to, and
 *   what to call once ready.
 * @returns {Promise<import("ws")[]>} The open, ready sockets.
 * @throws {Error} When the server refuses (-ERR) or a connection fails.
 */
export function openNats(url, count, options) {
  const { subject, handlers } = options;
  const setUp = new Array(count);
  return openSockets(url, count, {
    attach: (ws, i) => {
      const parser = new NatsParser();
      let ready = false;
      setUp[i] = new Promise((resolve, reject) => {
        parser.onInfo = () => {
          ws.send(connectLine(`bench-${i}`) + (subject ? subLine(subject, 1) : "") + PING);
        };
        parser.onErr = (text) => reject(new Error(`NATS refused connection ${i + 1}: ${text}`));
        parser.onPong = () => {
          parser.onMsg = (_subject, payload) => handlers.onMsg(i, payload);
          parser.onPong = () => handlers.onPong();
          parser.onErr = (text) => handlers.onErr(text);
          ready = true;
          resolve();
        };
      });
      parser.onPing = () => ws.send(PONG);
      ws.on("message", (data) => {
        if (ready) handlers.onFrame();
        // Bytes one to one as characters: MSG sizes count bytes (nats_wire.mjs).
        parser.feed(data.toString("latin1"));
      });
    },
    ready: (_ws, i) => setUp[i],
  });
}

/**
 * A publish and its acknowledgement request in one frame: the server answers the PING with a
 * PONG once it has handled the PUB, i.e. handed the message to every subscriber.
 *
 * @param {string} subject The subject.
 * @param {string} payload ASCII text.
 * @returns {string} The frame's text.
 */
export function pubWithAck(subject, payload) {
  return pub(subject, payload) + PING;
}
