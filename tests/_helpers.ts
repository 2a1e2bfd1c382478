/**
 * Test helpers shared by every test file: waiting for a condition or a promise under a deadline,
 * pausing a sender, a refused WebSocket handshake, and running `main.ts` (or any program) as a
 * child process whose output the test reads, to learn the port it listens on and to see it exit.
 *
 * Every wait is bounded: a condition that never comes fails the test with what was awaited
 * instead of hanging it. A deadline is a limit, never a measurement: no test asserts a duration.
 * The server and the WebSocket test client are in `_client.ts`.
 */
import { fileURLToPath } from "node:url";

/** The repository's root folder. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The entry point, `main.ts`. */
export const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** A deadline and what is awaited, for the error message. */
export interface WaitOptions {
  /** What is awaited, named in the error when the deadline passes. Default: "the condition". */
  what?: string;
  /** The deadline, in ms from the call. Default: 5000. */
  timeoutMs?: number;
}

const POLL_MS = 5;

function waitOptions(options: WaitOptions | string): Required<WaitOptions> {
  const opts = typeof options === "string" ? { what: options } : options;
  return { what: opts.what ?? "the condition", timeoutMs: opts.timeoutMs ?? 5000 };
}

/**
 * Waits until a condition holds, checking it every few ms.
 *
 * @param cond The condition; may be async.
 * @param options What is awaited (a string, for short calls) and the deadline.
 * @throws {Error} When the deadline passes first.
 * @example
 * ```ts
 * await until(() => server.hub.size === 0, "the server to forget the client");
 * ```
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  options: WaitOptions | string = {},
): Promise<void> {
  const { what, timeoutMs } = waitOptions(options);
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(POLL_MS);
  }
}

/**
 * Waits for a promise, failing when the deadline passes first.
 *
 * @param promise What is awaited.
 * @param options What it is (a string, for short calls) and the deadline.
 * @returns The promise's value.
 * @throws {Error} When the deadline passes first; the promise's own rejection otherwise.
 * @example
 * ```ts
 * const reason = await within(aborted.promise, "the signal to abort");
 * ```
 */
export async function within<T>(
  promise: Promise<T>,
  options: WaitOptions | string = {},
): Promise<T> {
  const { what, timeoutMs } = waitOptions(options);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Pauses for a while: to pace a sender (a polite client, a feed), never to wait for an effect,
 * which is what {@link until} is for.
 *
 * @param ms How long.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A TCP port on 127.0.0.1 that nothing listened on a moment ago. Only for a program that cannot
 * listen on port 0 and say which port it got (redis-server): another process may take the port in
 * between. Switchboard itself is always started on port 0.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/**
 * Sends a WebSocket handshake with fetch and returns the refusal's status and body. Only for
 * handshakes the server refuses: an accepted one would switch protocols under fetch.
 *
 * @param port The server's port on 127.0.0.1.
 * @param query The path's query, such as `?token=x`.
 * @param headers More request headers, such as `authorization` or `origin`.
 * @returns The HTTP status and the body, trimmed.
 */
export async function refusedHandshake(
  port: number,
  query = "",
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/${query}`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      ...headers,
    },
  });
  return { status: res.status, body: (await res.text()).trim() };
}

/**
 * The environment for a child process: this one's, without the settings a test must choose
 * itself, plus `extra`.
 *
 * @param extra Variables to set.
 * @returns The environment, to pass with `clearEnv: true`.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Deno.env.toObject();
  for (const key of ["RUST_BACKTRACE", "PORT", "HOST", "MAX_CLIENTS", "LOG_LEVEL", "LOG_FORMAT"]) {
    delete env[key];
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

/** Where the server says it listens (with `LOG_LEVEL=info` or lower, in either log format). */
const LISTENING = /listening on ws:\/\/[^\s"]+:(\d+)\//;
const LISTENING_ALL = new RegExp(LISTENING.source, "g");

/**
 * A running child process with its output read as it comes. Wait on it with
 * {@link Spawned.match} for a line, {@link Spawned.listening} for the port, and
 * {@link Spawned.exited} for the end.
 */
export class Spawned {
  readonly child: Deno.ChildProcess;
  #stdout = "";
  #stderr = "";
  #done = false;
  #status: Deno.CommandStatus | undefined;
  readonly #read: Promise<void>;

  /**
   * @param child A process spawned with `stderr: "piped"` and `stdout` piped or not.
   */
  constructor(child: Deno.ChildProcess) {
    this.child = child;
    const drain = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) add(text);
    };
    let stdout: Promise<void> = Promise.resolve();
    try {
      stdout = drain(child.stdout, (t) => this.#stdout += t);
    } catch {
      // stdout is not piped.
    }
    this.#read = Promise.all([stdout, drain(child.stderr, (t) => this.#stderr += t)]).then(() => {
      this.#done = true;
    });
    child.status.then((s) => this.#status = s);
  }

  /** What the process wrote to stdout so far (empty unless it was piped). */
  get stdout(): string {
    return this.#stdout;
  }

  /** What the process wrote to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /**
   * Waits until stderr matches.
   *
   * @param re The pattern.
   * @param options What is awaited and the deadline.
   * @returns The match.
   * @throws {Error} When the process ends or the deadline passes first; the error shows stderr.
   */
  async match(re: RegExp, options: WaitOptions = {}): Promise<RegExpExecArray> {
    const { timeoutMs } = waitOptions(options);
    const what = options.what ?? `${re} on stderr`;
    let found: RegExpExecArray | null = null;
    try {
      await until(() => {
        found = re.exec(this.#stderr);
        if (found === null && this.#done) throw new Error(`The process ended before ${what}`);
        return found !== null;
      }, { what, timeoutMs });
    } catch (err) {
      throw new Error(`${(err as Error).message}; stderr:\n${this.#stderr}`);
    }
    return found!;
  }

  /**
   * Waits for the server's "listening on" line.
   *
   * @param options The deadline (default 15 s, for a cold start).
   * @returns The port of the first such line.
   */
  async listening(options: WaitOptions = {}): Promise<number> {
    const m = await this.match(LISTENING, {
      what: "the listening line",
      timeoutMs: 15_000,
      ...options,
    });
    return Number(m[1]);
  }

  /**
   * The ports of every "listening on" line so far, oldest first: a process that restarts its
   * server (`deno task dev`) says so once per start.
   */
  get ports(): number[] {
    return [...this.#stderr.matchAll(LISTENING_ALL)].map((m) => Number(m[1]));
  }

  /**
   * Sends a signal, unless the process has ended already.
   *
   * @param signal The signal.
   */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#status !== undefined) return;
    try {
      this.child.kill(signal);
    } catch {
      // It ended meanwhile.
    }
  }

  /**
   * Waits for the process to end and its output to be read.
   *
   * @param options The deadline (default 10 s); past it the process is killed.
   * @returns Its status.
   * @throws {Error} When the deadline passes first; the error shows stderr.
   */
  async exited(options: WaitOptions = {}): Promise<Deno.CommandStatus> {
    const { timeoutMs } = waitOptions({ timeoutMs: 10_000, ...options });
    try {
      const status = await within(this.child.status, { what: "the process to exit", timeoutMs });
      await this.#read;
      return status;
    } catch (err) {
      this.kill("SIGKILL");
      await this.child.status;
      await this.#read;
      throw new Error(`${(err as Error).message}; stderr:\n${this.#stderr}`);
    }
  }
}

/**
 * Starts `deno run -A main.ts` from the repository, with a clean environment.
 *
 * @param args Arguments after `main.ts` (`--port 0`, `--root DIR`).
 * @param env Variables on top of {@link childEnv}'s.
 * @returns The running process; its stdout and stderr are read.
 * @example
 * ```ts
 * const main = spawnMain([], { PORT: "0", HOST: "127.0.0.1" });
 * const port = await main.listening();
 * ```
 */
export function spawnMain(args: string[], env: Record<string, string>): Spawned {
  return spawnDeno([MAIN, ...args], env);
}

/**
 * Starts `deno run -A <script> ...` from the repository, with a clean environment.
 *
 * @param args The script and its arguments.
 * @param env Variables on top of {@link childEnv}'s.
 * @returns The running process; its stdout and stderr are read.
 */
export function spawnDeno(args: string[], env: Record<string, string>): Spawned {
  return new Spawned(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...args],
      cwd: ROOT,
      env: childEnv(env),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  );
}
