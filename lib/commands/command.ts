/**
 * What a command file exports: `defineCommand({...})` or a plain function, and the `ctx` its
 * handler receives. `defineCommand` is an identity function that exists for type inference.
 */
import type { z } from "zod";
import type { ClientMessage, MessageId, Outgoing, RequestMessage } from "../wire/protocol.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { CommandError, StartupError } from "../wire/errors.ts";
import { Code, describeIssues, issuesToData } from "../wire/protocol.ts";

/** Who sent a request, as a handler sees it. */
export interface ClientInfo {
  /** The server-assigned connection id. */
  readonly id: string;
  /** The role the client named in `src` (from `?src=` or its first message). */
  readonly src: string | undefined;
  /** The remote address. */
  readonly ip: string;
  /** The topic filters the client subscribes to. */
  readonly topics: ReadonlySet<string>;
  /** The authenticated principal's id, if authentication is on. */
  readonly principal: string | undefined;
}

/** Options of `ctx.offload`. */
export interface OffloadOptions {
  /** ArrayBuffers to move to the worker instead of copying them. */
  transfer?: Transferable[];
  /** Cancels the job; defaults to the handler's own signal. */
  signal?: AbortSignal;
  /** The job's own time limit; defaults to WORKER_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** A message to publish: the payload fields, plus `retain` to keep it as the topic's value. */
export interface PublishMessage extends Outgoing {
  retain?: boolean;
}

/** The context a command handler receives. */
export interface CommandContext<A = unknown[], K = Record<string, unknown>> {
  /** The request as the client sent it. */
  readonly req: RequestMessage;
  /** The command name as the client spelled it. */
  readonly command: string;
  /** The request's correlation id, if it had one. */
  readonly id: MessageId | undefined;
  /** `args`, validated by the command's schema when it has one; `[]` when absent. */
  readonly args: A;
  /** `kwargs`, validated by the command's schema when it has one; `{}` when absent. */
  readonly kwargs: K;
  /** The client that sent it. */
  readonly client: ClientInfo;
  /** Aborted when the client leaves, the handler times out or the server shuts down. */
  readonly signal: AbortSignal;
  /** The server's settings. */
  readonly config: Config;
  /** The server's logger. */
  readonly log: Logger;
  /** Sends an intermediate reply (`more: true`); ignored once the handler has finished. */
  send(reply: Outgoing): void;
  /** Sends a progress reply: `process` 0..100 and `more: true`, as the old library did. */
  progress(percent: number, msg?: string, data?: unknown): void;
  /** Waits for the client's next message of this dialogue (same `id`, or its next message). */
  recv(): Promise<ClientMessage>;
  /** Publishes on a topic (does not trigger topic callbacks). */
  publish(topic: string, msg: PublishMessage): void;
  /** Sends a reply-shaped message without `id` to every client. */
  broadcast(msg: Outgoing): void;
  /** Runs `workers/<name>.ts` in the worker pool and resolves with its result. */
  offload<T = unknown>(name: string, input: unknown, options?: OffloadOptions): Promise<T>;
}

/** A command handler: its return value becomes the final reply's `data`. */
export type CommandHandler<A = unknown[], K = Record<string, unknown>> = (
  ctx: CommandContext<A, K>,
) => unknown;

/** A command definition. */
export interface CommandDefinition<
  AS extends z.ZodType = z.ZodType<unknown[]>,
  KS extends z.ZodType = z.ZodType<Record<string, unknown>>,
> {
  /** One line for the API contract and the console. */
  description?: string;
  /** Schema of `args`; a failure is a 400 with the issues in `data`. */
  args?: AS;
  /** Schema of `kwargs`; a failure is a 400 with the issues in `data`. */
  kwargs?: KS;
  /** This command's time limit in ms, instead of HANDLER_TIMEOUT_MS. */
  timeoutMs?: number;
  /** The handler. */
  handle: CommandHandler<z.output<AS>, z.output<KS>>;
}

/**
 * Defines a command with typed, validated arguments. An identity function: it only helps types.
 *
 * @param def The description, schemas, time limit and handler.
 * @returns The same definition.
 * @example
 * ```ts
 * export default defineCommand({
 *   kwargs: z.object({ name: z.string() }),
 *   handle: (ctx) => [`hello ${ctx.kwargs.name}`],
 * });
 * ```
 */
export function defineCommand<
  AS extends z.ZodType = z.ZodType<unknown[]>,
  KS extends z.ZodType = z.ZodType<Record<string, unknown>>,
>(def: CommandDefinition<AS, KS>): CommandDefinition<AS, KS> {
  return def;
}

/** A final reply with a chosen `msg` (and optionally code): return `reply({...})` from a handler. */
export class Reply {
  constructor(readonly fields: Outgoing) {}
}

/**
 * Makes the final reply carry your own `msg`, `data` or `code`.
 *
 * @param fields The reply's fields.
 * @returns A marker the router recognises.
 * @example
 * ```ts
 * return reply({ msg: "添加了一个用户", data: [user] });
 * ```
 */
export function reply(fields: Outgoing): Reply {
  return new Reply(fields);
}

/** A command as the router holds it: normalised from a definition or a plain function. */
export interface Command {
  name: string;
  description?: string;
  args?: z.ZodType;
  kwargs?: z.ZodType;
  timeoutMs?: number;
  handle: CommandHandler<unknown, unknown>;
}

/**
 * Normalises what a command file exports.
 *
 * @param name The command's name.
 * @param exported The default export: a definition or a function.
 * @returns The command, or null when the export is neither.
 */
export function toCommand(name: string, exported: unknown): Command | null {
  if (typeof exported === "function") {
    return { name, handle: exported as CommandHandler<unknown, unknown> };
  }
  if (typeof exported === "object" && exported !== null) {
    const def = exported as CommandDefinition;
    if (typeof def.handle !== "function") return null;
    return {
      name,
      description: def.description,
      args: def.args,
      kwargs: def.kwargs,
      timeoutMs: def.timeoutMs,
      handle: def.handle as CommandHandler<unknown, unknown>,
    };
  }
  return null;
}

/** The outcome of {@linkcode validateArguments}. */
export type Validated =
  | { ok: true; args: unknown; kwargs: unknown }
  | { ok: false; error: CommandError };

/**
 * Validates a request's args and kwargs with the command's schemas.
 *
 * @param command The command, with its optional `args` and `kwargs` schemas.
 * @param args The request's args (`[]` when absent).
 * @param kwargs The request's kwargs (`{}` when absent).
 * @returns The parsed values, or a 400 error whose data lists the issues.
 */
export function validateArguments(command: Command, args: unknown, kwargs: unknown): Validated {
  const issues = [];
  if (command.args !== undefined) {
    const r = command.args.safeParse(args);
    if (r.success) args = r.data;
    else issues.push(...r.error.issues.map((i) => ({ ...i, path: ["args", ...i.path] })));
  }
  if (command.kwargs !== undefined) {
    const r = command.kwargs.safeParse(kwargs);
    if (r.success) kwargs = r.data;
    else issues.push(...r.error.issues.map((i) => ({ ...i, path: ["kwargs", ...i.path] })));
  }
  if (issues.length === 0) return { ok: true, args, kwargs };
  const error = new CommandError(
    Code.BAD_REQUEST,
    `Invalid arguments: ${describeIssues(issues)}`,
    issuesToData(issues),
  );
  return { ok: false, error };
}

/**
 * Refuses two commands whose names are equal ignoring case: commands are looked up by lower-case
 * name, so one would hide the other. Used by the generator and by the loader of the routes file.
 *
 * @param commands Each command's name and the file it comes from.
 * @throws {StartupError} Naming both files, when two names clash.
 * @example
 * ```ts
 * checkCommandNames([{ name: "Hello", file: "commands/Hello.ts" }]); // fine
 * ```
 */
export function checkCommandNames(commands: Iterable<{ name: string; file: string }>): void {
  const seen = new Map<string, string>();
  for (const { name, file } of commands) {
    const key = name.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) {
      throw new StartupError(
        `${other} and ${file} both map to command "${key}" (names match case-insensitively): rename one`,
      );
    }
    seen.set(key, file);
  }
}
