/**
 * In-process checks of the settings: defaults, coercion of environment strings, flags over
 * environment, and one clear line naming the setting for every bad value.
 */
import assert from "node:assert/strict";
import { CONFIG_KEYS, loadConfig, parseConfig } from "../lib/config.ts";
import { StartupError } from "../lib/wire/errors.ts";

/** Asserts that `fn` throws a one-line StartupError naming `key`; returns its message. */
function refuses(fn: () => unknown, key: string): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof StartupError, `expected a StartupError for ${key}, got ${caught}`);
  const msg = caught.message;
  assert.ok(msg.includes(key), `${msg} should name ${key}`);
  assert.equal(msg.includes("\n"), false, `one line: ${msg}`);
  assert.ok(!msg.endsWith("."), `no final period: ${msg}`);
  return msg;
}

Deno.test("parseConfig - the documented defaults", () => {
  const c = parseConfig({});
  assert.equal(c.PORT, 18887);
  assert.equal(c.HOST, "0.0.0.0");
  assert.equal(c.SERVER_SRC, "control");
  assert.equal(c.MAX_CLIENTS, 2000);
  assert.equal(c.MAX_MESSAGE_BYTES, 1024 * 1024);
  assert.equal(c.HANDLER_TIMEOUT_MS, 30_000);
  assert.equal(c.BROKER_URL, "memory://");
  assert.equal(c.RATE_LIMIT, 5000);
  assert.equal(c.LOG_LEVEL, "info");
  assert.equal(c.LOG_FORMAT, "pretty");
  assert.deepEqual(c.RESTART_URLS, []);
  assert.deepEqual(c.ALLOWED_ORIGINS, []);
  assert.equal(c.AUTH_TOKEN, undefined);
  assert.equal(c.JWT_SECRET, undefined);
  const cores = navigator.hardwareConcurrency || 2;
  assert.equal(c.WORKERS, Math.max(1, cores - 1));
  assert.ok(c.WORKERS >= 1);
  assert.ok(c.MAX_INFLIGHT >= 1);
});

Deno.test("parseConfig - strings from the environment are coerced", () => {
  const c = parseConfig({
    PORT: "8080",
    MAX_CLIENTS: "10",
    HANDLER_TIMEOUT_MS: "300",
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    RESTART_URLS: " http://a/x , http://b/y ,",
    BROKER_URL: "redis://127.0.0.1:6379",
  });
  assert.equal(c.PORT, 8080);
  assert.equal(c.MAX_CLIENTS, 10);
  assert.equal(c.HANDLER_TIMEOUT_MS, 300);
  assert.equal(c.LOG_LEVEL, "warn");
  assert.equal(c.LOG_FORMAT, "json");
  assert.deepEqual(c.RESTART_URLS, ["http://a/x", "http://b/y"]);
  assert.equal(c.BROKER_URL, "redis://127.0.0.1:6379");
});

Deno.test("parseConfig - typed values, lists, empty strings and unknown keys", () => {
  const c = parseConfig({ PORT: 0, RESTART_URLS: ["http://a", "http://b"], HOST: "", PATH: "/x" });
  assert.equal(c.PORT, 0);
  assert.deepEqual(c.RESTART_URLS, ["http://a", "http://b"]);
  assert.equal(c.HOST, "0.0.0.0"); // empty means unset
  assert.equal("PATH" in c, false);
});

Deno.test("parseConfig - a bad value is one line naming the setting, never its value", () => {
  const bad: [string, unknown][] = [
    ["PORT", "abc"],
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["PORT", "80.5"],
    ["MAX_CLIENTS", "-1"],
    ["MAX_CLIENTS", "0"],
    ["MAX_MESSAGE_BYTES", "10"],
    ["HANDLER_TIMEOUT_MS", "0"],
    ["WORKERS", "0"],
    ["LOG_LEVEL", "loud"],
    ["LOG_FORMAT", "xml"],
    ["BROKER_URL", "http://x"],
    ["JWT_SECRET", "short"],
    ["AUTH_TOKEN", "two words"],
    ["AUTH_TOKEN", "tab\there"],
    ["SERVER_SRC", "x".repeat(65)],
    ["RATE_LIMIT", "lots"],
  ];
  for (const [key, value] of bad) {
    const msg = refuses(() => parseConfig({ [key]: value }), key);
    assert.ok(!msg.includes(String(value)), `${msg} must not show the value`);
    assert.match(msg, new RegExp(`^Invalid setting ${key}: `));
  }
});

Deno.test("loadConfig - flags win over the environment", () => {
  const { config, root } = loadConfig(
    { PORT: "9000", LOG_LEVEL: "debug", MAX_CLIENTS: "5" },
    ["--port", "8081", "--log-level=warn", "--root", "/tmp/app"],
  );
  assert.equal(config.PORT, 8081);
  assert.equal(config.LOG_LEVEL, "warn");
  assert.equal(config.MAX_CLIENTS, 5);
  assert.equal(root, "/tmp/app");
});

Deno.test("loadConfig - a good flag fixes a bad environment value", () => {
  assert.equal(loadConfig({ PORT: "abc" }, ["--port", "1234"]).config.PORT, 1234);
});

Deno.test("loadConfig - every setting has a kebab-case flag", () => {
  for (const key of CONFIG_KEYS) {
    const flag = `--${key.toLowerCase().replaceAll("_", "-")}`;
    // An unknown flag would throw; a known one with a bad value names the setting instead.
    try {
      loadConfig({}, [flag, "1"]);
    } catch (err) {
      assert.ok(err instanceof StartupError);
      assert.ok(err.message.includes(key), `${flag}: ${err.message}`);
    }
  }
});

Deno.test("loadConfig - bad flags and bad values are one line", () => {
  refuses(() => loadConfig({}, ["--nope", "1"]), "nope");
  refuses(() => loadConfig({}, ["extra"]), "extra");
  refuses(() => loadConfig({}, ["--max-clients=-1"]), "MAX_CLIENTS");
  refuses(() => loadConfig({}, ["--max-clients", "0"]), "MAX_CLIENTS");
  refuses(() => loadConfig({ LOG_LEVEL: "loud" }), "LOG_LEVEL");
  assert.equal(loadConfig({}).root, undefined);
  assert.equal(loadConfig({}).config.PORT, 18887);
});
