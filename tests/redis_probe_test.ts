/**
 * The path probe on a fake clock (lib/broker/redis_probe.ts): when a stall shows, when it clears,
 * when the subscriber connection is replaced. The probe through real Redis is in
 * tests/redis_topology_test.ts.
 */
import assert from "node:assert/strict";
import { PathProbe } from "../lib/broker/redis_probe.ts";
import { FakeClock } from "./_fakes.ts";

function setup(canSend = () => true) {
  const clock = new FakeClock();
  const sent: string[] = [];
  let stalls = 0;
  const probe = new PathProbe({
    clock,
    everyMs: 5000,
    send: (token) => canSend() && sent.push(token) > 0,
    stalled: () => void stalls++,
  });
  return { clock, sent, probe, stalls: () => stalls };
}

Deno.test("path probe - a probe that comes back keeps the path proven and gives its round trip", () => {
  const { clock, sent, probe } = setup();
  probe.start();
  assert.equal(sent.length, 1);
  clock.advance(3);
  probe.received(sent[0]);
  assert.equal(probe.rttMs, 3);
  clock.advance(5000);
  assert.equal(sent.length, 2);
  probe.received(sent[1]);
  assert.equal(probe.problem, undefined);
  probe.stop();
});

Deno.test("path probe - a stalled path shows within two intervals, then the connection is replaced", () => {
  const { clock, sent, probe, stalls } = setup();
  probe.start();
  assert.equal(probe.problem, undefined); // in flight, not late yet
  clock.advance(5000);
  assert.match(probe.problem!, /^the probe through Redis has not come back for 5 s$/);
  assert.equal(stalls(), 0);
  clock.advance(5000);
  assert.equal(stalls(), 1);
  probe.reset(); // what the transport does after replacing the connection
  clock.advance(5000);
  probe.received(sent.at(-1)!);
  assert.equal(probe.problem, undefined);
  probe.stop();
});

Deno.test("path probe - a probe that was never sent is not a stall", () => {
  let up = false;
  const { clock, probe, stalls } = setup(() => up);
  probe.start();
  clock.advance(20_000);
  assert.equal(probe.problem, undefined);
  assert.equal(stalls(), 0);
  up = true;
  clock.advance(5000);
  clock.advance(5000);
  assert.match(probe.problem!, /has not come back/);
  probe.stop();
});

Deno.test("path probe - an unknown or late token does not clear a stall", () => {
  const { clock, sent, probe } = setup();
  probe.start();
  clock.advance(5000);
  probe.received("nope");
  assert.ok(probe.problem !== undefined);
  probe.received(sent[0]); // late, but it came: the path works
  assert.equal(probe.problem, undefined);
  probe.stop();
});
