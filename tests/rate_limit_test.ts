import assert from "node:assert/strict";
import { TokenBucket } from "../lib/session/rate_limit.ts";

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function takeAll(bucket: TokenBucket, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (bucket.take()) ok++;
  return ok;
}

Deno.test("TokenBucket - allows a burst, then refuses until tokens refill", () => {
  const c = clock();
  const bucket = new TokenBucket(10, 20, c.now);
  assert.equal(takeAll(bucket, 25), 20);
  assert.equal(bucket.take(), false);
  c.advance(100); // 10/s for 0.1 s: one token
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  c.advance(50); // half a token is not enough
  assert.equal(bucket.take(), false);
  c.advance(50);
  assert.equal(bucket.take(), true);
});

Deno.test("TokenBucket - refills up to the burst only", () => {
  const c = clock();
  const bucket = new TokenBucket(100, 5, c.now);
  assert.equal(takeAll(bucket, 5), 5);
  c.advance(60_000);
  assert.equal(takeAll(bucket, 10), 5);
});

Deno.test("TokenBucket - take(n) takes n tokens or none", () => {
  const c = clock();
  const bucket = new TokenBucket(1, 10, c.now);
  assert.equal(bucket.take(7), true);
  assert.equal(bucket.take(4), false); // 3 left: nothing taken
  assert.equal(bucket.take(3), true);
  assert.equal(bucket.take(11, c.now() + 100_000), false); // more than the burst: never
});

Deno.test("TokenBucket - uses the time passed to take over the clock", () => {
  const bucket = new TokenBucket(1, 1, () => 0);
  assert.equal(bucket.take(1, 0), true);
  assert.equal(bucket.take(1, 500), false);
  assert.equal(bucket.take(1, 1000), true);
  // A clock that steps back neither refills nor breaks the bucket.
  assert.equal(bucket.take(1, 0), false);
  assert.equal(bucket.take(1, 2000), true);
});

Deno.test("TokenBucket - rate 0 is off", () => {
  const bucket = new TokenBucket(0, 0, () => 0);
  assert.equal(takeAll(bucket, 100_000), 100_000);
  assert.equal(bucket.violations, 0);
  assert.equal(bucket.shouldDisconnect(0), false);
});

Deno.test("TokenBucket - a flood lasting more than 3 s asks to disconnect", () => {
  const c = clock(0);
  const bucket = new TokenBucket(100, 100, c.now);
  // Twice the rate: two messages every 10 ms, one gets through as tokens refill.
  let firstReject = -1;
  let disconnectAt = -1;
  for (let ms = 0; ms < 10_000 && disconnectAt < 0; ms += 10) {
    const a = bucket.take();
    const ok = bucket.take() && a;
    if (!ok && firstReject < 0) firstReject = ms;
    if (bucket.shouldDisconnect()) disconnectAt = ms;
    c.advance(10);
  }
  // The burst lasts about 1 s (100 tokens, 1 lost per 10 ms), then 3 s of rejections.
  assert.ok(firstReject > 900 && firstReject < 1100, `first rejection at ${firstReject} ms`);
  assert.equal(disconnectAt - firstReject, 3010);
  assert.ok(bucket.violations > 300, `violations ${bucket.violations}`);
});

Deno.test("TokenBucket - short bursts over the limit never ask to disconnect", () => {
  const c = clock();
  const bucket = new TokenBucket(10, 10, c.now);
  for (let round = 0; round < 10; round++) {
    // 15 messages at once every 1.5 s: some rejected, then a pause that ends the streak.
    takeAll(bucket, 15);
    assert.ok(bucket.violations > 0);
    assert.equal(bucket.shouldDisconnect(), false);
    c.advance(1500);
  }
  assert.equal(bucket.take(), true);
  assert.equal(bucket.violations, 0); // the pause reset the streak
});

Deno.test("TokenBucket - a streak ends after a quiet pause", () => {
  const c = clock();
  const bucket = new TokenBucket(1, 1, { now: c.now, disconnectAfterMs: 2000, quietMs: 500 });
  bucket.take();
  for (let i = 0; i < 4; i++) { // rejections every 400 ms for 1.6 s
    assert.equal(bucket.take(100), false);
    c.advance(400);
  }
  c.advance(200); // 600 ms since the last rejection: quiet
  assert.equal(bucket.take(100), false);
  assert.equal(bucket.violations, 1);
  for (let i = 0; i < 6; i++) {
    c.advance(400);
    bucket.take(100);
  }
  assert.equal(bucket.shouldDisconnect(), true); // 2.4 s of rejections
  // Once the client stops, the verdict lapses with the quiet period.
  assert.equal(bucket.shouldDisconnect(c.now() + 501), false);
});

Deno.test("TokenBucket - rejects nonsense settings", () => {
  assert.throws(() => new TokenBucket(-1, 10), RangeError);
  assert.throws(() => new TokenBucket(Number.NaN, 10), RangeError);
  assert.throws(() => new TokenBucket(Infinity, 10), RangeError);
  assert.throws(() => new TokenBucket(10, 0), RangeError);
  assert.throws(() => new TokenBucket(10, 10, { quietMs: -1 }), RangeError);
});
