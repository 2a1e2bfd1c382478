/**
 * Issue 14, the SDK's `getToken()`: called for the first connection, on the server's `expiring`
 * notice (its token goes out as a `refresh`, and the connection outlives the first token), and
 * before every reconnection.
 */
import assert from "node:assert/strict";
import { startServer, wsUrl } from "./_client.ts";
import { until } from "./_helpers.ts";
import { connect } from "../client/mod.ts";
import { signJwt } from "../lib/session/jwt.ts";

const SECRET = "jwt-secret-for-the-sdk-session-test";
const KEY = "api-key-for-the-sdk-session-test";

Deno.test("client - getToken on connect, on expiring (refresh) and before a reconnect", async () => {
  // A notice longer than the token's life: the server sends `expiring` right after the connect.
  const server = await startServer({ jwtSecret: SECRET, refreshNoticeS: 3600, apiKey: KEY });
  const firstExp = Math.floor(Date.now() / 1000) + 2;
  const issued: number[] = [];
  const getToken = async () => {
    const exp = issued.length === 0 ? firstExp : Math.floor(Date.now() / 1000) + 7200;
    issued.push(exp);
    return await signJwt({ sub: "panel", exp }, SECRET);
  };
  const refreshes: { exp?: number; error?: Error }[] = [];
  const sb = connect(wsUrl(server), { getToken, reconnect: { minMs: 10, maxMs: 20 } });
  sb.on("refresh", (r) => refreshes.push(r));
  try {
    await sb.ready;
    await until(() => refreshes.length === 1, "the refresh answer");
    assert.deepEqual(refreshes[0], { exp: issued[1] });
    await until(() => Date.now() > firstExp * 1000 + 300, {
      what: "the first exp",
      timeoutMs: 5000,
    });
    assert.equal(sb.state, "open");
    await sb.call("web");

    const opens: boolean[] = [];
    sb.on("open", (e) => opens.push(e.reconnected));
    const res = await fetch(`http://127.0.0.1:${server.port}/api/disconnect`, {
      method: "POST",
      headers: { authorization: `apikey ${KEY}` },
      body: JSON.stringify({ user: "panel" }),
    });
    assert.equal((await res.json()).count, 1);
    await until(() => opens.length === 1, "the reconnection");
    assert.ok(issued.length >= 3, `getToken called ${issued.length} times`);
    await sb.call("web");
  } finally {
    await sb.close();
    await server.shutdown();
  }
});
