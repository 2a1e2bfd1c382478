/**
 * End-to-end checks of bad frames over real sockets: each one gets an error reply with a clear
 * message, and the same connection still gets the heartbeat afterwards.
 */
import assert from "node:assert/strict";
import { Client, HEARTBEAT, type Msg, req, withServer, wsUrl } from "./_client.ts";
import type { Switchboard } from "../lib/server.ts";

/** Sends one bad frame, returns its error reply, and proves the connection still works. */
async function refused(c: Client, frame: unknown): Promise<Msg> {
  if (frame instanceof Uint8Array) c.ws.send(frame);
  else c.send(frame);
  const reply = await c.next();
  assert.ok(reply.code !== 200, `expected an error reply, got ${JSON.stringify(reply)}`);
  assert.equal(typeof reply.msg, "string");
  assert.ok(reply.msg.length > 0);
  assert.deepEqual(await c.request(req("web")), HEARTBEAT);
  assert.equal(c.inbox.length, 0, `unexpected extra messages: ${JSON.stringify(c.inbox)}`);
  return reply;
}

function withClient(
  fn: (c: Client, server: Switchboard) => Promise<void>,
  options: Record<string, unknown> = {},
): Promise<void> {
  return withServer((server, c) => fn(c, server), options);
}

function nested(open: string, close: string, levels: number): string {
  return open.repeat(levels) + "1" + close.repeat(levels);
}

Deno.test("web - the heartbeat has the seed's shape, with no data", async () => {
  await withClient(async (c) => {
    c.send({ mode: "req_res", action: "req", src: "front", command: "web" });
    const raw = await c.next();
    assert.deepEqual(raw, HEARTBEAT);
    assert.equal("data" in raw, false);
    assert.equal("id" in raw, false);
    assert.equal("more" in raw, false);
  });
});

Deno.test("web - the id is echoed, a number or a string", async () => {
  await withClient(async (c) => {
    assert.deepEqual(await c.request(req("web", { id: 7 })), { ...HEARTBEAT, id: 7 });
    assert.deepEqual(await c.request(req("web", { id: "abc" })), { ...HEARTBEAT, id: "abc" });
    assert.deepEqual(await c.request(req("web", { id: 0 })), { ...HEARTBEAT, id: 0 });
  });
});

Deno.test("router - command names match case-insensitively", async () => {
  await withClient(async (c) => {
    for (const name of ["WEB", "Web", "wEb"]) {
      assert.deepEqual(await c.request(req(name)), { ...HEARTBEAT, command: name });
    }
    const r = await c.request(req("RESTARTPROCESS", { id: 1 }));
    assert.equal(r.code, 200);
    assert.equal(r.msg, "重启成功");
  });
});

Deno.test("router - an unknown command is a 404 naming it", async () => {
  await withClient(async (c) => {
    const r = await refused(c, req("nope", { id: 3 }));
    assert.equal(r.code, 404);
    assert.equal(r.id, 3);
    assert.equal(r.command, "nope");
    assert.match(r.msg, /Unknown command: "nope"/);
    assert.equal((await refused(c, req("web.ts"))).code, 404);
    assert.equal((await refused(c, req("_users"))).code, 404);
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
      assert.equal((await refused(c, req(name))).code, 404, name);
    }
  });
});

Deno.test("frames - bad JSON is a 400", async () => {
  await withClient(async (c) => {
    for (const text of ["{", "not json", '{"mode":"req_res",}', ""]) {
      const r = await refused(c, text);
      assert.equal(r.code, 400, text);
      assert.match(r.msg, /Invalid JSON/);
      assert.equal(r.mode, "req_res");
      assert.equal(r.action, "res");
      assert.equal(r.src, "control");
    }
  });
});

Deno.test("frames - JSON that is not an object is a 400", async () => {
  await withClient(async (c) => {
    for (const text of ["[]", '[{"mode":"req_res"}]', "42", '"web"', "null", "false"]) {
      const r = await refused(c, text);
      assert.equal(r.code, 400, text);
      assert.match(r.msg, /expected a JSON object/);
    }
  });
});

Deno.test("frames - each invalid field type is a 400 naming the field", async () => {
  const base = req("echo", { id: 5 });
  const pub = { mode: "pub_sub", action: "pub", src: "agent", id: 5, topic: "t" };
  const cases: [string, Msg, boolean][] = [
    ["mode", { ...base, mode: 1 }, false],
    ["action", { ...base, action: 1 }, false],
    ["src", { ...base, src: 1 }, true],
    ["src", { ...base, src: "" }, true],
    ["src", { ...pub, src: "" }, true],
    ["id", { ...base, id: { x: 1 } }, true],
    ["id", { ...base, id: [1] }, true],
    ["command", { ...base, command: 1 }, true],
    ["command", { ...base, command: "" }, true],
    ["args", { ...base, args: { a: 1 } }, true],
    ["kwargs", { ...base, kwargs: [1] }, true],
    ["kwargs", { ...base, kwargs: "x" }, true],
    ["topic", { ...pub, topic: 1 }, true],
    ["topic", { ...pub, topic: [1] }, true],
    ["code", { ...pub, code: "200" }, true],
    ["msg", { ...pub, msg: 1 }, true],
    ["retain", { ...pub, retain: "true" }, true],
  ];
  await withClient(async (c) => {
    for (const [field, frame, zod] of cases) {
      const r = await refused(c, frame);
      const label = `${field}: ${JSON.stringify(frame)}`;
      assert.equal(r.code, 400, label);
      assert.ok(r.msg.includes(field), `${r.msg} should name ${field}`);
      if (zod) {
        assert.ok(Array.isArray(r.data) && r.data.length > 0, `issues in data: ${label}`);
        assert.ok(r.data.some((i: Msg) => String(i.path).split(".")[0] === field), label);
      }
      // A valid id is echoed; pub_sub errors come back ack-shaped.
      if (field !== "id") assert.equal(r.id, 5, label);
      if (frame.mode === "pub_sub") assert.equal(r.action, "ack", label);
      else assert.equal(r.action, "res", label);
    }
  });
});

Deno.test("frames - an unknown mode or action is a 404", async () => {
  await withClient(async (c) => {
    const mode = await refused(c, { ...req("web"), mode: "rpc" });
    assert.equal(mode.code, 404);
    assert.match(mode.msg, /mode/);
    const action = await refused(c, { ...req("web"), action: "call" });
    assert.equal(action.code, 404);
    assert.match(action.msg, /action/);
    const ps = await refused(c, { mode: "pub_sub", action: "publish", topic: "t" });
    assert.equal(ps.code, 404);
    assert.equal(ps.action, "ack");
  });
});

Deno.test("frames - a binary frame is a 400", async () => {
  await withClient(async (c) => {
    const r = await refused(c, new TextEncoder().encode(JSON.stringify(req("web"))));
    assert.equal(r.code, 400);
    assert.match(r.msg, /[Bb]inary/);
  });
});

Deno.test("frames - 10,000 levels of nesting are a 400 and the server lives on", async () => {
  await withClient(async (c, server) => {
    const other = await Client.connect(wsUrl(server));
    const args = `{"mode":"req_res","action":"req","id":1,"command":"echo","args":${
      nested("[", "]", 10_000)
    }}`;
    const kwargs = `{"mode":"req_res","action":"req","command":"echo","kwargs":${
      nested('{"a":', "}", 10_000)
    }}`;
    for (const text of [args, kwargs]) {
      const r = await refused(c, text);
      assert.equal(r.code, 400);
      assert.match(r.msg, /nesting/);
    }
    assert.equal((await refused(c, nested("[", "]", 10_000))).code, 400);
    assert.equal((await other.request(req("web"))).code, 200);
    await other.close();
  });
});

Deno.test("frames - a __proto__ key anywhere is a 400 and Object.prototype stays clean", async () => {
  const texts = [
    '{"mode":"req_res","action":"req","command":"echo","__proto__":{"polluted":1}}',
    '{"mode":"req_res","action":"req","command":"echo","kwargs":{"__proto__":{"polluted":1}}}',
    '{"mode":"req_res","action":"req","command":"echo","args":[{"__proto__":{"polluted":1}}]}',
    '{"mode":"req_res","action":"req","command":"add_user","kwargs":{"name":"a","__proto__":{"polluted":1}}}',
    '{"mode":"pub_sub","action":"pub","topic":"t","data":{"x":{"__proto__":{"polluted":1}}}}',
  ];
  await withClient(async (c) => {
    for (const text of texts) {
      const r = await refused(c, text);
      assert.equal(r.code, 400, text);
      assert.match(r.msg, /__proto__/);
    }
    assert.equal(({} as Msg).polluted, undefined);
    assert.equal(Object.hasOwn(Object.prototype, "polluted"), false);
    // echo spreads its kwargs into the reply: a safe kwargs object still comes back unchanged.
    const ok = await c.request(req("echo", { kwargs: { proto: 1 } }));
    assert.deepEqual(ok.data, { args: [], kwargs: { proto: 1 } });
  });
});

Deno.test("frames - a frame over MAX_MESSAGE_BYTES is a 413", async () => {
  await withClient(async (c) => {
    const r = await refused(c, req("echo", { args: ["x".repeat(200)] }));
    assert.equal(r.code, 413);
    assert.match(r.msg, /too large/);
    // Multi-byte characters count as bytes: 40 characters of 3 bytes each exceed 100 bytes.
    const wide = await refused(
      c,
      `{"mode":"req_res","action":"req","command":"echo","args":["${"字".repeat(40)}"]}`,
    );
    assert.equal(wide.code, 413);
  }, { MAX_MESSAGE_BYTES: 100 });
});

Deno.test("frames - a flood of bad frames leaves other clients' replies intact", async () => {
  await withClient(async (c, server) => {
    const good = await Client.connect(wsUrl(server));
    for (let i = 0; i < 200; i++) c.send(i % 2 ? "{" : "[]");
    for (let i = 0; i < 20; i++) good.send(req("echo", { id: i, args: [i] }));
    const replies = await good.waitFor(20, (m) => m.action === "res");
    assert.deepEqual(replies.map((m) => m.data.args[0]).sort((a, b) => a - b), [
      ...Array(20).keys(),
    ]);
    const errors = await c.waitFor(200, (m) => m.code === 400);
    assert.equal(errors.length, 200);
    c.inbox.length = 0;
    assert.deepEqual(await c.request(req("web")), HEARTBEAT);
    await good.close();
  });
});
