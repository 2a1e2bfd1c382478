/**
 * The real entry point as a user runs it: `deno run -A main.ts` in a child process, talked to
 * with a plain WebSocket, and its one-line refusals of bad settings. The server listens on port 0
 * and the test reads the port from its "listening on" line, so no other process can take it.
 */
import assert from "node:assert/strict";
import { spawnMain, within } from "./_helpers.ts";

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

/** Runs main.ts until it says where it listens, checks the heartbeat, stops it with SIGTERM. */
async function serveAndStop(env: Record<string, string>, args: string[]) {
  const main = spawnMain(args, { HOST: "127.0.0.1", LOG_LEVEL: "info", ...env });
  try {
    const port = await main.listening();
    assertHeartbeat(await heartbeat(port));
  } finally {
    main.kill("SIGTERM");
    const { code } = await main.exited();
    assert.equal(code, 0, main.stderr);
  }
}

Deno.test("main.ts - serves the heartbeat to a plain WebSocket on PORT", async () => {
  await serveAndStop({ PORT: "0" }, []);
});

Deno.test("main.ts - a flag wins over the environment", async () => {
  await serveAndStop({ PORT: "abc" }, ["--port", "0"]);
});

Deno.test("main.ts - a bad setting exits 1 with one line naming it", async () => {
  const cases: [Record<string, string>, string[], string][] = [
    [{ PORT: "abc" }, [], "PORT"],
    [{ MAX_CLIENTS: "-1" }, [], "MAX_CLIENTS"],
    [{ LOG_LEVEL: "loud" }, [], "LOG_LEVEL"],
    [{}, ["--handler-timeout-ms", "soon"], "HANDLER_TIMEOUT_MS"],
  ];
  await Promise.all(cases.map(async ([env, args, key]) => {
    const main = spawnMain(args, { HOST: "127.0.0.1", PORT: "0", ...env });
    const { code } = await main.exited();
    const err = main.stderr.trimEnd();
    assert.equal(code, 1, `${key}: ${err}`);
    assert.equal(err.split("\n").length, 1, `${key}: one line, got:\n${err}`);
    assert.ok(err.includes(key), `${key}: ${err}`);
    assert.equal(main.stdout, "");
  }));
});
