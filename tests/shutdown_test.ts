/**
 * Issue 5 end to end: `main.ts` as a real process, stopped with SIGTERM or SIGINT. Running
 * handlers finish within SHUTDOWN_GRACE_MS, what is left is aborted (503), every client is closed
 * with 1001 and the process exits 0.
 *
 * The app served is a temporary folder with its own commands and a routes.gen.ts made by
 * lib/commands/routes_gen.ts; its command files import the framework by absolute file URL.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, req } from "./_client.ts";
import { refusedHandshake, spawnDeno, type Spawned, until } from "./_helpers.ts";
import { generateRoutes } from "../lib/commands/routes_gen.ts";

const LIB_MOD = new URL("../lib/mod.ts", import.meta.url).href;
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

const SLOW_COMMAND = `import { existsSync } from "node:fs";
import { defineCommand, z } from ${JSON.stringify(LIB_MOD)};

export default defineCommand({
  description: "Replies once the release file exists (or after ms); writes the abort reason to marker",
  kwargs: z.object({
    ms: z.number().default(60_000),
    release: z.string().optional(),
    marker: z.string().optional(),
  }),
  async handle(ctx) {
    ctx.send({ msg: "started" });
    const { ms, release, marker } = ctx.kwargs;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const poll = setInterval(() => release !== undefined && existsSync(release) && done(), 10);
      function done() {
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      }
      ctx.signal.addEventListener("abort", () => {
        if (marker) Deno.writeTextFileSync(marker, String(ctx.signal.reason?.message));
        done();
      });
    });
    return ["done"];
  },
});
`;

/** Makes a temporary app folder with a `slow` command and its routes file. */
async function makeApp(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "switchboard-shutdown-" });
  await Deno.mkdir(join(root, "commands"));
  await Deno.writeTextFile(join(root, "commands", "slow.ts"), SLOW_COMMAND);
  assert.equal(await generateRoutes(root), true);
  return root;
}

/** A running `main.ts` process and the port it listens on. */
interface Served {
  main: Spawned;
  port: number;
}

/** Starts main.ts on port 0 with the app folder and settings; resolves once it listens. */
async function serve(root: string, env: Record<string, string> = {}): Promise<Served> {
  const main = spawnDeno(["--config", CONFIG, MAIN, "--root", root], {
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    ...env,
  });
  try {
    return { main, port: await main.listening() };
  } catch (err) {
    main.kill("SIGKILL");
    await main.exited().catch(() => {});
    throw err;
  }
}

/** Waits until the server has begun to shut down: /healthz answers 503 from then on. */
async function draining(port: number): Promise<void> {
  await until(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    await res.body?.cancel();
    return res.status === 503;
  }, "the server to start draining");
}

const isFinal = (id: number) => (m: Record<string, unknown>) => m.id === id && !m.more;

/** Stops a server a failed test left running, and removes its app folder. */
async function cleanUp(served: Served, root: string): Promise<void> {
  served.main.kill("SIGKILL");
  await served.main.exited().catch(() => {});
  await Deno.remove(root, { recursive: true });
}

Deno.test("SIGTERM - a running handler finishes, then clients get 1001 and the process exits 0", async () => {
  const root = await makeApp();
  const release = join(root, "release");
  const served = await serve(root);
  const url = `ws://127.0.0.1:${served.port}/`;
  const busy = await Client.connect(url);
  const idle = await Client.connect(url);
  try {
    busy.send(req("slow", { id: 1, kwargs: { release } }));
    assert.equal((await busy.next((m) => m.id === 1 && m.more)).msg, "started");
    served.main.kill("SIGTERM");
    await draining(served.port);
    // Draining: no new clients, the running handler goes on (no reply yet, nobody closed).
    assert.equal((await refusedHandshake(served.port)).status, 503);
    assert.equal(busy.inbox.some(isFinal(1)), false, "the handler was cut short");
    assert.equal(busy.closeEvent ?? idle.closeEvent, undefined, "a client was closed too early");
    // Only the handler's own end (the file it waits for) makes it reply: 200, not 503.
    await Deno.writeTextFile(release, "");
    const reply = await busy.next(isFinal(1));
    assert.deepEqual([reply.code, reply.data], [200, ["done"]]);
    assert.equal(busy.closeEvent, undefined, "closed before the reply");
    // The code only: Deno's HttpServer.shutdown() writes its own close frame ("Server shutting
    // down") before the one lib/server.ts asked for ("Server is shutting down").
    for (const c of [busy, idle]) {
      const closed = await c.closed;
      assert.equal(closed.code, 1001);
    }
    const status = await served.main.exited();
    assert.equal(status.code, 0, served.main.stderr);
    assert.match(served.main.stderr, /Switchboard stopped/);
  } finally {
    await busy.close();
    await idle.close();
    await cleanUp(served, root);
  }
});

Deno.test("SIGTERM - a handler longer than SHUTDOWN_GRACE_MS is aborted and its client gets 503", async () => {
  const root = await makeApp();
  const marker = join(root, "aborted.txt");
  const served = await serve(root, { SHUTDOWN_GRACE_MS: "300" });
  const c = await Client.connect(`ws://127.0.0.1:${served.port}/`);
  try {
    // The handler would run for a minute: only the end of the grace period can stop it. That the
    // server waits for a handler within the grace period is the test above.
    c.send(req("slow", { id: 1, kwargs: { marker } }));
    await c.next((m) => m.id === 1 && m.more);
    served.main.kill("SIGTERM");
    const reply = await c.next(isFinal(1));
    assert.deepEqual([reply.code, reply.msg], [503, "Server is shutting down"]);
    const closed = await c.closed;
    assert.equal(closed.code, 1001);
    const status = await served.main.exited();
    assert.equal(status.code, 0, served.main.stderr);
    // The handler's signal was aborted, with the shutdown as the reason.
    assert.equal(await Deno.readTextFile(marker), "Server is shutting down");
  } finally {
    await c.close();
    await cleanUp(served, root);
  }
});

Deno.test("SIGINT - an idle server closes its clients with 1001 and exits 0", async () => {
  const root = await makeApp();
  const served = await serve(root);
  const c = await Client.connect(`ws://127.0.0.1:${served.port}/`);
  try {
    assert.equal((await c.request(req("slow", { kwargs: { ms: 1 } }))).code, 200);
    served.main.kill("SIGINT");
    assert.equal((await c.closed).code, 1001);
    assert.equal((await served.main.exited()).code, 0, served.main.stderr);
  } finally {
    await c.close();
    await cleanUp(served, root);
  }
});
