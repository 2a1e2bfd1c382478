/**
 * In-process tests of the dispatcher and command runs: a server without a listener, fake sockets
 * and a fake clock. Ordering, dialogues, the dialogue-end race, limits, time limits, leaving.
 */
import assert from "node:assert/strict";
import { CommandError, defineCommand } from "../lib/mod.ts";
import { clockOf, fakeClient, fakeServer, settle } from "./_fakes.ts";

const req = (command: string, extra: Record<string, unknown> = {}) => ({
  mode: "req_res",
  action: "req",
  command,
  ...extra,
});

/** A command whose runs wait until the test releases them, in any order. */
function gated() {
  const gates: PromiseWithResolvers<unknown>[] = [];
  const started: unknown[] = [];
  const handler = async (ctx: { kwargs: Record<string, unknown> }) => {
    started.push(ctx.kwargs.n);
    const gate = Promise.withResolvers<unknown>();
    gates.push(gate);
    await gate.promise;
    return [ctx.kwargs.n];
  };
  return { handler, gates, started };
}

Deno.test("dispatcher - requests without id run one after another, in order", async () => {
  const server = fakeServer();
  const { handler, gates, started } = gated();
  server.command("slow", handler);
  const c = fakeClient(server);
  for (const n of [1, 2, 3]) c.send(req("slow", { kwargs: { n } }));
  assert.deepEqual(started, [1], "the second waits for the first");
  gates[0].resolve(undefined);
  await settle();
  assert.deepEqual(started, [1, 2]);
  gates[1].resolve(undefined);
  await settle();
  gates[2].resolve(undefined);
  await settle();
  assert.deepEqual(c.messages().map((m) => m.data), [[1], [2], [3]]);
  assert.equal(server.running, 0);
});

Deno.test("dispatcher - requests with ids run at once and reply by id in any order", async () => {
  const server = fakeServer();
  const { handler, gates, started } = gated();
  server.command("slow", handler);
  const c = fakeClient(server);
  c.send(req("slow", { id: "a", kwargs: { n: 1 } }));
  c.send(req("slow", { id: "b", kwargs: { n: 2 } }));
  assert.deepEqual(started, [1, 2]);
  assert.equal(server.running, 2);
  gates[1].resolve(undefined);
  await settle();
  gates[0].resolve(undefined);
  await settle();
  assert.deepEqual(c.messages().map((m) => [m.id, m.data[0]]), [["b", 2], ["a", 1]]);
});

Deno.test("dispatcher - the request over MAX_INFLIGHT gets a 429 at once", () => {
  const server = fakeServer({ MAX_INFLIGHT: 2 });
  server.command("slow", gated().handler);
  const c = fakeClient(server);
  for (const id of [1, 2, 3]) c.send(req("slow", { id, kwargs: { n: id } }));
  const [reply] = c.messages();
  assert.equal(reply.id, 3);
  assert.equal(reply.code, 429);
});

Deno.test("dispatcher - a dialogue answer reaches ctx.recv() by id", async () => {
  const server = fakeServer();
  server.command(
    "ask",
    async (ctx: { send(r: object): void; recv(): Promise<{ kwargs: object }> }) => {
      ctx.send({ msg: "name?" });
      const answer = await ctx.recv();
      return [answer.kwargs];
    },
  );
  const c = fakeClient(server);
  c.send(req("ask", { id: 9 }));
  c.send(req("ask", { id: 9, kwargs: { name: "jw" }, dialogue: true }));
  await settle();
  const [question, final] = c.messages();
  assert.equal(question.more, true);
  assert.deepEqual(final.data, [{ name: "jw" }]);
});

Deno.test("dispatcher - an answer arriving after its command ended gets a 400 and does not run it again", async () => {
  const server = fakeServer();
  let runs = 0;
  server.command("once", () => {
    runs++;
    return "done";
  });
  const c = fakeClient(server);
  c.send(req("once", { id: 1 }));
  c.send(req("once", { id: 1, dialogue: true, kwargs: { late: true } }));
  await settle();
  const [first, late] = c.messages();
  assert.equal(first.code, 200);
  assert.equal(late.code, 400);
  assert.match(late.msg, /^Not read: no running command with id 1/);
  assert.equal(runs, 1);
  // Without the flag, the same message is a new request (the old protocol).
  c.send(req("once", { id: 1 }));
  assert.equal(runs, 2);
});

Deno.test("dispatcher - a client without ids answers a dialogue with its next message", async () => {
  const server = fakeServer();
  server.command(
    "ask",
    async (ctx: { recv(): Promise<{ kwargs: object }> }) => [(await ctx.recv()).kwargs],
  );
  server.command("web", () => {});
  const c = fakeClient(server);
  c.send(req("ask"));
  c.send(req("web", { kwargs: { x: 1 } }));
  c.send(req("web"));
  await settle();
  const replies = c.messages();
  assert.deepEqual(replies.map((m) => m.command), ["ask", "web"]);
  assert.deepEqual(replies[0].data, [{ x: 1 }]);
});

Deno.test("dispatcher - a handler over its time limit gets a 408 and the next request runs", () => {
  const server = fakeServer({ HANDLER_TIMEOUT_MS: 1000 });
  let aborted = false;
  server.command("hang", (ctx: { signal: AbortSignal }) => {
    ctx.signal.addEventListener("abort", () => aborted = true);
    return new Promise(() => {});
  });
  server.command("web", () => {});
  const c = fakeClient(server);
  c.send(req("hang"));
  c.send(req("web"));
  clockOf(server).advance(999);
  assert.equal(c.messages().length, 0);
  clockOf(server).advance(1);
  assert.deepEqual(c.messages().map((m) => m.code), [408, 200]);
  assert.ok(aborted);
  assert.equal(server.running, 0);
});

Deno.test("dispatcher - a client that leaves aborts its handlers and gets nothing more", () => {
  const server = fakeServer();
  const signals: AbortSignal[] = [];
  server.command("hang", (ctx: { signal: AbortSignal }) => {
    signals.push(ctx.signal);
    return new Promise(() => {});
  });
  const c = fakeClient(server);
  c.send(req("hang", { id: 1 }));
  c.send(req("hang"));
  c.send(req("hang")); // queued behind the second
  assert.equal(server.running, 2);
  c.leave();
  c.leave(); // a socket's close event can fire twice
  assert.equal(server.running, 0);
  assert.ok(signals.every((s) => s.aborted));
  assert.equal(signals.length, 2, "the queued request never started");
  assert.equal(c.messages().length, 0);
  assert.equal(clockOf(server).pending, 0, "no timer is left behind");
});

Deno.test("dispatcher - shutdown cancels running handlers with a 503", () => {
  const server = fakeServer();
  server.command("hang", () => new Promise(() => {}));
  const c = fakeClient(server);
  c.send(req("hang", { id: "x" }));
  server.dispatcher.cancelAll(new DOMException("Server is shutting down", "AbortError"));
  const [reply] = c.messages();
  assert.equal(reply.id, "x");
  assert.equal(reply.code, 503);
});

Deno.test("dispatcher - errors: thrown CommandError, unexpected throw, unknown command, bad kwargs", async () => {
  const server = fakeServer();
  server.command("nope", () => {
    throw new CommandError(404, "没查到");
  });
  server.command("boom", () => {
    throw new Error("secret detail");
  });
  const { z } = await import("../lib/mod.ts");
  server.command("typed", defineCommand({ kwargs: z.object({ n: z.number() }), handle: () => {} }));
  const c = fakeClient(server);
  c.send(req("nope"));
  c.send(req("boom"));
  c.send(req("missing"));
  c.send(req("TYPED", { kwargs: { n: "x" } }));
  const replies = c.messages();
  assert.deepEqual(replies.map((m) => m.code), [404, 500, 404, 400]);
  assert.equal(replies[0].msg, "没查到");
  assert.ok(!JSON.stringify(replies[1]).includes("secret detail"));
  assert.equal(replies[3].data[0].path, "kwargs.n");
});
