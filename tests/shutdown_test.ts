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
import { generateRoutes } from "../lib/commands/routes_gen.ts";

const LIB_MOD = new URL("../lib/mod.ts", import.meta.url).href;
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

const SLOW_COMMAND = `import { defineCommand, z } from ${JSON.stringify(LIB_MOD)};

export default defineCommand({
  description: "Waits ms, then replies; writes the abort reason to marker if aborted first",
  kwargs: z.object({ ms: z.number(), marker: z.string().optional() }),
  async handle(ctx) {
    ctx.send({ msg: "started" });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ctx.kwargs.ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        if (ctx.kwargs.marker) {
          Deno.writeTextFileSync(ctx.kwargs.marker, String(ctx.signal.reason?.message));
        }
        resolve();
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

/** A running `main.ts` process and what it wrote to stderr. */
interface Served {
  child: Deno.ChildProcess;
  port: number;
  log: () => string;
  stderrDone: Promise<void>;
}

/** Starts main.ts on a free port with the app folder and settings; resolves once it listens. */
async function serve(root: string, env: Record<string, string> = {}): Promise<Served> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, MAIN, "--root", root],
    env: { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const stderrDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(text);
      if (m) resolve(Number(m[1]));
    }
    resolve(0);
  })();
  const timeout = new Promise<number>((r) => setTimeout(() => r(-1), 15_000));
  const port = await Promise.race([listening, timeout]);
  if (port <= 0) {
    child.kill("SIGKILL");
    await child.status;
    await stderrDone;
    throw new Error(`main.ts did not start listening: ${text}`);
  }
  return { child, port, log: () => text, stderrDone };
}

/** Waits for the process to exit (at most `ms`); returns its status. */
async function exited(served: Served, ms = 8000): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const status = await Promise.race([
    served.child.status,
    new Promise<null>((r) => timer = setTimeout(() => r(null), ms)),
  ]);
  clearTimeout(timer);
  if (status === null) {
    served.child.kill("SIGKILL");
    await served.child.status;
    await served.stderrDone;
    throw new Error(`main.ts did not exit within ${ms} ms: ${served.log()}`);
  }
  await served.stderrDone;
  return status;
}

/** The status of a WebSocket handshake the server refuses. */
async function upgradeStatus(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  await res.body?.cancel();
  return res.status;
}

const isFinal = (id: number) => (m: Record<string, unknown>) => m.id === id && !m.more;

Deno.test("SIGTERM - a running handler finishes, then clients get 1001 and the process exits 0", async () => {
  const root = await makeApp();
  const served = await serve(root);
  const url = `ws://127.0.0.1:${served.port}/`;
  const busy = await Client.connect(url);
  const idle = await Client.connect(url);
  try {
    busy.send(req("slow", { id: 1, kwargs: { ms: 800 } }));
    assert.equal((await busy.next((m) => m.id === 1 && m.more)).msg, "started");
    const signalled = Date.now();
    served.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 100));
    // Draining: no new clients, the running handler goes on.
    assert.equal(await upgradeStatus(served.port), 503);
    const reply = await busy.next(isFinal(1), 5000);
    assert.deepEqual([reply.code, reply.data], [200, ["done"]]);
    assert.equal(busy.closeEvent, undefined, "closed before the reply");
    assert.ok(Date.now() - signalled >= 500, "the reply did not wait for the handler");
    // The code only: Deno's HttpServer.shutdown() writes its own close frame ("Server shutting
    // down") before the one lib/server.ts asked for ("Server is shutting down").
    for (const c of [busy, idle]) {
      const closed = await c.closed;
      assert.equal(closed.code, 1001);
    }
    const status = await exited(served);
    assert.equal(status.code, 0, served.log());
    assert.match(served.log(), /Switchboard stopped/);
  } finally {
    await busy.close();
    await idle.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("SIGTERM - a handler longer than SHUTDOWN_GRACE_MS is aborted and its client gets 503", async () => {
  const root = await makeApp();
  const marker = join(root, "aborted.txt");
  const served = await serve(root, { SHUTDOWN_GRACE_MS: "300" });
  const c = await Client.connect(`ws://127.0.0.1:${served.port}/`);
  try {
    c.send(req("slow", { id: 1, kwargs: { ms: 20_000, marker } }));
    await c.next((m) => m.id === 1 && m.more);
    const signalled = Date.now();
    served.child.kill("SIGTERM");
    const reply = await c.next(isFinal(1), 5000);
    const waited = Date.now() - signalled;
    assert.deepEqual([reply.code, reply.msg], [503, "Server is shutting down"]);
    assert.ok(waited >= 250 && waited < 3000, `aborted after ${waited} ms`);
    const closed = await c.closed;
    assert.equal(closed.code, 1001);
    const status = await exited(served);
    assert.equal(status.code, 0, served.log());
    // The handler's signal was aborted, with the shutdown as the reason.
    assert.equal(await Deno.readTextFile(marker), "Server is shutting down");
  } finally {
    await c.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("SIGINT - an idle server closes its clients with 1001 and exits 0", async () => {
  const root = await makeApp();
  const served = await serve(root);
  const c = await Client.connect(`ws://127.0.0.1:${served.port}/`);
  try {
    assert.equal((await c.request(req("slow", { kwargs: { ms: 1 } }))).code, 200);
    served.child.kill("SIGINT");
    assert.equal((await c.closed).code, 1001);
    assert.equal((await exited(served, 5000)).code, 0, served.log());
  } finally {
    await c.close();
    await Deno.remove(root, { recursive: true });
  }
});
