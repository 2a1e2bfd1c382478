/**
 * The routes file's shape and its loading: turns the generated manifest into the command table,
 * the topic callbacks and the worker modules, refusing what would be ambiguous at run time.
 */
import { StartupError } from "./wire/errors.ts";
import { checkCommandNames, type Command, toCommand } from "./commands/command.ts";
import { type TopicCallback, toTopicCallback } from "./pubsub/topic_file.ts";
import type { AuthHook } from "./session/auth.ts";

/** What `routes.gen.ts` exports: every module by its path-derived name. */
export interface Manifest {
  /** Command modules by file name (without `.ts`). */
  commands: Record<string, { default?: unknown }>;
  /** Topic callback modules by topic (folder levels joined with `/`). */
  topics: Record<string, { default?: unknown }>;
  /** Worker module URLs by file name. */
  workers: Record<string, string>;
  /** The optional auth.ts of the app root. */
  auth?: { default?: unknown };
}

/** The loaded routes. */
export interface Routes {
  /** Commands by lower-case name. */
  commands: Map<string, Command>;
  /** Topic callbacks by topic. */
  topics: Map<string, TopicCallback>;
  /** Worker module URLs by name. */
  workers: Record<string, string>;
  /** The custom authentication hook from auth.ts. */
  auth?: AuthHook;
}

/**
 * Loads a manifest.
 *
 * @param manifest The routes file's default export.
 * @returns The command table, topic callbacks and workers.
 * @throws {StartupError} When a module has no usable default export, or two command files map
 * to the same case-insensitive name.
 */
export function loadRoutes(manifest: Partial<Manifest>): Routes {
  const entries = Object.entries(manifest.commands ?? {});
  checkCommandNames(entries.map(([name]) => ({ name, file: `commands/${name}.ts` })));
  const commands = new Map<string, Command>();
  for (const [name, mod] of entries) {
    const command = toCommand(name, mod.default);
    if (command === null) throw new StartupError(badExport("command", `commands/${name}.ts`, mod));
    commands.set(name.toLowerCase(), command);
  }
  const topics = new Map<string, TopicCallback>();
  for (const [topic, mod] of Object.entries(manifest.topics ?? {})) {
    const callback = toTopicCallback(topic, mod.default);
    if (callback === null) {
      throw new StartupError(badExport("topic callback", `topics/${topic}.ts`, mod));
    }
    topics.set(topic, callback);
  }
  let auth: AuthHook | undefined;
  if (manifest.auth !== undefined) {
    if (typeof manifest.auth.default !== "function") {
      throw new StartupError(
        "Cannot load auth.ts: the default export must be a function (request, info) => principal | null",
      );
    }
    auth = manifest.auth.default as AuthHook;
  }
  return { commands, topics, workers: { ...manifest.workers }, auth };
}

function badExport(kind: string, file: string, mod: { default?: unknown }): string {
  return mod.default === undefined
    ? `Cannot load ${kind} ${file}: no default export (add \`export default ...\`)`
    : `Cannot load ${kind} ${file}: the default export is not a function or a define*() object`;
}

/**
 * Adds one command to a command table, as `server.command()` does.
 *
 * @param commands The table.
 * @param name The command's name.
 * @param exported A handler function or a `defineCommand` object.
 * @throws {TypeError} When the export is not usable.
 */
export function addCommand(commands: Map<string, Command>, name: string, exported: unknown): void {
  const command = toCommand(name, exported);
  if (command === null) {
    throw new TypeError(
      `Cannot add command "${name}": expected a function or defineCommand({...})`,
    );
  }
  commands.set(name.toLowerCase(), command);
}
