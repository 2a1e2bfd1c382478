/**
 * The entry script of every pool worker (started by lib/workers/pool.ts, never imported by user
 * code). It loads `workers/<name>.ts` modules on first use, runs one job at a time and answers
 * with a result, an error or a crash report. A `deno compile` build needs
 * `--include lib/workers/host.ts --include workers` because both are loaded by URL at run time.
 *
 * @module
 */
import { CommandError } from "../wire/errors.ts";
import {
  BUSY_SLOT,
  CANCEL_SLOT,
  CancelledError,
  createContext,
  TRANSFER,
  type WorkerFunction,
} from "./api.ts";

/** Messages the pool sends to a worker. */
export type ToWorker =
  | { kind: "init"; flags: Int32Array }
  | { kind: "job"; id: number; name: string; url: string; input: unknown }
  | { kind: "cancel"; id: number };

/** What the pool learns about an error thrown by a worker function. */
export interface WorkerErrorInfo {
  /** The error's class name. */
  name: string;
  /** The error's message (logged; only a `CommandError`'s message reaches the client). */
  message: string;
  /** The stack, for the log only. */
  stack?: string;
  /** Set when the function threw a `CommandError`. */
  code?: number;
  /** The `data` of a thrown `CommandError`. */
  data?: unknown;
}

/** Messages a worker sends to the pool. `alive` answers `cancel`: the event loop is free. */
export type FromWorker =
  | { kind: "result"; id: number; value: unknown }
  | { kind: "error"; id: number; error: WorkerErrorInfo }
  | { kind: "cancelled"; id: number }
  | { kind: "alive"; id: number }
  | { kind: "crash"; message: string; stack?: string };

/** The parts of the worker global scope used here (lib.deno.worker is not in the type check). */
interface HostScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: "message", fn: (e: MessageEvent<ToWorker>) => void): void;
  addEventListener(type: "error", fn: (e: ErrorEvent) => void): void;
  addEventListener(type: "unhandledrejection", fn: (e: PromiseRejectionEvent) => void): void;
}

const scope = globalThis as unknown as HostScope;
const loaded = new Map<string, Promise<WorkerFunction>>();
const controllers = new Map<number, AbortController>();
let flags: Int32Array = new Int32Array(new SharedArrayBuffer(8));

scope.addEventListener("message", ({ data: msg }) => {
  if (msg.kind === "init") flags = msg.flags;
  else if (msg.kind === "job") void runJob(msg);
  else if (msg.kind === "cancel") {
    controllers.get(msg.id)?.abort(new CancelledError());
    scope.postMessage({ kind: "alive", id: msg.id });
  }
});

// Report instead of dying: the pool rejects the running job with a 500 and replaces this worker.
scope.addEventListener("error", (e) => {
  e.preventDefault();
  scope.postMessage({ kind: "crash", message: e.message, stack: e.error?.stack });
});
scope.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  const { message, stack } = describe(e.reason);
  scope.postMessage({ kind: "crash", message: `Uncaught (in promise) ${message}`, stack });
});

async function runJob(job: { id: number; name: string; url: string; input: unknown }) {
  const controller = new AbortController();
  controllers.set(job.id, controller);
  Atomics.store(flags, BUSY_SLOT, 1);
  let reply: FromWorker;
  let list: Transferable[] = [];
  try {
    const fn = await load(job.name, job.url);
    const ctx = createContext(job.name, flags, controller.signal);
    ctx.throwIfCancelled(); // cancelled while the module loaded: its signal has already fired
    const out = await fn(job.input, ctx);
    const [value, transfer] = unwrap(out);
    reply = { kind: "result", id: job.id, value };
    list = transfer;
  } catch (err) {
    const cancelled = err instanceof CancelledError || Atomics.load(flags, CANCEL_SLOT) !== 0;
    reply = cancelled
      ? { kind: "cancelled", id: job.id }
      : { kind: "error", id: job.id, error: describe(err) };
  } finally {
    controllers.delete(job.id);
    // Cleared last: the pool reads it to see a thread it gave up on leave its loop.
    Atomics.store(flags, BUSY_SLOT, 0);
  }
  try {
    scope.postMessage(reply, list);
  } catch (err) {
    const message = `Cannot return the result of worker "${job.name}": ${describe(err).message}`;
    scope.postMessage({ kind: "error", id: job.id, error: { name: "DataCloneError", message } });
  }
}

function load(name: string, url: string): Promise<WorkerFunction> {
  let fn = loaded.get(url);
  if (!fn) {
    fn = import(url).then(
      (mod) => {
        if (typeof mod.default !== "function") {
          throw new Error(`Cannot load worker "${name}": no default export function`);
        }
        return mod.default as WorkerFunction;
      },
      (err) => {
        throw new Error(`Cannot load worker "${name}": ${describe(err).message}`);
      },
    );
    loaded.set(url, fn);
    fn.catch(() => loaded.delete(url)); // retry the import on the next job
  }
  return fn;
}

/** Moves a returned buffer (or a typed array spanning its whole buffer) instead of copying it. */
function unwrap(out: unknown): [unknown, Transferable[]] {
  if (out instanceof ArrayBuffer) return [out, [out]];
  if (
    ArrayBuffer.isView(out) && out.buffer instanceof ArrayBuffer && out.byteOffset === 0 &&
    out.byteLength === out.buffer.byteLength
  ) return [out, [out.buffer]];
  if (typeof out === "object" && out !== null && TRANSFER in out) {
    const wrapped = out as { [TRANSFER]: Transferable[]; value: unknown };
    return [wrapped.value, wrapped[TRANSFER]];
  }
  return [out, []];
}

function describe(err: unknown): WorkerErrorInfo {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const info: WorkerErrorInfo = { name: err.name, message: err.message, stack: err.stack };
  if (err instanceof CommandError) {
    info.code = err.code;
    if (err.data !== undefined) info.data = structuredCloneOrString(err.data);
  }
  return info;
}

function structuredCloneOrString(data: unknown): unknown {
  try {
    return structuredClone(data);
  } catch {
    return String(data);
  }
}
