/**
 * The real entry point as a user runs it: `deno run -A main.ts` in a child process, talked to
 * with a plain WebSocket, and its one-line refusals of bad settings. The server listens on port 0
 * and the test reads the port from its "listening on" line, so no other process can take it.
 */
import assert from "node:assert/strict";
import { spawnMain } from "./_helpers.ts";
import { smokeTest } from "./_smoke.ts";

/** Runs main.ts through the smoke test: console, heartbeat, SIGTERM exits 0. */
function serveAndStop(env: Record<string, string>, args: string[]) {
  return smokeTest(spawnMain(args, { HOST: "127.0.0.1", LOG_LEVEL: "info", ...env }));
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
