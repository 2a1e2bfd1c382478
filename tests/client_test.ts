/**
 * The client SDK (client/) against a real server: calls, progress, errors, time limits, abort,
 * dialogue, subscriptions with wildcards, retained values, batching, broadcasts, reconnection and
 * the pre-open queue. Every test closes its client before the server so the leak checks pass.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { startServer, wsUrl } from "./_client.ts";
import { until, within } from "./_helpers.ts";
import { CommandError, defineCommand } from "../lib/mod.ts";
import type { Switchboard } from "../lib/server.ts";
import type { ServerOptions } from "../lib/create_server.ts";
import { topicMatches as serverTopicMatches } from "../lib/wire/topic.ts";
import {
  connect,
  type ConnectOptions,
  type Delivery,
  type Message,
  type Reply,
  type SwitchboardClient,
  SwitchboardError,
  topicMatches,
} from "../client/mod.ts";

const CLIENT_DIR = join(import.meta.dirname!, "..", "client");
const TOPIC_MODULE = join(import.meta.dirname!, "..", "lib", "wire", "topic.ts");

/** Runs `fn` with a server and an open client; always closes both, the client first. */
async function withClient(
  fn: (sb: SwitchboardClient, server: Switchboard) => Promise<void>,
  options: { server?: ServerOptions; client?: ConnectOptions } = {},
): Promise<void> {
  const server = await startServer(options.server);
  // A local time limit on every call and ack, so a broken client fails instead of hanging.
  const sb = connect(wsUrl(server), { timeoutMs: 5000, ...options.client });
  try {
    await within(sb.ready, "the connection");
    await fn(sb, server);
  } finally {
    await sb.close();
    await server.shutdown();
  }
}

/** A WebSocket class that records frames in and out, and lets a test drop the connection. */
function spySocket() {
  const spy = {
    framesIn: [] as string[],
    sent: [] as Message[],
    sockets: [] as WebSocket[],
    WebSocket: class extends WebSocket {
      constructor(url: string) {
        super(url);
        spy.sockets.push(this);
        this.addEventListener("message", (e) => spy.framesIn.push(String(e.data)));
      }
      override send(data: string): void {
        spy.sent.push(JSON.parse(data));
        super.send(data);
      }
    },
  };
  return spy;
}

/** A command that waits until the client leaves or the server stops (no timer to leak). */
const hang = defineCommand({
  handle: (ctx) => new Promise((resolve) => ctx.signal.addEventListener("abort", resolve)),
});

Deno.test("topicMatches - the SDK exports the server's own function, not a copy", () => {
  assert.equal(topicMatches, serverTopicMatches);
});

Deno.test("client sources - use Web APIs only and import nothing but client/ and the topic module", async () => {
  const files = (await readdir(CLIENT_DIR)).filter((f) => f.endsWith(".ts"));
  assert.ok(files.includes("mod.ts"));
  const sources = files.map((file) => join(CLIENT_DIR, file));
  sources.push(TOPIC_MODULE);
  for (const path of sources) {
    const text = await readFile(path, "utf8");
    assert.doesNotMatch(text, /\bDeno\.\w/, `${path} uses Deno.*`);
    for (const [, spec] of text.matchAll(/\bfrom\s+"([^"]+)"/g)) {
      // Only topic_match.ts reaches outside client/, for lib/wire/topic.ts, which imports nothing.
      if (path.endsWith("topic_match.ts") && spec === "../lib/wire/topic.ts") continue;
      assert.ok(path !== TOPIC_MODULE, `${path} imports ${spec}`);
      assert.match(spec, /^\.\/[\w.]+\.ts$/, `${path} imports ${spec}`);
    }
  }
});

Deno.test("call - resolves with the final reply's data, or the whole reply", async () => {
  await withClient(async (sb) => {
    assert.deepEqual(await sb.call("echo", { args: [1], kwargs: { a: 2 } }), {
      args: [1],
      kwargs: { a: 2 },
    });
    const reply = await sb.call("WEB", { fullReply: true });
    assert.equal(reply.code, 200);
    assert.equal(reply.msg, "success");
    assert.equal(typeof reply.id, "number");
  });
});

Deno.test("call - concurrent calls resolve to their own replies", async () => {
  await withClient(async (sb, server) => {
    // The slow call ends only when the test says so, after the fast one has resolved.
    const gate = Promise.withResolvers<void>();
    server.command(
      "after",
      defineCommand({
        handle: async (ctx) => {
          if (ctx.args[0] === "slow") await gate.promise;
          return ctx.args[0];
        },
      }),
    );
    const order: string[] = [];
    const slow = sb.call<string>("after", { args: ["slow"] }).then((v) => (order.push(v), v));
    const fast = sb.call<string>("after", { args: ["fast"] }).then((v) => (order.push(v), v));
    assert.equal(await within(fast, "the fast call, while the slow one runs"), "fast");
    gate.resolve();
    assert.deepEqual(await Promise.all([slow, fast]), ["slow", "fast"]);
    assert.deepEqual(order, ["fast", "slow"], "the fast call did not wait for the slow one");
  });
});

Deno.test("call - progress replies reach onProgress, intermediate ones onReply", async () => {
  await withClient(async (sb, server) => {
    server.command(
      "restartTest",
      defineCommand({
        handle: (ctx) => {
          ctx.progress(10, "软件重启中");
          ctx.send({ msg: "note", data: 1 });
          ctx.progress(70, "相机重启中");
          return ["ok"];
        },
      }),
    );
    const progress: [number, string][] = [];
    const replies: Reply[] = [];
    const data = await sb.call("restartTest", {
      onProgress: (percent, msg, reply) => {
        assert.equal(reply.process, percent);
        progress.push([percent, msg]);
      },
      onReply: (reply) => replies.push(reply),
    });
    assert.deepEqual(data, ["ok"]);
    assert.deepEqual(progress, [[10, "软件重启中"], [70, "相机重启中"]]);
    assert.deepEqual(replies.map((r) => [r.msg, r.more]), [
      ["软件重启中", true],
      ["note", true],
      ["相机重启中", true],
    ]);
  });
});

Deno.test("call - a non-200 reply rejects with its code, msg and data", async () => {
  await withClient(async (sb, server) => {
    server.command("forbid", () => {
      throw new CommandError(403, "Not on this line", { line: 3 });
    });
    await assert.rejects(sb.call("nope"), (err) => {
      assert.ok(err instanceof SwitchboardError);
      assert.equal(err.code, 404);
      assert.equal(err.msg, 'Unknown command: "nope"');
      return true;
    });
    await assert.rejects(sb.call("forbid"), (err: SwitchboardError) => {
      assert.deepEqual([err.code, err.message, err.data], [403, "Not on this line", { line: 3 }]);
      assert.equal(err.reply?.command, "forbid");
      return true;
    });
  });
});

Deno.test("call - times out locally with 408 and drops the late reply", async () => {
  await withClient(async (sb, server) => {
    // The handler replies only once the test lets it, after the local time limit.
    const gate = Promise.withResolvers<void>();
    server.command("late", defineCommand({ handle: () => gate.promise.then(() => "late") }));
    const unsolicited: Message[] = [];
    sb.on("message", (m) => unsolicited.push(m));
    await assert.rejects(sb.call("late", { timeoutMs: 30 }), (err: SwitchboardError) => {
      assert.equal(err.code, 408);
      assert.equal(err.msg, 'Call "late" timed out after 30 ms');
      return true;
    });
    gate.resolve();
    await until(() => server.running === 0, "the late handler to reply");
    // Replies on one socket keep their order: the late one arrives before this call's.
    assert.equal(await sb.call("echo", { args: ["after"], kwargs: {} }).then(() => "ok"), "ok");
    assert.deepEqual(unsolicited, [], "the late reply surfaced as a message event");
  });
});

Deno.test("call - aborting rejects with the signal's reason", async () => {
  await withClient(async (sb, server) => {
    server.command("hang", hang);
    const controller = new AbortController();
    const call = sb.call("hang", { signal: controller.signal });
    const reason = new Error("Operator pressed stop");
    await until(() => server.running === 1, "the call to run");
    controller.abort(reason);
    await assert.rejects(call, (err) => err === reason);
    await assert.rejects(
      sb.call("web", { signal: AbortSignal.abort("gone") }),
      (e) => e === "gone",
    );
  });
});

Deno.test("dialogue - answers reach the handler's recv() with the same id", async () => {
  await withClient(async (sb) => {
    const d = sb.dialogue<{ name: string }>("wizard");
    const question = await d.next();
    assert.equal(question.msg, "What is your name? Reply with kwargs.name");
    assert.equal(question.more, true);
    assert.equal(question.id, d.id);
    d.send({ name: "jw" });
    assert.deepEqual(await d.done, { name: "jw" });
    assert.equal((await d.next()).msg, "Hello, jw!");
    await assert.rejects(d.next(), /Dialogue is over/);
    assert.throws(() => d.send({ name: "again" }), /Dialogue is over/);

    const bad = sb.dialogue("wizard");
    await bad.next();
    bad.send({});
    await assert.rejects(bad.done, (err: SwitchboardError) => err.code === 400);
    await assert.rejects(bad.next(), (err: SwitchboardError) => err.code === 400);
  });
});

Deno.test("subscribe - each handler gets only the topics its filters match", async () => {
  await withClient(async (sb, server) => {
    const got = { state: [] as string[], line1: [] as string[], all: [] as string[] };
    const a = sb.subscribe("line/+/state", (d) => got.state.push(d.topic));
    const b = sb.subscribe(["line/1/#", "line/1/state"], (d) => got.line1.push(d.topic));
    const c = sb.subscribe("#", (d) => got.all.push(d.topic));
    await Promise.all([a.ready, b.ready, c.ready]);
    for (const t of ["line/1/state", "line/2/state", "line/1/speed", "other", "end"]) {
      server.publish(t, { data: t });
    }
    await until(() => got.all.includes("end"), "the last delivery");
    assert.deepEqual(got.state, ["line/1/state", "line/2/state"]);
    assert.deepEqual(got.line1, ["line/1/state", "line/1/speed"], "one call per delivery");
    assert.deepEqual(got.all, ["line/1/state", "line/2/state", "line/1/speed", "other", "end"]);
    assert.deepEqual(sb.topics.sort(), ["#", "line/+/state", "line/1/#", "line/1/state"]);
  });
});

Deno.test("subscribe - sends sub for the first handler and unsub after the last", async () => {
  const spy = spySocket();
  await withClient(async (sb, server) => {
    const pubSub = () =>
      spy.sent.filter((m) => m.mode === "pub_sub").map((m) => [m.action, m.topic]);
    const first: unknown[] = [];
    const second: unknown[] = [];
    const off1 = sb.subscribe("x/+", (d) => first.push(d.data));
    const off2 = sb.subscribe("x/+", (d) => second.push(d.data));
    const ack = await off2.ready;
    assert.deepEqual(ack.data, ["x/+"]);
    assert.deepEqual(pubSub(), [["sub", ["x/+"]]]);
    await off1();
    assert.deepEqual(pubSub(), [["sub", ["x/+"]]], "no unsub while a handler is left");
    server.publish("x/1", { data: 1 });
    await until(() => second.length === 1, "the delivery");
    assert.deepEqual(first, []);
    await off2();
    await off2();
    assert.deepEqual(pubSub(), [["sub", ["x/+"]], ["unsub", ["x/+"]]]);
  }, { client: { WebSocket: spy.WebSocket } });
});

Deno.test("subscribe - retained values replay with retained: true", async () => {
  await withClient(async (sb, server) => {
    server.publish("cfg/speed", { msg: "set", data: 42, retain: true });
    const got: Delivery[] = [];
    const off = sb.subscribe<number>("cfg/#", (d) => got.push(d));
    await off.ready;
    await until(() => got.length === 1, "the retained value");
    assert.deepEqual([got[0].topic, got[0].data, got[0].retained], ["cfg/speed", 42, true]);
  });
});

Deno.test("subscribe - a refused filter rejects ready and removes the handler", async () => {
  await withClient(async (sb) => {
    const errors: Error[] = [];
    sb.on("error", (err) => errors.push(err));
    const off = sb.subscribe("a/b#", () => {});
    await assert.rejects(off.ready, (err: SwitchboardError) => err.code === 400);
    assert.equal(errors.length, 1);
    assert.deepEqual(sb.topics, []);
  });
});

Deno.test("publish - resolves with the ack and rejects a wildcard topic", async () => {
  await withClient(async (sb) => {
    const got: Delivery[] = [];
    await sb.subscribe("machines/+/state", (d) => got.push(d)).ready;
    const ack = await sb.publish("machines/7/state", { msg: "running", data: { rpm: 1200 } });
    assert.deepEqual([ack.action, ack.code, ack.msg], ["ack", 200, "published"]);
    await until(() => got.length === 1, "the own delivery");
    assert.deepEqual(
      [got[0].src, got[0].topic, got[0].msg, got[0].data],
      ["front", "machines/7/state", "running", { rpm: 1200 }],
    );
    await assert.rejects(sb.publish("machines/+/state"), (err: SwitchboardError) => {
      return err.code === 400 && /Wildcards are not allowed/.test(err.msg);
    });
  });
});

for (const batch of [true, false]) {
  Deno.test(`batch ${batch ? "on" : "off"} - 200 publishes of one turn arrive whole`, async () => {
    const spy = spySocket();
    await withClient(async (sb, server) => {
      const got: unknown[] = [];
      await sb.subscribe("bulk", (d) => got.push(d.data)).ready;
      spy.framesIn.length = 0;
      for (let i = 0; i < 200; i++) server.publish("bulk", { data: i });
      await until(() => got.length === 200, "200 deliveries");
      assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
      if (batch) {
        assert.ok(spy.framesIn.length < 200, `${spy.framesIn.length} frames for 200 messages`);
        assert.ok(spy.framesIn.some((f) => f.includes("\n")));
      } else {
        assert.equal(spy.framesIn.length, 200);
      }
      assert.equal(new URL(spy.sockets[0].url).searchParams.get("batch"), batch ? "1" : null);
    }, { client: { batch, WebSocket: spy.WebSocket } });
  });
}

Deno.test("message events - broadcasts and sendTo messages", async () => {
  await withClient(async (sb, server) => {
    const got: Message[] = [];
    sb.on("message", (m) => got.push(m));
    server.broadcast({ data: { name: "jw", num: 1 } });
    server.sendTo({ src: "panel" }, { msg: "reload" });
    server.sendTo({ src: "someone-else" }, { msg: "not for us" });
    server.broadcast({ msg: "end" });
    await until(() => got.some((m) => m.msg === "end"), "the last broadcast");
    assert.deepEqual(got.map((m) => [m.action, m.msg, m.data]), [
      ["res", "success", { name: "jw", num: 1 }],
      ["res", "reload", undefined],
      ["res", "end", undefined],
    ]);
  }, { client: { src: "panel" } });
});

Deno.test("reconnect - after a restart on the same port, subscriptions are restored", async () => {
  let server = await startServer();
  const port = server.port;
  server.command("hang", hang);
  const sb = connect(wsUrl(server), { reconnect: { minMs: 20, maxMs: 100 }, timeoutMs: 5000 });
  try {
    const events: string[] = [];
    sb.on("open", (e) => events.push(e.reconnected ? "reopen" : "open"));
    sb.on("close", (e) => events.push(e.willReconnect ? "close+retry" : "close"));
    const got: Delivery[] = [];
    // Subscribed before the socket is open: sent with the first open's subscription.
    await within(sb.subscribe("machines/+/state", (d) => got.push(d)).ready, "the ack");
    const pending = assert.rejects(sb.call("hang"), (err: SwitchboardError) => err.code === 503);
    await until(() => server.running === 1, "the call to run");
    await server.shutdown(0);
    await pending;
    assert.ok(sb.state === "reconnecting", `state ${sb.state}`);

    server = await startServer({ port });
    server.publish("machines/1/state", { data: "retained", retain: true });
    await until(() => got.length === 1, "the retained replay after reconnecting");
    assert.equal(got[0].retained, true);
    server.publish("machines/2/state", { data: "live" });
    await until(() => got.length === 2, "a live delivery on the new server");
    assert.equal(got[1].data, "live");
    assert.equal(sb.state, "open");
    assert.deepEqual(events.filter((e) => e !== "close+retry").slice(0, 2), ["open", "reopen"]);
    assert.equal(await sb.call("echo", { fullReply: true }).then((r) => r.code), 200);
  } finally {
    await sb.close();
    await server.shutdown();
  }
});

Deno.test("reconnect - a call pending at a drop rejects with 503 and is not sent again", async () => {
  const spy = spySocket();
  await withClient(async (sb, server) => {
    let runs = 0;
    server.command(
      "count",
      defineCommand({
        handle: (ctx) => {
          runs++;
          return new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        },
      }),
    );
    const call = sb.call("count");
    await until(() => runs === 1, "the call to run");
    spy.sockets[0].close(); // the network drops
    await assert.rejects(call, (err: SwitchboardError) => {
      return err.code === 503 && err.msg === "Connection lost";
    });
    await until(() => sb.state === "open" && spy.sockets.length === 2, "the reconnection");
    assert.equal(await sb.call("echo").then(() => runs), 1, "the call ran again");
    assert.equal(spy.sent.filter((m) => m.command === "count").length, 1);
  }, { client: { WebSocket: spy.WebSocket, reconnect: { minMs: 10, maxMs: 50 } } });
});

Deno.test("queue - sends before open are flushed on open; beyond the cap they reject", async () => {
  const server = await startServer();
  const sb = connect(wsUrl(server), { maxQueue: 50, timeoutMs: 5000 });
  try {
    assert.equal(sb.state, "connecting");
    const acks = Array.from({ length: 50 }, (_, i) => sb.publish(`q/${i}`, { data: i }));
    await assert.rejects(sb.call("web"), (err: SwitchboardError) => {
      return err.code === 503 && err.msg === "Send queue is full (50 messages)";
    });
    const done = await Promise.all(acks);
    assert.ok(done.every((a) => a.code === 200));
    assert.equal(sb.state, "open");
  } finally {
    await sb.close();
    await server.shutdown();
  }
});

Deno.test("close - rejects what is pending, stops reconnecting, and later calls fail", async () => {
  const server = await startServer();
  server.command("hang", hang);
  const sb = connect(wsUrl(server), { reconnect: false });
  try {
    await within(sb.ready, "the connection");
    const pending = sb.call("hang");
    const off = sb.subscribe("late", () => {});
    const closing = sb.close();
    await assert.rejects(pending, (err: SwitchboardError) => err.msg === "Client closed");
    await assert.rejects(off.ready, (err: SwitchboardError) => err.code === 503);
    await closing;
    assert.equal(sb.state, "closed");
    await assert.rejects(sb.call("web"), (err: SwitchboardError) => err.code === 503);
  } finally {
    await sb.close();
    await server.shutdown();
  }
});

Deno.test("connect - without reconnect, a refused connection rejects ready", async () => {
  const server = await startServer();
  const port = server.port;
  await server.shutdown();
  const sb = connect(`ws://127.0.0.1:${port}/`, { reconnect: false });
  await assert.rejects(sb.ready, (err: SwitchboardError) => err.code === 503);
  await sb.closed;
  assert.equal(sb.state, "closed");
});

Deno.test("connect - sends the token, asking a token function on every connection", async () => {
  let asked = 0;
  const token = () => (asked++, Promise.resolve("s3cret"));
  await withClient(async (sb) => {
    assert.equal(await sb.call("echo").then(() => asked), 1);
  }, { server: { AUTH_TOKEN: "s3cret" }, client: { token } });
  const server = await startServer({ AUTH_TOKEN: "s3cret" });
  const sb = connect(wsUrl(server), { token: "wrong", reconnect: false });
  try {
    await assert.rejects(sb.ready, (err: SwitchboardError) => err.code === 503);
  } finally {
    await sb.close();
    await server.shutdown();
  }
});
