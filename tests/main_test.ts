/**
 * The real entry point as a user runs it: `deno run -A main.ts` in a child process, talked to
 * with a plain WebSocket, and its one-line refusals of bad settings.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { childEnv, freePort, ROOT, smokeTest } from "./_smoke.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

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

/** Runs main.ts through the smoke test (heartbeat, console, SIGTERM exits 0). */
async function serveAndStop(env: Record<string, string>, args: string[], port: number) {
  await smokeTest(spawnMain(env, args), port);
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
