/**
 * Turns the runs into results: per load generator, the median and spread of every figure and
 * target, the ratios Switchboard / raw and Switchboard / nats-server, the verdict against the
 * issues' targets; a headline table of the maximum-rate fan-outs; markdown and JSON.
 *
 * @module
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Machine } from "./machine.ts";
import type { GeneratorName, TargetName } from "./options.ts";
import type { RunResult } from "./runner.ts";
import type { Metric, Params, Scenario, Target } from "./scenarios/types.ts";
import { summarize, type Summary } from "./stats.ts";
import { generatorCost } from "./generator_cost.ts";

/** One figure of one scenario, summarised over the repetitions. */
export interface FigureResult {
  key: string;
  label: string;
  digits: number;
  diagnostic: boolean;
  switchboard: Summary;
  raw: Summary;
  /** The scenario whose raw runs gave `raw` (the baseline, for batching variants). */
  rawFrom: string;
  /**
   * The raw server's own runs of a variant that has a baseline (the batching fan-out against the
   * raw server with `?batch=1`): the bare runtime with the same batching rule, reported beside
   * Switchboard's figure, never judged.
   */
  rawOwn?: Summary;
  /** nats-server's figure; n = 0 when it did not run this scenario or its baseline. */
  nats: Summary;
  /** The scenario whose nats-server runs gave `nats`, if any. */
  natsFrom?: string;
  /** median(Switchboard) / median(raw); NaN when either is missing. */
  ratio: number;
  /** median(Switchboard) / median(nats-server); NaN when either is missing. */
  natsRatio: number;
  target?: Target;
  /** Whether the target is met; undefined without a target or without figures. */
  met?: boolean;
}

/** One scenario's results for one load generator. */
export interface ScenarioResult {
  id: string;
  title: string;
  params: Params;
  figures: FigureResult[];
}

/** A load generator and its results, or why it did not run. */
export interface GeneratorResult {
  generator: GeneratorName;
  /** What it ran on (runtime, client library). */
  version?: string;
  /** Why it did not run. */
  missing?: string;
  scenarios: ScenarioResult[];
}

/** Everything a benchmark run wrote to JSON. */
export interface BenchResults {
  date: string;
  quick: boolean;
  reps: number;
  /** Publishes in flight in the maximum-rate fan-outs. */
  windows: number[];
  /** When a publish stopped being in flight (`--window-until`). */
  until: "acked" | "delivered";
  machine: Machine;
  /** The servers' commands; for nats-server its path and version, or why it did not run. */
  commands: Record<TargetName, string>;
  /** Whether nats-server ran (else `commands.nats` says why not). */
  nats: boolean;
  generators: GeneratorResult[];
  runs: RunResult[];
}

/**
 * Summarises one load generator's runs of each scenario.
 *
 * @param scenarios The scenarios that ran (windowed ones expanded).
 * @param runs Every run.
 * @param options The generator, and whether the quick parameters were used.
 * @returns One result per scenario.
 */
export function summarizeRuns(
  scenarios: Scenario[],
  runs: RunResult[],
  options: { generator: GeneratorName; quick: boolean },
): ScenarioResult[] {
  const { generator, quick } = options;
  const values = (scenario: string | undefined, target: TargetName, key: string) =>
    summarize(
      scenario === undefined
        ? []
        : counted(runs, { scenario, generator, target }).map((r) => r.metrics![key] ?? NaN),
    );
  return scenarios.map((s) => {
    const rawFrom = s.baseline ?? s.id;
    const natsFrom = [s, scenarios.find((b) => b.id === s.baseline)]
      .find((x) => x?.targets.includes("nats"))?.id;
    return {
      id: s.id,
      title: s.title,
      params: quick ? s.quick : s.full,
      figures: s.metrics.map((m) => {
        const switchboard = values(s.id, "switchboard", m.key);
        const raw = values(rawFrom, "raw", m.key);
        const rawOwn = rawFrom !== s.id && s.targets.includes("raw")
          ? values(s.id, "raw", m.key)
          : undefined;
        const nats = values(natsFrom, "nats", m.key);
        return {
          key: m.key,
          label: m.label,
          digits: m.digits,
          diagnostic: m.diagnostic ?? false,
          switchboard,
          raw,
          rawFrom,
          rawOwn,
          nats,
          natsFrom,
          ratio: switchboard.median / raw.median,
          natsRatio: switchboard.median / nats.median,
          target: m.target,
          met: verdict(m, switchboard, raw),
        };
      }),
    };
  });
}

/**
 * The runs whose figures make the summary of one scenario, generator and target: those that
 * succeeded, leaving out disturbed ones as long as at least one undisturbed run remains.
 *
 * @param runs Every run.
 * @param which The scenario id, the generator and the target.
 * @returns The runs that count.
 */
export function counted(
  runs: RunResult[],
  which: Pick<RunResult, "scenario" | "generator" | "target">,
): RunResult[] {
  const ok = runs.filter((r) =>
    r.scenario === which.scenario && r.generator === which.generator &&
    r.target === which.target && r.metrics
  );
  const calm = ok.filter((r) => !r.disturbed);
  return calm.length ? calm : ok;
}

function verdict(m: Metric, sb: Summary, raw: Summary): boolean | undefined {
  if (!m.target || sb.n === 0) return undefined;
  if (m.target.kind === "zero") return sb.max === 0;
  if (raw.n === 0) return undefined;
  const ratio = sb.median / raw.median;
  return m.target.kind === "ratio_min" ? ratio >= m.target.value : ratio <= m.target.value;
}

/**
 * The results as markdown: the machine and tools, the headline fan-out table, then per load
 * generator the main table and the CPU table, then disturbed and failed runs.
 *
 * @param results The results.
 * @returns Markdown text.
 */
export function toMarkdown(results: BenchResults): string {
  const m = results.machine;
  const lines = [
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}; ` +
    `Deno ${m.deno} (V8 ${m.v8}); load average at start ${m.loadAverage.toFixed(2)}.`,
    `${results.quick ? "Quick run" : "Full run"}, ${results.reps} repetition(s), ` +
    `${results.date}. Figures: median (min–max over the repetitions). ` +
    `${results.runs.filter((r) => r.attempts > 1).length} run(s) repeated because other ` +
    `processes were busy.`,
    `Load generators: ${
      results.generators.map((g) => `${g.generator}: ${g.version ?? g.missing}`).join("; ")
    }. nats-server: ${results.commands.nats}.`,
    "",
    ...headline(results),
  ];
  const costs = generatorCostTable(
    results.runs,
    results.generators.filter((g) => !g.missing).map((g) => g.generator),
    results.windows,
  );
  if (costs.length > 0) lines.push("", ...costs);
  for (const g of results.generators) {
    lines.push("", `#### ${g.generator} load generator (${g.version ?? g.missing})`, "");
    if (g.missing) continue;
    if (g.scenarios.length === 0) {
      // The feature scenarios run with the Deno generator alone.
      lines.push("None of the chosen scenarios runs with this load generator.");
      continue;
    }
    const natsMissing = results.nats ? undefined : results.commands.nats;
    lines.push(...mainTable(g.scenarios, natsMissing), "", ...cpuTable(g.scenarios));
  }
  lines.push(
    "",
    "¹ Batching, history and cross-node variants run against Switchboard only; their raw and " +
      "nats-server figures are those of the plain scenario named in the JSON (`rawFrom`, " +
      "`natsFrom`).",
    "² The batching fan-out also runs against the raw server with `?batch=1`, which then joins " +
      "what one turn produced for a client into one frame and does nothing else: the bare " +
      "runtime with SPEC 2's batching rule. " +
      "Its figures are in the JSON as `rawOwn`; the target is still judged against plain raw.",
  );
  const disturbed = results.runs.filter((r) => r.disturbed);
  if (disturbed.length) {
    lines.push(
      "",
      "Runs disturbed by other processes even after retries (left out of the medians unless " +
        "no undisturbed repetition of the same scenario, generator and target exists):",
      "",
    );
    for (const r of disturbed) {
      const other = r.metrics?.other_cpu.toFixed(0);
      const kept = counted(results.runs, r).includes(r) ? ", kept" : "";
      lines.push(`- ${describeRun(r)}: ${other}% of a core${kept}`);
    }
  }
  const failed = results.runs.filter((r) => r.error);
  if (failed.length) {
    lines.push("", "Failed runs:", "");
    for (const r of failed) lines.push(`- ${describeRun(r)}: ${r.error!.split("\n")[0]}`);
  }
  return lines.join("\n");
}

/** The maximum-rate fan-outs of every generator and window side by side. */
function headline(results: BenchResults): string[] {
  const ran = results.generators.some((g) =>
    g.scenarios.some((s) => s.id.startsWith("fanout_max"))
  );
  if (!ran) return [];
  const lines = [
    "Fan-out at maximum rate, 1 → 1,000 subscribers, a publish in flight until " +
    (results.until === "acked" ? "acknowledged" : "acknowledged and received by every subscriber") +
    ": deliveries/s · ratio to raw · deliveries per frame",
    "",
    "| Load generator | In flight | raw | Switchboard | raw `?batch=1` | Switchboard `?batch=1` " +
    "| nats-server | `?batch=1`: Switchboard / raw | `?batch=1` / nats-server |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const g of results.generators.filter((g) => !g.missing)) {
    for (const w of results.windows) {
      const plain = g.scenarios.find((s) => s.id === `fanout_max_w${w}`);
      const batch = g.scenarios.find((s) => s.id === `fanout_max_batch_w${w}`);
      if (!plain && !batch) continue;
      const fig = (s: ScenarioResult | undefined, key: string) =>
        s?.figures.find((f) => f.key === key);
      const rate = fig(plain ?? batch, "rate")!;
      const frames = fig(plain ?? batch, "per_frame")!;
      const raw = rate.raw.median;
      const entry = (value: number | undefined, perFrame: number | undefined) =>
        value === undefined || Number.isNaN(value)
          ? "—"
          : `${formatNumber(value, 0)} · ${(value / raw).toFixed(2)}× · ${
            formatNumber(perFrame ?? NaN, 2)
          }`;
      const b = fig(batch, "rate");
      const bFrames = fig(batch, "per_frame");
      const natsCell = results.nats
        ? entry(rate.nats.median, frames.nats.median)
        : results.commands.nats;
      const ratio = (x: number | undefined) =>
        x === undefined || Number.isNaN(x) ? "—" : `${x.toFixed(2)}×`;
      lines.push(
        `| ${g.generator} | ${w} | ${formatNumber(raw, 0)} | ` +
          `${plain ? entry(rate.switchboard.median, frames.switchboard.median) : "—"} | ` +
          `${entry(b?.rawOwn?.median, bFrames?.rawOwn?.median)} | ` +
          `${entry(b?.switchboard.median, bFrames?.switchboard.median)} | ${natsCell} | ` +
          `${ratio(b && b.rawOwn && b.switchboard.median / b.rawOwn.median)} | ` +
          `${ratio(b?.natsRatio)} |`,
      );
    }
  }
  return lines;
}

/**
 * The fits as a markdown table, one row per load generator and window with both raw runs.
 *
 * @param runs Every run of the invocation.
 * @param generators The load generators that ran.
 * @param windows The windows that ran.
 * @returns The lines, or none when nothing could be fitted.
 */
function generatorCostTable(
  runs: RunResult[],
  generators: GeneratorName[],
  windows: number[],
): string[] {
  const rows: string[] = [];
  for (const g of generators) {
    for (const w of windows) {
      const c = generatorCost(runs, g, w);
      if (!c) continue;
      rows.push(
        `| ${g} | ${w} | ${formatNumber(c.loadCpu, 0)} | ${formatNumber(c.perFrameUs, 2)} | ` +
          `${formatNumber(c.perMessageUs, 2)} | ${formatNumber(c.cap, 0)} | ${
            c.capRatio.toFixed(2)
          }× |`,
      );
    }
  }
  if (rows.length === 0) return [];
  return [
    "What each load generator itself costs, fitted from the raw server's plain and `?batch=1` " +
    "fan-outs of this run (its CPU per delivery at 1 and at the batching run's deliveries per " +
    "frame), and the most deliveries/s it could take on one full core if every frame held as " +
    "many deliveries as there are publishes in flight (the most one turn can hold; frames hold " +
    "more only while a client's socket is still busy). When the generator runs near 100 % of a " +
    "core, a server following the batching rule on idle sockets cannot get past this cap with it.",
    "",
    "| Load generator | In flight | its CPU (% of a core) | µs per frame | µs per message | " +
    "cap (deliveries/s) | cap ÷ raw |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows,
  ];
}

function mainTable(scenarios: ScenarioResult[], natsMissing?: string): string[] {
  const lines = [
    "| Scenario | Figure | Switchboard | raw | nats-server | Switchboard / raw | " +
    "Switchboard / nats-server | Target | Met |",
    "|---|---|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const s of scenarios) {
    for (const f of s.figures.filter((f) => !f.diagnostic)) {
      const raw = f.rawFrom === s.id ? cell(f.raw, f.digits) : `${cell(f.raw, f.digits)} ¹`;
      const nats = !f.natsFrom
        ? ""
        : natsMissing
        ? natsMissing
        : f.natsFrom === s.id
        ? cell(f.nats, f.digits)
        : `${cell(f.nats, f.digits)} ¹`;
      const zero = f.target?.kind === "zero";
      const ratio = (r: number) => zero || Number.isNaN(r) ? "—" : `${r.toFixed(2)}×`;
      const met = f.met === undefined ? "" : f.met ? "yes" : "**no**";
      lines.push(
        `| ${s.id} | ${f.label} | ${cell(f.switchboard, f.digits)} | ${raw} | ${nats} | ` +
          `${ratio(f.ratio)} | ${f.natsFrom ? ratio(f.natsRatio) : ""} | ` +
          `${describeTarget(f.target)} | ${met} |`,
      );
      if (f.rawOwn && f.rawOwn.n > 0 && !zero) {
        // The same figure next to the raw server's own batching run (footnote ²).
        lines.push(
          `| ${s.id} | ${f.label}, vs raw \`?batch=1\` ² | ${cell(f.switchboard, f.digits)} | ` +
            `${cell(f.rawOwn, f.digits)} |  | ${ratio(f.switchboard.median / f.rawOwn.median)} ` +
            `|  |  |  |`,
        );
      }
    }
  }
  return lines;
}

function cpuTable(scenarios: ScenarioResult[]): string[] {
  const lines = [
    "| Scenario | CPU during the window | Switchboard | raw | nats-server |",
    "|---|---|---:|---:|---:|",
  ];
  for (const s of scenarios) {
    for (const f of s.figures.filter((f) => f.diagnostic)) {
      const raw = f.rawFrom === s.id
        ? cell(f.raw, f.digits)
        : f.rawOwn
        ? `${cell(f.rawOwn, f.digits)} ²`
        : "";
      const nats = f.natsFrom === s.id ? cell(f.nats, f.digits) : "";
      lines.push(`| ${s.id} | ${f.label} | ${cell(f.switchboard, f.digits)} | ${raw} | ${nats} |`);
    }
  }
  return lines;
}

/**
 * Names a run in lists and progress lines.
 *
 * @param r A run.
 * @returns E.g. "fanout_max_w4 · node · nats · rep 2".
 */
export function describeRun(r: Pick<RunResult, "scenario" | "generator" | "target" | "rep">) {
  return `${r.scenario} · ${r.generator} · ${r.target} · rep ${r.rep}`;
}

/**
 * Writes the results as JSON, creating the directory if needed.
 *
 * @param path The file.
 * @param results The results.
 */
export async function writeJson(path: string, results: BenchResults): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(results, null, 2) + "\n");
}

/**
 * Formats one number for the table.
 *
 * @param value The number.
 * @param digits Decimal places.
 * @returns The text, "—" for NaN.
 */
export function formatNumber(value: number, digits: number): string {
  if (Number.isNaN(value)) return "—";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function cell(s: Summary, digits: number): string {
  if (s.n === 0) return "—";
  const median = formatNumber(s.median, digits);
  if (s.n === 1 || s.min === s.max) return median;
  return `${median} (${formatNumber(s.min, digits)}–${formatNumber(s.max, digits)})`;
}

function describeTarget(t?: Target): string {
  if (!t) return "";
  if (t.kind === "zero") return "0";
  return `${t.kind === "ratio_min" ? "≥" : "≤"} ${t.value}×`;
}
