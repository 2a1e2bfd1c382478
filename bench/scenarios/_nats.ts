/**
 * A minimal NATS client over Deno's WebSocket for the fan-out scenarios: connect (INFO,
 * CONNECT, PING → PONG), subscribe, publish with a PING after each PUB as its acknowledgement,
 * answer the server's PINGs. The protocol is bench/node/nats_wire.mjs, shared with the Node load
 * generator.
 *
 * @module
 */
import { openSockets } from "./_connect.ts";
import { connectLine, NatsParser, PING, PONG, pub, subLine } from "../node/nats_wire.mjs";

/** What the connections of `openNats` call once they are set up. */
export interface NatsHandlers {
  /** Each delivered payload. */
  onMsg?: (index: number, payload: string) => void;
  /** Each WebSocket frame received. */
  onFrame?: () => void;
  /** Each PONG. */
  onPong?: () => void;
  /** Each -ERR. */
  onErr?: (text: string) => void;
}

/** nats-server sends binary frames; its bytes become characters one to one (nats_wire.mjs). */
const bytes = new TextDecoder("latin1");

/**
 * Opens `count` NATS connections, each subscribed to `subject` when one is given. A connection
 * answers the server's INFO with CONNECT (and SUB) and a PING; it is ready when the PONG comes:
 * from then on the server has the subscription.
 *
 * @param url The WebSocket URL of nats-server.
 * @param count How many connections.
 * @param options What to subscribe to, and what to call once ready.
 * @returns The open, ready sockets.
 * @throws {Error} When the server refuses (-ERR) or a connection fails.
 */
export function openNats(
  url: string,
  count: number,
  options: { subject?: string; handlers: NatsHandlers },
): Promise<WebSocket[]> {
  const { subject, handlers } = options;
  return openSockets(url, count, {
    ready: (ws, i) =>
      new Promise<void>((resolve, reject) => {
        const parser = new NatsParser();
        ws.binaryType = "arraybuffer";
        parser.onInfo = () => {
          ws.send(connectLine(`bench-${i}`) + (subject ? subLine(subject, 1) : "") + PING);
        };
        parser.onPing = () => ws.send(PONG);
        parser.onErr = (text) => reject(new Error(`NATS refused connection ${i + 1}: ${text}`));
        parser.onPong = () => {
          const { onMsg, onFrame, onPong, onErr } = handlers;
          if (onMsg) parser.onMsg = (_subject, payload) => onMsg(i, payload);
          if (onPong) parser.onPong = onPong;
          if (onErr) parser.onErr = onErr;
          ws.onmessage = (e) => {
            onFrame?.();
            parser.feed(typeof e.data === "string" ? e.data : bytes.decode(e.data));
          };
          resolve();
        };
        ws.onmessage = (e) => {
          parser.feed(typeof e.data === "string" ? e.data : bytes.decode(e.data));
        };
      }),
  });
}

/**
 * A publish and its acknowledgement request in one frame: the server answers the PING with a
 * PONG once it has handled the PUB, i.e. handed the message to every subscriber.
 *
 * @param subject The subject.
 * @param payload ASCII text.
 * @returns The frame's text.
 */
export function pubWithAck(subject: string, payload: string): string {
  return pub(subject, payload) + PING;
}
