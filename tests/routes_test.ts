/**
 * The routes file on a temporary app folder: the generator (what it lists, when it rewrites,
 * `--check`), the refusals at start-up, and `deno task dev` picking up a new command live.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  findRouteFiles,
  generateRoutes,
  renderRoutes,
  ROUTES_FILE,
} from "../lib/commands/routes_gen.ts";
import { loadRoutes } from "../lib/routes.ts";
import { createServer } from "../lib/create_server.ts";
import { StartupError } from "../lib/wire/errors.ts";
import { createLogger } from "../lib/log.ts";
import { Client, type Msg, req, wsUrl } from "./_client.ts";
import { ROOT, sleep, spawnDeno, type Spawned, until } from "./_helpers.ts";

const LIB = new URL("../lib/mod.ts", import.meta.url).href;
const quiet = createLogger("silent", "pretty");

/** A command file that imports the framework by absolute URL (the folder is outside the repo). */
function commandSource(result: string): string {
  return `import { defineCommand } from ${JSON.stringify(LIB)};
export default defineCommand({ handle: () => ${JSON.stringify(result)} });
`;
}

/** Makes a temporary app folder with the given files; removes it after `fn`. */
async function withApp(
  files: Record<string, string>,
  fn: (root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "switchboard_routes_" });
  try {
    for (const [path, text] of Object.entries(files)) await write(root, path, text);
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function write(root: string, path: string, text: string): Promise<void> {
  await Deno.mkdir(join(root, path, ".."), { recursive: true });
  await Deno.writeTextFile(join(root, path), text);
}

/** Runs `deno run -A <script> ...args` from the repository and collects its output. */
async function run(script: string, args: string[]) {
  const child = spawnDeno([join(ROOT, script), ...args], { HOST: "127.0.0.1", LOG_LEVEL: "warn" });
  const { code } = await child.exited({ timeoutMs: 30_000 });
  return { code, stdout: child.stdout.trimEnd(), stderr: child.stderr.trimEnd() };
}

function assertOneLine(text: string, ...parts: string[]): void {
  assert.equal(text.split("\n").length, 1, `one line expected, got:\n${text}`);
  for (const part of parts) assert.ok(text.includes(part), `${text} should mention ${part}`);
}

/** Runs `fn` (sync or async); returns the message of the StartupError it must throw. */
async function rejectsStartup(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof StartupError, `expected a StartupError, got ${err}`);
    return err.message;
  }
  throw new Error("expected a StartupError");
}

Deno.test("findRouteFiles - lists sources sorted, skipping _helpers and tests", async () => {
  await withApp({
    "commands/zeta.ts": "",
    "commands/alpha.ts": "",
    "commands/_helper.ts": "",
    "commands/alpha_test.ts": "",
    "commands/alpha.test.ts": "",
    "commands/.hidden.ts": "",
    "commands/README.md": "",
    "commands/js_one.js": "",
    "topics/user.ts": "",
    "topics/plant/line1.ts": "",
    "topics/_shared/x.ts": "",
    "workers/checksum.ts": "",
  }, async (root) => {
    const { commands, topics, workers } = await findRouteFiles(root);
    assert.deepEqual(commands, ["commands/alpha.ts", "commands/js_one.js", "commands/zeta.ts"]);
    assert.deepEqual(topics, ["topics/plant/line1.ts", "topics/user.ts"]);
    assert.deepEqual(workers, ["workers/checksum.ts"]);
  });
  await withApp({}, async (root) => {
    const { commands, topics, workers } = await findRouteFiles(root);
    assert.deepEqual({ commands, topics, workers }, { commands: [], topics: [], workers: [] });
  });
});

Deno.test("generateRoutes - adding commands/hello.ts makes hello callable", async () => {
  await withApp({ "commands/ping.ts": commandSource("pong") }, async (root) => {
    assert.equal(await generateRoutes(root), true);
    assert.doesNotMatch(await Deno.readTextFile(join(root, ROUTES_FILE)), /hello/);
    await write(root, "commands/hello.ts", commandSource("hello there"));
    assert.equal(await generateRoutes(root), true);
    const text = await Deno.readTextFile(join(root, ROUTES_FILE));
    assert.match(text, /^\/\/ DO NOT EDIT/);
    assert.match(text, /import \* as \$command_hello from "\.\/commands\/hello\.ts";/);
    const server = await createServer({ root, port: 0, host: "127.0.0.1", logger: quiet });
    const c = await Client.connect(wsUrl(server));
    try {
      const hello = await c.request(req("hello", { id: 1 }));
      assert.equal(hello.code, 200);
      assert.equal(hello.data, "hello there");
      assert.equal((await c.request(req("HELLO"))).data, "hello there");
      assert.equal((await c.request(req("ping"))).data, "pong");
      assert.equal((await c.request(req("web"))).code, 404); // the temp app's routes only
    } finally {
      await c.close();
      await server.shutdown();
    }
  });
});

Deno.test("generateRoutes - rewrites the file only when the file list changes", async () => {
  await withApp({ "commands/a.ts": commandSource("a") }, async (root) => {
    const path = join(root, ROUTES_FILE);
    assert.equal(await generateRoutes(root), true);
    const first = await Deno.readTextFile(path);
    const mtime = (await Deno.stat(path)).mtime?.getTime();
    await sleep(20); // a rewrite now would show in the mtime
    assert.equal(await generateRoutes(root), false);
    await write(root, "commands/a.ts", commandSource("a, edited"));
    await write(root, "commands/_helper.ts", "export const x = 1;\n");
    await write(root, "commands/a_test.ts", "");
    assert.equal(await generateRoutes(root), false, "edits and ignored files change nothing");
    assert.equal((await Deno.stat(path)).mtime?.getTime(), mtime, "not rewritten");
    assert.equal(await Deno.readTextFile(path), first);
    await write(root, "commands/b.ts", commandSource("b"));
    assert.equal(await generateRoutes(root, { check: true }), true, "check sees the change");
    assert.equal(await Deno.readTextFile(path), first, "check does not write");
    assert.equal(await generateRoutes(root), true);
    assert.match(await Deno.readTextFile(path), /"b": \$command_b/);
    await Deno.remove(join(root, "commands/b.ts"));
    assert.equal(await generateRoutes(root), true);
    assert.equal(await Deno.readTextFile(path), first);
  });
});

Deno.test("routes_gen.ts --check - exits 1 when stale, 0 when fresh", async () => {
  await withApp({ "commands/a.ts": commandSource("a") }, async (root) => {
    const missing = await run("lib/commands/routes_gen.ts", ["--check", "--root", root]);
    assert.equal(missing.code, 1);
    assertOneLine(missing.stderr, ROUTES_FILE, "stale");
    await assert.rejects(Deno.stat(join(root, ROUTES_FILE)), Deno.errors.NotFound);
    const written = await run("lib/commands/routes_gen.ts", ["--root", root]);
    assert.equal(written.code, 0, written.stderr);
    const fresh = await run("lib/commands/routes_gen.ts", ["--check", "--root", root]);
    assert.equal(fresh.code, 0, fresh.stderr);
    await write(root, "commands/b.ts", commandSource("b"));
    const stale = await run("lib/commands/routes_gen.ts", ["--check", "--root", root]);
    assert.equal(stale.code, 1);
    assertOneLine(stale.stderr, ROUTES_FILE);
  });
});

Deno.test("routes - two command files differing only in case are refused in one line", async () => {
  assert.throws(
    () =>
      renderRoutes({
        commands: ["commands/Hello.ts", "commands/hello.ts"],
        topics: [],
        workers: [],
      }),
    (err: unknown) => {
      assert.ok(err instanceof StartupError);
      assertOneLine(err.message, "commands/Hello.ts", "commands/hello.ts", "rename");
      return true;
    },
  );
  const handler = { default: () => {} };
  assert.throws(
    () => loadRoutes({ commands: { Hello: handler, hello: handler } }),
    (err: unknown) => {
      assert.ok(err instanceof StartupError);
      assertOneLine(err.message, "Hello", "hello", "rename");
      return true;
    },
  );
  await withApp({
    "commands/Hello.ts": commandSource("a"),
    "commands/hello.ts": commandSource("b"),
  }, async (root) => {
    assertOneLine(await rejectsStartup(() => generateRoutes(root)), "hello");
    const cli = await run("lib/commands/routes_gen.ts", ["--root", root]);
    assert.equal(cli.code, 1);
    assertOneLine(cli.stderr, "Hello.ts", "hello.ts");
    await assert.rejects(Deno.stat(join(root, ROUTES_FILE)), Deno.errors.NotFound);
  });
});

Deno.test("routes - a command file without a default export is refused at start-up", async () => {
  assertOneLine(
    await rejectsStartup(() => loadRoutes({ commands: { bad: { x: 1 } as Msg } })),
    "commands/bad.ts",
    "no default export",
  );
  assertOneLine(
    await rejectsStartup(() => loadRoutes({ commands: { num: { default: 42 } } })),
    "commands/num.ts",
    "not a function",
  );
  await withApp({
    "commands/good.ts": commandSource("good"),
    "commands/bad.ts": "export const notDefault = () => {};\n",
  }, async (root) => {
    await generateRoutes(root);
    const msg = await rejectsStartup(() =>
      createServer({ root, port: 0, host: "127.0.0.1", logger: quiet })
    );
    assertOneLine(msg, "commands/bad.ts", "no default export");
    const cli = await run("main.ts", ["--root", root, "--port", "0"]);
    assert.equal(cli.code, 1);
    assertOneLine(cli.stderr, "commands/bad.ts", "no default export");
  });
});

/** One request on a fresh socket; null when the server is not (yet) there or says nothing. */
async function tryRequest(port: number, msg: Msg, ms = 1000): Promise<Msg | null> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const closed = new Promise((r) => ws.onclose = r);
  const { promise, resolve } = Promise.withResolvers<Msg | null>();
  const timer = setTimeout(() => resolve(null), ms);
  ws.onopen = () => ws.send(JSON.stringify(msg));
  ws.onmessage = (e) => resolve(JSON.parse(e.data));
  ws.onerror = () => resolve(null);
  const reply = await promise;
  clearTimeout(timer);
  ws.close();
  await closed;
  return reply;
}

/**
 * Asks the dev task's current server (the last one it started) until `check` accepts a reply to
 * `msg`; a server that is restarting meanwhile answers nothing and is asked again.
 */
async function pollFor(dev: Spawned, msg: Msg, check: (r: Msg) => boolean): Promise<Msg> {
  let last: Msg | null = null;
  try {
    await until(async () => {
      const port = dev.ports.at(-1);
      last = port === undefined ? null : await tryRequest(port, msg);
      return last !== null && check(last);
    }, { what: `a matching reply to ${msg.command}`, timeoutMs: 20_000 });
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; last: ${JSON.stringify(last)}; dev:\n${dev.stderr}`,
    );
  }
  return last!;
}

Deno.test("dev - a new command file answers without a restart by hand", async () => {
  await withApp({ "commands/ping.ts": commandSource("pong") }, async (root) => {
    // Port 0: each server the dev task starts says where it listens.
    const dev = spawnDeno(
      [join(ROOT, "lib/commands/dev.ts"), "--root", root, "--port", "0"],
      { HOST: "127.0.0.1", LOG_LEVEL: "info" },
    );
    try {
      const ping = await pollFor(dev, req("ping"), (r) => r.code === 200);
      assert.equal(ping.data, "pong");
      assert.equal((await tryRequest(dev.ports.at(-1)!, req("hello")))?.code, 404);
      await write(root, "commands/hello.ts", commandSource("live"));
      const hello = await pollFor(dev, req("hello"), (r) => r.code === 200);
      assert.equal(hello.data, "live");
      assert.match(await Deno.readTextFile(join(root, ROUTES_FILE)), /commands\/hello\.ts/);
    } finally {
      dev.kill("SIGTERM");
      const status = await dev.exited();
      assert.equal(status.code, 0, dev.stderr);
    }
    // The dev task stopped its server too: the port no longer answers.
    assert.equal(await tryRequest(dev.ports.at(-1)!, req("ping"), 500), null);
  });
});
