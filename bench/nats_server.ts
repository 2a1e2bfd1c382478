/**
 * nats-server as a peer in the fan-out scenarios: a fresh instance per run, on free ports of
 * 127.0.0.1 (never the machine's own server on 4222), with WebSocket enabled, no TLS and no
 * compression, everything else at its defaults.
 *
 * @module
 */
import { join } from "node:path";
import { freePort, type ServerProcess, startServer } from "./server_process.ts";

/**
 * The configuration of one instance.
 *
 * @param wsPort The WebSocket port.
 * @returns The configuration file's text.
 */
export function natsConfig(wsPort: number): string {
  return [
    `host: "127.0.0.1"`,
    `port: -1 # the NATS protocol port: any free one, the benchmark uses only WebSocket`,
    `websocket {`,
    `  host: "127.0.0.1"`,
    `  port: ${wsPort}`,
    `  no_tls: true`,
    `  compression: false`,
    `}`,
    "",
  ].join("\n");
}

/**
 * Starts nats-server and waits until its WebSocket port accepts connections.
 *
 * @param program The nats-server binary.
 * @returns The running server (its `url` is the WebSocket URL); `stop` also removes its
 *   configuration file.
 * @throws {Error} When it exits or does not listen in time.
 */
export async function startNats(program: string): Promise<ServerProcess> {
  const dir = await Deno.makeTempDir({ prefix: "bench-nats-" });
  const conf = join(dir, "nats.conf");
  const port = freePort();
  await Deno.writeTextFile(conf, natsConfig(port));
  let server: ServerProcess;
  try {
    server = await startServer([program, "-c", conf], { port });
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  }
  return {
    ...server,
    async stop(graceMs?: number) {
      await server.stop(graceMs);
      await Deno.remove(dir, { recursive: true });
    },
  };
}
