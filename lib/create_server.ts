/**
 * `createServer`: settings in (any setting by its env name or in camelCase), a running
 * {@linkcode Switchboard} out. The app's routes come from the manifest given, or from the
 * routes.gen.ts of `root`.
 */
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type ConfigInput, parseConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import type { Clock } from "./clock.ts";
import { loadRoutes, type Manifest } from "./routes.ts";
import { ROUTES_FILE } from "./commands/routes_gen.ts";
import { Switchboard } from "./server.ts";

/** Options of `createServer`: any setting (as `port` or `PORT`), plus where the app is. */
export interface ServerOptions extends Record<string, unknown> {
  /** The app folder; its routes.gen.ts is loaded when `routes` is not given. */
  root?: string;
  /** The routes manifest (main.ts imports routes.gen.ts statically and passes it). */
  routes?: Partial<Manifest>;
  /** A logger; by default one from LOG_LEVEL and LOG_FORMAT. */
  logger?: Logger;
  /** The clock of every timer and time read (tests pass a fake one); the system clock by default. */
  clock?: Clock;
}

/**
 * Creates and starts a server.
 *
 * @param options Settings (`port`, `maxClients` or `MAX_CLIENTS`, …), `root` or `routes`.
 * @returns The running server; `await server.shutdown()` stops it.
 * @throws {StartupError} On a bad setting or a bad routes file.
 * @example
 * ```ts
 * const server = await createServer({ port: 0, root: import.meta.dirname });
 * server.command("web", () => {});
 * await server.shutdown();
 * ```
 */
export async function createServer(options: ServerOptions = {}): Promise<Switchboard> {
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) input[toEnvName(key)] = value;
  const config = parseConfig(input as ConfigInput);
  let manifest = options.routes;
  if (manifest === undefined && options.root !== undefined) {
    const url = pathToFileURL(join(resolve(options.root), ROUTES_FILE)).href;
    manifest = (await import(url)).default as Manifest;
  }
  const server = new Switchboard(config, loadRoutes(manifest ?? {}), options);
  await server.listen();
  return server;
}

function toEnvName(key: string): string {
  return /[a-z]/.test(key) ? key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase() : key;
}
