/**
 * The NATS client protocol, the few parts a benchmark client needs: the lines it sends
 * (CONNECT, SUB, PUB, PING, PONG) and a parser of what the server sends (INFO, MSG, PING, PONG,
 * +OK, -ERR). Pure: no sockets, no runtime API, so both load generators use it (the Deno one
 * imports this file too) and it is tested without I/O (bench/nats_wire_test.ts).
 *
 * The server's bytes reach the parser as text decoded one byte to one character ("latin1"), so
 * the byte counts of MSG lines are character counts. The benchmark's payloads are ASCII JSON.
 * A WebSocket frame of nats-server may end in the middle of a message: the parser keeps the
 * incomplete tail for the next frame.
 *
 * Protocol reference: https://docs.nats.io/reference/reference-protocols/nats-protocol
 *
 * @module
 */

const CRLF = "\r\n";
const M = 77; // "M"
const P = 80; // "P"
const PLUS = 43; // "+"
const MINUS = 45; // "-"
const I = 73; // "I"

/**
 * The CONNECT line: no echo of one's own publishes, no headers, no verbose +OK.
 *
 * @param {string} name The client's name, as the server shows it.
 * @returns {string} The line, with its CRLF.
 */
export function connectLine(name) {
  return "CONNECT " + JSON.stringify({
    verbose: false,
    pedantic: false,
    name,
    lang: "js",
    version: "0.0.0",
    protocol: 1,
    echo: false,
    headers: false,
    no_responders: false,
  }) + CRLF;
}

/** A PING: the server answers PONG after everything it read before it. */
export const PING = "PING" + CRLF;

/** The answer to the server's PING. */
export const PONG = "PONG" + CRLF;

/**
 * A SUB line.
 *
 * @param {string} subject The subject.
 * @param {number} sid The subscription id, chosen by the client.
 * @returns {string} The line, with its CRLF.
 */
export function subLine(subject, sid) {
  return `SUB ${subject} ${sid}${CRLF}`;
}

/**
 * A PUB with its payload.
 *
 * @param {string} subject The subject.
 * @param {string} payload ASCII text (its length is its byte count).
 * @returns {string} The PUB line and the payload, each with its CRLF.
 */
export function pub(subject, payload) {
  return `PUB ${subject} ${payload.length}${CRLF}${payload}${CRLF}`;
}

/**
 * Parses the server's side of the protocol from text chunks (one per WebSocket frame).
 * Set the handlers, then `feed` every chunk in order. Handlers run synchronously, in order.
 */
export class NatsParser {
  /** Called with each MSG's subject and payload. @type {(subject: string, payload: string) => void} */
  onMsg = () => {};
  /** Called for each PING of the server: answer it with PONG. @type {() => void} */
  onPing = () => {};
  /** Called for each PONG. @type {() => void} */
  onPong = () => {};
  /** Called with the JSON text of each INFO. @type {(json: string) => void} */
  onInfo = () => {};
  /** Called with the text of each -ERR. @type {(text: string) => void} */
  onErr = () => {};
  /** Messages (MSG) parsed so far. */
  messages = 0;
  #rest = "";

  /**
   * Parses one chunk; a message cut at its end waits for the next chunk.
   *
   * @param {string} chunk The next text, decoded one byte to one character.
   * @throws {Error} On a line that is not part of the protocol.
   */
  feed(chunk) {
    const text = this.#rest === "" ? chunk : this.#rest + chunk;
    const n = text.length;
    let at = 0;
    while (at < n) {
      const eol = text.indexOf(CRLF, at);
      if (eol < 0) break;
      const c = text.charCodeAt(at);
      if (c === M) {
        // MSG <subject> <sid> [reply-to] <#bytes>
        const start = eol + 2;
        const space = text.lastIndexOf(" ", eol);
        const size = space > at ? parseInt(text.slice(space + 1, eol), 10) : NaN;
        if (start + size + 2 > n) break; // the payload is not all here yet
        if (!text.startsWith("MSG ", at) || !(size >= 0) || !text.startsWith(CRLF, start + size)) {
          throw new Error(`Malformed NATS message: ${JSON.stringify(text.slice(at, eol + 40))}`);
        }
        this.messages++;
        this.onMsg(text.slice(at + 4, text.indexOf(" ", at + 4)), text.slice(start, start + size));
        at = start + size + 2;
        continue;
      }
      if (c === P && text.startsWith("PONG", at)) this.onPong();
      else if (c === P && text.startsWith("PING", at)) this.onPing();
      else if (c === MINUS && text.startsWith("-ERR", at)) this.onErr(text.slice(at + 5, eol));
      else if (c === I && text.startsWith("INFO ", at)) this.onInfo(text.slice(at + 5, eol));
      // +OK comes only in verbose mode, which connectLine turns off.
      else if (!(c === PLUS && text.startsWith("+OK", at))) {
        throw new Error(`Unexpected NATS line: ${JSON.stringify(text.slice(at, eol))}`);
      }
      at = eol + 2;
    }
    this.#rest = at < n ? text.slice(at) : "";
  }
}
