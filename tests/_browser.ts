/**
 * Headless Chromium for the browser tests, driven by playwright-core: Debian's own Chromium
 * (`apt-get install -y chromium`, which `.ci/run` does), never a browser download, a fresh
 * profile every time, and no traffic to anywhere but the server under test.
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { existsSync } from "node:fs";

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Chromium's flags: headless, no sandbox (CI runs as root), and no calls home. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A browser with a fresh profile; `close()` ends it and removes the profile. */
export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Starts headless Chromium with a fresh `--user-data-dir`.
 *
 * @param viewport The window size.
 * @returns The browser.
 * @throws {Error} One line saying so when Chromium is not installed: browser tests never skip.
 */
export async function launchChromium(
  viewport = { width: 1280, height: 900 },
): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it with apt-get install -y chromium (.ci/run does)`,
    );
  }
  const profile = await Deno.makeTempDir({ prefix: "sb-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  return {
    context,
    async close() {
      await context.close();
      await Deno.remove(profile, { recursive: true });
    },
  };
}

/**
 * Collects what a page reports as errors: console errors and uncaught exceptions.
 *
 * @param page The page, before it loads anything.
 * @returns The list, filled as they happen.
 */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}
