/**
 * Issue 5 over real sockets: authentication (shared token, JWT with expiry, the auth hook),
 * per-principal permissions, the Origin allow-list, and tokens kept out of the logs.
 */
import assert from "node:assert/strict";
import { Client, type Msg, req, startServer, wsUrl } from "./_client.ts";
import { signJwt } from "../lib/session/jwt.ts";
import { createLogger } from "../lib/log.ts";
import type { Principal } from "../lib/session/auth.ts";
import routes from "../routes.gen.ts";
import { refusedHandshake, until, within } from "./_helpers.ts";

const TOKEN = "shared-token-9f2c41";
const SECRET = "jwt-secret-for-the-security-tests";
const nowS = () => Math.floor(Date.now() / 1000);

/** A bare WebSocket opened with handshake headers, and the promise of its close event. */
interface Opened {
  ws: WebSocket;
  closed: Promise<void>;
}

/** Opens a WebSocket with handshake headers (Deno's non-standard option); rejects if refused. */
async function openWith(url: string, headers: Record<string, string>): Promise<Opened> {
  const ws = new WebSocket(url, { headers });
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  const opened = await new Promise<boolean>((resolve) => {
    ws.onopen = () => resolve(true);
    ws.onerror = () => resolve(false);
  });
  if (!opened) {
    await closed;
    throw new Error(`WebSocket to ${url} was refused`);
  }
  return { ws, closed };
}

/** Sends one request on a bare WebSocket and waits for its reply. */
function ask({ ws }: Opened, msg: Msg): Promise<Msg> {
  const { promise, resolve } = Promise.withResolvers<Msg>();
  ws.onmessage = (e) => resolve(JSON.parse(String(e.data)));
  ws.send(JSON.stringify(msg));
  return within(promise, "the reply");
}

/** Closes a socket from openWith and waits for the close to finish. */
async function closeWith({ ws, closed }: Opened): Promise<void> {
  ws.close();
  await closed;
}

/** Asserts that the server refuses a WebSocket handshake (its close event has fired on return). */
async function assertRefused(url: string, headers: Record<string, string> = {}): Promise<void> {
  await assert.rejects(openWith(url, headers), /was refused/);
}

Deno.test("auth - a client without a token or with a wrong one gets 401 on the upgrade", async () => {
  const server = await startServer({ AUTH_TOKEN: TOKEN });
  try {
    assert.deepEqual(await refusedHandshake(server.port), {
      status: 401,
      body: "Not authenticated",
    });
    assert.equal((await refusedHandshake(server.port, "?token=wrong")).status, 401);
    assert.equal((await refusedHandshake(server.port, `?token=${TOKEN}x`)).status, 401);
    assert.equal(
      (await refusedHandshake(server.port, "", { authorization: "Bearer wrong" })).status,
      401,
    );
    assert.equal(
      (await refusedHandshake(server.port, "", { authorization: `Basic ${TOKEN}` })).status,
      401,
    );
    await assertRefused(wsUrl(server));
    await assertRefused(wsUrl(server, "?token=wrong"));
    assert.equal(server.hub.size, 0);
    assert.ok(server.metrics.connectionsRefused >= 7);
  } finally {
    await server.shutdown();
  }
});

Deno.test("auth - the shared token is accepted in ?token= and in the Authorization header", async () => {
  const server = await startServer({ AUTH_TOKEN: TOKEN });
  const byQuery = await Client.connect(wsUrl(server, `?token=${TOKEN}`));
  const byHeader = await openWith(wsUrl(server), { authorization: `Bearer ${TOKEN}` });
  try {
    assert.equal((await byQuery.request(req("web"))).code, 200);
    assert.equal((await ask(byHeader, req("web"))).code, 200);
    assert.equal(server.hub.size, 2);
    for (const conn of server.hub.connections()) assert.equal(conn.principal, "token");
  } finally {
    await byQuery.close();
    await closeWith(byHeader);
    await server.shutdown();
  }
});

Deno.test("jwt - a valid token connects and the socket closes with 1008 when it expires", async () => {
  const server = await startServer({ JWT_SECRET: SECRET });
  const exp = nowS() + 2; // 1 to 2 s ahead
  const token = await signJwt({ sub: "panel-1", exp }, SECRET);
  const c = await Client.connect(wsUrl(server, `?token=${token}`));
  try {
    // Served and still open while the token is valid, closed for its expiry after that.
    assert.equal((await c.request(req("web"))).code, 200);
    assert.equal(c.closeEvent, undefined);
    const closed = await within(c.closed, "the close at the token's expiry");
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, "Token expired");
    await until(() => server.hub.size === 0, "the server to forget the connection");
  } finally {
    await c.close();
    await server.shutdown();
  }
});

Deno.test("jwt - an expired, badly signed or not-yet-valid token gets 401 on the upgrade", async () => {
  const server = await startServer({ JWT_SECRET: SECRET });
  try {
    const expired = await signJwt({ sub: "a", exp: nowS() - 5 }, SECRET);
    const forged = await signJwt({ sub: "a", exp: nowS() + 600 }, "another-secret-of-16+chars");
    const early = await signJwt({ sub: "a", nbf: nowS() + 600 }, SECRET);
    const badPerms = await signJwt({ sub: "a", perms: { subscibe: ["x"] } }, SECRET);
    for (const token of [expired, forged, early, badPerms, "not.a.jwt", "x"]) {
      assert.equal((await refusedHandshake(server.port, `?token=${token}`)).status, 401, token);
    }
    assert.equal(
      (await refusedHandshake(server.port, "", { authorization: `Bearer ${expired}` })).status,
      401,
    );
    await assertRefused(wsUrl(server, `?token=${expired}`));
    // The same server lets a good token in, by header too.
    const good = await signJwt({ sub: "a", exp: nowS() + 600 }, SECRET);
    const ws = await openWith(wsUrl(server), { authorization: `Bearer ${good}` });
    assert.equal((await ask(ws, req("web"))).code, 200);
    await closeWith(ws);
  } finally {
    await server.shutdown();
  }
});

Deno.test("permissions - a JWT perms claim limits commands, publish and subscribe with 403 replies", async () => {
  const server = await startServer({ JWT_SECRET: SECRET });
  const perms = { commands: ["web"], publish: ["user/+"], subscribe: ["user/#"] };
  const token = await signJwt({ sub: "panel-2", exp: nowS() + 600, perms }, SECRET);
  const c = await Client.connect(wsUrl(server, `?token=${token}`));
  const ack = (id: number) => (m: Msg) => m.action === "ack" && m.id === id;
  try {
    const denied = await c.request(req("echo", { id: 1 }));
    assert.equal(denied.code, 403);
    assert.equal(denied.msg, 'Forbidden: command "echo"');
    assert.equal((await c.request(req("WEB", { id: 2 }))).code, 200);

    c.send({ mode: "pub_sub", action: "pub", id: 3, topic: "order", data: 1 });
    assert.deepEqual(
      [(await c.next(ack(3))).code, await c.next(ack(3), 100).catch(() => null)],
      [403, null],
    );
    c.send({ mode: "pub_sub", action: "sub", id: 4, topic: ["user/#", "order"] });
    const sub = await c.next(ack(4));
    assert.equal(sub.code, 403);
    assert.equal(sub.msg, 'Forbidden: subscribe to "order"');
    c.send({ mode: "pub_sub", action: "sub", id: 5, topic: "#" });
    assert.equal((await c.next(ack(5))).code, 403);

    // Refusals left the connection usable, and nothing of a refused sub was kept.
    c.send({ mode: "pub_sub", action: "sub", id: 6, topic: "user/#" });
    const ok = await c.next(ack(6));
    assert.deepEqual([ok.code, ok.data], [200, ["user/#"]]);
    c.send({ mode: "pub_sub", action: "pub", id: 7, topic: "user/1", data: [42] });
    assert.equal((await c.next(ack(7))).code, 200);
    const delivery = await c.next((m) => m.action === "pub");
    assert.deepEqual([delivery.topic, delivery.data], ["user/1", [42]]);
    assert.equal((await c.request(req("web", { id: 8 }))).code, 200);
    assert.equal(c.closeEvent, undefined);
  } finally {
    await c.close();
    await server.shutdown();
  }
});

Deno.test("auth hook - a manifest auth.default decides who connects and what it may do", async () => {
  const seen: string[] = [];
  const hook = (request: Request): Principal | null => {
    const device = request.headers.get("x-device");
    seen.push(device ?? "-");
    if (device === "boom") throw new Error("Device registry unreachable");
    return device === "cam-1" ? { id: "cam-1", permissions: { commands: ["web"] } } : null;
  };
  const server = await startServer({ routes: { ...routes, auth: { default: hook } } });
  try {
    assert.equal((await refusedHandshake(server.port)).status, 401);
    assert.equal((await refusedHandshake(server.port, "", { "x-device": "cam-2" })).status, 401);
    // A hook that throws refuses the client (500) and the server keeps running.
    assert.deepEqual(await refusedHandshake(server.port, "", { "x-device": "boom" }), {
      status: 500,
      body: "Authentication failed",
    });
    const ws = await openWith(wsUrl(server), { "x-device": "cam-1" });
    assert.equal((await ask(ws, req("web"))).code, 200);
    assert.equal((await ask(ws, req("echo"))).code, 403);
    assert.equal([...server.hub.connections()][0].principal, "cam-1");
    await closeWith(ws);
    assert.deepEqual(seen, ["-", "cam-2", "boom", "cam-1"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("auth hook - returning null falls through to the shared token", async () => {
  const hook = (request: Request) =>
    request.headers.get("x-device") === "cam-1" ? { id: "cam-1" } : null;
  const server = await startServer({
    AUTH_TOKEN: TOKEN,
    routes: { ...routes, auth: { default: hook } },
  });
  try {
    assert.equal((await refusedHandshake(server.port)).status, 401);
    const byHook = await openWith(wsUrl(server), { "x-device": "cam-1" });
    const byToken = await Client.connect(wsUrl(server, `?token=${TOKEN}`));
    assert.equal((await ask(byHook, req("web"))).code, 200);
    assert.equal((await byToken.request(req("web"))).code, 200);
    assert.deepEqual([...server.hub.connections()].map((c) => c.principal).sort(), [
      "cam-1",
      "token",
    ]);
    await closeWith(byHook);
    await byToken.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("origin - a foreign origin is refused with 403 while an allowed one connects", async () => {
  const allowed = "https://panel.example:8443";
  const server = await startServer({ ALLOWED_ORIGINS: `${allowed}, http://localhost:5173` });
  try {
    assert.deepEqual(await refusedHandshake(server.port, "", { origin: "https://evil.example" }), {
      status: 403,
      body: "Origin not allowed",
    });
    // Exact match only: no prefix, scheme or port tricks, and the literal "null" is not allowed.
    for (
      const origin of [
        "https://panel.example",
        "http://panel.example:8443",
        "https://panel.example:8443.evil.example",
        "null",
      ]
    ) {
      assert.equal((await refusedHandshake(server.port, "", { origin })).status, 403, origin);
    }
    await assertRefused(wsUrl(server), { origin: "https://evil.example" });
    const ws = await openWith(wsUrl(server), { origin: allowed });
    assert.equal((await ask(ws, req("web"))).code, 200);
    await closeWith(ws);
    const local = await openWith(wsUrl(server), { origin: "http://localhost:5173" });
    await closeWith(local);
    // No Origin at all: a non-browser client, let in (authentication is the token's job).
    const agent = await Client.connect(wsUrl(server));
    assert.equal((await agent.request(req("web"))).code, 200);
    await agent.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("auth - tokens never appear in the logs", async () => {
  const lines: string[] = [];
  const logger = createLogger("debug", "json", (line) => lines.push(line));
  const hook = (request: Request) => {
    if (request.headers.get("x-device") === "boom") throw new Error("Registry down");
    return null;
  };
  const server = await startServer({
    AUTH_TOKEN: TOKEN,
    JWT_SECRET: SECRET,
    logger,
    routes: { ...routes, auth: { default: hook } },
  });
  const expired = await signJwt({ sub: "a", exp: nowS() - 5 }, SECRET);
  const wrong = "wrong-token-77c1e0";
  try {
    await refusedHandshake(server.port, `?token=${wrong}`);
    await refusedHandshake(server.port, "", { authorization: `Bearer ${wrong}` });
    await refusedHandshake(server.port, `?token=${expired}`);
    await refusedHandshake(server.port, `?batch=1&token=${wrong}`, { "x-device": "boom" });
    const c = await Client.connect(wsUrl(server, `?token=${TOKEN}`));
    await c.request(req("web"));
    await c.request(req("echo", { kwargs: { note: "hello" } }));
    await c.close();
  } finally {
    await server.shutdown();
  }
  const text = lines.join("\n");
  // The refusals were logged (so this test can fail), with their reasons but not the tokens.
  assert.ok(lines.filter((l) => l.includes("Connection refused")).length >= 3, text);
  assert.match(text, /Token expired at/);
  assert.match(text, /token=\*\*\*/);
  for (const secret of [TOKEN, wrong, expired, expired.split(".")[2], SECRET]) {
    assert.ok(!text.includes(secret), `log contains a secret: ${secret}`);
  }
});
