/**
 * The console's presence card in a real browser (headless Chromium): it lists who is present on
 * a topic, with user and info from the JWT, counts them, and shows a topic without presence as the
 * server's 404. Without Chromium the test fails with one line saying so.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { Client, startServer, wsUrl } from "./_client.ts";
import { launchChromium, pageErrors } from "./_browser.ts";
import { signJwt } from "../lib/session/jwt.ts";

const SECRET = "presence-console-secret-0123456789";

/** The text of the presence card: its rows and its note. */
const card = (page: Page) => page.locator("#presence").innerText();
const note = (page: Page) => page.locator("#presence-note").innerText();

async function eventually(what: string, fn: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test({
  name: "console - shows who is present on a topic",
  // playwright-core keeps timers and pipes of its own between calls.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const browser = await launchChromium();
    const server = await startServer({ PRESENCE: "panels/+", JWT_SECRET: SECRET });
    const exp = Math.floor(Date.now() / 1000) + 600;
    const token = (sub: string, info?: unknown) => signJwt({ sub, exp, info }, SECRET);
    const ann = await Client.connect(
      wsUrl(server, `?src=agent&token=${await token("ann", { desk: 4 })}`),
    );
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    try {
      ann.send({ mode: "pub_sub", action: "sub", topic: "panels/7", id: 1 });
      await ann.next((m) => m.id === 1);
      await page.goto(`http://127.0.0.1:${server.port}/?token=${await token("operator")}`);
      await page.locator("#conn[data-state=good]").waitFor({ timeout: 10_000 });
      await page.fill("#presence-topic", "panels/7");
      await page.click("#presence-form button");
      await eventually("ann in the presence card", async () => (await card(page)).includes("ann"));
      const text = await card(page);
      assert.match(text, /agent/);
      assert.match(text, /\{"desk":4\}/);
      assert.equal(await note(page), "1 client, 1 user on panels/7");
      // Another client joins: the card refreshes by itself.
      const bob = await Client.connect(wsUrl(server, `?src=front&token=${await token("bob")}`));
      bob.send({ mode: "pub_sub", action: "sub", topic: "panels/7", id: 2 });
      await bob.next((m) => m.id === 2);
      await eventually("bob in the card", async () => (await note(page)).startsWith("2 clients"));
      await bob.close();
      await page.fill("#presence-topic", "orders/1");
      await page.click("#presence-form button");
      await eventually("the 404", async () => (await note(page)).startsWith("404"));
      assert.match(await note(page), /No presence on topic "orders\/1"/);
      assert.deepEqual(errors, []);
    } finally {
      await ann.close();
      await browser.close();
      await server.shutdown();
    }
  },
});
