/**
 * Issue 5's fuzz test: more than 10,000 random and adversarial frames over a few connections.
 * Every frame gets exactly one valid JSON reply (one per line for a `?batch=1` client), or, for
 * what is not a WebSocket text message at all (invalid UTF-8, protocol violations), a clean
 * close; the server never crashes, no prototype gains a key, and a monitoring client's
 * heartbeat is answered throughout: its replies come in between the fuzzing clients' replies, from
 * the first tenth of them to the last.
 *
 * Replies to one connection come in the order of its frames (all commands here are synchronous),
 * so the n-th reply belongs to the n-th frame and is checked against it. Set FUZZ_SEED to replay
 * a run; the seed is printed when the property fails.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Client, type Msg, req, startServer, wsUrl } from "./_client.ts";
import { defineCommand, z } from "../lib/mod.ts";
import type { Switchboard } from "../lib/server.ts";
import routes from "../routes.gen.ts";
import { RawSocket } from "./_raw_ws.ts";
import { sleep } from "./_helpers.ts";

type Frame = string | Uint8Array<ArrayBuffer>;

const MAX_BYTES = 1024 * 1024; // the default MAX_MESSAGE_BYTES
const MAX_DEPTH = 32; // the default MAX_DEPTH
const CODES = new Set([200, 400, 401, 403, 404, 408, 413, 429, 500, 503]);
const OK_COMMANDS = new Set(["echo", "web", "typed"]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// What a reply to a frame must look like

/** JSON.parse that returns undefined instead of throwing. */
function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Nesting depth (the message itself is 1) and whether an own `__proto__` key occurs. */
function shapeOf(value: unknown): { depth: number; proto: boolean } {
  let depth = 0;
  let proto = false;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    depth = Math.max(depth, d);
    if (!Array.isArray(v) && Object.hasOwn(v, "__proto__")) proto = true;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return { depth, proto };
}

/** The id the server must echo: a string of at most 128 characters or a finite number. */
function expectedId(m: Record<string, unknown>): unknown {
  const id = m.id;
  if (typeof id === "string" && id.length <= 128) return id;
  if (typeof id === "number" && Number.isFinite(id)) return id;
  return undefined;
}

/** Checks the shape every server message has; returns a problem or null. */
function badShape(m: unknown): string | null {
  if (!isObject(m)) return "not a JSON object";
  if (m.action === "pub") {
    return m.mode === "pub_sub" && typeof m.topic === "string" ? null : "bad delivery";
  }
  if (m.mode !== "req_res" && m.mode !== "pub_sub") return `bad mode ${m.mode}`;
  if (m.action !== (m.mode === "req_res" ? "res" : "ack")) return `bad action ${m.action}`;
  if (m.src !== "control") return `bad src ${m.src}`;
  if (typeof m.code !== "number" || !CODES.has(m.code)) return `bad code ${m.code}`;
  if (typeof m.msg !== "string" || (m.code !== 200 && m.msg === "")) return "bad msg";
  if (m.msg.includes("\n    at ")) return "a stack trace was sent";
  return null;
}

/**
 * Checks the reply to one unit (a frame, or a line of a batch frame) against what was sent.
 *
 * @param sent The unit as sent.
 * @param reply The parsed reply.
 * @param expect The code expected, when the case is hand-made.
 * @returns A problem or null.
 */
function checkReply(sent: Frame, reply: Msg, expect?: number): string | null {
  const shape = badShape(reply);
  if (shape) return shape;
  if (expect !== undefined && reply.code !== expect) {
    return `code ${reply.code}, expected ${expect}`;
  }
  if (typeof sent !== "string") {
    return reply.code === 400 && reply.msg === "Binary frames are not supported: send JSON text"
      ? null
      : "binary frame not refused";
  }
  if (encoder.encode(sent).length > MAX_BYTES) {
    return reply.code === 413 ? null : "oversized not 413";
  }
  if (reply.code === 413) return "413 for a frame under the limit";
  if (reply.code === 429) return null; // refused before parsing: nothing else to compare
  const parsed = tryParse(sent);
  if (!isObject(parsed)) {
    return reply.code === 400 && reply.action === "res" && reply.id === undefined
      ? null
      : "a non-object was not refused with 400";
  }
  if (JSON.stringify(reply.id) !== JSON.stringify(expectedId(parsed))) {
    return `id ${JSON.stringify(reply.id)} instead of ${JSON.stringify(expectedId(parsed))}`;
  }
  if (reply.action !== (parsed.mode === "pub_sub" ? "ack" : "res")) return "wrong reply action";
  const { depth, proto } = shapeOf(parsed);
  if ((proto || depth > MAX_DEPTH) && reply.code !== 400) return "__proto__ or depth not refused";
  const command = typeof parsed.command === "string" ? parsed.command.toLowerCase() : "";
  if (reply.code === 500 && (command !== "boom" || reply.msg !== 'Command "boom" failed')) {
    return "unexpected 500";
  }
  if (reply.code === 200 && parsed.mode === "req_res") {
    if (!OK_COMMANDS.has(command)) return `200 for command ${JSON.stringify(parsed.command)}`;
    if (command === "echo") {
      const want = JSON.stringify({ args: parsed.args ?? [], kwargs: parsed.kwargs ?? {} });
      if (JSON.stringify(reply.data) !== want) return "echo changed its input";
    }
  }
  if (reply.code === 200 && parsed.mode !== "req_res" && parsed.mode !== "pub_sub") {
    return "200 for a bad mode";
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// A fuzzing client: counts replies per frame and checks each

/** A Deno WebSocket client that sends frames and collects replies in order. */
class FuzzClient {
  readonly replies: Msg[] = [];
  readonly problems: string[] = [];
  deliveries = 0;
  /** Frames sent. */
  sent = 0;
  /** Replies owed: one per frame, or one per non-blank line of a batch frame. */
  owed = 0;
  #wake: (() => void) | undefined;
  readonly closed: Promise<CloseEvent>;

  private constructor(readonly ws: WebSocket, readonly batch: boolean) {
    this.closed = new Promise((resolve) => ws.addEventListener("close", resolve));
    ws.onmessage = (e) => {
      const text = String(e.data);
      for (const line of batch ? text.split("\n") : [text]) {
        const m = tryParse(line);
        const problem = badShape(m);
        if (problem) this.problems.push(`${problem}: ${line.slice(0, 200)}`);
        else if ((m as Msg).action === "pub") this.deliveries++;
        else this.replies.push(m as Msg);
      }
      this.#wake?.();
    };
  }

  static async connect(server: Switchboard, batch = false): Promise<FuzzClient> {
    const ws = new WebSocket(wsUrl(server, batch ? "?batch=1" : ""));
    ws.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("Cannot connect"));
    });
    return new FuzzClient(ws, batch);
  }

  /** The units of a frame the server answers one by one. */
  units(frame: Frame): Frame[] {
    if (typeof frame !== "string") return [frame];
    if (encoder.encode(frame).length > MAX_BYTES) return [frame];
    if (this.batch && frame.includes("\n")) return frame.split("\n").filter((l) => l.trim() !== "");
    return [frame];
  }

  /**
   * Sends frames and waits for all their replies.
   *
   * @returns Each frame's units, paired with their replies.
   */
  async exchange(frames: Frame[]): Promise<[Frame, Msg][]> {
    const units = frames.flatMap((f) => this.units(f));
    const start = this.replies.length;
    for (const f of frames) this.ws.send(f);
    this.sent += frames.length;
    this.owed += units.length;
    const deadline = Date.now() + 10_000;
    while (this.replies.length < start + units.length) {
      if (Date.now() > deadline || this.ws.readyState !== WebSocket.OPEN) {
        throw new Error(
          `Only ${this.replies.length - start} of ${units.length} replies; last frames: ${
            JSON.stringify(frames.slice(-3).map(String)).slice(0, 500)
          }`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return units.map((u, i) => [u, this.replies[start + i]]);
  }

  /**
   * Sends one last heartbeat and waits for its reply. Replies come in the order of the frames, so
   * a late extra reply to an earlier frame would come before it: after this, `replies` holds
   * exactly one reply per unit sent, the heartbeat's last.
   */
  async settle(): Promise<void> {
    const id = `settle-${crypto.randomUUID()}`;
    this.ws.send(JSON.stringify(req("web", { id })));
    this.sent++;
    this.owed++;
    const deadline = Date.now() + 10_000;
    while (!this.replies.some((m) => m.id === id)) {
      if (Date.now() > deadline || this.ws.readyState !== WebSocket.OPEN) {
        throw new Error(`No reply to the closing heartbeat; ${this.replies.length} replies`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    assert.equal(this.replies.length, this.owed, "a frame got more or fewer than one reply");
    assert.equal(this.replies.at(-1)!.id, id, "a reply came after the closing heartbeat");
  }

  async close(): Promise<void> {
    this.ws.close();
    await this.closed;
  }
}

// ---------------------------------------------------------------------------------------------
// Generated frames (fast-check)

const json = fc.jsonValue({ maxDepth: 3 });
const level = fc.stringMatching(/^[a-z0-9_]{1,8}$/);
const topicName = fc.oneof(
  fc.constant("user"),
  fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join("/")),
);
const trickyLevel = fc.oneof(
  level,
  fc.constantFrom("+", "#", "", "__proto__", "constructor", "prototype", "$SYS", "a+", "#b", "\0"),
  fc.string({ maxLength: 4 }),
);
const topicFilter = fc.array(trickyLevel, { minLength: 1, maxLength: 6 }).map((l) => l.join("/"));
const id = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 12 }),
  fc.double(),
  fc.constantFrom(1e308, -0, 2 ** 53 + 1, "x".repeat(129)),
);
const kwargs = fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 4 });
const extra = fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 3 });

const echoRequest = fc.record({
  mode: fc.constant("req_res"),
  action: fc.constant("req"),
  src: fc.constantFrom("front", "agent"),
  id,
  command: fc.constantFrom("echo", "ECHO", "Echo"),
  args: fc.array(json, { maxLength: 4 }),
  kwargs,
}, { requiredKeys: ["mode", "action", "command"] });
const publish = fc.record({
  mode: fc.constant("pub_sub"),
  action: fc.constant("pub"),
  id,
  topic: topicName,
  code: fc.integer({ min: 100, max: 599 }),
  msg: fc.string({ maxLength: 20 }),
  data: json,
  retain: fc.boolean(),
}, { requiredKeys: ["mode", "action", "topic"] });
const subscription = fc.record({
  mode: fc.constant("pub_sub"),
  action: fc.constantFrom("sub", "unsub"),
  id,
  topic: fc.oneof(topicFilter, fc.array(topicFilter, { maxLength: 5 })),
}, { requiredKeys: ["mode", "action", "topic"] });
const wrongTypes = fc.tuple(
  fc.record({
    mode: fc.oneof(fc.constantFrom("req_res", "pub_sub", "REQ_RES", "__proto__"), json),
    action: fc.oneof(fc.constantFrom("req", "sub", "unsub", "pub", "res", "ack"), json),
    command: fc.oneof(
      fc.constantFrom("web", "echo", "typed", "boom", "nope", "__proto__", "constructor"),
      json,
    ),
    id: fc.oneof(id, json),
    args: json,
    kwargs: fc.oneof(kwargs, json),
    topic: fc.oneof(topicFilter, json),
    src: fc.oneof(fc.string({ maxLength: 70 }), json),
    code: json,
    msg: json,
    data: json,
    retain: json,
  }, { requiredKeys: [] }),
  extra,
).map(([m, more]) => ({ ...more, ...m }));
const message = fc.oneof(echoRequest, publish, subscription, wrongTypes);
const messageText = message.map((m) => JSON.stringify(m));
const mutated = fc.tuple(messageText, fc.nat(), fc.nat({ max: 4 }), fc.string({ maxLength: 4 }))
  .map(([t, at, cut, insert]) => {
    const i = at % (t.length + 1);
    return t.slice(0, i) + insert + t.slice(i + cut);
  });
const deep = fc.nat({ max: 60 }).map((n) =>
  `{"mode":"req_res","action":"req","id":${n},"command":"echo","kwargs":${'{"a":'.repeat(n)}1${
    "}".repeat(n)
  }}`
);
// Frames go out as UTF-8, so lone surrogates would be replaced on the way: send well-formed text.
const textFrame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 5, arbitrary: messageText },
  { weight: 2, arbitrary: mutated },
  { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }) },
  { weight: 1, arbitrary: deep },
).map((t) => t.toWellFormed());
const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 12, arbitrary: textFrame },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 64 }) as fc.Arbitrary<Uint8Array<ArrayBuffer>>,
  },
);

// ---------------------------------------------------------------------------------------------
// Hand-made adversarial frames, each with the code it must get

const M = (fields: Msg) => JSON.stringify(fields);
const echo = (fields: Msg = {}) => M(req("echo", fields));

/** Nested objects `{"a":{"a":…1}}`, `n` levels. */
const nest = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;

/** Frames that must each get a 400: `make` applied to every value. */
const refused = (values: unknown[], make: (v: unknown) => string): [Frame, number][] =>
  values.map((v) => [make(v), 400]);

/** The cases: [frame, expected code]. Expensive ones only when `first`. */
function handMade(round: number, first: boolean): [Frame, number][] {
  const r = round;
  const cases: [Frame, number][] = [
    [new Uint8Array([1, 2, 3]), 400],
    [new Uint8Array(0), 400],
    [encoder.encode(echo({ id: r })), 400], // JSON, but in a binary frame
    ["", 400],
    ["null", 400],
    ["true", 400],
    ["1e400", 400],
    ["[]", 400],
    ['"req_res"', 400],
    ["{}", 400],
    ["\ufeff" + echo(), 400],
    ["  \n\t" + echo({ id: r }) + "\n ", 200],
    [`{"mode":"req_res","action":"req","command":"echo","id":1e400}`, 400],
    [`{"mode":"req_res","action":"req","command":"echo","id":123456789012345678901234567890}`, 200],
    [`{"mode":"req_res","action":"req","command":"echo","args":[1e400,-1e400,1e-400,-0]}`, 200],
    [M({ mode: "pub_sub", action: "pub", topic: "huge", code: 1e308, data: 2 ** 1023 }), 200],
    [M({ mode: "pub_sub", action: "pub", topic: "huge", code: 1.5 }), 400],
    // __proto__, as JSON.parse makes it: an own key, anywhere.
    [
      `{"__proto__":{"polluted":1},"mode":"req_res","action":"req","command":"echo","id":${r}}`,
      400,
    ],
    [
      `{"mode":"req_res","action":"req","command":"echo","kwargs":{"__proto__":{"polluted":1}}}`,
      400,
    ],
    [`{"mode":"req_res","action":"req","command":"echo","args":[{"__proto__":{"x":1}}]}`, 400],
    [
      `{"mode":"req_res","action":"req","command":"echo","kwargs":{"\\u005f_proto__":{"p":1}}}`,
      400,
    ],
    [
      `{"mode":"pub_sub","action":"pub","topic":"t","data":${
        nest(8).replace("1}", '{"__proto__":{"p":1}}}')
      }}`,
      400,
    ],
    [
      echo({ kwargs: { constructor: { prototype: { polluted: 1 } }, prototype: { polluted: 1 } } }),
      200,
    ],
    [echo({ kwargs: { toString: 1, hasOwnProperty: 2, valueOf: null } }), 200],
    [M(req("__proto__")), 404],
    [M(req("constructor")), 404],
    [M(req("hasOwnProperty")), 404],
    [M(req("toString")), 404],
    [M({ mode: "__proto__", action: "req", command: "echo" }), 404],
    [M({ mode: "req_res", action: "constructor", command: "echo" }), 404],
    [
      M({
        mode: "pub_sub",
        action: "sub",
        topic: ["__proto__", "constructor/prototype", "__proto__/#"],
      }),
      200,
    ],
    [M({ mode: "pub_sub", action: "pub", topic: "__proto__", data: { polluted: 1 } }), 200],
    [
      M({ mode: "pub_sub", action: "pub", topic: "constructor/prototype", retain: true, data: 1 }),
      200,
    ],
    [
      M({
        mode: "pub_sub",
        action: "unsub",
        topic: ["__proto__", "constructor/prototype", "__proto__/#"],
      }),
      200,
    ],
    [M(req("echo", { src: "__proto__" })), 200],
    // Wrong types, field by field.
    [M({ mode: 1, action: "req", command: "echo" }), 400],
    [M({ mode: "req_res", action: null, command: "echo" }), 400],
    ...refused([5, {}, [], "", "x".repeat(129)], (c) => M({ ...req("echo"), command: c })),
    ...refused(["x", {}, 1], (a) => echo({ args: a })),
    ...refused([[], "x", 1, null], (k) => echo({ kwargs: k })),
    ...refused([{}, [], true, null, "x".repeat(129)], (i) => echo({ id: i })),
    ...refused([5, {}, [1], null], (t) => M({ mode: "pub_sub", action: "sub", topic: t })),
    [M({ mode: "pub_sub", action: "pub", topic: "t", code: "200" }), 400],
    [M({ mode: "pub_sub", action: "pub", topic: "t", msg: 5 }), 400],
    [M({ mode: "pub_sub", action: "pub", topic: "t", retain: "yes" }), 400],
    [M({ mode: "pub_sub", action: "pub", topic: ["a", "b"] }), 400],
    [echo({ src: 5 }), 400],
    [echo({ src: "s".repeat(65) }), 400],
    // Topics.
    [M({ mode: "pub_sub", action: "pub", topic: "a/+" }), 400],
    [M({ mode: "pub_sub", action: "pub", topic: "#" }), 400],
    [M({ mode: "pub_sub", action: "sub", topic: "a/#/b" }), 400],
    [M({ mode: "pub_sub", action: "sub", topic: "" }), 400],
    [M({ mode: "pub_sub", action: "sub", topic: "a\0b" }), 400],
    [`{"mode":"pub_sub","action":"pub","topic":"\\ud800"}`, 400],
    [M({ mode: "pub_sub", action: "pub", topic: "😀/€/ж", data: "ok" }), 200],
    [M({ mode: "pub_sub", action: "pub", topic: "t".repeat(257) }), 400],
    [M({ mode: "pub_sub", action: "pub", topic: Array(17).fill("l").join("/") }), 400],
    // Commands and their schemas.
    [M(req("nope")), 404],
    [M(req("echo\u0000")), 404],
    [M(req("ＥＣＨＯ")), 404],
    [M(req("WEB", { id: `b${r}` })), 200],
    [M(req("typed", { kwargs: { name: "jw", age: 3 } })), 200],
    [M(req("typed", { kwargs: { name: "", age: 1.5 } })), 400],
    [M(req("typed", { kwargs: { name: { __nope: 1 } } })), 400],
    [M(req("boom")), 500],
    [M({ ...req("web"), more: true, process: 50, extra: { nested: [1, [2]] } }), 200],
    [`{"mode":"pub_sub","mode":"req_res","action":"req","command":"echo"}`, 200],
    [echo({ kwargs: JSON.parse(nest(31)) }), 200], // message 1, kwargs 2, innermost 32: the limit
    [echo({ kwargs: JSON.parse(nest(32)) }), 400],
  ];
  if (first) {
    const filters = Array.from({ length: 1001 }, (_, i) => `many/${i}`);
    cases.push(
      [M({ mode: "pub_sub", action: "sub", topic: filters }), 400],
      [echo({ args: ["x".repeat(MAX_BYTES)] }), 413],
      [echo({ args: ["€".repeat(400_000)] }), 413], // 1.2 MB in 400,000 UTF-16 units
      [`${"[".repeat(200_000)}${"]".repeat(200_000)}`, 400],
      [
        `{"mode":"req_res","action":"req","command":"echo","args":${"[".repeat(100_000)}${
          "]".repeat(100_000)
        }}`,
        400,
      ],
      [`{"mode":"req_res","action":"req","command":"echo","kwargs":${nest(50_000)}}`, 400],
      [echo({ args: Array(50_000).fill(1e308) }), 200],
    );
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Raw frames that are not valid WebSocket text: a hand-written client on a TCP socket

/** A raw case: what to send, and whether a reply (else a close) must follow. */
interface RawCase {
  name: string;
  send: (s: RawSocket) => Promise<void>;
  /** "reply": a valid JSON reply with this code; "close": a close frame or the TCP end. */
  expect: { reply: number } | "close" | "pong";
}

const BAD_UTF8 = [
  [0xff],
  [0xc3, 0x28],
  [0xc0, 0xaf], // overlong "/"
  [0xed, 0xa0, 0x80], // an encoded surrogate
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xe2, 0x82], // truncated
];

function rawCases(): RawCase[] {
  const echoBytes = encoder.encode(echo({ args: ["€"] }));
  const split = echoBytes.indexOf(0xe2) + 1; // inside the "€"
  const withBadByte = encoder.encode(echo({ args: ["ab"] }));
  withBadByte[withBadByte.indexOf(0x61)] = 0xff; // "a" -> 0xff inside a JSON string
  return [
    ...BAD_UTF8.map((bytes): RawCase => ({
      name: `invalid UTF-8 ${bytes.map((b) => b.toString(16))}`,
      send: (s) => s.send(1, new Uint8Array(bytes)),
      expect: "close",
    })),
    {
      name: "invalid UTF-8 in a JSON string",
      send: (s) => s.send(1, withBadByte),
      expect: "close",
    },
    {
      name: "invalid UTF-8 in a continuation",
      send: async (s) => {
        await s.send(1, '{"mode":"req_res",', { fin: false });
        await s.send(0, new Uint8Array([0x22, 0xff, 0x22]));
      },
      expect: "close",
    },
    {
      name: "a character split across fragments",
      send: async (s) => {
        await s.send(1, echoBytes.subarray(0, split), { fin: false });
        await s.send(0, echoBytes.subarray(split));
      },
      expect: { reply: 200 },
    },
    { name: "reserved opcode 3", send: (s) => s.send(3, "{}"), expect: "close" },
    { name: "reserved bit set", send: (s) => s.send(1, "{}", { rsv: 4 }), expect: "close" },
    { name: "continuation without a start", send: (s) => s.send(0, "{}"), expect: "close" },
    {
      name: "control frame over 125 bytes",
      send: (s) => s.send(9, "x".repeat(200)),
      expect: "close",
    },
    { name: "ping", send: (s) => s.send(9, "hi"), expect: "pong" },
    {
      name: "close frame from the client",
      send: (s) => s.send(8, new Uint8Array([0x03, 0xe8])),
      expect: "close",
    },
  ];
}

/** Runs one raw case on a fresh connection; returns a problem or null. */
async function runRaw(server: Switchboard, c: RawCase): Promise<string | null> {
  const s = await RawSocket.open(server.port);
  try {
    await c.send(s);
    const got = await s.next();
    if (got === "wait") return `${c.name}: neither a reply nor a close within 3 s`;
    if (c.expect === "close") {
      return got === "eof" || got.opcode === 8 ? null : `${c.name}: got opcode ${got.opcode}`;
    }
    if (got === "eof") return `${c.name}: closed instead of answering`;
    if (c.expect === "pong") return got.opcode === 10 ? null : `${c.name}: no pong`;
    const reply = tryParse(decoder.decode(got.payload));
    const problem = badShape(reply);
    if (problem) return `${c.name}: ${problem}`;
    return (reply as Msg).code === c.expect.reply ? null : `${c.name}: code ${(reply as Msg).code}`;
  } finally {
    await s.close();
  }
}

// ---------------------------------------------------------------------------------------------

/** Own properties of the built-in prototypes (key and value or getter), to catch pollution. */
function prototypeSnapshot(): [string, unknown][] {
  const protos = [Object, Array, Function, String, Number, Boolean, Map, Set, Promise]
    .map((c) => c.prototype as object);
  return protos.flatMap((p, i) =>
    Reflect.ownKeys(p).map((k): [string, unknown] => {
      const d = Object.getOwnPropertyDescriptor(p, k)!;
      return [`${i}:${String(k)}`, d.get ?? d.value];
    })
  );
}

/**
 * Sends heartbeats one after the other, with a short pause so that the monitor does not load the
 * server itself, until stopped. Each reply is stamped with `progress()` (the fuzzing clients'
 * replies so far), to show where among them it came.
 */
async function monitor(c: Client, stop: { done: boolean }, progress: () => number) {
  const answeredAt: number[] = [];
  let sent = 0;
  while (!stop.done) {
    const reply = await c.request(req("web", { id: `hb-${++sent}` }), 5000);
    assert.equal(reply.code, 200);
    answeredAt.push(progress());
    await sleep(2);
  }
  return { answeredAt, sent };
}

Deno.test("fuzz - 10,000 random and adversarial frames each get a valid reply or a clean close", async () => {
  const before = prototypeSnapshot();
  const server = await startServer({
    routes: {
      commands: { echo: routes.commands.echo, web: routes.commands.web },
      topics: routes.topics,
      workers: {},
    },
  });
  server.command(
    "typed",
    defineCommand({
      kwargs: z.object({ name: z.string().min(1), age: z.number().int().optional() }),
      handle: ({ kwargs }) => [kwargs],
    }),
  );
  server.command("boom", () => {
    throw new Error("Kaboom: internal detail");
  });
  const watcher = await Client.connect(wsUrl(server));
  const a = await FuzzClient.connect(server);
  const b = await FuzzClient.connect(server);
  const batch = await FuzzClient.connect(server, true);
  const stop = { done: false };
  const progress = () => a.replies.length + b.replies.length + batch.replies.length;
  const watched = monitor(watcher, stop, progress);
  const problems: string[] = [];
  const note = (client: string, pairs: [Frame, Msg][], expect?: number[]) =>
    pairs.forEach(([sent, reply], i) => {
      const p = checkReply(sent, reply, expect?.[i]);
      if (p) problems.push(`${client}: ${p}; sent ${String(sent).slice(0, 200)}`);
    });
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? Date.now() % 2 ** 31);
  let rawFrames = 0;
  try {
    await Promise.all([
      // a: generated frames, as a property so that a failure shrinks to a small case.
      fc.assert(
        fc.asyncProperty(fc.array(frame, { minLength: 30, maxLength: 70 }), async (frames) => {
          const pairs = await a.exchange(frames);
          const found = pairs.map(([s, r]) => checkReply(s, r)).filter((p) => p !== null);
          assert.deepEqual(found, []);
        }),
        { numRuns: 120, seed, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: true },
      ),
      // b: the hand-made cases, 45 rounds.
      (async () => {
        for (let round = 0; round < 45; round++) {
          const cases = handMade(round, round === 0);
          const pairs = await b.exchange(cases.map(([f]) => f));
          note("hand-made", pairs, cases.map(([, code]) => code));
          await sleep(0);
        }
      })(),
      // batch: several messages per frame, one per line, valid and not.
      (async () => {
        const frames = fc.sample(
          fc.array(textFrame, { minLength: 1, maxLength: 4 }).map((l) => l.join("\n")),
          { numRuns: 1500, seed: seed + 1 },
        );
        for (let i = 0; i < frames.length; i += 50) {
          note("batch", await batch.exchange(frames.slice(i, i + 50)));
        }
      })(),
      // raw: what is not a text message at all, each on a fresh connection.
      (async () => {
        for (let round = 0; round < 3; round++) {
          for (const c of rawCases()) {
            const p = await runRaw(server, c);
            if (p) problems.push(`raw: ${p}`);
            rawFrames++;
          }
        }
      })(),
    ]);
    // The monitor was answered throughout: before the fuzzing clients' replies were a tenth
    // done, and again in every later tenth of them.
    stop.done = true;
    const { answeredAt, sent } = await watched;
    assert.equal(answeredAt.length, sent);
    const total = progress();
    const tenths = new Set(answeredAt.map((n) => Math.min(9, Math.floor((n / total) * 10))));
    assert.deepEqual(
      [...tenths].sort((x, y) => x - y),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      "a tenth of the fuzzing went by without a heartbeat reply",
    );
    // No reply beyond the one per frame arrives late: a last heartbeat on each client is answered
    // last.
    for (const c of [a, b, batch]) await c.settle();
    const frames = a.sent + b.sent + batch.sent + rawFrames;
    assert.ok(frames >= 10_000, `only ${frames} frames sent`);
    assert.deepEqual([...a.problems, ...b.problems, ...batch.problems, ...problems], []);

    // The server is still well: the fuzzing clients are open, the raw ones gone.
    for (const c of [a, b, batch]) assert.equal(c.ws.readyState, WebSocket.OPEN);
    assert.equal(server.hub.size, 4);
    const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const after = prototypeSnapshot();
    assert.equal(after.length, before.length, "a prototype gained or lost a key");
    after.forEach(([k, v], i) => assert.ok(before[i][0] === k && before[i][1] === v, k));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  } finally {
    stop.done = true;
    await watched.catch(() => {});
    for (const c of [a, b, batch]) await c.close();
    await watcher.close();
    await server.shutdown();
  }
});
