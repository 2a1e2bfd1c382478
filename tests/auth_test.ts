import assert from "node:assert/strict";
import {
  createAuthenticator,
  originAllowed,
  type Principal,
  redactToken,
  tokenFromRequest,
} from "../lib/session/auth.ts";
import { signJwt } from "../lib/session/jwt.ts";

const SECRET = "jwt-secret-for-the-auth-tests";
const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
  completed: Promise.resolve(),
} as Deno.ServeHandlerInfo;
const nowS = () => Math.floor(Date.now() / 1000);

function req(query = "", headers: HeadersInit = {}): Request {
  return new Request(`http://127.0.0.1:18887/${query}`, { headers });
}

Deno.test("tokenFromRequest - reads the bearer header, else the token query parameter", () => {
  assert.equal(tokenFromRequest(req("?token=abc")), "abc");
  assert.equal(tokenFromRequest(req("?batch=1&token=a%2Bb")), "a+b");
  assert.equal(tokenFromRequest(req("", { authorization: "Bearer xyz" })), "xyz");
  assert.equal(tokenFromRequest(req("", { authorization: "bearer  xyz " })), "xyz");
  assert.equal(tokenFromRequest(req("?token=q", { authorization: "Bearer h" })), "h");
  assert.equal(tokenFromRequest(req("?token=q", { authorization: "Basic dXNlcg==" })), "q");
  assert.equal(tokenFromRequest(req("")), null);
  assert.equal(tokenFromRequest(req("?token=")), null);
  assert.equal(tokenFromRequest(req("", { authorization: "Bearer" })), null);
});

Deno.test("createAuthenticator - returns null when nothing is configured", () => {
  assert.equal(createAuthenticator({}), null);
  assert.throws(() => createAuthenticator({ authToken: "" }), TypeError);
  assert.throws(() => createAuthenticator({ jwtSecret: "" }), TypeError);
});

Deno.test("createAuthenticator - shared token lets in exactly the right token", async () => {
  const denied: string[] = [];
  const auth = createAuthenticator({ authToken: "s3cret", onDenied: (r) => denied.push(r) })!;
  assert.deepEqual(await auth(req("?token=s3cret"), INFO), { id: "token" });
  assert.deepEqual(await auth(req("", { authorization: "Bearer s3cret" }), INFO), { id: "token" });
  assert.equal(await auth(req("?token=s3cre"), INFO), null);
  assert.equal(await auth(req("?token=s3cret2"), INFO), null);
  assert.equal(await auth(req("?token=S3CRET"), INFO), null);
  assert.equal(await auth(req(""), INFO), null);
  assert.deepEqual(denied, [
    "Wrong auth token",
    "Wrong auth token",
    "Wrong auth token",
    "No token given",
  ]);
});

Deno.test("createAuthenticator - JWT gives id, permissions and expiry from the claims", async () => {
  const auth = createAuthenticator({ jwtSecret: SECRET })!;
  const exp = nowS() + 600;
  const perms = { commands: ["web"], subscribe: ["user"] };
  const token = await signJwt({ sub: "panel-7", exp, perms }, SECRET);
  const p = await auth(req(`?token=${token}`), INFO);
  assert.deepEqual(p, {
    id: "panel-7",
    permissions: perms,
    expiresAt: exp * 1000,
    user: "panel-7",
  });
  // The info claim is kept for presence entries.
  const info = { name: "Panel 7", line: 2 };
  const withInfo = await auth(req(`?token=${await signJwt({ sub: "p", info }, SECRET)}`), INFO);
  assert.deepEqual(withInfo, { id: "p", user: "p", info });
  // No sub and no exp: a generic id and no expiry.
  assert.deepEqual(await auth(req(`?token=${await signJwt({}, SECRET)}`), INFO), { id: "jwt" });
});

Deno.test("createAuthenticator - refuses bad JWTs and says why", async () => {
  const denied: string[] = [];
  const auth = createAuthenticator({ jwtSecret: SECRET, onDenied: (r) => denied.push(r) })!;
  const expired = await signJwt({ sub: "x", exp: nowS() - 5 }, SECRET);
  const wrongKey = await signJwt({ sub: "x" }, "some-other-secret-entirely");
  const badPerms = await signJwt({ sub: "x", perms: { subscibe: ["a"] } }, SECRET);
  for (const token of [expired, wrongKey, badPerms, "garbage", "a.b.c"]) {
    assert.equal(await auth(req(`?token=${token}`), INFO), null, token);
  }
  assert.match(denied[0], /^Token expired at /);
  assert.equal(denied[1], "Invalid token signature");
  assert.match(denied[2], /unknown key "subscibe"/);
  assert.match(denied[3], /^Malformed token/);
  for (const reason of denied) assert.ok(!reason.includes(expired), "reason leaks the token");
});

Deno.test("createAuthenticator - with token and JWT configured either one is accepted", async () => {
  const auth = createAuthenticator({ authToken: "shared", jwtSecret: SECRET })!;
  assert.deepEqual(await auth(req("?token=shared"), INFO), { id: "token" });
  const token = await signJwt({ sub: "u1" }, SECRET);
  assert.deepEqual(await auth(req(`?token=${token}`), INFO), { id: "u1", user: "u1" });
  assert.equal(await auth(req("?token=neither"), INFO), null);
});

Deno.test("createAuthenticator - hook goes first and null falls back to the token", async () => {
  const seen: string[] = [];
  const hook = (r: Request, info: Deno.ServeHandlerInfo): Principal | null => {
    seen.push((info.remoteAddr as Deno.NetAddr).hostname);
    return r.headers.get("x-device") === "cam-1" ? { id: "cam-1" } : null;
  };
  const auth = createAuthenticator({ authToken: "shared", hook })!;
  assert.deepEqual(await auth(req("?token=wrong", { "x-device": "cam-1" }), INFO), { id: "cam-1" });
  assert.deepEqual(await auth(req("?token=shared"), INFO), { id: "token" });
  assert.equal(await auth(req("?token=wrong"), INFO), null);
  assert.deepEqual(seen, ["127.0.0.1", "127.0.0.1", "127.0.0.1"]);

  // A hook alone is the only gate: null refuses.
  const only = createAuthenticator({
    hook: (r) => Promise.resolve(r.headers.has("x-ok") ? { id: "h" } : null),
  })!;
  assert.deepEqual(await only(req("", { "x-ok": "1" }), INFO), { id: "h" });
  assert.equal(await only(req("?token=anything"), INFO), null);

  // An error in the hook rejects, so the server can answer 500 rather than let anyone in.
  const broken = createAuthenticator({
    authToken: "shared",
    hook: () => {
      throw new Error("hook failed");
    },
  })!;
  await assert.rejects(broken(req("?token=shared"), INFO), /hook failed/);
});

Deno.test("redactToken - hides token values and keeps the rest", () => {
  assert.equal(redactToken("/?token=abc"), "/?token=***");
  assert.equal(redactToken("/?batch=1&token=abc&x=2"), "/?batch=1&token=***&x=2");
  assert.equal(redactToken("ws://h:1/?token=a.b.c#frag"), "ws://h:1/?token=***#frag");
  assert.equal(redactToken("/?token=a&token=b"), "/?token=***&token=***");
  assert.equal(redactToken("/?TOKEN=abc"), "/?TOKEN=***");
  assert.equal(redactToken("/?mytoken=abc&token_x=1"), "/?mytoken=abc&token_x=1");
  assert.equal(redactToken("/healthz"), "/healthz");
});

Deno.test("originAllowed - exact match, empty list and missing Origin allow", () => {
  const list = ["https://panel.example", "http://127.0.0.1:8080"];
  assert.equal(originAllowed("https://panel.example", list), true);
  assert.equal(originAllowed("http://127.0.0.1:8080", list), true);
  assert.equal(originAllowed("https://panel.example.evil", list), false);
  assert.equal(originAllowed("http://panel.example", list), false);
  assert.equal(originAllowed("https://panel.example:443", list), false);
  assert.equal(originAllowed("null", list), false);
  assert.equal(originAllowed(null, list), true);
  assert.equal(originAllowed("https://anything", []), true);
});
