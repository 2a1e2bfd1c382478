/**
 * Turns the runs into results: median and spread per figure and target, the ratio
 * Switchboard / raw, the verdict against the targets, a markdown table and the JSON.
 *
 * @module
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Machine } from "./machine.ts";
import type { TargetName } from "./options.ts";
import type { RunResult } from "./runner.ts";
import type { Metric, Params, Scenario, Target } from "./scenarios/types.ts";
import { summarize, type Summary } from "./stats.ts";

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
  /** median(Switchboard) / median(raw); NaN when either is missing. */
  ratio: number;
  target?: Target;
  /** Whether the target is met; undefined without a target or without figures. */
  met?: boolean;
}

/** One scenario's results. */
export interface ScenarioResult {
  id: string;
  title: string;
  params: Params;
  figures: FigureResult[];
}

/** Everything a benchmark run wrote to JSON. */
export interface BenchResults {
  date: string;
  quick: boolean;
  reps: number;
  machine: Machine;
  commands: Record<TargetName, string>;
  scenarios: ScenarioResult[];
  runs: RunResult[];
}

/**
 * Summarises the runs of each scenario.
 *
 * @param scenarios The scenarios that ran.
 * @param runs Every run.
 * @param quick Whether the quick parameters were used.
 * @returns One result per scenario.
 */
export function summarizeRuns(
  scenarios: Scenario[],
  runs: RunResult[],
  quick: boolean,
): ScenarioResult[] {
  const values = (scenario: string, target: TargetName, key: string) =>
    summarize(counted(runs, scenario, target).map((r) => r.metrics![key] ?? NaN));
  return scenarios.map((s) => ({
    id: s.id,
    title: s.title,
    params: quick ? s.quick : s.full,
    figures: s.metrics.map((m) => {
      const rawFrom = s.baseline ?? s.id;
      const switchboard = values(s.id, "switchboard", m.key);
      const raw = values(rawFrom, "raw", m.key);
      return {
        key: m.key,
        label: m.label,
        digits: m.digits,
        diagnostic: m.diagnostic ?? false,
        switchboard,
        raw,
        rawFrom,
        ratio: switchboard.median / raw.median,
        target: m.target,
        met: verdict(m, switchboard, raw),
      };
    }),
  }));
}

/**
 * The runs whose figures make the summary of one scenario and target: those that succeeded,
 * leaving out disturbed ones as long as at least one undisturbed run remains.
 *
 * @param runs Every run.
 * @param scenario A scenario id.
 * @param target A target.
 * @returns The runs that count.
 */
export function counted(runs: RunResult[], scenario: string, target: TargetName): RunResult[] {
  const ok = runs.filter((r) => r.scenario === scenario && r.target === target && r.metrics);
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
 * The results as markdown: the machine, the main table, the CPU table and any failed runs.
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
    "",
    "| Scenario | Figure | Switchboard | raw | Switchboard / raw | Target | Met |",
    "|---|---|---:|---:|---:|---|---|",
  ];
  for (const s of results.scenarios) {
    for (const f of s.figures.filter((f) => !f.diagnostic)) {
      const raw = f.rawFrom === s.id ? cell(f.raw, f.digits) : `${cell(f.raw, f.digits)} ¹`;
      const ratio = f.target?.kind === "zero" || Number.isNaN(f.ratio)
        ? "—"
        : `${f.ratio.toFixed(2)}×`;
      const met = f.met === undefined ? "" : f.met ? "yes" : "**no**";
      lines.push(
        `| ${s.id} | ${f.label} | ${cell(f.switchboard, f.digits)} | ${raw} | ${ratio} | ` +
          `${describeTarget(f.target)} | ${met} |`,
      );
    }
  }
  lines.push(
    "",
    "¹ Batching variants run against Switchboard only; their raw figure is the raw server's " +
      "unbatched run of the scenario named in the JSON (`rawFrom`).",
    "",
    "| Scenario | CPU during the window | Switchboard | raw |",
    "|---|---|---:|---:|",
  );
  for (const s of results.scenarios) {
    for (const f of s.figures.filter((f) => f.diagnostic)) {
      const raw = f.rawFrom === s.id ? cell(f.raw, f.digits) : "";
      lines.push(`| ${s.id} | ${f.label} | ${cell(f.switchboard, f.digits)} | ${raw} |`);
    }
  }
  const disturbed = results.runs.filter((r) => r.disturbed);
  if (disturbed.length) {
    lines.push(
      "",
      "Runs disturbed by other processes even after retries (left out of the medians unless " +
        "no undisturbed repetition of the same scenario and target exists):",
      "",
    );
    for (const r of disturbed) {
      const other = r.metrics?.other_cpu.toFixed(0);
      const kept = counted(results.runs, r.scenario, r.target).includes(r) ? ", kept" : "";
      lines.push(`- ${r.scenario} · ${r.target} · rep ${r.rep}: ${other}% of a core${kept}`);
    }
  }
  const failed = results.runs.filter((r) => r.error);
  if (failed.length) {
    lines.push("", "Failed runs:", "");
    for (const r of failed) {
      lines.push(`- ${r.scenario} · ${r.target} · rep ${r.rep}: ${r.error!.split("\n")[0]}`);
    }
  }
  return lines.join("\n");
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
