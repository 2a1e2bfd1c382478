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

// The messages themselves are the Node generator's, so both generators send the same bytes.
export {
  batchUrl,
  DELIVERY,
  ECHO_REPLY,
  echoRequest,
  publishRequest,
  SUB_REQUEST,
  TOPIC,
} from "../node/protocol.mjs";

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
