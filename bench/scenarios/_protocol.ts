/**
 * The protocol messages the scenarios send, and the checks of what comes back.
 *
 * The hot loops do not `JSON.parse` every reply: parsing costs the client about 0.4 µs per
 * message against 0.05 µs for a substring test, and the load generator must stay cheaper than
 * the server. Instead the first reply on each connection is parsed and checked in full
 * (`expectFields`), and every later one is checked for its code (and id or sequence number).
 *
 * @module
 */

/** The topic the fan-out scenarios use. */
export const TOPIC = "bench";

/**
 * An `echo` request.
 *
 * @param id The correlation id, or undefined for a request without one.
 * @returns The JSON text.
 */
export function echoRequest(id?: number): string {
  return JSON.stringify({
    mode: "req_res",
    action: "req",
    src: "front",
    id,
    command: "echo",
    args: [1, "two"],
    kwargs: { three: 3 },
  });
}

/** The subscription request of the fan-out subscribers. */
export const SUB_REQUEST = JSON.stringify({
  mode: "pub_sub",
  action: "sub",
  src: "front",
  topic: [TOPIC],
});

/**
 * A publish whose `data` carries the sequence number and the send time.
 *
 * @param seq The publish's sequence number, from 1.
 * @param sentAt `performance.now()` when it was sent.
 * @returns The JSON text.
 */
export function publishRequest(seq: number, sentAt: number): string {
  return `{"mode":"pub_sub","action":"pub","src":"agent","topic":"${TOPIC}","code":200,` +
    `"msg":"tick","data":{"seq":${seq},"sent":${sentAt}}}`;
}

/** What a successful echo reply contains (besides `id`). */
export const ECHO_REPLY = {
  mode: "req_res",
  action: "res",
  command: "echo",
  code: 200,
  data: { args: [1, "two"], kwargs: { three: 3 } },
};

/** What a delivery contains (besides `data`). */
export const DELIVERY = {
  mode: "pub_sub",
  action: "pub",
  src: "agent",
  topic: TOPIC,
  code: 200,
  msg: "tick",
};

/**
 * Parses a message and checks that it holds the expected fields (deep equality via JSON).
 *
 * @param text The message.
 * @param expected Fields and their values.
 * @returns The parsed message.
 * @throws {Error} Naming the first field that differs.
 */
export function expectFields(
  text: string,
  expected: Record<string, unknown>,
): Record<string, unknown> {
  const msg = JSON.parse(text);
  for (const [key, value] of Object.entries(expected)) {
    if (JSON.stringify(msg[key]) !== JSON.stringify(value)) {
      throw new Error(
        `Unexpected ${key} in ${text.slice(0, 300)}: expected ${JSON.stringify(value)}`,
      );
    }
  }
  return msg;
}

/**
 * Whether a reply says success, without parsing it.
 *
 * @param text A reply.
 * @returns True when it carries code 200.
 */
export function isOk(text: string): boolean {
  return text.includes('"code":200');
}

/**
 * Reads a number field from JSON text without parsing it, e.g. `"id":12` or `"seq":3`.
 *
 * @param text The message.
 * @param key The field name (the first occurrence counts).
 * @returns The number, or NaN when absent.
 */
export function numberField(text: string, key: string): number {
  const at = text.indexOf(`"${key}":`);
  if (at < 0) return NaN;
  return parseFloat(text.slice(at + key.length + 3, at + key.length + 3 + 24));
}

/**
 * The URL of a client that opts in to batching.
 *
 * @param url The server's WebSocket URL.
 * @returns The same URL with `batch=1` in its query.
 */
export function batchUrl(url: string): string {
  const u = new URL(url);
  u.searchParams.set("batch", "1");
  return u.href;
}
