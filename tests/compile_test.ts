/**
 * `deno task compile` needs denort, the runtime that `deno compile` downloads unless DENORT_BIN
 * points at one. Where neither is possible (this project's CI has no route to Deno's download
 * host), the test is skipped and says why in its name.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { Client, req } from "./_client.ts";
import { Spawned } from "./_helpers.ts";

const denort = Deno.env.get("DENORT_BIN");
const available = denort !== undefined && existsSync(denort);

Deno.test({
  name: `deno task compile - the binary answers the heartbeat${
    available ? "" : " (skipped: DENORT_BIN is not set, and denort cannot be downloaded here)"
  }`,
  ignore: !available,
  async fn() {
    const dir = await Deno.makeTempDir();
    const out = `${dir}/switchboard`;
    const root = new URL("..", import.meta.url).pathname;
    // The task's own flags, with the output moved to the temporary folder.
    const task = JSON.parse(await Deno.readTextFile(`${root}/deno.json`)).tasks.compile as string;
    const args = task.split(/\s+/).slice(1);
    args[args.indexOf("--output") + 1] = out;
    const build = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    // Port 0: the binary says where it listens, so no other process can take the port first.
    const server = new Spawned(
      new Deno.Command(out, {
        env: { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", NO_COLOR: "1" },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn(),
    );
    try {
      const port = await server.listening();
      const client = await Client.connect(`ws://127.0.0.1:${port}/`);
      assert.equal((await client.request(req("web"))).code, 200);
      await client.close();
    } finally {
      server.kill("SIGTERM");
      assert.equal((await server.exited()).code, 0, server.stderr);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
