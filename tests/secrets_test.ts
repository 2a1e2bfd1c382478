/**
 * Secrets are never echoed: a bad AUTH_TOKEN, JWT_SECRET or BROKER_URL stops `main.ts` with one
 * line that names the setting but not its value, and a running server keeps its token, JWT
 * secret and Redis password out of its logs, /healthz, /metrics, /asyncapi.json and the console.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const decoder = new TextDecoder();

/** The environment for a child: ours without settings of its own, plus `extra`. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env = Deno.env.toObject();
  for (const key of Object.keys(env)) {
    if (/^(RUST_BACKTRACE|PORT|HOST|LOG_.*|AUTH_TOKEN|JWT_SECRET|API_KEY|BROKER_URL)$/.test(key)) {
      delete env[key];
    }
  }
  return { ...env, NO_COLOR: "1", HOST: "127.0.0.1", PORT: "0", ...extra };
}

/** Starts `main.ts` the way `deno task start` does. */
function spawnMain(env: Record<string, string>, args: string[] = []): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "--allow-env", "--allow-sys", MAIN, ...args],
    cwd: ROOT,
    env: childEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("secrets - a bad secret setting stops main.ts with a line that names it, not its value", async () => {
  const cases: { key: string; secret: string; env?: Record<string, string>; args?: string[] }[] = [
    { key: "JWT_SECRET", secret: "k", env: { JWT_SECRET: "k" } },
    { key: "JWT_SECRET", secret: "short-Secret15c", env: { JWT_SECRET: "short-Secret15c" } },
    { key: "JWT_SECRET", secret: "flagSecretK", args: ["--jwt-secret", "flagSecretK"] },
    { key: "AUTH_TOKEN", secret: "open sesame", env: { AUTH_TOKEN: "open sesame" } },
    { key: "API_KEY", secret: "shortApiK", env: { API_KEY: "shortApiK" } },
    { key: "API_KEY", secret: "api key with spaces", env: { API_KEY: "api key with spaces" } },
    { key: "AUTH_TOKEN", secret: "tökenWithUmlaut", env: { AUTH_TOKEN: "tökenWithUmlaut" } },
    // Caught by the settings' rule (the scheme), by the URL parser and by the Redis URL rules.
    { key: "BROKER_URL", secret: "hunter2pw", env: { BROKER_URL: "http://app:hunter2pw@db:80" } },
    { key: "BROKER_URL", secret: "hunter2pw", env: { BROKER_URL: "redis://app:hunter2pw@[::1" } },
    { key: "BROKER_URL", secret: "hunter2pw", env: { BROKER_URL: "redis://:hunter2pw@h/x" } },
    { key: "BROKER_URL", secret: "hunter2pw", env: { BROKER_URL: "redis://u:hunter2pw@h/?db=1" } },
    {
      key: "BROKER_URL",
      secret: "hunter2pw",
      env: { BROKER_URL: "redis://u:hunter2pw@h/?prefix=" },
    },
  ];
  await Promise.all(cases.map(async ({ key, secret, env = {}, args = [] }) => {
    const label = `${key} ${JSON.stringify(env)} ${args.join(" ")}`;
    const { code, stdout, stderr } = await spawnMain(env, args).output();
    const err = decoder.decode(stderr).trimEnd();
    assert.equal(code, 1, `${label}: exit code, stderr: ${err}`);
    assert.equal(err.split("\n").length, 1, `${label}: one line, got:\n${err}`);
    assert.match(err, new RegExp(`^Invalid setting ${key}: \\S`), label);
    assert.equal(err.includes(secret), false, `${label}: the value is echoed: ${err}`);
    assert.equal(decoder.decode(stdout), "", label);
  }));
});

/** Reads a child's stderr into `text`, and resolves `listening` with the port it logs. */
function watchStderr(child: Deno.ChildProcess) {
  const state = { text: "", listening: Promise.withResolvers<number>() };
  const done = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      state.text += chunk;
      const m = /listening on ws:\/\/[^:]+:(\d+)\//.exec(state.text);
      if (m) state.listening.resolve(Number(m[1]));
    }
    state.listening.reject(new Error(`main.ts exited before listening:\n${state.text}`));
  })();
  return { state, done };
}

/** Opens a WebSocket, sends the heartbeat, returns the reply or the close code. */
async function tryConnect(url: string): Promise<string> {
  const ws = new WebSocket(url);
  const result = Promise.withResolvers<string>();
  const closed = Promise.withResolvers<void>();
  const timer = setTimeout(() => result.resolve("timeout"), 5000);
  ws.onopen = () =>
    ws.send(JSON.stringify({ mode: "req_res", action: "req", src: "front", command: "web" }));
  ws.onmessage = (e) => result.resolve(String(e.data));
  ws.onerror = () => result.resolve("refused");
  ws.onclose = () => {
    result.resolve("closed");
    closed.resolve();
  };
  try {
    return await result.promise;
  } finally {
    clearTimeout(timer);
    ws.close();
    await closed.promise;
  }
}

for (const format of ["pretty", "json"]) {
  Deno.test(`secrets - a running server keeps them out of ${format} logs and every HTTP answer`, async () => {
    const token = `tok${crypto.randomUUID().replaceAll("-", "")}`;
    const jwtSecret = `jwt${crypto.randomUUID()}`;
    const password = `pw${crypto.randomUUID().replaceAll("-", "")}`;
    const user = `user${crypto.randomUUID().slice(0, 8)}`;
    // Redis here has no password: the broker's AUTH fails and it logs why, over and over.
    const prefix = `t${crypto.randomUUID().slice(0, 8)}`;
    const child = spawnMain({
      AUTH_TOKEN: token,
      JWT_SECRET: jwtSecret,
      BROKER_URL: `redis://${user}:${password}@127.0.0.1:6379/0?prefix=${prefix}`,
      LOG_LEVEL: "debug",
      LOG_FORMAT: format,
    });
    const { state, done } = watchStderr(child);
    const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const stdoutDone = (async () => {
      for (let r = await stdout.read(); !r.done; r = await stdout.read()) out += r.value;
    })();
    let bodies = "";
    try {
      const port = await state.listening.promise;
      const base = `http://127.0.0.1:${port}`;
      for (const path of ["/healthz", "/metrics", "/asyncapi.json", "/", "/nope"]) {
        const res = await fetch(`${base}${path}?token=${token}`);
        bodies += `${path}: ${await res.text()}\n`;
      }
      const ws = `ws://127.0.0.1:${port}/?src=front`;
      assert.match(await tryConnect(`${ws}&token=${token}`), /"code":200/);
      assert.equal(await tryConnect(`${ws}&token=wrong${token}`), "refused");
      assert.equal(await tryConnect(`${ws}&token=${password}`), "refused");
      assert.equal(await tryConnect(`${ws}&token=a.b.c`), "refused");
      // Wait until the broker has reported its failed login at least once.
      const deadline = Date.now() + 10_000;
      while (!/Redis/.test(state.text) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(state.text, /Redis/, "the broker's failure should be logged");
    } finally {
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
      await done;
      await stdoutDone;
    }
    const outputs = { stderr: state.text, stdout: out, http: bodies };
    for (const [where, text] of Object.entries(outputs)) {
      for (const [name, secret] of Object.entries({ token, jwtSecret, password })) {
        assert.equal(text.includes(secret), false, `${name} appears in ${where}:\n${text}`);
      }
    }
    assert.match(state.text, /Connection refused/, "the refusals should be logged");
  });
}
