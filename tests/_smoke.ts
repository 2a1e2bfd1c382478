/**
 * The smoke test of a server process as a user runs it (`deno task start`, or the compiled
 * binary): it serves the console, answers the seed's heartbeat exactly, and stops with exit code
 * 0 on SIGTERM. The process listens on port 0 and says where; nothing can take its port first.
 */
import assert from "node:assert/strict";
import { type Spawned, within } from "./_helpers.ts";

const SEED = { mode: "req_res", action: "req", src: "front", command: "web" };
const HEARTBEAT = { src: "control", code: 200, msg: "success", mode: "req_res", action: "res" };

/** Sends the seed request from a plain WebSocket and returns the first reply. */
async function heartbeat(port: number): Promise<Record<string, unknown>> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const reply = Promise.withResolvers<Record<string, unknown>>();
  const closed = Promise.withResolvers<void>();
  ws.onopen = () => ws.send(JSON.stringify(SEED));
  ws.onmessage = (e) => reply.resolve(JSON.parse(e.data));
  ws.onerror = () => reply.reject(new Error("WebSocket error"));
  ws.onclose = () => closed.resolve();
  try {
    return await within(reply.promise, "the heartbeat");
  } finally {
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
 * Waits until a server says where it listens, checks the console page and the heartbeat, and
 * stops it with SIGTERM, which must end it with exit code 0.
 *
 * @param server The server process, started with `PORT=0` and `LOG_LEVEL=info` or lower.
 */
export async function smokeTest(server: Spawned): Promise<void> {
  try {
    const port = await server.listening();
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Switchboard/);
    assertHeartbeat(await heartbeat(port));
  } finally {
    try {
      server.kill("SIGTERM");
    } catch {
      // Already exited: the assertion below reports how.
    }
    const { code } = await server.exited();
    assert.equal(code, 0, server.stderr);
  }
}
