import assert from "node:assert/strict";
import { Client, req, startServer, wsUrl } from "./_client.ts";

Deno.test("web - replies with the heartbeat", async () => {
  const server = await startServer();
  const c = await Client.connect(wsUrl(server));
  const r = await c.request(req("web"));
  assert.deepEqual(r, {
    mode: "req_res",
    action: "res",
    src: "control",
    command: "web",
    code: 200,
    msg: "success",
  });
  await c.close();
  await server.shutdown();
});
