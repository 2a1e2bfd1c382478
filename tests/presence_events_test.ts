/**
 * Join/leave events and their storm guard, in-process on a fake clock and fake sockets: the
 * window, net changes only, one frame per window for a batching watcher, the cap per window,
 * and a watcher whose socket is backed up.
 */
import assert from "node:assert/strict";
import { clockOf, type FakeClient, fakeClient, fakeServer, type Msg } from "./_fakes.ts";
import { EVENT_WINDOW_MS, MAX_EVENTS_PER_WINDOW } from "../lib/pubsub/join_leave.ts";
import type { Switchboard } from "../lib/server.ts";

const isEvent = (m: Msg) => ["join", "leave", "presence_sync"].includes(m.action);

function setup(batch = false): { server: Switchboard; watcher: FakeClient } {
  const server = fakeServer({ PRESENCE: "room/+" });
  const watcher = fakeClient(server, { src: "front", batch });
  watcher.send({ mode: "pub_sub", action: "sub", topic: "room/1", join_leave: true });
  clockOf(server).endTurn(); // a batching watcher gets its ack at the end of the turn
  watcher.socket.clear();
  return { server, watcher };
}

const sub = (c: FakeClient, topic = "room/1") =>
  c.send({ mode: "pub_sub", action: "sub", topic, src: "front" });

async function stop(server: Switchboard): Promise<void> {
  server.presence.close();
  await server.pool.close();
}

Deno.test("join_leave - events wait for the window, then arrive together in order", async () => {
  const { server, watcher } = setup(true);
  const others = Array.from({ length: 3 }, () => fakeClient(server));
  for (const c of others) sub(c);
  assert.equal(watcher.messages().filter(isEvent).length, 0);
  clockOf(server).advance(EVENT_WINDOW_MS - 1);
  assert.equal(watcher.messages().filter(isEvent).length, 0);
  clockOf(server).advance(1);
  const events = watcher.messages();
  assert.deepEqual(
    events.map((e) => [e.action, e.data.client]),
    others.map((c) => ["join", c.conn.id]),
  );
  await stop(server);
});

Deno.test("join_leave - a join and a leave in one window cancel out", async () => {
  const { server, watcher } = setup();
  const brief = fakeClient(server);
  const stays = fakeClient(server);
  sub(brief);
  brief.leave();
  sub(stays);
  clockOf(server).advance(EVENT_WINDOW_MS);
  assert.deepEqual(watcher.messages().map((e) => [e.action, e.data.client]), [[
    "join",
    stays.conn.id,
  ]]);
  // A leave and a join again (unsub, sub) in one window: nothing either.
  watcher.socket.clear();
  stays.send({ mode: "pub_sub", action: "unsub", topic: "room/1" });
  sub(stays);
  clockOf(server).advance(EVENT_WINDOW_MS);
  assert.equal(watcher.messages().filter(isEvent).length, 0);
  await stop(server);
});

Deno.test("join_leave - past the cap in one window every watcher gets one presence_sync", async () => {
  const { server, watcher } = setup();
  const second = fakeClient(server);
  second.send({ mode: "pub_sub", action: "sub", topic: "room/+", join_leave: true });
  second.socket.clear();
  const crowd = Array.from({ length: MAX_EVENTS_PER_WINDOW + 1 }, () => fakeClient(server));
  for (const c of crowd) sub(c);
  clockOf(server).advance(EVENT_WINDOW_MS);
  for (const w of [watcher, second]) {
    assert.deepEqual(w.messages(), [{
      mode: "pub_sub",
      action: "presence_sync",
      topic: "room/1",
      data: { joins: MAX_EVENTS_PER_WINDOW + 1, leaves: 0 },
    }]);
  }
  // The next window is under the cap: events again.
  watcher.socket.clear();
  crowd[0].leave();
  clockOf(server).advance(EVENT_WINDOW_MS);
  assert.deepEqual(watcher.messages().map((e) => e.action), ["leave"]);
  await stop(server);
});

Deno.test("join_leave - a watcher whose socket is backed up gets a presence_sync, not events", async () => {
  const { server, watcher } = setup();
  const healthy = fakeClient(server);
  healthy.send({ mode: "pub_sub", action: "sub", topic: "room/1", join_leave: true });
  healthy.socket.clear();
  watcher.socket.bufferedAmount = server.config.SEND_BUFFER_BYTES / 2 + 1;
  const a = fakeClient(server);
  const b = fakeClient(server);
  sub(a);
  sub(b);
  clockOf(server).advance(EVENT_WINDOW_MS);
  assert.deepEqual(watcher.messages().map((m) => [m.action, m.data]), [
    ["presence_sync", { joins: 3, leaves: 0 }],
  ]);
  assert.deepEqual(healthy.messages().map((m) => m.action), ["join", "join"]);
  assert.equal(watcher.conn.state, 0); // still open: not closed as a slow client
  await stop(server);
});

Deno.test("join_leave - unsubscribing ends the watch; a plain sub does not start one", async () => {
  const { server, watcher } = setup();
  watcher.send({ mode: "pub_sub", action: "unsub", topic: "room/1" });
  watcher.send({ mode: "pub_sub", action: "sub", topic: "room/1" });
  watcher.socket.clear();
  sub(fakeClient(server));
  clockOf(server).advance(EVENT_WINDOW_MS);
  assert.equal(watcher.messages().filter(isEvent).length, 0);
  // join_leave on a filter already held turns the watch on.
  watcher.send({ mode: "pub_sub", action: "sub", topic: "room/1", join_leave: true });
  sub(fakeClient(server));
  clockOf(server).advance(EVENT_WINDOW_MS);
  assert.deepEqual(watcher.messages().filter(isEvent).map((e) => e.action), ["join"]);
  await stop(server);
});

Deno.test("join_leave - a watch gets only the changes after it started, even in one window", async () => {
  const { server, watcher } = setup();
  const early = fakeClient(server);
  sub(early); // pending in the window when the second watch starts
  const late = fakeClient(server);
  late.send({ mode: "pub_sub", action: "sub", topic: "room/1", join_leave: true });
  late.socket.clear();
  const after = fakeClient(server);
  sub(after);
  clockOf(server).advance(EVENT_WINDOW_MS);
  const ids = (c: FakeClient) => c.messages().filter(isEvent).map((e) => e.data.client);
  assert.deepEqual(ids(watcher), [early.conn.id, late.conn.id, after.conn.id]);
  assert.deepEqual(ids(late), [after.conn.id]);
  await stop(server);
});

Deno.test("join_leave - a gap in the relay sends each watch one presence_sync", async () => {
  const { server, watcher } = setup();
  watcher.send({ mode: "pub_sub", action: "sub", topic: "room/+", join_leave: true });
  watcher.socket.clear();
  server.presence.gap();
  assert.deepEqual(watcher.messages().map((m) => [m.action, m.topic, m.data]), [
    ["presence_sync", "room/1", {}],
    ["presence_sync", "room/+", {}],
  ]);
  await stop(server);
});

Deno.test("join_leave - a watch that starts between a join and a leave still hears the leave", async () => {
  const { server, watcher } = setup();
  const blip = fakeClient(server);
  sub(blip);
  const late = fakeClient(server);
  late.send({ mode: "pub_sub", action: "sub", topic: "room/1", join_leave: true });
  late.socket.clear();
  blip.leave();
  clockOf(server).advance(EVENT_WINDOW_MS);
  const seen = (c: FakeClient) =>
    c.messages().filter(isEvent).map((e) => `${e.action} ${e.data.client}`);
  const b = blip.conn.id;
  assert.deepEqual(seen(watcher), [`join ${b}`, `join ${late.conn.id}`, `leave ${b}`]);
  assert.deepEqual(seen(late), [`leave ${b}`]);
  await stop(server);
});
