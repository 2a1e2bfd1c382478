import assert from "node:assert/strict";
import { CommandError } from "../lib/wire/errors.ts";
import { WorkerPool, type WorkerPoolOptions } from "../lib/workers/pool.ts";
import { until, within } from "./_helpers.ts";

const FIXTURES = [
  "echo",
  "whoami",
  "ticket",
  "sleep",
  "throws",
  "command_error",
  "crash",
  "spin",
  "cooperative",
  "checksum",
  "bytes",
  "no_default",
];
const modules = Object.fromEntries(
  FIXTURES.map((name) => [name, import.meta.resolve(`./fixtures/workers/${name}.ts`)]),
);

type LogEntry = [level: string, msg: string, extra?: Record<string, unknown>];

function createPool(options: Partial<WorkerPoolOptions> = {}) {
  const logs: LogEntry[] = [];
  const pool = new WorkerPool(modules, {
    size: 1,
    queueLimit: 16,
    timeoutMs: 5_000,
    stuckLimit: 1,
    cancelGraceMs: 100,
    log: (level, msg, extra) => logs.push([level, msg, extra]),
    ...options,
  });
  return { pool, logs };
}

function isCommandError(code: number, message?: string | RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof CommandError, `expected a CommandError, got ${err}`);
    assert.equal(err.code, code);
    if (typeof message === "string") assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  };
}

function words(bytes: number): Uint32Array<ArrayBuffer> {
  const data = new Uint32Array(bytes / 4);
  for (let i = 0; i < data.length; i++) data[i] = Math.imul(i, 2654435761) >>> 0;
  return data;
}

function sum(data: Uint32Array): number {
  let total = 0;
  for (let i = 0; i < data.length; i++) total = (total + data[i]) >>> 0;
  return total;
}

Deno.test("WorkerPool - starts no worker before the first job and returns the result", async () => {
  const { pool } = createPool();
  try {
    assert.equal(pool.stats().started, 0);
    const out = await pool.run("echo", { name: "jw", list: [1, 2], when: new Date(0) });
    assert.deepEqual(out, { name: "jw", list: [1, 2], when: new Date(0) });
    assert.equal(pool.stats().started, 1);
    assert.equal(pool.stats().completed, 1);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - runs jobs queued beyond the pool size in FIFO order", async () => {
  const { pool } = createPool({ size: 1 });
  try {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const done: number[] = [];
    const jobs = Array.from(
      { length: 6 },
      (_, tag) =>
        pool.run<{ tag: number; ticket: number }>("ticket", { counter, tag }).then((out) => {
          done.push(out.tag);
          return out;
        }),
    );
    assert.equal(pool.stats().queued, 5);
    for (const out of await Promise.all(jobs)) assert.equal(out.ticket, out.tag);
    assert.deepEqual(done, [0, 1, 2, 3, 4, 5]);
    assert.equal(pool.stats().queued, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - never starts more than size workers", async () => {
  const { pool } = createPool({ size: 2 });
  try {
    const jobs = Array.from({ length: 5 }, (_, i) => pool.run("sleep", { ms: 20, value: i }));
    const { started, busy, queued } = pool.stats();
    assert.deepEqual({ started, busy, queued }, { started: 2, busy: 2, queued: 3 });
    assert.deepEqual(await Promise.all(jobs), [0, 1, 2, 3, 4]);
    assert.equal(pool.stats().started, 2);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - a throwing worker gives 500 without the stack and the pool still serves", async () => {
  const { pool, logs } = createPool();
  try {
    await assert.rejects(pool.run("throws", null), (err: unknown) => {
      isCommandError(500, 'Worker "throws" failed')(err);
      assert.doesNotMatch((err as Error).message, /Secret|\bat\b/);
      return true;
    });
    const logged = logs.find(([level]) => level === "error");
    assert.ok(logged, "the failure is logged");
    assert.match(logged[1], /Secret detail 42/);
    assert.match(String(logged[2]?.stack), /throws\.ts/);
    assert.equal(await pool.run("echo", 1), 1);
    assert.equal(pool.stats().failed, 1);
    assert.equal(pool.stats().restarts, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - a CommandError thrown in a worker keeps its code, message and data", async () => {
  const { pool } = createPool();
  try {
    await assert.rejects(pool.run("command_error", null), (err: unknown) => {
      isCommandError(400, "Image is empty")(err);
      assert.deepEqual((err as CommandError).data, { field: "bytes" });
      return true;
    });
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - a module without a default export gives 500 and logs why", async () => {
  const { pool, logs } = createPool();
  try {
    await assert.rejects(
      pool.run("no_default", null),
      isCommandError(500, 'Worker "no_default" failed'),
    );
    assert.ok(logs.some(([, msg]) => /no default export function/.test(msg)));
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - a crashed worker gives 500 and is replaced", async () => {
  const { pool, logs } = createPool();
  try {
    const before = await pool.run("whoami", null);
    await assert.rejects(pool.run("crash", null), isCommandError(500, 'Worker "crash" crashed'));
    assert.ok(logs.some(([level, msg]) => level === "error" && /Crashed on purpose/.test(msg)));
    const after = await pool.run("whoami", null);
    assert.notEqual(after, before);
    assert.equal(pool.stats().restarts, 1);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - a job stuck in a sync loop gets 408 and a fresh worker serves the next job", async () => {
  const { pool, logs } = createPool({ timeoutMs: 100, cancelGraceMs: 50 });
  const release = new Int32Array(new SharedArrayBuffer(4));
  try {
    const before = await pool.run("whoami", null);
    // The caller is answered while the job still spins (it spins until the test releases it).
    await within(
      assert.rejects(
        pool.run("spin", { release }),
        isCommandError(408, 'Worker "spin" timed out after 100 ms'),
      ),
      "the 408 while the job spins",
    );
    assert.equal(Atomics.load(release, 0), 0);
    const after = await pool.run("whoami", null);
    assert.notEqual(after, before);
    await until(() => pool.stats().restarts === 1, "the stuck worker to be replaced");
    assert.equal(pool.stats().stuck, 1);
    assert.equal(pool.degraded, true);
    assert.equal(pool.stats().timedOut, 1);
    assert.ok(logs.some(([level, msg]) => level === "warn" && /stuck/.test(msg)));
    // The abandoned thread still spins; once its loop ends it no longer counts.
    Atomics.store(release, 0, 1);
    await until(() => pool.stats().stuck === 0, "the released thread to end");
    assert.equal(pool.degraded, false);
  } finally {
    Atomics.store(release, 0, 1);
    await pool.close();
  }
});

Deno.test("WorkerPool - a cooperative loop observes cancellation and is not counted as stuck", async () => {
  const { pool, logs } = createPool({ timeoutMs: 100, cancelGraceMs: 500 });
  try {
    const seen = new Int32Array(new SharedArrayBuffer(4));
    await assert.rejects(pool.run("cooperative", { seen }), isCommandError(408));
    await until(() => pool.stats().restarts === 1, "the cancelled worker to be replaced");
    assert.equal(Atomics.load(seen, 0), 1);
    // A worker that does not answer within the grace period is logged as stuck.
    assert.equal(pool.stats().stuck, 0);
    assert.ok(!logs.some(([, msg]) => /stuck/.test(msg)));
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - a job that times out while queued is dropped without touching the worker", async () => {
  const { pool } = createPool();
  try {
    const first = pool.run("sleep", { ms: 200, value: "first" });
    await assert.rejects(pool.run("echo", 1, { timeoutMs: 30 }), isCommandError(408));
    assert.equal(pool.stats().queued, 0);
    assert.equal(await first, "first");
    assert.equal(pool.stats().restarts, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - aborting a queued job removes it from the queue", async () => {
  const { pool } = createPool();
  try {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const first = pool.run("sleep", { ms: 100, value: "first" });
    const controller = new AbortController();
    const queued = pool.run("ticket", { counter, tag: 0 }, { signal: controller.signal });
    assert.equal(pool.stats().queued, 1);
    const reason = new Error("Client left");
    controller.abort(reason);
    await assert.rejects(queued, (err) => err === reason);
    assert.equal(pool.stats().queued, 0);
    assert.equal(await first, "first");
    const next = await pool.run<{ ticket: number }>("ticket", { counter, tag: 1 });
    assert.equal(next.ticket, 0, "the aborted job never ran");
    assert.equal(pool.stats().restarts, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - aborting a running job terminates and replaces its worker", async () => {
  const { pool, logs } = createPool({ cancelGraceMs: 5_000 });
  try {
    const before = await pool.run("whoami", null);
    const controller = new AbortController();
    const running = pool.run("sleep", { ms: 10_000 }, { signal: controller.signal });
    assert.equal(pool.stats().busy, 1);
    controller.abort();
    await assert.rejects(running, (err) => err === controller.signal.reason);
    const after = await pool.run("whoami", null);
    assert.notEqual(after, before);
    // Retired on the job's answer (through ctx.signal), long before the grace period ends.
    await until(() => pool.stats().restarts === 1, "the aborted job's worker to be replaced");
    assert.equal(pool.stats().stuck, 0);
    assert.ok(!logs.some(([, msg]) => /stuck/.test(msg)));
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - a full queue answers 503 and close rejects what is left", async () => {
  const { pool } = createPool({ queueLimit: 1 });
  const running = pool.run("sleep", { ms: 5_000 });
  const queued = pool.run("sleep", { ms: 5_000 });
  await assert.rejects(
    pool.run("echo", 1),
    isCommandError(503, "Worker queue is full: 1 jobs waiting"),
  );
  const rejected = [running, queued].map((job) =>
    assert.rejects(job, isCommandError(503, "Worker pool is closed"))
  );
  await pool.close();
  await Promise.all(rejected);
  await assert.rejects(pool.run("echo", 1), isCommandError(503, "Worker pool is closed"));
  assert.equal(pool.stats().started, 0);
});

Deno.test("WorkerPool - moves a 50 MB ArrayBuffer both ways without copying", async () => {
  const { pool } = createPool();
  try {
    const size = 50 * 1024 * 1024;
    const data = words(size);
    const expected = sum(data);
    const out = await pool.run<{ sum: number; buffer: ArrayBuffer }>("checksum", data.buffer, {
      transfer: [data.buffer],
    });
    assert.equal(data.buffer.byteLength, 0, "the sender's buffer is detached");
    assert.equal(out.sum, expected);
    assert.equal(out.buffer.byteLength, size);
    assert.equal(sum(new Uint32Array(out.buffer)), expected);
    assert.equal(await pool.run("checksum", "last"), 0, "the worker's buffer is detached too");
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - moves a returned typed array automatically", async () => {
  const { pool } = createPool();
  try {
    const out = await pool.run<Uint8Array>("bytes", 1024);
    assert.ok(out instanceof Uint8Array);
    assert.equal(out.byteLength, 1024);
    assert.ok(out.every((b) => b === 7));
    assert.equal(await pool.run("bytes", -1), 0, "the worker's copy is detached");
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - an unknown worker name gives 404 without starting a worker", async () => {
  const { pool } = createPool();
  try {
    await assert.rejects(pool.run("nope", 1), isCommandError(404, 'Unknown worker "nope"'));
    await assert.rejects(pool.run("toString", 1), isCommandError(404));
    assert.equal(pool.stats().started, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("WorkerPool - rejects out-of-range options", () => {
  const base = { size: 1, queueLimit: 0, timeoutMs: 0, stuckLimit: 1 };
  assert.throws(() => new WorkerPool(modules, { ...base, size: 0 }), RangeError);
  assert.throws(() => new WorkerPool(modules, { ...base, queueLimit: -1 }), RangeError);
  assert.throws(() => new WorkerPool(modules, { ...base, stuckLimit: 0 }), /"stuckLimit"/);
});
