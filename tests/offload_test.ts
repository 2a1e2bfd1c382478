/**
 * End-to-end proof of issue 4 over real sockets: CPU-bound work in the pool leaves the server
 * responsive (and the same work on the main thread does not), and every failure mode of a job
 * reaches the client as the right code while the pool carries on.
 */
import assert from "node:assert/strict";
import routes from "../routes.gen.ts";
import type { Switchboard } from "../lib/server.ts";
import type { ServerOptions } from "../lib/create_server.ts";
import type { CommandContext } from "../lib/mod.ts";
import { Client, type Msg, req, startServer, wsUrl } from "./_client.ts";
import { until } from "./_helpers.ts";
import { CHUNKS, crunch, MARKS, OUTCOME, STARTED } from "./fixtures/workers/crunch.ts";
import type { HeartbeatRun } from "./fixtures/heartbeat_client.ts";

const FIXTURES = ["crunch", "sha256", "throws", "echo", "whoami", "spin", "sleep"];
const fixtureRoutes = {
  ...routes,
  workers: {
    ...routes.workers,
    ...Object.fromEntries(
      FIXTURES.map((name) => [name, import.meta.resolve(`./fixtures/workers/${name}.ts`)]),
    ),
  },
};

/**
 * The CPU-bound job's longest run. It ends earlier, when the heartbeat client says so: once its
 * heartbeats were answered (in the pool) or sent (on the main thread, which cannot answer them).
 */
const JOB_MS = 10_000;
/** Heartbeats sent while the job runs, one every 10 ms. */
const HEARTBEATS = 15;

function start(options: ServerOptions = {}): Promise<Switchboard> {
  return startServer({ routes: fixtureRoutes, WORKERS: 1, ...options });
}

function marks(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(MARKS * Int32Array.BYTES_PER_ELEMENT));
}

async function health(server: Switchboard): Promise<Msg> {
  const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
  return await res.json();
}

/**
 * The shared helper of the two ordering tests. A client thread (tests/fixtures/heartbeat_client.ts)
 * asks for `command` on one socket and, once the job has started (`marks[STARTED]`), sends
 * `HEARTBEATS` heartbeats on another, then ends the job when they are all `stopWhen`; it records
 * sends and replies in the order they happen. The clients live on their own thread so they keep
 * running while this thread is blocked.
 */
async function heartbeatsDuringJob(
  server: Switchboard,
  command: string,
  flags: Int32Array,
  stopWhen: HeartbeatRun["stopWhen"],
): Promise<{ events: string[]; job: Msg }> {
  const worker = new Worker(import.meta.resolve("./fixtures/heartbeat_client.ts"), {
    type: "module",
  });
  try {
    const { promise, resolve, reject } = Promise.withResolvers<{ events: string[]; job: Msg }>();
    worker.onmessage = (e) => e.data.error ? reject(new Error(e.data.error)) : resolve(e.data);
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(e.message));
    };
    const run: HeartbeatRun = {
      url: wsUrl(server),
      command,
      marks: flags,
      heartbeats: HEARTBEATS,
      intervalMs: 10,
      stopWhen,
    };
    worker.postMessage(run);
    return await promise;
  } finally {
    worker.terminate();
  }
}

/** Every heartbeat was sent while the job ran, that is before its reply arrived. */
function assertSentDuringJob(events: string[]): void {
  const started = events.indexOf("job started");
  const answered = events.indexOf("job answered");
  assert.ok(started >= 0 && answered > started, `job events out of order: ${events}`);
  const during = events.slice(started, answered).filter((e) => /^hb \d+ sent$/.test(e));
  assert.equal(during.length, HEARTBEATS, `heartbeats sent after the job's reply: ${events}`);
}

/** The property of issue 4: no heartbeat reply arrives after the job's reply. */
function assertResponsive(events: string[]): void {
  const answered = events.indexOf("job answered");
  const late = events.slice(answered).filter((e) => /^hb \d+ answered$/.test(e));
  assert.deepEqual(late, [], `heartbeats answered only after the job's reply: ${events}`);
}

Deno.test("offload - heartbeats are answered while a CPU-bound job runs in the pool", async () => {
  const server = await start();
  try {
    const flags = marks();
    server.command(
      "crunch_in_pool",
      (ctx: CommandContext) => ctx.offload("crunch", { ms: JOB_MS, marks: flags }),
    );
    // The job runs until every heartbeat is answered: a server that could not answer them while
    // it runs would fail here, on the helper's deadline.
    const { events, job } = await heartbeatsDuringJob(server, "crunch_in_pool", flags, "answered");
    assert.equal(job.code, 200);
    assert.equal(Atomics.load(flags, OUTCOME), 1, "the job ran to its end");
    assert.ok(Atomics.load(flags, CHUNKS) > 0);
    assertSentDuringJob(events);
    assertResponsive(events);
  } finally {
    await server.shutdown();
  }
});

Deno.test("offload - the same job on the main thread delays every heartbeat until its reply", async () => {
  const server = await start();
  try {
    const flags = marks();
    // Deliberately blocking: the same computation, synchronously on the event loop's thread.
    server.command("crunch_on_main", () => [crunch(JOB_MS, flags)]);
    const { events, job } = await heartbeatsDuringJob(server, "crunch_on_main", flags, "sent");
    assert.equal(job.code, 200);
    assertSentDuringJob(events);
    // The check that passes for the pool fails here: the helper can tell the two apart.
    assert.throws(() => assertResponsive(events), /answered only after the job's reply/);
    const answered = events.indexOf("job answered");
    const early = events.slice(0, answered).filter((e) => /^hb \d+ answered$/.test(e));
    assert.deepEqual(early, [], "no heartbeat is answered while the main thread computes");
  } finally {
    await server.shutdown();
  }
});

Deno.test("offload - a throwing worker gives 500 for that call and the pool still serves", async () => {
  const server = await start();
  const client = await Client.connect(wsUrl(server));
  try {
    server.command("explode", (ctx: CommandContext) => ctx.offload("throws", null));
    server.command("whoami", (ctx: CommandContext) => ctx.offload("whoami", null));
    const before = await client.request(req("whoami"));
    const failed = await client.request(req("explode"));
    assert.equal(failed.code, 500);
    assert.equal(failed.msg, 'Worker "throws" failed');
    assert.doesNotMatch(JSON.stringify(failed), /Secret detail|\.ts:/, "no detail or stack leaks");
    const after = await client.request(req("whoami"));
    assert.equal(after.code, 200);
    assert.equal(after.data, before.data, "the same worker serves the next call");
    const stats = server.pool.stats();
    assert.deepEqual([stats.failed, stats.restarts, stats.completed], [1, 0, 2]);
  } finally {
    await client.close();
    await server.shutdown();
  }
});

Deno.test("offload - a worker stuck in a sync loop gets 408, is replaced, and /healthz turns degraded at WORKER_STUCK_LIMIT", async () => {
  const server = await start({ WORKER_STUCK_LIMIT: 2 });
  const client = await Client.connect(wsUrl(server));
  const release = new Int32Array(new SharedArrayBuffer(4));
  try {
    server.command(
      "hang",
      (ctx: CommandContext) => ctx.offload("spin", { release }, { timeoutMs: 200 }),
    );
    server.command("whoami", (ctx: CommandContext) => ctx.offload("whoami", null));
    const first = await client.request(req("whoami"));
    assert.deepEqual(await health(server), {
      ...await health(server),
      status: "ok",
      workers: { size: 1, busy: 0, queued: 0, stuck: 0 },
    });

    const hung = await client.request(req("hang"));
    assert.equal(hung.code, 408);
    assert.equal(hung.msg, 'Worker "spin" timed out after 200 ms');
    const second = await client.request(req("whoami"));
    assert.equal(second.code, 200);
    assert.notEqual(second.data, first.data, "a fresh worker serves the next job");
    await until(() => server.pool.stats().stuck === 1, "the first thread counts as stuck");
    const one = await health(server);
    assert.equal(one.status, "ok", "one stuck thread is below WORKER_STUCK_LIMIT=2");
    assert.equal(one.workers.stuck, 1);

    assert.equal((await client.request(req("hang"))).code, 408);
    await until(() => server.pool.stats().stuck === 2, "the second thread counts as stuck");
    const two = await health(server);
    assert.equal(two.status, "degraded");
    assert.equal(two.workers.stuck, 2);
    assert.equal(server.pool.stats().timedOut, 2);

    // Once their loops end the threads no longer count, and health recovers.
    Atomics.store(release, 0, 1);
    await until(() => server.pool.stats().stuck === 0, "the released threads end");
    assert.equal((await health(server)).status, "ok");
  } finally {
    Atomics.store(release, 0, 1);
    await client.close();
    await server.shutdown();
  }
});

Deno.test("offload - the test process still exits while a worker spins for good", async () => {
  // A stuck thread keeps `deno run` alive; prove that `deno test` ends anyway, in a child process.
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--no-check",
      "tests/fixtures/stuck_exit.ts",
    ],
    cwd: new URL("..", import.meta.url),
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000), // the hang fixture spins for 60 s: SIGTERM means no exit
  });
  const out = await command.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.signal, null, `deno test did not exit by itself:\n${stdout}\n${stderr}`);
  assert.equal(out.code, 0, `${stdout}\n${stderr}`);
  assert.match(stdout, /STUCK_AT_EXIT=1/);
  assert.match(stdout, /ok \| 1 passed \| 0 failed/);
});

Deno.test("offload - a client that leaves mid-job cancels the job", async () => {
  const server = await start();
  const client = await Client.connect(wsUrl(server));
  try {
    const flags = marks();
    server.command(
      "long",
      (ctx: CommandContext) => ctx.offload("crunch", { ms: 10_000, marks: flags }),
    );
    client.send(req("long", { id: 1 }));
    await until(() => Atomics.load(flags, STARTED) === 1, "the job starts");
    await client.close();
    await until(() => Atomics.load(flags, OUTCOME) !== 0, "the job stops");
    assert.equal(Atomics.load(flags, OUTCOME), 2, "the loop saw the cancellation flag");
    await until(() => server.pool.stats().restarts === 1, "the worker is retired");
    const { completed, busy, started, stuck } = server.pool.stats();
    assert.deepEqual({ completed, busy, started, stuck }, {
      completed: 0,
      busy: 0,
      started: 0,
      stuck: 0,
    });
    assert.equal(typeof await server.offload("crunch", { ms: 1 }), "number", "a fresh worker");
  } finally {
    await client.close();
    await server.shutdown();
  }
});

Deno.test("offload - a full queue answers 503 (WORKERS=1, WORKER_QUEUE=1)", async () => {
  const server = await start({ WORKER_QUEUE: 1 });
  const client = await Client.connect(wsUrl(server));
  try {
    server.command(
      "nap",
      (ctx: CommandContext) => ctx.offload("sleep", { ms: 10_000, value: "late" }),
    );
    for (const id of [1, 2, 3]) client.send(req("nap", { id }));
    const full = await client.next((m) => m.id === 3);
    assert.equal(full.code, 503);
    assert.equal(full.msg, "Worker queue is full: 1 jobs waiting");
    const { busy, queued } = server.pool.stats();
    assert.deepEqual({ busy, queued }, { busy: 1, queued: 1 });
    await client.close(); // cancels both jobs: the running one is stopped, the queued one dropped
    await until(() => server.pool.stats().queued === 0 && server.pool.stats().busy === 0, "idle");
    assert.equal(server.pool.stats().completed, 0);
  } finally {
    await client.close();
    await server.shutdown();
  }
});

Deno.test("offload - a 50 MB buffer transferred through ctx.offload arrives intact", async () => {
  const server = await start();
  const client = await Client.connect(wsUrl(server));
  try {
    const size = 50 * 1024 * 1024;
    server.command("bigsum", async (ctx: CommandContext) => {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >>> 13)) & 0xff;
      const main = hex(await crypto.subtle.digest("SHA-256", bytes));
      const worker = await ctx.offload<{ bytes: number; sha256: string }>("sha256", bytes, {
        transfer: [bytes.buffer],
      });
      return { main, worker, leftHere: bytes.byteLength };
    });
    const r = await client.request(req("bigsum"), 15_000);
    assert.equal(r.code, 200, r.msg);
    assert.equal(r.data.leftHere, 0, "moved, not copied: the sender's view is detached");
    assert.equal(r.data.worker.bytes, size);
    assert.equal(r.data.worker.sha256, r.data.main);
  } finally {
    await client.close();
    await server.shutdown();
  }
});

function hex(digest: ArrayBuffer): string {
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
