/**
 * The console in a real browser (headless Chromium): it connects, shows the heartbeat's reply,
 * shows a delivery another client publishes, its charts move with traffic, a command form sent
 * with a bad value shows the 400 and its issues, the page logs no error, and a server restart
 * shows as a reconnect. Without Chromium the test fails with one line saying so.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { Client, req, startServer, wsUrl } from "./_client.ts";
import { launchChromium, pageErrors } from "./_browser.ts";

/** The page's own `document`, in functions that run in the browser (the DOM types are not loaded). */
// deno-lint-ignore no-explicit-any
declare const document: any;

/** A table row as the browser functions below read it. */
type HTMLTableRow = { cells: { textContent: string }[] };

/** Waits until the page's `fn(arg)` is truthy; fails with `what` after the deadline. */
async function pageUntil(
  page: Page,
  what: string,
  // deno-lint-ignore no-explicit-any
  fn: (arg: any) => unknown,
  arg: string | number | null,
  ms = 10_000,
) {
  try {
    await page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
  } catch {
    throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
  }
}

/** The text of the message log. */
const logText = (page: Page) => page.locator("#log").innerText();

Deno.test({
  name: "console - connects, answers, delivers, charts move, shows 400 issues, reconnects",
  // playwright-core keeps timers and pipes of its own between calls.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const browser = await launchChromium();
    let server = await startServer();
    const port = server.port;
    const outside: string[] = [];
    const page = await browser.context.newPage();
    const errors = pageErrors(page);
    await page.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === "127.0.0.1" && url.port === String(port)) return route.continue();
      outside.push(url.href);
      return route.abort();
    });
    const agent = await Client.connect(wsUrl(server, "?src=agent"));
    try {
      await t.step("loads and connects", async () => {
        await page.goto(`http://127.0.0.1:${port}/`);
        await pageUntil(
          page,
          "the socket badge to say connected",
          () => document.querySelector("#conn")?.dataset.state === "good",
          null,
        );
        await pageUntil(
          page,
          "health to say ok",
          () => document.querySelector("#health-badge")?.textContent === "ok",
          null,
        );
      });

      await t.step("sends a heartbeat and shows the reply", async () => {
        await page.click("#heartbeat");
        await pageUntil(
          page,
          "the heartbeat's result",
          () =>
            /^200 success in \d+ ms$/.test(document.querySelector("#hb-result")?.textContent ?? ""),
          null,
        );
        const log = await logText(page);
        assert.match(log, /→ \{"mode":"req_res","action":"req","src":"console","command":"web"/);
        assert.match(log, /← \{[^\n]*"action":"res"[^\n]*"code":200,"msg":"success"/);
      });

      const filter = `t${crypto.randomUUID().slice(0, 8)}/#`;
      const marker = `hello-${crypto.randomUUID()}`;
      await t.step("subscribes and shows another client's publish", async () => {
        await page.fill("#sub-filter", filter);
        await page.click("#sub-form button[value=sub]");
        await pageUntil(
          page,
          "the subscription chip",
          (f) =>
            [...document.querySelectorAll("#my-subs .chip")].some((c: { textContent: string }) =>
              c.textContent === f
            ),
          filter,
        );
        agent.send({
          mode: "pub_sub",
          action: "pub",
          src: "agent",
          topic: filter.replace("#", "cam1"),
          msg: marker,
          data: [1, 2],
        });
        await pageUntil(
          page,
          "the delivery in the log",
          (m) => document.querySelector("#log")?.textContent?.includes(m),
          marker,
        );
        assert.match(await logText(page), new RegExp(`← \\{[^\\n]*"action":"pub"[^\\n]*${marker}`));
        await pageUntil(
          page,
          "the topic table to list the filter with 1 subscriber",
          (f) =>
            [...document.querySelectorAll("#topics tbody tr")].some((r: HTMLTableRow) =>
              r.cells[0].textContent === f && r.cells[1].textContent === "1"
            ),
          filter,
        );
      });

      await t.step("charts move with traffic", async () => {
        const before = await page.evaluate(() => ({
          samples: Number(document.querySelector("#chart-messages")!.dataset.samples),
          image: document.querySelector("#chart-messages")!.toDataURL(),
        }));
        // Traffic for a few seconds, so at least one one-second sample sees it.
        for (let i = 0; i < 30; i++) {
          await agent.request(req("web", { id: i }));
          await new Promise((r) => setTimeout(r, 50));
        }
        await pageUntil(page, "a messages chart sample above zero", (n) => {
          const c = document.querySelector("#chart-messages")!;
          return Number(c.dataset.samples) > n + 1 &&
            c.dataset.last!.split(",").some((v: string) => Number(v) > 0);
        }, before.samples);
        const after = await page.evaluate(() =>
          document.querySelector("#chart-messages")!.toDataURL()
        );
        assert.notEqual(after, before.image, "the chart was redrawn differently");
        assert.notEqual(await page.textContent("#t-connections"), "–");
      });

      await t.step("a command form with a bad value shows the 400 and its issues", async () => {
        const form = page.locator('details[data-command="add_user"]');
        await form.locator("summary").click();
        await form.locator('input[name="kwargs.name"]').fill("jw");
        await form.locator('input[name="kwargs.age"]').fill("old");
        await form.locator("button").click();
        await pageUntil(
          page,
          "the 400 in the form",
          () =>
            document.querySelector('details[data-command="add_user"] .result .code')
              ?.textContent === "400",
          null,
        );
        const issues = await form.locator(".issues li").allInnerTexts();
        assert.ok(issues.some((i) => i.startsWith("kwargs.age: ")), issues.join("\n"));
        // The same form with good values is a 200.
        await form.locator('input[name="kwargs.age"]').fill("42");
        await form.locator("button").click();
        await pageUntil(
          page,
          "the 200 in the form",
          () =>
            document.querySelector('details[data-command="add_user"] .result .code')
              ?.textContent === "200",
          null,
        );
      });

      await t.step("nothing fetched from elsewhere, no error in the page", () => {
        assert.deepEqual(outside, []);
        assert.deepEqual(errors, []);
      });

      await t.step(
        "a server restart shows as a reconnect, with the subscription back",
        async () => {
          await agent.close();
          await server.shutdown();
          await pageUntil(
            page,
            "the socket badge to say closed",
            () => document.querySelector("#conn")?.dataset.state === "bad",
            null,
          );
          server = await startServer({ port });
          await pageUntil(
            page,
            "one reconnect",
            () =>
              document.querySelector("#reconnects")?.textContent === "1" &&
              document.querySelector("#conn")?.dataset.state === "good",
            null,
            15_000,
          );
          await pageUntil(
            page,
            "the filter subscribed again",
            (f) =>
              [...document.querySelectorAll("#topics tbody tr")].some((r: HTMLTableRow) =>
                r.cells[0].textContent === f
              ),
            filter,
          );
        },
      );
    } finally {
      await agent.close();
      await browser.close();
      await server.shutdown();
    }
  },
});
