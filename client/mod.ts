/**
 * The Switchboard client SDK: the same source runs in browsers and Deno (Web APIs only; outside
 * this folder it imports only the server's topic rules, lib/wire/topic.ts, which import nothing). Call commands with progress and multi-turn dialogue, publish, and
 * subscribe with MQTT wildcards; the client reconnects with back-off and subscribes again.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 *
 * const sb = connect("ws://127.0.0.1:18887/", { src: "front" });
 * await sb.ready;
 * const off = sb.subscribe("machines/+/state", (d) => console.log(d.topic, d.data));
 * await off.ready;
 * const [user] = await sb.call<{ name: string }[]>("add_user", { kwargs: { name: "jw" } });
 * await sb.publish("machines/7/state", { msg: "running", data: { rpm: 1200 }, retain: true });
 * await off();
 * await sb.close();
 * ```
 *
 * @module
 */
import { SwitchboardClient } from "./client.ts";
import type { ConnectOptions } from "./types.ts";

export { SwitchboardClient, type Unsubscribe } from "./client.ts";
export type { Dialogue } from "./dialogue.ts";
export { SwitchboardError } from "./errors.ts";
export type { DeliveryHandler } from "./subscriptions.ts";
export type { Position } from "./history.ts";
export { topicMatches } from "./topic_match.ts";
export type * from "./types.ts";

/**
 * Connects to a Switchboard server; the client starts connecting at once and queues what is sent
 * before the socket is open.
 *
 * @param url The server's WebSocket URL, such as `ws://127.0.0.1:18887/`.
 * @param options `src` (default "front"), `batch` (default true), `token`, `reconnect`
 * (`{ minMs, maxMs }` or `false`), `timeoutMs`, `openTimeoutMs`, `maxQueue`, `WebSocket`.
 * @returns The client; `await client.ready` waits for the first open.
 * @throws {SyntaxError} When the URL is not a WebSocket URL.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 *
 * const sb = connect("ws://127.0.0.1:18887/", { reconnect: { minMs: 250, maxMs: 5000 } });
 * sb.on("close", (e) => console.log("disconnected", e.code, e.willReconnect));
 * await sb.ready;
 * await sb.close();
 * ```
 */
export function connect(url: string | URL, options: ConnectOptions = {}): SwitchboardClient {
  return new SwitchboardClient(url, options);
}
