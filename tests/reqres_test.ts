/**
 * End-to-end checks of req_res over real sockets: replies, errors, time limits, clients that
 * leave, ordering and concurrency, the in-flight bound, progress, dialogues, the example
 * commands, and HTTP on the same port. Order is checked with gates the test opens, not timing.
 */
import assert from "node:assert/strict";
import { Client, HEARTBEAT, type Msg, req, startServer, withServer, wsUrl } from "./_client.ts";
import { CommandError, defineCommand, reply } from "../lib/mod.ts";
import { createLogger } from "../lib/log.ts";
import { until, within } from "./_helpers.ts";

/** A command that waits for the test to open its gate; records when it starts. */
function gated(events: string[], name: string) {
  const gate = Promise.withResolvers<void>();
  const handler = async () => {
    events.push(`${name} start`);
    await gate.promise;
    events.push(`${name} end`);
    return name;
  };
  return { gate, handler };
}

Deno.test("echo - replies with data {args, kwargs}", async () => {
  await withServer(async (_server, c) => {
    const r = await c.request(req("echo", { id: 1, args: [1, "two"], kwargs: { name: "jw" } }));
    assert.deepEqual(r, {
      mode: "req_res",
      action: "res",
      src: "control",
      id: 1,
      command: "echo",
      code: 200,
      msg: "success",
      data: { args: [1, "two"], kwargs: { name: "jw" } },
    });
    const empty = await c.request(req("echo"));
    assert.deepEqual(empty.data, { args: [], kwargs: {} });
  });
});

Deno.test("commands - reply() sets msg and data, undefined leaves data out", async () => {
  await withServer(async (server, c) => {
    server.command("custom", () => reply({ msg: "添加了一个用户", data: [1] }));
    server.command("nothing", async () => {});
    server.command("zero", () => 0);
    const r = await c.request(req("custom"));
    assert.equal(r.code, 200);
    assert.equal(r.msg, "添加了一个用户");
    assert.deepEqual(r.data, [1]);
    const n = await c.request(req("nothing"));
    assert.equal("data" in n, false);
    assert.equal((await c.request(req("zero"))).data, 0);
  });
});

Deno.test("commands - a handler that throws is a 500 without the stack; the log has it", async () => {
  const lines: string[] = [];
  const logger = createLogger("error", "pretty", (line) => lines.push(line));
  await withServer(async (server, c) => {
    server.command("boom", () => {
      throw new Error("secret detail /etc/passwd");
    });
    server.command("boomAsync", async () => {
      await Promise.resolve();
      throw new TypeError("async secret");
    });
    server.command("boomString", () => {
      throw "a string";
    });
    for (const [name, id] of [["boom", 1], ["boomAsync", 2], ["boomString", 3]] as const) {
      c.send(req(name, { id }));
      const r = await c.next((m) => m.id === id);
      const raw = c.raw[c.raw.length - 1];
      assert.equal(r.code, 500, name);
      assert.equal(r.command, name);
      assert.match(r.msg, new RegExp(`Command "${name}" failed`));
      assert.ok(!raw.includes("secret") && !raw.includes("    at ") && !raw.includes(".ts:"), raw);
      assert.equal("data" in r, false);
    }
    assert.deepEqual(await c.request(req("web")), HEARTBEAT);
    const logged = lines.join("\n");
    assert.match(logged, /secret detail/);
    assert.match(logged, /\n\s+at .*reqres_test\.ts/); // the stack goes to the log
  }, { logger });
});

// A result JSON cannot hold (a BigInt, a cycle) is the handler's bug: a 500, never a crash.
Deno.test({
  name: "commands - a result that cannot be serialised is a 500, not a crash",
  fn: async () => {
    await withServer(async (server, c) => {
      server.command("big", () => 1n);
      server.command("cycle", async () => {
        await Promise.resolve();
        const a: Msg = {};
        a.self = a;
        return a;
      });
      for (const [name, id] of [["big", 1], ["cycle", 2]] as const) {
        const r = await c.request(req(name, { id }));
        assert.equal(r.code, 500, name);
        assert.equal(r.command, name);
      }
      assert.deepEqual(await c.request(req("web")), HEARTBEAT);
    });
  },
});

Deno.test("commands - CommandError sends its code, msg and data", async () => {
  await withServer(async (server, c) => {
    server.command("denied", () => {
      throw new CommandError(403, "不行", { why: "role" });
    });
    server.command("missing", async () => {
      await Promise.resolve();
      throw new CommandError(404, "没查到");
    });
    const d = await c.request(req("denied", { id: "d" }));
    assert.equal(d.code, 403);
    assert.equal(d.msg, "不行");
    assert.deepEqual(d.data, { why: "role" });
    assert.equal(d.id, "d");
    const m = await c.request(req("missing"));
    assert.equal(m.code, 404);
    assert.equal(m.msg, "没查到");
  });
});

Deno.test("commands - a hanging handler gets 408, its signal aborts, the connection works", async () => {
  await withServer(async (server, c) => {
    const reasons: unknown[] = [];
    server.command("hang", (ctx: { signal: AbortSignal }) => {
      ctx.signal.addEventListener("abort", () => reasons.push(ctx.signal.reason));
      return new Promise(() => {});
    });
    server.command(
      "quick",
      defineCommand({ timeoutMs: 50, handle: () => new Promise(() => {}) }),
    );
    const withId = await c.request(req("hang", { id: 1 }));
    assert.equal(withId.code, 408);
    assert.equal(withId.id, 1);
    assert.match(withId.msg, /timed out after 300 ms/);
    // Without id: the request queued behind the hanging one runs after the 408.
    c.send(req("hang"));
    c.send(req("web"));
    const [timeout, heartbeat] = await c.waitFor(2, (m) => m.action === "res", 3000);
    assert.equal(timeout.code, 408);
    assert.deepEqual(heartbeat, HEARTBEAT);
    assert.equal(reasons.length, 2);
    assert.ok(reasons.every((r) => r instanceof DOMException && r.name === "TimeoutError"));
    // A command's own timeoutMs wins over HANDLER_TIMEOUT_MS.
    const own = await c.request(req("quick", { id: 2 }));
    assert.equal(own.code, 408);
    assert.match(own.msg, /after 50 ms/);
    assert.equal(server.running, 0);
  }, { HANDLER_TIMEOUT_MS: 300 });
});

Deno.test("commands - a client that leaves mid-handler aborts its signal; nothing runs on", async () => {
  const server = await startServer();
  try {
    for (const id of [undefined, 7]) {
      const started = Promise.withResolvers<void>();
      const aborted = Promise.withResolvers<unknown>();
      let queuedRan = false;
      server.command("hang", (ctx: { signal: AbortSignal }) => {
        ctx.signal.addEventListener("abort", () => aborted.resolve(ctx.signal.reason));
        started.resolve();
        return new Promise(() => {});
      });
      server.command("after", () => {
        queuedRan = true;
      });
      const c = await Client.connect(wsUrl(server));
      c.send(req("hang", { id }));
      c.send(req("after")); // queued behind it when there is no id
      await within(started.promise, "handler start");
      if (id !== undefined) await c.next((m) => m.command === "after");
      assert.equal(server.running, 1);
      await c.close();
      const reason = await within(aborted.promise, "signal abort");
      assert.ok(reason instanceof DOMException && reason.name === "AbortError");
      await until(() => server.hub.size === 0, "connection removed");
      assert.equal(server.running, 0);
      // A request from another client goes through the server after the leave: by then a queued
      // request that was going to run would have.
      const other = await Client.connect(wsUrl(server));
      assert.equal((await other.request(req("web"))).code, 200);
      await other.close();
      assert.equal(queuedRan, id !== undefined, "a queued request must not run after a leave");
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("commands - a client that leaves during recv() ends the dialogue", async () => {
  const server = await startServer();
  try {
    const waiting = Promise.withResolvers<void>();
    const failed = Promise.withResolvers<unknown>();
    server.command("ask", async (ctx: { recv(): Promise<unknown> }) => {
      const answer = ctx.recv();
      waiting.resolve();
      try {
        await answer;
      } catch (err) {
        failed.resolve(err);
        throw err;
      }
    });
    const c = await Client.connect(wsUrl(server));
    c.send(req("ask", { id: "q" }));
    await within(waiting.promise, "recv");
    await c.close();
    const err = await within(failed.promise, "recv rejection");
    assert.ok(err instanceof DOMException && err.name === "AbortError");
    await until(() => server.hub.size === 0, "connection removed");
    assert.equal(server.running, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("server - 100 concurrent clients each get their own correct replies", async () => {
  const server = await startServer();
  try {
    const clients = await Promise.all(
      Array.from({ length: 100 }, () => Client.connect(wsUrl(server))),
    );
    assert.equal(server.hub.size, 100);
    await Promise.all(clients.map(async (c, i) => {
      for (let j = 0; j < 3; j++) c.send(req("echo", { id: j, args: [i, j] }));
      for (let j = 3; j < 5; j++) c.send(req("echo", { args: [i, j] }));
      c.send(req("web", { id: "hb" }));
      const replies = await c.waitFor(6, (m) => m.action === "res", 10_000);
      for (const r of replies) assert.equal(r.code, 200);
      const echoes = replies.filter((r) => r.command === "echo");
      assert.deepEqual(
        echoes.map((r) => r.data.args).sort((a, b) => a[1] - b[1]),
        [0, 1, 2, 3, 4].map((j) => [i, j]),
      );
      for (const r of echoes) if (r.data.args[1] < 3) assert.equal(r.id, r.data.args[1]);
      assert.deepEqual(replies.find((r) => r.id === "hb"), { ...HEARTBEAT, id: "hb" });
    }));
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    await server.shutdown();
  }
});

Deno.test("router - requests without id run one after another, replies in send order", async () => {
  await withServer(async (server, c) => {
    const events: string[] = [];
    const slow = gated(events, "slow");
    server.command("slow", slow.handler);
    server.command("fast", () => {
      events.push("fast");
      return "fast";
    });
    c.send(req("slow"));
    c.send(req("fast"));
    // A request with id is not queued: its reply proves the server has read both frames.
    assert.equal((await c.request(req("web", { id: "sync" }))).code, 200);
    assert.deepEqual(events, ["slow start"]);
    slow.gate.resolve();
    const replies = await c.waitFor(2, (m) => m.action === "res");
    assert.deepEqual(replies.map((r) => r.data), ["slow", "fast"]);
    assert.deepEqual(events, ["slow start", "slow end", "fast"]);
  });
});

Deno.test("router - requests with id run concurrently: the fast one answers first", async () => {
  await withServer(async (server, c) => {
    const events: string[] = [];
    const slow = gated(events, "slow");
    server.command("slow", slow.handler);
    c.send(req("slow", { id: 1 }));
    c.send(req("echo", { id: 2, args: ["fast"] }));
    const fast = await c.next((m) => m.id === 2);
    assert.deepEqual(fast.data.args, ["fast"]);
    assert.equal(c.inbox.length, 0, "the slow request must still be running");
    slow.gate.resolve();
    const done = await c.next((m) => m.id === 1);
    assert.equal(done.data, "slow");
  });
});

// A message that reuses a running id joins that dialogue; if the handler never reads it, it still
// gets an error reply when the command ends (every input gets a reply).
Deno.test({
  name: "router - a request reusing a running id gets an error reply",
  fn: async () => {
    await withServer(async (server, c) => {
      const events: string[] = [];
      const slow = gated(events, "slow");
      server.command("slow", slow.handler);
      c.send(req("slow", { id: 1 }));
      c.send(req("web", { id: 1 }));
      assert.equal((await c.request(req("web", { id: "sync" }))).code, 200);
      slow.gate.resolve();
      const [first, second] = await c.waitFor(2, (m) => m.id === 1, 2000);
      const web = [first, second].find((m) => m.command === "web");
      assert.ok(web !== undefined && web.code !== 200, JSON.stringify([first, second]));
    });
  },
});

Deno.test("router - a handler that blocks the event loop delays but loses nothing", async () => {
  await withServer(async (server, c) => {
    server.command("block", () => {
      const end = Date.now() + 150;
      while (Date.now() < end) {
        // Busy: no other client is served meanwhile.
      }
      return "unblocked";
    });
    const others = await Promise.all([1, 2, 3].map(() => Client.connect(wsUrl(server))));
    c.send(req("block", { id: "b" }));
    others.forEach((o, i) => o.send(req("echo", { id: i, args: [i] })));
    assert.equal((await c.next((m) => m.id === "b")).data, "unblocked");
    for (const [i, o] of others.entries()) {
      assert.deepEqual((await o.next((m) => m.id === i)).data.args, [i]);
      await o.close();
    }
  });
});

Deno.test("router - more than MAX_INFLIGHT requests with id is a 429", async () => {
  await withServer(async (server, c) => {
    const events: string[] = [];
    const blocked = gated(events, "blocked");
    server.command("blocked", blocked.handler);
    c.send(req("blocked", { id: 1 }));
    c.send(req("blocked", { id: 2 }));
    const over = await c.request(req("blocked", { id: 3 }));
    assert.equal(over.code, 429);
    assert.equal(over.id, 3);
    assert.match(over.msg, /limit 2/);
    assert.equal(server.running, 2);
    blocked.gate.resolve();
    const done = await c.waitFor(2, (m) => m.code === 200);
    assert.deepEqual(done.map((m) => m.id).sort(), [1, 2]);
    assert.equal((await c.request(req("blocked", { id: 4 }))).code, 200);
  }, { MAX_INFLIGHT: 2 });
});

Deno.test("router - more than MAX_INFLIGHT queued requests without id is a 429", async () => {
  await withServer(async (server, c) => {
    const events: string[] = [];
    const blocked = gated(events, "blocked");
    server.command("blocked", blocked.handler);
    c.send(req("blocked"));
    c.send(req("echo", { args: [1] }));
    c.send(req("echo", { args: [2] }));
    c.send(req("echo", { args: [3] })); // third in the queue: over the bound
    const over = await c.next((m) => m.code === 429);
    assert.equal(over.command, "echo");
    assert.match(over.msg, /limit 2/);
    blocked.gate.resolve();
    const replies = await c.waitFor(3, (m) => m.code === 200);
    assert.deepEqual(replies.map((r) => r.data?.args?.[0] ?? r.data), ["blocked", 1, 2]);
  }, { MAX_INFLIGHT: 2 });
});

Deno.test("commands - progress replies carry more and process; the final one does not", async () => {
  await withServer(async (server, c) => {
    let late: (() => void) | undefined;
    server.command("prog", async (ctx: {
      progress(p: number, msg?: string): void;
      send(r: Msg): void;
    }) => {
      ctx.progress(0, "start");
      await Promise.resolve();
      ctx.progress(42.4, "mid");
      ctx.send({ msg: "note", data: [1] });
      ctx.progress(150);
      late = () => ctx.send({ msg: "too late" });
      return reply({ msg: "done", data: { ok: true } });
    });
    c.send(req("prog", { id: "p" }));
    const all = await c.waitFor(5, (m) => m.id === "p");
    const base = { mode: "req_res", action: "res", src: "control", id: "p", command: "prog" };
    assert.deepEqual(all, [
      { ...base, code: 200, msg: "start", process: 0, more: true },
      { ...base, code: 200, msg: "mid", process: 42, more: true },
      { ...base, code: 200, msg: "note", data: [1], more: true },
      { ...base, code: 200, msg: "running", process: 100, more: true },
      { ...base, code: 200, msg: "done", data: { ok: true } },
    ]);
    c.inbox.length = 0;
    late?.(); // after the final reply: dropped
    assert.deepEqual(await c.request(req("web")), HEARTBEAT);
    assert.equal(c.inbox.length, 0);
  });
});

Deno.test("wizard - a dialogue with an id, while other requests run", async () => {
  await withServer(async (_server, c) => {
    c.send(req("wizard", { id: "w" }));
    const ask = await c.next((m) => m.id === "w");
    assert.equal(ask.more, true);
    assert.match(ask.msg, /name/);
    assert.equal(ask.code, 200);
    assert.deepEqual(await c.request(req("web", { id: "other" })), { ...HEARTBEAT, id: "other" });
    c.send(req("wizard", { id: "w", kwargs: { name: "jw" } }));
    const done = await c.next((m) => m.id === "w");
    assert.equal(done.msg, "Hello, jw!");
    assert.deepEqual(done.data, { name: "jw" });
    assert.equal("more" in done, false);
  });
});

Deno.test("wizard - two dialogues with different ids do not mix", async () => {
  await withServer(async (_server, c) => {
    c.send(req("wizard", { id: "a" }));
    c.send(req("wizard", { id: "b" }));
    await c.waitFor(2, (m) => m.more === true);
    c.inbox.length = 0;
    c.send(req("wizard", { id: "b", kwargs: { name: "bea" } }));
    c.send(req("wizard", { id: "a", kwargs: { name: "al" } }));
    const [first, second] = await c.waitFor(2, (m) => m.action === "res");
    assert.deepEqual([first.id, first.msg], ["b", "Hello, bea!"]);
    assert.deepEqual([second.id, second.msg], ["a", "Hello, al!"]);
  });
});

Deno.test("wizard - a dialogue without ids takes the client's next message", async () => {
  await withServer(async (_server, c) => {
    c.send(req("wizard"));
    const ask = await c.next();
    assert.equal(ask.more, true);
    assert.match(ask.msg, /name/);
    assert.equal("id" in ask, false);
    c.send(req("wizard", { kwargs: { name: "ann" } }));
    const done = await c.next();
    assert.equal(done.msg, "Hello, ann!");
    assert.equal("more" in done, false);
    // The dialogue is over: the next message is a request again.
    assert.deepEqual(await c.request(req("web")), HEARTBEAT);
    c.send(req("wizard"));
    await c.next((m) => m.more === true);
    const bad = await c.request(req("wizard", { kwargs: { name: 5 } }));
    assert.equal(bad.code, 400);
    assert.match(bad.msg, /kwargs\.name/);
  });
});

Deno.test("wizard - a dialogue that times out releases the connection", async () => {
  await withServer(async (_server, c) => {
    c.send(req("wizard"));
    await c.next((m) => m.more === true);
    const timeout = await c.next((m) => m.code === 408, 3000);
    assert.equal(timeout.command, "wizard");
    assert.deepEqual(await c.request(req("web")), HEARTBEAT);
  }, { HANDLER_TIMEOUT_MS: 200 });
});

Deno.test("add_user - bad kwargs are a 400 with the issues in data", async () => {
  await withServer(async (_server, c) => {
    const cases: [Msg, string][] = [
      [{ name: 5 }, "kwargs.name"],
      [{}, "kwargs.name"],
      [{ name: "" }, "kwargs.name"],
      [{ name: "jw", age: -1 }, "kwargs.age"],
      [{ name: "jw", age: 1.5 }, "kwargs.age"],
    ];
    for (const [kwargs, path] of cases) {
      const r = await c.request(req("add_user", { id: 1, kwargs }));
      assert.equal(r.code, 400, JSON.stringify(kwargs));
      assert.equal(r.id, 1);
      assert.match(r.msg, /^Invalid arguments: /);
      assert.ok(r.msg.includes(path), r.msg);
      assert.ok(Array.isArray(r.data) && r.data.some((i: Msg) => i.path === path), r.msg);
      assert.ok(r.data.every((i: Msg) => typeof i.message === "string"));
    }
  });
});

Deno.test("add_user and del_user - add, delete, and 404 for an unknown id", async () => {
  await withServer(async (_server, c) => {
    const added = await c.request(req("add_user", { kwargs: { name: "jw", age: 30 } }));
    assert.equal(added.code, 200);
    const [user] = added.data;
    assert.equal(user.name, "jw");
    assert.equal(user.age, 30);
    assert.equal(typeof user.id, "number");
    const del = await c.request(req("del_user", { kwargs: { id: user.id } }));
    assert.equal(del.code, 200);
    assert.deepEqual(del.data, [user]);
    const again = await c.request(req("del_user", { kwargs: { id: user.id } }));
    assert.equal(again.code, 404);
    assert.equal(again.msg, "没查到");
    assert.equal((await c.request(req("del_user", { args: [987654] }))).code, 404);
    const second = (await c.request(req("add_user", { kwargs: { name: "x" } }))).data[0];
    assert.deepEqual((await c.request(req("del_user", { args: [second.id] }))).data, [second]);
    assert.equal((await c.request(req("del_user", { args: ["x"] }))).code, 400);
    assert.equal((await c.request(req("del_user"))).code, 400);
  });
});

/** A local HTTP stub for restartProcess: /ok answers 200, /fail 500, /hang until released. */
function restartStub() {
  const release = new AbortController();
  const hits: string[] = [];
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      hits.push(`${request.method} ${path}`);
      if (path === "/hang") {
        await new Promise((r) => release.signal.addEventListener("abort", r));
        return new Response("late");
      }
      return new Response(path, { status: path === "/fail" ? 500 : 200 });
    },
  );
  const url = (path: string) => `http://127.0.0.1:${server.addr.port}${path}`;
  const close = async () => {
    release.abort();
    await server.shutdown();
  };
  return { url, hits, close };
}

function checkProgress(messages: Msg[]): void {
  assert.ok(messages.length >= 1);
  assert.equal(messages[0].process, 0);
  let last = -1;
  for (const m of messages) {
    assert.equal(m.command, "restartProcess");
    assert.equal(m.code, 200);
    assert.equal(typeof m.msg, "string");
    assert.ok(m.msg.length > 0);
    assert.equal(m.more, true);
    assert.ok(Number.isInteger(m.process) && m.process >= last && m.process < 100, `${m.process}`);
    last = m.process;
  }
}

Deno.test("restartProcess - a URL that hangs past RESTART_TIMEOUT_MS is a failure", async () => {
  const stub = restartStub();
  try {
    await withServer(async (_server, c) => {
      c.send(req("restartProcess", { id: "r" }));
      const all = await c.waitFor(1, (m) => m.id === "r" && !m.more, 5000);
      const final = all[0];
      const progress = c.inbox.filter((m) => m.id === "r" && m.more);
      checkProgress(progress);
      assert.ok(progress.length >= 2, "progress creeps up while waiting");
      assert.ok(progress.some((m) => m.process > 0));
      assert.equal(final.msg, "重启失败");
      assert.equal(final.process, 100);
      assert.equal(final.command, "restartProcess");
      const [ok, hung] = final.data;
      assert.deepEqual([ok.url, ok.status, ok.ok], [stub.url("/ok"), 200, true]);
      assert.deepEqual([hung.url, hung.ok], [stub.url("/hang"), false]);
      assert.match(hung.error, /timed out after 600 ms/);
      assert.deepEqual(stub.hits.sort(), ["POST /hang", "POST /ok"]);
    }, { RESTART_URLS: [stub.url("/ok"), stub.url("/hang")], RESTART_TIMEOUT_MS: 600 });
  } finally {
    await stub.close();
  }
});

Deno.test("restartProcess - all URLs answering 200 is a success with process 100", async () => {
  const stub = restartStub();
  try {
    await withServer(async (_server, c) => {
      c.send(req("restartProcess"));
      const final = await c.next((m) => !m.more, 5000);
      checkProgress(c.inbox);
      assert.equal(final.msg, "重启成功");
      assert.equal(final.process, 100);
      assert.equal(final.code, 200);
      assert.deepEqual(final.data.map((r: Msg) => r.ok), [true, true]);
    }, { RESTART_URLS: `${stub.url("/ok")},${stub.url("/ok2")}`, RESTART_TIMEOUT_MS: 2000 });
  } finally {
    await stub.close();
  }
});

Deno.test("restartProcess - a URL answering 500 is a failure", async () => {
  const stub = restartStub();
  try {
    await withServer(async (_server, c) => {
      const final = await c.request(req("restartProcess", { id: 1 }), 5000);
      assert.equal(final.msg, "重启失败");
      assert.equal(final.process, 100);
      assert.deepEqual(final.data.map((r: Msg) => [r.status, r.ok]), [[200, true], [500, false]]);
    }, { RESTART_URLS: [stub.url("/ok"), stub.url("/fail")], RESTART_TIMEOUT_MS: 2000 });
  } finally {
    await stub.close();
  }
});

Deno.test("restartProcess - with no URLs it finishes at once with process 100", async () => {
  await withServer(async (_server, c) => {
    c.send(req("restartProcess", { id: 9 }));
    const [first, final] = await c.waitFor(2, (m) => m.id === 9);
    assert.deepEqual([first.process, first.more], [0, true]);
    assert.equal(final.process, 100);
    assert.equal(final.msg, "重启成功");
    assert.equal("more" in final, false);
    assert.deepEqual(final.data, []);
    assert.equal(c.inbox.length, 2);
  });
});

Deno.test("http - /healthz is 200 JSON with status, uptime and connections", async () => {
  await withServer(async (server, c) => {
    const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    const body = await res.json();
    assert.equal(body.status, "ok");
    assert.equal(typeof body.uptime, "number");
    assert.ok(body.uptime >= 0);
    assert.equal(body.connections, 1);
    const other = await Client.connect(wsUrl(server));
    await until(() => server.hub.size === 2, "second connection");
    const two = await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json();
    assert.equal(two.connections, 2);
    await other.close();
    assert.equal((await c.request(req("web"))).code, 200);
  });
});

Deno.test("http - an unknown path is a 404", async () => {
  await withServer(async (server) => {
    for (const path of ["/nope", "/healthz/x", "/commands/web.ts"]) {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
  });
});

Deno.test("server.shutdown - a running command gets 503 and the client 1001", async () => {
  const server = await startServer();
  const c = await Client.connect(wsUrl(server));
  const started = Promise.withResolvers<void>();
  server.command("hang", () => {
    started.resolve();
    return new Promise(() => {});
  });
  c.send(req("hang", { id: 1 }));
  await within(started.promise, "handler start");
  await server.shutdown(50);
  const close = await within(c.closed, "client close");
  assert.equal(close.code, 1001);
  const r = c.inbox.find((m) => m.id === 1);
  assert.equal(r?.code, 503);
});
