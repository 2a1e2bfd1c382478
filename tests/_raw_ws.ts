/**
 * A WebSocket client on a raw TCP connection, for what a real client never does: stop reading
 * (so the server's buffer grows), send unmasked, fragmented or invalid frames, and watch the
 * bytes that come back. It reads only when asked to.
 */
import assert from "node:assert/strict";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A frame read from the server. */
export interface Frame {
  opcode: number;
  payload: Uint8Array;
}

/** Options of a frame to send; a client must mask, so `mask: false` is a protocol violation. */
export interface FrameOptions {
  fin?: boolean;
  mask?: boolean;
  rsv?: number;
}

/** A hand-driven WebSocket client. */
export class RawSocket {
  #buf = new Uint8Array(0);
  #chunk = new Uint8Array(64 * 1024);
  #read: Promise<number | null> | undefined;

  private constructor(readonly conn: Deno.TcpConn) {}

  /**
   * Connects and completes the handshake, reading only the response head.
   *
   * @param port The server's port on 127.0.0.1.
   * @param path The request path and query.
   * @returns The open socket.
   */
  static async open(port: number, path = "/"): Promise<RawSocket> {
    const s = new RawSocket(await Deno.connect({ hostname: "127.0.0.1", port }));
    const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
    await s.#write(encoder.encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    while (true) {
      const end = decoder.decode(s.#buf).indexOf("\r\n\r\n"); // the head is ASCII
      if (end >= 0) {
        assert.match(decoder.decode(s.#buf.subarray(0, 12)), /^HTTP\/1\.1 101/);
        s.#buf = s.#buf.subarray(end + 4);
        return s;
      }
      if (await s.#fill(5000) !== "data") throw new Error("No handshake response within 5000 ms");
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) off += await this.conn.write(bytes.subarray(off));
  }

  async #fill(ms: number): Promise<"data" | "wait" | "eof"> {
    this.#read ??= this.conn.read(this.#chunk).catch(() => null);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      this.#read,
      new Promise<"wait">((r) => timer = setTimeout(() => r("wait"), ms)),
    ]);
    clearTimeout(timer);
    if (n === "wait") return "wait";
    this.#read = undefined;
    if (n === null) return "eof";
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(this.#chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return "data";
  }

  /**
   * Sends one frame (payloads under 64 KiB).
   *
   * @param opcode 1 text, 0 continuation, 8 close, 9 ping, or a reserved one.
   * @param payload Bytes, or text encoded as UTF-8.
   * @param options FIN, masking and reserved bits.
   */
  async send(
    opcode: number,
    payload: Uint8Array | string,
    options: FrameOptions = {},
  ): Promise<void> {
    const { fin = true, mask = true, rsv = 0 } = options;
    const data = typeof payload === "string" ? encoder.encode(payload) : payload;
    const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
    const m = mask ? 0x80 : 0;
    if (data.length < 126) head.push(m | data.length);
    else if (data.length < 65536) head.push(m | 126, data.length >> 8, data.length & 255);
    else throw new RangeError("Frames under 64 KiB only");
    const key = mask ? crypto.getRandomValues(new Uint8Array(4)) : new Uint8Array(0);
    const out = new Uint8Array(head.length + key.length + data.length);
    out.set(head);
    out.set(key, head.length);
    const o = head.length + key.length;
    for (let i = 0; i < data.length; i++) out[o + i] = mask ? data[i] ^ key[i & 3] : data[i];
    await this.#write(out);
  }

  /** Sends one masked text frame. */
  sendText(text: string): Promise<void> {
    return this.send(1, text);
  }

  /**
   * Reads the next frame.
   *
   * @param ms How long to wait.
   * @returns The frame, "eof" when the server ended the TCP connection, or "wait" on timeout.
   */
  async next(ms = 3000): Promise<Frame | "eof" | "wait"> {
    const deadline = Date.now() + ms;
    while (true) {
      const b = this.#buf;
      if (b.length >= 2) {
        let len = b[1] & 127;
        let off = 2;
        if (len === 126) [len, off] = [b.length >= 4 ? (b[2] << 8) | b[3] : Infinity, 4];
        else if (len === 127) {
          len = b.length >= 10
            ? Number(new DataView(b.buffer, b.byteOffset).getBigUint64(2))
            : Infinity;
          off = 10;
        }
        if (b.length >= off + len) {
          this.#buf = b.subarray(off + len);
          return { opcode: b[0] & 15, payload: b.slice(off, off + len) };
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) return "wait";
      const got = await this.#fill(left);
      if (got !== "data") return got;
    }
  }

  /**
   * Reads one frame.
   *
   * @param ms How long to wait.
   * @returns The frame, or null when none arrives in time.
   * @throws {Error} When the server closed the connection.
   */
  async frame(ms = 5000): Promise<Frame | null> {
    const got = await this.next(ms);
    if (got === "eof") throw new Error("Connection closed by the server");
    return got === "wait" ? null : got;
  }

  /** Closes the TCP connection and settles the read in progress. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    await this.#read;
  }
}
