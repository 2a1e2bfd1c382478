/**
 * `deno task compile [--output PATH]`: one binary, `./switchboard` by default, with the routes,
 * the worker files and the sample images embedded.
 *
 * It runs `deno compile` with {@link COMPILE_FLAGS}. `deno compile` downloads its runtime
 * (denort) unless `DENORT_BIN` points at one; where it cannot (no network), its raw error is a
 * screenful about DNS. This script recognises that case and prints one line that says what to do
 * instead, then exits 1. Any other failure is passed on as `deno compile` printed it.
 */
import { parseArgs } from "node:util";
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";

/** The permissions the binary keeps and the files it embeds besides the module graph. */
export const COMPILE_FLAGS = [
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-sys",
  // Loaded by path at run time, so not part of the module graph.
  "--include",
  "lib/workers/host.ts",
  "--include",
  "workers",
  "--include",
  "assets/images",
] as const;

/**
 * The arguments of `deno compile` for the task.
 *
 * @param output Where the binary goes.
 * @returns The arguments after `deno`.
 */
export function compileArgs(output: string): string[] {
  return ["compile", ...COMPILE_FLAGS, "--output", output, "main.ts"];
}

/**
 * Recognises a `deno compile` that failed because it could not download denort, and says what to
 * do about it.
 *
 * @param stderr What `deno compile` printed.
 * @param denortBin The DENORT_BIN setting, if any: with one set, nothing is downloaded.
 * @returns The one-line hint, or `null` for any other failure.
 * @example
 * ```ts
 * offlineHint("…dl.deno.land/release/v2.9.6/denort-…zip): dns error…", undefined);
 * // "Cannot compile: deno compile could not download its runtime …"
 * ```
 */
export function offlineHint(stderr: string, denortBin: string | undefined): string | null {
  if (denortBin) return null;
  const aboutDenort = /dl\.deno\.land|denort|base binary/i.test(stderr);
  const download = /dns|connect|network|download|sending request|timed? ?out|unreachable/i;
  if (!aboutDenort || !download.test(stderr)) return null;
  const version = Deno.version.deno;
  const zip = `denort-${Deno.build.target}.zip`;
  return `Cannot compile: deno compile could not download its runtime (denort ${version}); ` +
    `set DENORT_BIN to a denort binary of the same Deno release, ${version} (unzip it from ` +
    `${zip} of the v${version} release on GitHub, or copy it from a machine with network): ` +
    `see docs/deployment.md`;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { output: { type: "string", short: "o", default: "switchboard" } },
  });
  const denortBin = Deno.env.get("DENORT_BIN") || undefined;
  if (denortBin !== undefined && !(existsSync(denortBin) && statSync(denortBin).isFile())) {
    console.error(`Cannot compile: DENORT_BIN is not a file: ${denortBin}`);
    return 1;
  }
  const root = new URL("..", import.meta.url);
  const result = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(resolve(values.output)),
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  const hint = result.success ? null : offlineHint(stderr, denortBin);
  if (hint !== null) {
    console.error(hint);
    return 1;
  }
  const stdout = new TextDecoder().decode(result.stdout).trimEnd();
  if (stdout) console.log(stdout);
  if (stderr.trimEnd()) console.error(stderr.trimEnd());
  return result.code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
