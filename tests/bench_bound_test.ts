/**
 * The benchmark's yardsticks for batching: the raw server (bench/raw_server.ts) joins what one turn
 * produced for a `?batch=1` client into one frame, and the report puts its figures beside
 * Switchboard's without judging the target against them. The fan-out table's "raw `?batch=1`"
 * column is only worth reading if both hold.
 */
import assert from "node:assert/strict";
import { generatorCost } from "../bench/generator_cost.ts";
import { summarizeRuns } from "../bench/report.ts";
import type { RunResult } from "../bench/runner.ts";
import type { Scenario } from "../bench/scenarios/types.ts";
import { Client } from "./_client.ts";
import { sleep, spawnDeno } from "./_helpers.ts";

const sub = (id: number) =>
  JSON.stringify({ mode: "pub_sub", action: "sub", src: "t", id, topic: "bench" });
const pub = (seq: number) =>
  JSON.stringify({ mode: "pub_sub", action: "pub", src: "t", topic: "bench", data: { seq } });

Deno.test("raw server: a turn's deliveries leave in one frame for ?batch=1, one each for others", async () => {
  const raw = spawnDeno(["bench/raw_server.ts"], { PORT: "0", HOST: "127.0.0.1" });
  try {
    const port = Number((await raw.match(/Listening on http:\/\/[^:]+:(\d+)\//))[1]);
    const url = `ws://127.0.0.1:${port}/`;
    const batching = await Client.connect(`${url}?batch=1`);
    const plain = await Client.connect(url);
    const publisher = await Client.connect(`${url}?batch=1`);
    batching.send(sub(1));
    plain.send(sub(2));
    await batching.next();
    await plain.next();
    batching.raw.length = plain.raw.length = 0;

    // Five publishes in one frame are handled in one turn.
    publisher.send([1, 2, 3, 4, 5].map(pub).join("\n"));
    await plain.waitFor(5);
    await batching.waitFor(5);
    await publisher.waitFor(5);
    // Anything late would have arrived by now too.
    await sleep(50);

    assert.deepEqual(batching.raw.length, 1, "one frame for the batching subscriber");
    assert.deepEqual(batching.inbox.map((m) => m.data.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(plain.raw.map((f) => JSON.parse(f).data.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(publisher.raw.length, 1, "the batching publisher's five acks in one frame");
    assert.deepEqual(publisher.inbox.map((m) => m.code), [200, 200, 200, 200, 200]);
    for (const c of [batching, plain, publisher]) await c.close();
  } finally {
    raw.kill();
    await raw.exited();
  }
});

Deno.test("report: a batching variant's own raw runs are shown beside it, the target stays on the baseline", () => {
  const metrics = [{
    key: "rate",
    label: "deliveries/s",
    digits: 0,
    target: { kind: "ratio_min" as const, value: 3 },
  }];
  const scenario = (id: string, extra: Partial<Scenario> = {}): Scenario => ({
    id,
    family: id,
    title: id,
    run: "fanout",
    targets: ["switchboard", "raw"],
    full: {},
    quick: {},
    metrics,
    ...extra,
  });
  const plain = scenario("fanout_max_w4");
  const batch = scenario("fanout_max_batch_w4", { baseline: "fanout_max_w4" });
  const run = (s: string, target: "switchboard" | "raw", rate: number): RunResult => ({
    scenario: s,
    generator: "node",
    target,
    rep: 1,
    metrics: { rate },
    attempts: 1,
    disturbed: false,
  });
  const runs = [
    run("fanout_max_w4", "switchboard", 100),
    run("fanout_max_w4", "raw", 100),
    run("fanout_max_batch_w4", "switchboard", 250),
    run("fanout_max_batch_w4", "raw", 260),
  ];
  const [p, b] = summarizeRuns([plain, batch], runs, { generator: "node", quick: false });
  assert.deepEqual(
    p.figures[0].rawOwn,
    undefined,
    "a scenario without a baseline has no own-raw row",
  );
  const f = b.figures[0];
  assert.deepEqual(f.raw.median, 100, "judged against the plain raw run");
  assert.deepEqual(f.ratio, 2.5);
  assert.deepEqual(f.met, false);
  assert.deepEqual(f.rawOwn?.median, 260, "the raw server's own batching run, beside it");
});

Deno.test("generator cost: the per-frame and per-message cost of a load generator, and its cap", () => {
  // A generator that spends 6 µs per frame and 1 µs per message, at 100 % of a core.
  const [perFrame, perMessage] = [6, 1];
  const run = (scenario: string, rate: number, perFrameCount: number): RunResult => ({
    scenario,
    generator: "node",
    target: "raw",
    rep: 1,
    metrics: {
      rate,
      per_frame: perFrameCount,
      load_cpu: rate * (perFrame / perFrameCount + perMessage) / 1e4,
    },
    attempts: 1,
    disturbed: false,
  });
  const plain = run("fanout_max_w4", 1e6 / 7, 1);
  const batch = run("fanout_max_batch_w4", 1e6 / 3, 3);
  const c = generatorCost([plain, batch], "node", 4)!;
  assert.ok(Math.abs(c.perFrameUs - 6) < 1e-9, `per frame ${c.perFrameUs}`);
  assert.ok(Math.abs(c.perMessageUs - 1) < 1e-9, `per message ${c.perMessageUs}`);
  // 4 deliveries per frame: 6 / 4 + 1 = 2.5 µs per delivery → 400,000/s = 2.8× the plain 142,857.
  assert.ok(Math.abs(c.cap - 400_000) < 1e-3, `cap ${c.cap}`);
  assert.ok(Math.abs(c.capRatio - 2.8) < 1e-9, `cap ratio ${c.capRatio}`);
  assert.equal(generatorCost([plain], "node", 4), undefined, "no batching run: nothing to fit");
  assert.equal(
    generatorCost([plain, run("fanout_max_batch_w4", 1e6 / 7, 1)], "node", 4),
    undefined,
    "two points at the same deliveries per frame do not make a line",
  );
  assert.equal(generatorCost([plain, batch], "deno", 4), undefined, "another generator's runs");
});
