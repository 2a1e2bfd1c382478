/**
 * What a load generator itself costs per frame and per message, and so the most deliveries/s it
 * can take at all. A fan-out's throughput is capped by the slower side; on 2 cores the generator
 * is often that side, and then no server can beat the cap. The raw server's plain and batching
 * fan-outs of one invocation give two points (its CPU time per delivery at 1 and at about 3
 * deliveries per frame), enough for a line: CPU per delivery = per frame ÷ per-frame count + per
 * message.
 *
 * @module
 */
import type { GeneratorName } from "./options.ts";
import type { RunResult } from "./runner.ts";
import { summarize } from "./stats.ts";

/** A load generator's own cost in the maximum-rate fan-out, and the cap it sets. */
export interface GeneratorCost {
  generator: GeneratorName;
  /** Publishes in flight. */
  window: number;
  /** The generator's CPU (% of a core), median over the raw runs used. */
  loadCpu: number;
  /** Its CPU time per frame received, in µs. */
  perFrameUs: number;
  /** Its CPU time per message parsed, in µs. */
  perMessageUs: number;
  /**
   * Deliveries/s it could take on one full core if every frame held `window` deliveries (the most
   * a turn can hold when `window` publishes are in flight until their ack).
   */
  cap: number;
  /** `cap` ÷ the plain raw server's deliveries/s. */
  capRatio: number;
}

/**
 * Fits a generator's cost from the raw server's runs of `fanout_max_w<window>` (plain) and
 * `fanout_max_batch_w<window>` (`?batch=1`).
 *
 * @param runs Every run of the invocation.
 * @param generator The load generator.
 * @param window Publishes in flight.
 * @returns The fit, or undefined without both raw runs or when the two points do not differ in
 *   deliveries per frame.
 */
export function generatorCost(
  runs: RunResult[],
  generator: GeneratorName,
  window: number,
): GeneratorCost | undefined {
  const rawRuns = (scenario: string) =>
    runs.filter((r) =>
      r.scenario === scenario && r.generator === generator && r.target === "raw" && r.metrics
    ).map((r) => r.metrics!);
  const plain = rawRuns(`fanout_max_w${window}`);
  const batch = rawRuns(`fanout_max_batch_w${window}`);
  if (plain.length === 0 || batch.length === 0) return undefined;
  const median = (values: number[]) => summarize(values).median;
  // µs of generator CPU per delivery: % of a core × 10,000 µs/s ÷ deliveries/s.
  const usPerDelivery = (ms: typeof plain) => median(ms.map((m) => m.load_cpu * 1e4 / m.rate));
  const c1 = usPerDelivery(plain);
  const cb = usPerDelivery(batch);
  const f1 = median(plain.map((m) => m.per_frame));
  const fb = median(batch.map((m) => m.per_frame));
  if (!(Math.abs(1 / f1 - 1 / fb) > 1e-6)) return undefined;
  const perFrameUs = (c1 - cb) / (1 / f1 - 1 / fb);
  const perMessageUs = c1 - perFrameUs / f1;
  // Noise can tilt the line past zero: then it says nothing.
  if (!(perFrameUs > 0 && perMessageUs >= 0)) return undefined;
  const cap = 1e6 / (perFrameUs / window + perMessageUs);
  return {
    generator,
    window,
    loadCpu: median([...plain, ...batch].map((m) => m.load_cpu)),
    perFrameUs,
    perMessageUs,
    cap,
    capRatio: cap / median(plain.map((m) => m.rate)),
  };
}
