/**
 * In-process checks of the frame check (lib/wire/protocol.ts): what is accepted, the code and message
 * of what is not, and that the hand-written fast path agrees with the zod schemas.
 */
import assert from "node:assert/strict";
import {
  checkMessage,
  type FrameCheck,
  parseFrame,
  pubSubSchema,
  requestSchema,
} from "../lib/wire/protocol.ts";

const LIMITS = { maxDepth: 32 };
const REQ = { mode: "req_res", action: "req", src: "front", command: "web" };
const PUB = { mode: "pub_sub", action: "pub", src: "agent", topic: "user" };

function rejected(check: FrameCheck): Exclude<FrameCheck, { ok: true }> {
  assert.equal(check.ok, false, "expected the frame to be refused");
  return check as Exclude<FrameCheck, { ok: true }>;
}

function nested(open: string, close: string, levels: number, inner = "1"): string {
  return open.repeat(levels) + inner + close.repeat(levels);
}

Deno.test("parseFrame - accepts the seed request and keeps its fields", () => {
  const text = JSON.stringify({ ...REQ, id: 7, args: [1, 2], kwargs: { name: "jw" } });
  const check = parseFrame(text, LIMITS);
  assert.equal(check.ok, true);
  assert.deepEqual((check as { message: unknown }).message, JSON.parse(text));
});

Deno.test("parseFrame - accepts sub, unsub and pub with a string or a list of topics", () => {
  for (const action of ["sub", "unsub", "pub"]) {
    for (const topic of ["user", ["user", "order"], []]) {
      assert.equal(parseFrame(JSON.stringify({ ...PUB, action, topic }), LIMITS).ok, true);
    }
  }
  const full = { ...PUB, id: "p", code: 200, msg: "m", data: [1, { a: [2] }], retain: true };
  assert.equal(checkMessage(full, LIMITS).ok, true);
});

Deno.test("parseFrame - invalid JSON is a 400 that says so", () => {
  for (const text of ["", "{", "{mode:1}", "nope", '{"a":1}}', "{'a':1}"]) {
    const r = rejected(parseFrame(text, LIMITS));
    assert.equal(r.code, 400);
    assert.match(r.msg, /^Invalid JSON/);
  }
});

Deno.test("parseFrame - JSON that is not an object is a 400", () => {
  for (const text of ["[]", "[1,2]", "1", '"web"', "null", "true"]) {
    const r = rejected(parseFrame(text, LIMITS));
    assert.equal(r.code, 400);
    assert.match(r.msg, /expected a JSON object/);
  }
});

Deno.test("checkMessage - a missing mode, action or command is a 400 naming it", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ action: "req", command: "web" }, "mode"],
    [{ mode: "req_res", command: "web" }, "action"],
    [{ mode: "req_res", action: "req" }, "command"],
    [{ mode: "pub_sub", action: "sub" }, "topic"],
  ];
  for (const [msg, field] of cases) {
    const r = rejected(checkMessage(msg, LIMITS));
    assert.equal(r.code, 400, field);
    assert.ok(r.msg.includes(field), `${r.msg} should name ${field}`);
  }
});

Deno.test("checkMessage - an unknown mode or action is a 404", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...REQ, mode: "rpc" }, /mode.*"rpc"/],
    [{ ...REQ, action: "call" }, /action.*"call"/],
    [{ ...REQ, action: "res" }, /action.*"res"/],
    [{ ...PUB, action: "publish" }, /action.*"publish"/],
    [{ ...PUB, action: "req" }, /action.*"req"/],
  ];
  for (const [msg, pattern] of cases) {
    const r = rejected(checkMessage(msg, LIMITS));
    assert.equal(r.code, 404, JSON.stringify(msg));
    assert.match(r.msg, pattern);
  }
});

/** Each field with a wrong type: the message names the field and zod's issues are in data. */
const BAD_FIELDS: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ["mode", REQ, { mode: 5 }],
  ["mode", REQ, { mode: null }],
  ["action", REQ, { action: 5 }],
  ["action", PUB, { action: ["pub"] }],
  ["src", REQ, { src: 5 }],
  ["src", REQ, { src: "x".repeat(65) }],
  ["src", REQ, { src: "" }],
  ["src", PUB, { src: "" }],
  ["id", REQ, { id: { n: 1 } }],
  ["id", REQ, { id: true }],
  ["id", REQ, { id: null }],
  ["id", REQ, { id: "x".repeat(129) }],
  ["command", REQ, { command: 5 }],
  ["command", REQ, { command: "" }],
  ["command", REQ, { command: ["web"] }],
  ["command", REQ, { command: "x".repeat(129) }],
  ["args", REQ, { args: { a: 1 } }],
  ["args", REQ, { args: "1,2" }],
  ["kwargs", REQ, { kwargs: [1] }],
  ["kwargs", REQ, { kwargs: "name=jw" }],
  ["kwargs", REQ, { kwargs: null }],
  ["topic", PUB, { topic: 5 }],
  ["topic", PUB, { topic: ["a", 1] }],
  ["topic", PUB, { topic: null }],
  ["code", PUB, { code: "200" }],
  ["code", PUB, { code: 1.5 }],
  ["msg", PUB, { msg: 5 }],
  ["msg", PUB, { msg: { text: "hi" } }],
  ["retain", PUB, { retain: "yes" }],
  ["retain", PUB, { retain: 1 }],
];

Deno.test("checkMessage - each invalid field type is a 400 naming the field", () => {
  for (const [field, base, patch] of BAD_FIELDS) {
    const msg = { ...base, ...patch };
    const r = rejected(checkMessage(msg, LIMITS));
    const label = JSON.stringify(patch).slice(0, 60);
    assert.equal(r.code, 400, label);
    assert.ok(r.msg.includes(`"${field}"`) || r.msg.includes(field), `${r.msg} (${label})`);
    if (field !== "mode" && field !== "action") {
      // zod ran: its issues, with paths, are in data.
      const issues = r.data as { path: string; message: string }[];
      assert.ok(Array.isArray(issues) && issues.length > 0, label);
      assert.ok(issues.some((i) => i.path === field || i.path.startsWith(`${field}.`)), label);
    }
  }
});

Deno.test("checkMessage - a valid id is echoed on errors, an invalid one is not", () => {
  assert.equal(rejected(checkMessage({ ...REQ, id: 9, command: 5 }, LIMITS)).id, 9);
  assert.equal(rejected(checkMessage({ ...REQ, id: "a", action: "x" }, LIMITS)).id, "a");
  assert.equal(rejected(checkMessage({ ...REQ, id: 0, mode: "x" }, LIMITS)).id, 0);
  assert.equal(rejected(checkMessage({ ...REQ, id: { a: 1 } }, LIMITS)).id, undefined);
  assert.equal(rejected(checkMessage({ ...PUB, id: 3, topic: 1 }, LIMITS)).mode, "pub_sub");
});

Deno.test("parseFrame - 10,000 levels of nesting are refused without a stack overflow", () => {
  const texts = [
    `{"mode":"req_res","action":"req","command":"echo","args":${nested("[", "]", 10_000)}}`,
    `{"mode":"req_res","action":"req","command":"echo","kwargs":${nested('{"a":', "}", 10_000)}}`,
    `{"mode":"pub_sub","action":"pub","topic":"t","data":${nested("[", "]", 10_000)}}`,
  ];
  for (const text of texts) {
    const r = rejected(parseFrame(text, LIMITS));
    assert.equal(r.code, 400);
    assert.match(r.msg, /nesting deeper than 32 levels/);
  }
  const top = rejected(parseFrame(nested("[", "]", 10_000), LIMITS));
  assert.equal(top.code, 400);
});

Deno.test("parseFrame - nesting exactly at the limit passes, one more level fails", () => {
  // The message object is level 1, so args may add 31 levels.
  const at = `{"mode":"req_res","action":"req","command":"echo","args":${nested("[", "]", 31)}}`;
  const over = `{"mode":"req_res","action":"req","command":"echo","args":${nested("[", "]", 32)}}`;
  assert.equal(parseFrame(at, LIMITS).ok, true);
  assert.equal(rejected(parseFrame(over, LIMITS)).code, 400);
});

Deno.test("parseFrame - a __proto__ key anywhere is refused and pollutes nothing", () => {
  const texts = [
    '{"mode":"req_res","action":"req","command":"echo","__proto__":{"polluted":1}}',
    '{"__proto__":{"polluted":1},"mode":"req_res","action":"req","command":"echo"}',
    '{"mode":"req_res","action":"req","command":"echo","kwargs":{"__proto__":{"polluted":1}}}',
    '{"mode":"req_res","action":"req","command":"echo","args":[1,{"a":{"__proto__":{"polluted":1}}}]}',
    '{"mode":"pub_sub","action":"pub","topic":"t","data":{"__proto__":{"polluted":1}}}',
  ];
  for (const text of texts) {
    const check = parseFrame(text, LIMITS);
    const r = rejected(check);
    assert.equal(r.code, 400, text);
    assert.match(r.msg, /__proto__/);
    // Copying what was parsed, as handlers do, must not reach Object.prototype either.
    Object.assign({}, JSON.parse(text));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
  }
});

Deno.test("checkMessage - the fast path agrees with the zod schemas", () => {
  const samples: Record<string, unknown>[] = [
    REQ,
    { ...REQ, id: 1, args: [], kwargs: {} },
    { ...REQ, id: "", args: [null], kwargs: { a: null } },
    { ...REQ, id: 1e308 },
    { ...REQ, id: -0.5 },
    { ...REQ, extra: "kept" },
    { ...REQ, src: "x" },
    { ...REQ, src: "x".repeat(64) },
    { ...REQ, command: "x".repeat(128) },
    PUB,
    { ...PUB, topic: [] },
    { ...PUB, code: 0, msg: "", retain: false, data: null },
    { ...PUB, code: -1 },
    ...BAD_FIELDS.filter(([f]) => f !== "mode" && f !== "action").map(([, b, p]) => ({
      ...b,
      ...p,
    })),
  ];
  for (const msg of samples) {
    const schema = msg.mode === "req_res" ? requestSchema : pubSubSchema;
    const label = JSON.stringify(msg).slice(0, 80);
    assert.equal(checkMessage(msg, LIMITS).ok, schema.safeParse(msg).success, label);
  }
});
