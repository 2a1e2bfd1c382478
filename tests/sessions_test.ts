/**
 * Issue 14, sessions: the `expiring` notice, token refresh on a live connection and the `subs`
 * claim. The timer logic runs in-process on the fake clock; the end-to-end tests use the real
 * server, real WebSockets and tokens of a few seconds (the only real waits).
 */
import assert from "node:assert/strict";
import { clockOf, type FakeClient, fakeClient, fakeServer, type Msg } from "./_fakes.ts";
import { Client, req, startServer, wsUrl } from "./_client.ts";
import { signJwt } from "../lib/session/jwt.ts";
import { until } from "./_helpers.ts";
import type { ServerOptions } from "../lib/create_server.ts";
import type { Switchboard } from "../lib/server.ts";

const SECRET = "jwt-secret-for-the-session-tests";

/** Waits for a message of a fake client that matches, and returns it. */
async function fakeNext(c: FakeClient, match: (m: Msg) => boolean, what: string): Promise<Msg> {
  let found: Msg | undefined;
  await until(() => (found = c.messages().find(match)) !== undefined, what);
  return found!;
}

const isRefresh = (m: Msg) => m.mode === "session" && m.action === "refresh";
const isExpiring = (m: Msg) => m.mode === "session" && m.action === "expiring";

Deno.test("sessions - expiring notice REFRESH_NOTICE_S before exp, then close 1008 at exp", () => {
  const server = fakeServer({ REFRESH_NOTICE_S: 10 });
  const clock = clockOf(server);
  const exp = clock.now() + 60_000;
  const c = fakeClient(server, { auth: { id: "panel-1", expiresAt: exp } });
  clock.advance(49_999);
  assert.equal(c.messages().length, 0);
  clock.advance(1);
  assert.deepEqual(c.messages(), [{ mode: "session", action: "expiring", exp: exp / 1000 }]);
  clock.advance(9_999);
  assert.equal(c.socket.closeCode, undefined);
  clock.advance(1);
  assert.equal(c.socket.closeCode, 1008);
  c.leave();
  assert.equal(clock.pending, 0);
});

Deno.test("sessions - a token shorter than the notice gets it at once", () => {
  const server = fakeServer({ REFRESH_NOTICE_S: 30 });
  const clock = clockOf(server);
  const c = fakeClient(server, { auth: { id: "p", expiresAt: clock.now() + 5_000 } });
  assert.equal(c.messages().filter(isExpiring).length, 1);
  clock.advance(5_000);
  assert.equal(c.socket.closeCode, 1008);
  c.leave();
});

Deno.test("sessions - refresh moves the expiry: new notice, close only at the new exp", async () => {
  const server = fakeServer({ REFRESH_NOTICE_S: 10, JWT_SECRET: SECRET });
  const clock = clockOf(server);
  const s = clock.now() / 1000;
  const c = fakeClient(server, { auth: { id: "panel-1", expiresAt: (s + 60) * 1000 } });
  clock.advance(50_000);
  assert.equal(c.messages().filter(isExpiring).length, 1);
  c.send({
    mode: "session",
    action: "refresh",
    id: 1,
    token: await signJwt({ sub: "panel-1", exp: s + 120 }, SECRET),
  });
  const answer = await fakeNext(c, isRefresh, "the refresh answer");
  assert.equal(answer.code, 200);
  assert.equal(answer.id, 1);
  assert.equal(answer.exp, s + 120);
  clock.advance(20_000); // past the first exp
  assert.equal(c.socket.closeCode, undefined);
  clock.advance(39_999); // 1 ms before the new notice
  assert.equal(c.messages().filter(isExpiring).length, 1);
  clock.advance(1);
  assert.deepEqual(c.messages().filter(isExpiring).at(-1), {
    mode: "session",
    action: "expiring",
    exp: s + 120,
  });
  clock.advance(10_000);
  assert.equal(c.socket.closeCode, 1008);
  c.leave();
  assert.equal(clock.pending, 0);
});

Deno.test("sessions - a refused refresh (401, 403) changes nothing", async () => {
  const server = fakeServer({ REFRESH_NOTICE_S: 10, JWT_SECRET: SECRET });
  const clock = clockOf(server);
  const s = clock.now() / 1000;
  const perms = { subscribe: ["a/#"] };
  const c = fakeClient(server, {
    auth: { id: "panel-1", expiresAt: (s + 60) * 1000, permissions: perms },
  });
  const cases: [unknown, number, RegExp][] = [
    [await signJwt({ sub: "panel-2", exp: s + 600 }, SECRET), 403, /another "sub"/],
    [await signJwt({ sub: "panel-1", exp: s + 600 }, "another-secret-of-16+"), 401, /signature/],
    [await signJwt({ sub: "panel-1", exp: s - 1 }, SECRET), 401, /expired/],
    [await signJwt({ sub: "panel-1", subs: "a" }, SECRET), 401, /subs/],
    ["garbage", 401, /Malformed/],
  ];
  for (const [i, [token, code, msg]] of cases.entries()) {
    c.send({ mode: "session", action: "refresh", id: `r${i}`, token });
    const answer = await fakeNext(c, (m) => isRefresh(m) && m.id === `r${i}`, `answer ${i}`);
    assert.equal(answer.code, code, JSON.stringify(answer));
    assert.match(answer.msg, msg);
    assert.equal(answer.exp, undefined);
  }
  assert.deepEqual(c.conn.auth?.permissions, perms);
  clock.advance(60_000);
  assert.equal(c.socket.closeCode, 1008);
  c.leave();
});

Deno.test("sessions - a bad refresh message and a server without JWTs answer in the session shape", async () => {
  const server = fakeServer();
  const c = fakeClient(server, { auth: { id: "x" } });
  c.send({ mode: "session", action: "refresh", id: 1 });
  c.send({ mode: "session", action: "renew", id: 2, token: "t" });
  c.send({ mode: "session", action: "refresh", id: 3, token: "t" });
  const three = await fakeNext(c, (m) => m.id === 3, "the answer without JWT_SECRET");
  const [one, two] = c.messages();
  assert.deepEqual([one.mode, one.action, one.code], ["session", "refresh", 400]);
  assert.deepEqual([two.mode, two.code], ["session", 404]);
  assert.deepEqual([three.mode, three.code], ["session", 404]);
  c.leave();
});

Deno.test("sessions - the new token's permissions apply; subscriptions they forbid end", async () => {
  const server = fakeServer({ JWT_SECRET: SECRET });
  const s = server.clock.now() / 1000;
  const c = fakeClient(server, { auth: { id: "p", permissions: { subscribe: ["a/#"] } } });
  c.send({ mode: "pub_sub", action: "sub", id: 1, topic: "a/1" });
  c.send({ mode: "pub_sub", action: "sub", id: 2, topic: "b/1" });
  assert.deepEqual(c.messages().map((m) => m.code), [200, 403]);
  const token = await signJwt({ sub: "p", exp: s + 600, perms: { subscribe: ["b/#"] } }, SECRET);
  c.send({ mode: "session", action: "refresh", id: 3, token });
  const answer = await fakeNext(c, isRefresh, "the refresh answer");
  assert.deepEqual(answer.unsubscribed, ["a/1"]);
  c.socket.clear();
  c.send({ mode: "pub_sub", action: "sub", id: 4, topic: "b/1" });
  c.send({ mode: "pub_sub", action: "sub", id: 5, topic: "a/1" });
  assert.deepEqual(c.messages().map((m) => [m.id, m.code]), [[4, 200], [5, 403]]);
  assert.deepEqual([...server.hub.filtersOf(c.conn)], ["b/1"]);
  c.leave();
});

Deno.test("sessions - the subs claim subscribes at connect; the ack is the first message", () => {
  const server = fakeServer();
  const c = fakeClient(server, { auth: { id: "p", subs: ["panels/7", "line/#"] } });
  const [ack] = c.messages();
  assert.equal(ack.action, "ack");
  assert.equal(ack.code, 200);
  assert.deepEqual(ack.data, ["panels/7", "line/#"]);
  server.publish("line/3", { data: 1 });
  assert.deepEqual(c.messages()[1].topic, "line/3");
  c.leave();
});

Deno.test("sessions - a subs filter the token's own perms forbid: a 403 ack first, nothing subscribed", () => {
  const server = fakeServer();
  const c = fakeClient(server, {
    auth: { id: "p", subs: ["a/1", "b/1"], permissions: { subscribe: ["a/#"] } },
  });
  const [ack] = c.messages();
  assert.deepEqual([ack.action, ack.code], ["ack", 403]);
  assert.equal(server.hub.filtersOf(c.conn).size, 0);
  c.leave();
});

// --- end to end: the real server, real sockets, tokens of a few seconds -------------------------

/** Runs `fn` with a real server on port 0, always shut down after. */
async function serving(options: ServerOptions, fn: (server: Switchboard) => Promise<void>) {
  const server = await startServer(options);
  try {
    await fn(server);
  } finally {
    await server.shutdown();
  }
}

const nowS = () => Math.floor(Date.now() / 1000);
const refresh = (id: number, token: string) => ({ mode: "session", action: "refresh", id, token });

Deno.test("sessions e2e - refresh keeps a connection alive past its first token's exp", async () => {
  await serving({ jwtSecret: SECRET, refreshNoticeS: 1 }, async (server) => {
    const exp = nowS() + 2;
    const c = await Client.connect(
      wsUrl(server, `?token=${await signJwt({ sub: "p", exp }, SECRET)}`),
    );
    try {
      const notice = await c.next((m) => m.action === "expiring");
      assert.equal(notice.exp, exp);
      c.send(refresh(1, await signJwt({ sub: "p", exp: nowS() + 60 }, SECRET)));
      const answer = await c.next((m) => m.action === "refresh");
      assert.equal(answer.code, 200);
      await until(() => Date.now() > exp * 1000 + 300, { what: "the first exp", timeoutMs: 5000 });
      const reply = await c.request(req("web", { id: 2 }));
      assert.equal(reply.code, 200);
      assert.equal(c.closeEvent, undefined);
    } finally {
      await c.close();
    }
  });
});

Deno.test("sessions e2e - another sub is a 403 and the connection still closes at the old exp", async () => {
  await serving({ jwtSecret: SECRET, refreshNoticeS: 1 }, async (server) => {
    const exp = nowS() + 2;
    const c = await Client.connect(
      wsUrl(server, `?token=${await signJwt({ sub: "p", exp }, SECRET)}`),
    );
    await c.next((m) => m.action === "expiring");
    c.send(refresh(1, await signJwt({ sub: "q", exp: nowS() + 60 }, SECRET)));
    const answer = await c.next((m) => m.action === "refresh");
    assert.equal(answer.code, 403);
    assert.equal(answer.id, 1);
    const closed = await c.closed;
    assert.equal(closed.code, 1008);
    assert.ok(Date.now() >= exp * 1000, "closed before its token's exp");
  });
});

Deno.test("sessions e2e - the new token's permissions apply", async () => {
  await serving({ jwtSecret: SECRET }, async (server) => {
    const token = (perms: unknown) => signJwt({ sub: "p", exp: nowS() + 60, perms }, SECRET);
    const c = await Client.connect(wsUrl(server, `?token=${await token({ commands: [] })}`));
    try {
      assert.equal((await c.request(req("web", { id: 1 }))).code, 403);
      c.send(refresh(2, await token({ commands: ["web"] })));
      assert.equal((await c.next((m) => m.action === "refresh")).code, 200);
      assert.equal((await c.request(req("web", { id: 3 }))).code, 200);
    } finally {
      await c.close();
    }
  });
});

Deno.test("sessions e2e - the subs claim delivers without a sub, the ack first", async () => {
  await serving({ jwtSecret: SECRET }, async (server) => {
    const subs = await signJwt({ sub: "panel", exp: nowS() + 60, subs: ["panels/7"] }, SECRET);
    const plain = await signJwt({ sub: "agent", exp: nowS() + 60 }, SECRET);
    const panel = await Client.connect(wsUrl(server, `?token=${subs}`));
    const agent = await Client.connect(wsUrl(server, `?token=${plain}`));
    try {
      await panel.waitFor(1);
      assert.deepEqual([panel.inbox[0].action, panel.inbox[0].code], ["ack", 200]);
      agent.send({ mode: "pub_sub", action: "pub", src: "agent", topic: "panels/7", data: 42 });
      const delivery = await panel.next((m) => m.action === "pub");
      assert.deepEqual([delivery.topic, delivery.data], ["panels/7", 42]);
    } finally {
      await Promise.all([panel.close(), agent.close()]);
    }
  });
});

Deno.test("sessions e2e - a token with a malformed subs claim is refused at the handshake", async () => {
  await serving({ jwtSecret: SECRET }, async (server) => {
    const bad = await signJwt({ sub: "p", subs: [1] }, SECRET);
    await assert.rejects(Client.connect(wsUrl(server, `?token=${bad}`)));
  });
});
