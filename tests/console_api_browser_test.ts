/**
 * The console's "Backend API" card in headless Chromium: with the key typed in, a call answers
 * with its status; the key is in the tab's sessionStorage only (not localStorage, a cookie or the
 * URL); a wrong key shows the 401.
 */
import assert from "node:assert/strict";
import { startServer } from "./_client.ts";
import { launchChromium, pageErrors } from "./_browser.ts";

const KEY = "api-key-for-the-console-test";

// deno-lint-ignore no-explicit-any
declare const document: any;
// deno-lint-ignore no-explicit-any
declare const sessionStorage: any;
// deno-lint-ignore no-explicit-any
declare const localStorage: any;

Deno.test({
  name: "console - the Backend API card calls the API with a key kept in the tab only",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const browser = await launchChromium();
    const server = await startServer({ apiKey: KEY });
    try {
      const page = await browser.context.newPage();
      const errors = pageErrors(page);
      await page.goto(`http://127.0.0.1:${server.port}/`);
      await page.waitForFunction(() => document.querySelector("#api-method")?.options.length > 0);
      const status = async () => {
        await page.waitForFunction(() => document.querySelector("#api-result")?.dataset.status);
        const s = await page.evaluate(() => {
          const out = document.querySelector("#api-result");
          const v = out.dataset.status;
          delete out.dataset.status;
          return v;
        });
        return Number(s);
      };
      await page.fill("#api-key", "not-the-right-key-000");
      await page.selectOption("#api-method", "clients");
      await page.click("#api-form button:not(.secondary)");
      assert.equal(await status(), 401);
      await page.fill("#api-key", KEY);
      await page.dispatchEvent("#api-key", "change");
      await page.click("#api-form button:not(.secondary)");
      assert.equal(await status(), 200);
      assert.match(await page.locator("#api-result").innerText(), /"msg": "clients"/);
      const stored = await page.evaluate(() => ({
        session: sessionStorage.getItem("switchboard.apiKey"),
        local: localStorage.length,
        cookie: document.cookie,
        url: document.location.href,
      }));
      assert.equal(stored.session, KEY);
      assert.equal(stored.local, 0);
      assert.equal(stored.cookie, "");
      assert.ok(!stored.url.includes(KEY));
      assert.deepEqual(errors.filter((e) => !e.includes("401")), []);
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});
