import assert from "node:assert/strict";
import { JwtError, signJwt, verifyJwt } from "../lib/session/jwt.ts";

const SECRET = "a-test-secret-of-enough-length";
const NOW = Date.UTC(2030, 0, 1); // ms; every time check uses this injected clock
const NOW_S = NOW / 1000;

const b64url = (s: string) =>
  new TextEncoder().encode(s).toBase64({ alphabet: "base64url", omitPadding: true });

async function rejects(token: string, reason: JwtError["reason"], secret = SECRET, now = NOW) {
  await assert.rejects(verifyJwt(token, secret, now), (e: unknown) => {
    assert.ok(e instanceof JwtError, `expected JwtError, got ${e}`);
    assert.equal(e.reason, reason, e.message);
    return true;
  });
}

Deno.test("verifyJwt - returns the claims of a token it signed", async () => {
  const token = await signJwt({ sub: "panel-1", exp: NOW_S + 60, role: "front" }, SECRET);
  const claims = await verifyJwt(token, SECRET, NOW);
  assert.equal(claims.sub, "panel-1");
  assert.equal(claims.role, "front");
  assert.equal(claims.exp, NOW_S + 60);
});

Deno.test("verifyJwt - returns every claim, also those it does not check", async () => {
  const payload = {
    sub: "panel-1",
    exp: NOW_S + 60,
    nbf: NOW_S - 60,
    iat: NOW_S - 60,
    perms: { commands: ["web"], subscribe: ["user/#"] },
    info: { name: "Panel 1", floor: 2 },
    subs: ["user/1"],
  };
  assert.deepEqual(await verifyJwt(await signJwt(payload, SECRET), SECRET, NOW), payload);
});

Deno.test("verifyJwt - accepts a token signed by another implementation (jwt.io example)", async () => {
  // The well-known jwt.io example token, HS256 with secret "your-256-bit-secret".
  const token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  const claims = await verifyJwt(token, "your-256-bit-secret");
  assert.equal(claims.sub, "1234567890");
  assert.equal(claims.name, "John Doe");
});

Deno.test("verifyJwt - rejects an expired token and honours leeway", async () => {
  const token = await signJwt({ sub: "x", exp: NOW_S - 10 }, SECRET);
  await rejects(token, "expired");
  // Exactly at exp is already expired (valid strictly before exp).
  await rejects(await signJwt({ exp: NOW_S }, SECRET), "expired");
  const claims = await verifyJwt(token, SECRET, { now: NOW, leewaySec: 30 });
  assert.equal(claims.sub, "x");
  await assert.rejects(verifyJwt(token, SECRET, { now: NOW, leewaySec: 5 }), /Token expired at/);
});

Deno.test("verifyJwt - rejects a token used before nbf and honours leeway", async () => {
  const token = await signJwt({ nbf: NOW_S + 10 }, SECRET);
  await rejects(token, "not_before");
  await verifyJwt(token, SECRET, { now: NOW, leewaySec: 10 });
  await verifyJwt(token, SECRET, NOW + 10_000);
});

Deno.test("verifyJwt - rejects alg none and other algorithms", async () => {
  const payload = b64url(JSON.stringify({ sub: "admin" }));
  await rejects(`${b64url('{"alg":"none","typ":"JWT"}')}.${payload}.`, "algorithm");
  await rejects(`${b64url('{"alg":"none"}')}.${payload}.c2ln`, "algorithm");
  await rejects(`${b64url('{"alg":"HS512"}')}.${payload}.c2ln`, "algorithm");
  await rejects(`${b64url('{"alg":"RS256"}')}.${payload}.c2ln`, "algorithm");
  await rejects(`${b64url('{"alg":"hs256"}')}.${payload}.c2ln`, "algorithm");
  await rejects(`${b64url('{"typ":"JWT"}')}.${payload}.c2ln`, "algorithm");
  await assert.rejects(
    verifyJwt(`${b64url('{"alg":"none"}')}.${payload}.`, SECRET),
    { message: 'Unsupported token algorithm "none": only HS256 is accepted' },
  );
});

Deno.test("verifyJwt - rejects a tampered payload, a tampered signature and a wrong secret", async () => {
  const token = await signJwt({ sub: "user", admin: false }, SECRET);
  const [h, p, s] = token.split(".");
  await rejects(`${h}.${b64url(JSON.stringify({ sub: "user", admin: true }))}.${s}`, "signature");
  const flipped = (s[0] === "A" ? "B" : "A") + s.slice(1);
  await rejects(`${h}.${p}.${flipped}`, "signature");
  await rejects(`${h}.${p}.${s.slice(0, -4)}`, "signature");
  await rejects(token, "signature", "another-secret-of-enough-length");
  // A header re-signed with another algorithm name still fails: alg is checked first.
  await rejects(`${b64url('{"alg":"HS384"}')}.${p}.${s}`, "algorithm");
});

Deno.test("verifyJwt - rejects garbage with JwtError only", async () => {
  const good = await signJwt({ sub: "x" }, SECRET);
  const [h, p, s] = good.split(".");
  const garbage = [
    "",
    ".",
    "..",
    "abc",
    "a.b",
    "a.b.c.d",
    `${h}.${p}.${s}.`,
    `${h}.${p}`,
    `${h}..${s}`,
    `.${p}.${s}`,
    `${h}.${p}.`,
    `${h}.${p}.A`, // base64 of impossible length in the signature
    `${h}.${p}.${s}AB`,
    "!!!.@@@.###",
    `${h}.${p}.${s}=`,
    `${h}.${p} .${s}`,
    `${h}.${p}.${s}\n`,
    `${b64url("not json")}.${p}.${s}`,
    `${b64url("[1,2]")}.${p}.${s}`,
    `${b64url("null")}.${p}.${s}`,
    `${b64url('"HS256"')}.${p}.${s}`,
    `${h}.${p.slice(0, -1)}.${s}`,
    "a".repeat(5) + "." + "b".repeat(5) + "." + "c",
    `${"\u00ff\u00fe"}.${p}.${s}`,
    "x".repeat(20_000),
    `${h}.${"A".repeat(17_000)}.${s}`,
  ];
  for (const token of garbage) {
    await assert.rejects(
      verifyJwt(token, SECRET, NOW),
      JwtError,
      JSON.stringify(token.slice(0, 40)),
    );
  }
  // Non-string input from untyped callers.
  await assert.rejects(verifyJwt(42 as unknown as string, SECRET), JwtError);
});

Deno.test("verifyJwt - rejects signed tokens with a bad payload or claim types", async () => {
  const sign = async (header: object, payloadText: string) => {
    const body = `${b64url(JSON.stringify(header))}.${b64url(payloadText)}`;
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(SECRET),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const sig = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body));
    return `${body}.${new Uint8Array(sig).toBase64({ alphabet: "base64url", omitPadding: true })}`;
  };
  const hs = { alg: "HS256" };
  await rejects(await sign(hs, "not json"), "malformed");
  await rejects(await sign(hs, "[]"), "malformed");
  await rejects(await sign(hs, '{"exp":"tomorrow"}'), "malformed");
  await rejects(await sign(hs, '{"nbf":null}'), "malformed");
  await rejects(await sign(hs, '{"sub":42}'), "malformed");
  await rejects(await sign({ alg: "HS256", crit: ["exp"] }, "{}"), "malformed");
  // Sanity: the helper makes valid tokens, so the rejections above are about the payload.
  assert.deepEqual(await verifyJwt(await sign(hs, '{"a":1}'), SECRET), { a: 1 });
});

Deno.test("verifyJwt - refuses an empty secret with a TypeError", async () => {
  const token = await signJwt({}, SECRET);
  await assert.rejects(verifyJwt(token, ""), TypeError);
  await assert.rejects(signJwt({}, ""), TypeError);
});
