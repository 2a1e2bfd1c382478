/**
 * The Switchboard messages the scenarios send, for both load generators
 * (bench/scenarios/_protocol.ts re-exports them), and this generator's checks of what comes back. This generator parses every message it receives with
 * `JSON.parse`, as an application would; the first message on each connection is also compared
 * field by field with what the protocol says.
 *
 * @module
 */

/** The topic (Switchboard) and subject (NATS) of the fan-out scenarios. */
export const TOPIC = "bench";

/**
 * An `echo` request.
 *
 * @param {number} [id] The correlation id; none when undefined.
 * @returns {string} The JSON text.
 */
export function echoRequest(id) {
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
 * A publish whose `data` carries the sequence number and the send time. Its text is also the
 * NATS payload: what a Switchboard subscriber gets, field for field.
 *
 * @param {number} seq The publish's sequence number, from 1.
 * @param {number} sentAt `performance.now()` when it was sent.
 * @returns {string} The JSON text.
 */
export function publishRequest(seq, sentAt) {
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
 * Checks that a parsed message holds the expected fields (deep equality via JSON).
 *
 * @param {Record<string, unknown>} msg The parsed message.
 * @param {Record<string, unknown>} expected Fields and their values.
 * @returns {Record<string, unknown>} The message.
 * @throws {Error} Naming the first field that differs.
 */
export function expectFields(msg, expected) {
  for (const [key, value] of Object.entries(expected)) {
    if (JSON.stringify(msg[key]) !== JSON.stringify(value)) {
      throw new Error(
        `Unexpected ${key} in ${JSON.stringify(msg).slice(0, 300)}: expected ${
          JSON.stringify(value)
        }`,
      );
    }
  }
  return msg;
}

/**
 * The URL of a client that opts in to batching.
 *
 * @param {string} url The server's WebSocket URL.
 * @returns {string} The same URL with `batch=1` in its query.
 */
export function batchUrl(url) {
  const u = new URL(url);
  u.searchParams.set("batch", "1");
  return u.href;
}
