import assert from "node:assert/strict";
import { HEARTBEAT, req, withServer } from "./_client.ts";

Deno.test("web - replies with the heartbeat", async () => {
  await withServer(async (_server, c) => {
    assert.deepEqual(await c.request(req("web")), HEARTBEAT);
  });
});
