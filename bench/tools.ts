/**
 * What the benchmark needs beyond Deno: Node (with the Node generator's npm packages, installed
 * on first use) and nats-server. Each is found, or the reason it is not there is kept for the
 * report: a missing tool leaves its rows empty, it does not fail the benchmark.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { GeneratorName } from "./options.ts";

/** A load generator the runner can start. */
export interface Generator {
  name: GeneratorName;
  /** Program and arguments; the request (JSON) is appended as the last argument. */
  command: string[];
  /** What it runs on, for the report (e.g. "Node 20.20.2, ws 8.23.0 with bufferutil"). */
  version: string;
}

/** A tool that could not be used, and why (shown in the tables). */
export interface Missing {
  missing: string;
}

/** How long `npm ci` may take: without a registry it must fail, not hang the benchmark. */
const NPM_TIMEOUT_MS = 90_000;

/** Places searched for nats-server besides PATH (distributions install it in sbin). */
const EXTRA_PATHS = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"];

/**
 * The Deno load generator: always there.
 *
 * @param root The repository root.
 * @returns The generator.
 */
export function denoGenerator(root: string): Generator {
  return {
    name: "deno",
    command: [Deno.execPath(), "run", "--allow-all", join(root, "bench", "load.ts")],
    version: `Deno ${Deno.version.deno}, its built-in WebSocket`,
  };
}

/**
 * The Node load generator, its packages installed first when they are not (`npm ci`, exact
 * versions from bench/node/package-lock.json).
 *
 * @param root The repository root.
 * @param node The Node program.
 * @param log Told what is being installed.
 * @returns The generator, or why it cannot run.
 */
export async function nodeGenerator(
  root: string,
  node: string,
  log: (line: string) => void,
): Promise<Generator | Missing> {
  const dir = join(root, "bench", "node");
  const version = await run(node, ["--version"]);
  if (!version.ok) return { missing: `${node} not found` };
  const major = Number(version.out.match(/^v(\d+)/)?.[1]);
  if (!(major >= 20)) return { missing: `Node 20 or later needed, found ${version.out}` };
  if (!existsSync(join(dir, "node_modules", "ws", "package.json"))) {
    log(`Installing the Node generator's packages: npm ci --prefix bench/node`);
    const npm = await run(
      "npm",
      ["ci", "--prefix", dir, "--no-audit", "--no-fund"],
      NPM_TIMEOUT_MS,
    );
    if (!npm.ok) {
      const why = npm.out.split("\n").find((l) => !/complete log|^\s*$/.test(l)) ?? npm.out;
      return { missing: `npm ci failed: ${why.replace(/^npm error /, "")}` };
    }
  }
  const load = join(dir, "load.mjs");
  const about = await run(node, [load, "--version"]);
  if (!about.ok) return { missing: `the Node generator does not start: ${about.out}` };
  const v = JSON.parse(about.out) as { node: string; ws: string; bufferutil: boolean };
  return {
    name: "node",
    command: [node, load],
    version: `Node ${v.node}, npm ws ${v.ws} ${v.bufferutil ? "with" : "without"} bufferutil`,
  };
}

/**
 * Finds nats-server.
 *
 * @param program "nats-server" (looked up in PATH and sbin), a path, or "none".
 * @returns Its path and version, or why there is none.
 */
export async function findNats(
  program: string,
): Promise<{ path: string; version: string } | Missing> {
  if (program === "none") return { missing: "left out (--nats none)" };
  const candidates = program.includes("/") ? [program] : [
    ...(Deno.env.get("PATH") ?? "").split(delimiter).filter(Boolean),
    ...EXTRA_PATHS,
  ].map((dir) => join(dir, program));
  const path = candidates.find((p) => existsSync(p));
  if (!path) return { missing: "not installed" };
  const version = await run(path, ["--version"]);
  if (!version.ok) return { missing: `${path} does not run: ${version.out}` };
  return { path, version: version.out.replace(/^nats-server:\s*/, "") };
}

/**
 * Whether a tool lookup failed.
 *
 * @param x A lookup's result.
 * @returns True when it says why the tool is missing.
 */
export function isMissing<T extends object>(x: T | Missing): x is Missing {
  return "missing" in x;
}

async function run(
  program: string,
  args: string[],
  timeoutMs = 10_000,
): Promise<{ ok: boolean; out: string }> {
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    const out = await new Deno.Command(program, { args, stdin: "null", signal }).output();
    if (out.signal) return { ok: false, out: `stopped after ${timeoutMs / 1000} s` };
    const text = new TextDecoder().decode(out.success ? out.stdout : out.stderr).trim();
    return { ok: out.success, out: text };
  } catch (err) {
    return { ok: false, out: err instanceof Error ? err.message : String(err) };
  }
}
