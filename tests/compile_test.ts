/**
 * `deno task compile`. Without its runtime (denort) it must say in one line what to do and exit
 * non-zero: that test always runs, offline by construction. Where denort is available (DENORT_BIN,
 * a cached download, or network), the binary goes through the same smoke test as main.ts.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { compileArgs, offlineHint } from "../scripts/compile.ts";
import { childEnv, freePort, ROOT, Spawned } from "./_helpers.ts";
import { smokeTest } from "./_smoke.ts";

const decoder = new TextDecoder();
const VERSION = Deno.version.deno;

/** The folder where Deno keeps its caches, denort downloads included. */
async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(decoder.decode(out.stdout)).denoDir;
}

/** Runs `deno task compile --output <out>` with `env` over ours; stderr without deno's header. */
async function compileTask(out: string, env: Record<string, string>) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["task", "compile", "--output", out],
    cwd: ROOT,
    env: childEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = decoder.decode(result.stderr).split("\n")
    .filter((line) => line !== "" && !line.startsWith("Task compile ")).join("\n");
  return { code: result.code, stdout: decoder.decode(result.stdout), stderr };
}

Deno.test("offlineHint - recognises a failed denort download, and only that", () => {
  const dns = "error: Writing deno compile executable\n    0: Setting up base binary.\n" +
    `    1: error sending request for url (https://dl.deno.land/release/v${VERSION}/denort-x.zip):` +
    " client error (Connect): dns error: failed to lookup address information";
  const hint = offlineHint(dns, undefined);
  assert.ok(hint !== null);
  assert.match(hint, /^Cannot compile: .*DENORT_BIN/);
  assert.ok(hint.includes(VERSION) && hint.includes(`denort-${Deno.build.target}.zip`), hint);
  assert.ok(!hint.includes("\n") && !hint.endsWith("."), hint);
  // With DENORT_BIN set nothing was downloaded; other failures keep their own message.
  assert.equal(offlineHint(dns, "/opt/denort"), null);
  assert.equal(offlineHint('error: Module not found "file:///x/main.ts"', undefined), null);
  assert.equal(offlineHint("error: Type checking failed", undefined), null);
});

Deno.test("deno task compile - without denort it prints one line saying what to do and exits non-zero", async () => {
  // Offline by construction: a Deno folder with every cache but the denort downloads, and every
  // request sent to a proxy port where nothing listens.
  const real = await denoDir();
  const dir = await Deno.makeTempDir();
  try {
    const cache = join(dir, "deno");
    await Deno.mkdir(cache);
    for await (const entry of Deno.readDir(real)) {
      if (entry.name !== "dl") await Deno.symlink(join(real, entry.name), join(cache, entry.name));
    }
    const closed = `http://127.0.0.1:${freePort()}`;
    const env = { DENO_DIR: cache, HTTPS_PROXY: closed, HTTP_PROXY: closed, NO_PROXY: "" };
    const { code, stdout, stderr } = await compileTask(join(dir, "switchboard"), env);
    assert.notEqual(code, 0, stderr);
    assert.equal(stderr.split("\n").length, 1, `one line, got:\n${stderr}`);
    assert.match(stderr, /^Cannot compile: .*DENORT_BIN.*docs\/deployment\.md$/);
    assert.ok(stderr.includes(VERSION), stderr);
    assert.equal(stdout, "");
    assert.equal(existsSync(join(dir, "switchboard")), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile - a DENORT_BIN that is not a file is one line naming it", async () => {
  const missing = `/nonexistent/denort-${crypto.randomUUID()}`;
  const { code, stderr } = await compileTask("/tmp/unused-switchboard", { DENORT_BIN: missing });
  assert.equal(code, 1);
  assert.equal(stderr, `Cannot compile: DENORT_BIN is not a file: ${missing}`);
});

/** Whether `deno compile` can get denort here: given, cached, or downloadable. */
async function denortAvailable(): Promise<string | null> {
  const given = Deno.env.get("DENORT_BIN");
  if (given) return existsSync(given) ? null : `DENORT_BIN=${given} does not exist`;
  const zip = `denort-${Deno.build.target}.zip`;
  if (existsSync(join(await denoDir(), "dl", "release", `v${VERSION}`, zip))) return null;
  try {
    const url = `https://dl.deno.land/release/v${VERSION}/${zip}`;
    const res = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(5000) });
    await res.body?.cancel();
    return res.ok ? null : `denort ${VERSION} answered ${res.status}`;
  } catch {
    return "DENORT_BIN is not set and denort cannot be downloaded here";
  }
}

const unavailable = await denortAvailable();

Deno.test({
  name: `deno task compile - the binary passes the smoke test of deno task start${
    unavailable ? ` (skipped: ${unavailable}; the hint test above runs instead)` : ""
  }`,
  ignore: unavailable !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    const out = join(dir, "switchboard");
    try {
      const build = await compileTask(out, {});
      assert.equal(build.code, 0, build.stderr);
      const child = new Deno.Command(out, {
        env: childEnv({ PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info" }),
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      await smokeTest(new Spawned(child));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("deno task compile - the task's flags embed what is loaded by path", () => {
  const args = compileArgs("out");
  for (const path of ["lib/workers/host.ts", "workers", "assets/images"]) {
    assert.equal(args[args.indexOf(path) - 1], "--include", path);
    assert.ok(existsSync(join(ROOT, path)), path);
  }
  assert.deepEqual(args.slice(-3), ["--output", "out", "main.ts"]);
});
