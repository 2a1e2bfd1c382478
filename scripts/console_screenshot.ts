/**
 * Makes docs/console.png: the console of a server on a free port with simulated shop-floor
 * traffic (agents joining, cameras publishing, panels subscribing and calling commands), taken in
 * headless Chromium once the charts have a minute of history.
 *
 * Usage: deno run --allow-all scripts/console_screenshot.ts [--seconds 60] [--out docs/console.png]
 */
import { parseArgs } from "node:util";
import { createServer } from "../lib/create_server.ts";
import { createLogger } from "../lib/log.ts";
import routes from "../routes.gen.ts";
import { launchChromium } from "../tests/_browser.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "60" },
    out: { type: "string", default: "docs/console.png" },
  },
});
const seconds = Number(values.seconds);

const server = await createServer({
  routes,
  port: 0,
  host: "127.0.0.1",
  logger: createLogger("warn", "pretty"),
});
const base = `ws://127.0.0.1:${server.port}/`;

/** A client that sends what it is told and reads everything. */
function client(src: string): Promise<WebSocket> {
  const ws = new WebSocket(`${base}?src=${src}`);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`Cannot connect ${src}`));
  });
}
const send = (ws: WebSocket, msg: unknown) => ws.send(JSON.stringify(msg));

const sockets: WebSocket[] = [];
const panels: WebSocket[] = [];
const cameras: WebSocket[] = [];
const filters = [["camera/+/frame"], ["vision/#"], ["user"], ["robot/arm1/state", "vision/#"]];

const started = Date.now();
const timer = setInterval(async () => {
  const t = (Date.now() - started) / 1000;
  // Panels join over the first half minute, two drop off later and come back.
  if (panels.length < 8 && Math.random() < 0.25) {
    const ws = await client("front");
    send(ws, { mode: "pub_sub", action: "sub", topic: filters[panels.length % filters.length] });
    panels.push(ws);
    sockets.push(ws);
  }
  if (cameras.length < 3 && t > 3 * cameras.length) {
    const ws = await client("camera");
    cameras.push(ws);
    sockets.push(ws);
  }
  if (t > seconds * 0.6 && t < seconds * 0.7 && panels.length > 6) panels.pop()?.close();
  // Cameras publish in waves; panels call the heartbeat and add_user now and then.
  const wave = 6 + 5 * Math.sin(t / 6);
  cameras.forEach((ws, i) => {
    for (let k = 0; k < wave; k++) {
      send(ws, { mode: "pub_sub", action: "pub", topic: `camera/${i + 1}/frame`, data: { n: k } });
    }
    send(ws, { mode: "pub_sub", action: "pub", topic: "vision/defects", data: [i] });
  });
  for (const ws of panels) {
    if (Math.random() < 0.5) send(ws, { mode: "req_res", action: "req", command: "web" });
  }
  if (Math.random() < 0.2 && cameras[0]) {
    send(cameras[0], { mode: "pub_sub", action: "pub", topic: "robot/arm1/state", data: "ok" });
  }
}, 250);

const browser = await launchChromium({ width: 1400, height: 1180 });
try {
  const page = await browser.context.newPage();
  await page.goto(`http://127.0.0.1:${server.port}/`);
  await page.waitForFunction(() => document.querySelector("#conn")?.textContent === "connected");
  await page.fill("#sub-filter", "vision/#");
  await page.click("#sub-form button[value=sub]");
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await page.click("#heartbeat");
  const form = page.locator('details[data-command="add_user"]');
  await form.locator("summary").click();
  await form.locator('input[name="kwargs.name"]').fill("jw");
  await form.locator('input[name="kwargs.age"]').fill("-3");
  await form.locator("button").click();
  await page.waitForSelector('details[data-command="add_user"] .issues li');
  await page.screenshot({ path: values.out, fullPage: false });
  console.log(`Wrote ${values.out}`);
} finally {
  clearInterval(timer);
  for (const ws of sockets) ws.close();
  await browser.close();
  await server.shutdown();
}

// deno-lint-ignore no-explicit-any
declare const document: any;
