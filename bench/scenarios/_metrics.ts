/**
 * The pieces every scenario list shares (bench/scenarios/mod.ts and the feature scenarios): the
 * run lengths, the "must be zero" figures, the delivery checks, the CPU figures.
 *
 * @module
 */
import type { Metric } from "./types.ts";

/** A full run: 1 s warm-up, 5 s window. */
export const FULL = { warmupMs: 1000, measureMs: 5000 };
/** A `--quick` run: 0.3 s warm-up, 1 s window. */
export const QUICK = { warmupMs: 300, measureMs: 1000 };

/** The CPU figures of a run: diagnostic, never judged. */
export const cpu: Metric[] = [
  { key: "server_cpu", label: "server CPU (% of a core)", digits: 0, diagnostic: true },
  { key: "load_cpu", label: "load generator CPU (% of a core)", digits: 0, diagnostic: true },
  { key: "other_cpu", label: "everything else (% of a core)", digits: 0, diagnostic: true },
];

/** A figure that must be 0 in every repetition. */
export const zero = (key: string, label: string): Metric => ({
  key,
  label,
  digits: 0,
  target: { kind: "zero" },
});

/** The checks every fan-out run makes: nothing lost, reordered or malformed. */
export const delivered: Metric[] = [
  zero("lost", "deliveries lost"),
  zero("reordered", "deliveries out of order"),
  zero("errors", "bad deliveries or failed acks"),
];

/** Full and quick parameters of a fan-out scenario (with its bounded drain). */
export const fanoutRuns = (params: Record<string, number>, batch: boolean) => ({
  full: { ...params, batch, ...FULL, drainMs: 2000 },
  quick: { ...params, batch, ...QUICK, drainMs: 1000 },
});
