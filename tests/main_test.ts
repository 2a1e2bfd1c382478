/**
 * The real entry point as a user runs it: `deno run -A main.ts` in a child process, talked to
 * with a plain WebSocket, and its one-line refusals of bad settings.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const SEED = { mode: "req_res", action: "req", src: "front", command: "web" };
const HEARTBEAT = { src: "control", code: 200, msg: "success", mode: "req_res", action: "res" };

/** The environment for a child: ours without RUST_BACKTRACE, plus `extra`. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.RUST_BACKTRACE;
  for (const key of ["PORT", "HOST", "MAX_CLIENTS", "LOG_LEVEL", "NO_COLOR"]) delete env[key];
  return { ...env, NO_COLOR: "1", ...extra };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

function spawnMain(env: Record<string, string>, args: string[] = []) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    env: childEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
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
  throw new Error(`main.ts did not answer on port ${port} within ${ms} ms`);
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

/** Runs main.ts until it serves, checks the heartbeat, stops it with SIGTERM. */
async function serveAndStop(env: Record<string, string>, args: string[], port: number) {
  const child = spawnMain(env, args);
  const output = child.output();
  try {
    await waitUntilServing(port, child);
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

Deno.test("main.ts - serves the heartbeat to a plain WebSocket on PORT", async () => {
  const port = freePort();
  await serveAndStop({ PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" }, [], port);
});

Deno.test("main.ts - a flag wins over the environment", async () => {
  const port = freePort();
  await serveAndStop(
    { PORT: "abc", HOST: "127.0.0.1", LOG_LEVEL: "warn" },
    ["--port", String(port)],
    port,
  );
});

Deno.test("main.ts - a bad setting exits 1 with one line naming it", async () => {
  const cases: [Record<string, string>, string[], string][] = [
    [{ PORT: "abc" }, [], "PORT"],
    [{ MAX_CLIENTS: "-1" }, [], "MAX_CLIENTS"],
    [{ LOG_LEVEL: "loud" }, [], "LOG_LEVEL"],
    [{}, ["--handler-timeout-ms", "soon"], "HANDLER_TIMEOUT_MS"],
  ];
  await Promise.all(cases.map(async ([env, args, key]) => {
    const { code, stdout, stderr } = await spawnMain(
      { HOST: "127.0.0.1", PORT: String(freePort()), ...env },
      args,
    ).output();
    const err = new TextDecoder().decode(stderr).trimEnd();
    assert.equal(code, 1, `${key}: ${err}`);
    assert.equal(err.split("\n").length, 1, `${key}: one line, got:\n${err}`);
    assert.ok(err.includes(key), `${key}: ${err}`);
    assert.equal(new TextDecoder().decode(stdout), "");
  }));
});
