/**
 * Starting and stopping a server under test as a child process on a free port of 127.0.0.1.
 *
 * @module
 */

/** A running server under test. */
export interface ServerProcess {
  /** Its process id (the Deno process itself: `deno run` does not fork). */
  pid: number;
  /** The port it listens on. */
  port: number;
  /** Its WebSocket URL. */
  url: string;
  /** The last few kB of what it printed, for error reports. */
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after `graceMs`) and waits until it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of `startServer`. */
export interface StartOptions {
  /** Extra environment; `PORT` and `HOST` are set here. */
  env?: Record<string, string>;
  /** Working directory. Default: the current one. */
  cwd?: string;
  /** How long it may take to accept connections. Default 30 s. */
  readyTimeoutMs?: number;
  /**
   * The port it will listen on, when its command says so (nats-server's configuration file);
   * otherwise a free port is picked and given in `PORT`.
   */
  port?: number;
}

const TAIL_BYTES = 4096;

/**
 * Environment for Deno children whose output ends up in error reports: no colours, and no
 * backtrace appended to every error line.
 */
export const PLAIN_OUTPUT = { NO_COLOR: "1", RUST_BACKTRACE: "0" };

/**
 * A port that was free a moment ago: listen on port 0, note the port, close.
 *
 * @returns A port number on 127.0.0.1.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Starts a server and waits until it accepts TCP connections.
 *
 * @param command The program and its arguments; a leading `deno` means this Deno binary.
 * @param options Environment, working directory, readiness timeout.
 * @returns The running server.
 * @throws {Error} When it exits or does not listen in time (with the end of its output).
 */
export async function startServer(
  command: string[],
  options: StartOptions = {},
): Promise<ServerProcess> {
  const port = options.port ?? freePort();
  const [program, ...args] = command;
  const env = { ...options.env, PORT: String(port), HOST: "127.0.0.1", ...PLAIN_OUTPUT };
  const child = new Deno.Command(program === "deno" ? Deno.execPath() : program, {
    args,
    cwd: options.cwd,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Always drain the pipes: a server blocked on a full pipe would measure the pipe.
  let tail = "";
  const keep = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      tail = (tail + text).slice(-TAIL_BYTES);
    }
  };
  const drained = Promise.all([keep(child.stdout), keep(child.stderr)]);
  let exited = false;
  child.status.then(() => {
    exited = true;
  });

  const server: ServerProcess = {
    pid: child.pid,
    port,
    url: `ws://127.0.0.1:${port}/`,
    output: () => tail,
    async stop(graceMs = 5000) {
      if (!exited) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => exited || child.kill("SIGKILL"), graceMs);
        await child.status;
        clearTimeout(timer);
      }
      await drained;
    },
  };

  const deadline = performance.now() + (options.readyTimeoutMs ?? 30_000);
  while (true) {
    if (exited) {
      await server.stop();
      throw new Error(`Server "${command.join(" ")}" exited before listening: ${tail.trim()}`);
    }
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return server;
    } catch {
      if (performance.now() > deadline) {
        await server.stop();
        throw new Error(`Server "${command.join(" ")}" did not listen on port ${port} in time`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
