/**
 * The smoke test of a server process as a user runs it (`deno task start`, or the compiled
 * binary): it answers /healthz, serves the console, answers the seed's heartbeat exactly, and
 * stops with exit code 0 on SIGTERM.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

/** The repository's root folder. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SEED = { mode: "req_res", action: "req", src: "front", command: "web" };
const HEARTBEAT = { src: "control", code: 200, msg: "success", mode: "req_res", action: "res" };

/** The environment for a child: ours without RUST_BACKTRACE and settings, plus `extra`. */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.RUST_BACKTRACE;
  for (const key of ["PORT", "HOST", "MAX_CLIENTS", "LOG_LEVEL", "NO_COLOR"]) delete env[key];
  return { ...env, NO_COLOR: "1", ...extra };
}

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Polls /healthz until it answers 200; fails if the child exits or time runs out. */
async function waitUntilServing(port: number, child: Deno.ChildProcess, ms = 15_000) {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    assert.equal(exited, false, "the server exited before it answered");
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not answer on port ${port} within ${ms} ms`);
}

/** Sends the seed request from a plain WebSocket and returns the first reply. */
async function heartbeat(port: number): Promise<Record<string, unknown>> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const reply = Promise.withResolvers<Record<string, unknown>>();
  const closed = Promise.withResolvers<void>();
  const timer = setTimeout(() => reply.reject(new Error("no heartbeat within 5 s")), 5000);
  ws.onopen = () => ws.send(JSON.stringify(SEED));
  ws.onmessage = (e) => reply.resolve(JSON.parse(e.data));
  ws.onerror = () => reply.reject(new Error("WebSocket error"));
  ws.onclose = () => closed.resolve();
  try {
    return await reply.promise;
  } finally {
    clearTimeout(timer);
    ws.close();
    await closed.promise;
  }
}

function assertHeartbeat(reply: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(HEARTBEAT)) assert.equal(reply[key], value, key);
  assert.equal("data" in reply, false);
  for (const key of Object.keys(reply)) {
    assert.ok(key in HEARTBEAT || key === "command", `unexpected field ${key}`);
  }
}

/**
 * Runs a server until it serves on `port`, checks the console page and the heartbeat, and stops
 * it with SIGTERM, which must end it with exit code 0.
 *
 * @param child The server process, spawned with piped stderr and stdout.
 * @param port The port it was told to listen on.
 */
export async function smokeTest(child: Deno.ChildProcess, port: number): Promise<void> {
  const output = child.output();
  try {
    await waitUntilServing(port, child);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Switchboard/);
    assertHeartbeat(await heartbeat(port));
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited: the assertion below reports how.
    }
    const { code, stderr } = await output;
    assert.equal(code, 0, new TextDecoder().decode(stderr));
  }
}
