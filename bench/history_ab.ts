/**
 * In-process A/B of the fan-out path with history off, with rules that do not cover the topic, and
 * with history on: three servers in one process (memory broker, no listener), 1,000 subscribers
 * each on sockets that discard what they get, and one publisher whose frames go through the
 * intake as a client's would. The three alternate in rounds and the median round time of each is
 * compared, so the ratio holds even on a busy machine (the figures of `deno task bench` are
 * system figures and move with every other process). It measures the server's own work per
 * publish, not the network.
 *
 * Usage: `deno run -A bench/history_ab.ts [rounds] [publishes per round]`
 *
 * @module
 */
import { parseConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { loadRoutes } from "../lib/routes.ts";
import { Switchboard } from "../lib/server.ts";
import type { Connection, SocketLike } from "../lib/session/connection.ts";

const SUBSCRIBERS = 1000;
const rounds = Number(Deno.args[0] ?? 30);
const perRound = Number(Deno.args[1] ?? 200);

const sink: SocketLike = { send() {}, close() {}, bufferedAmount: 0 };

interface Setup {
  name: string;
  server: Switchboard;
  publisher: Connection;
  times: number[];
}

function setup(name: string, history: string | undefined): Setup {
  const config = parseConfig({ LOG_LEVEL: "silent", RATE_LIMIT: "0", HISTORY: history });
  const server = new Switchboard(config, loadRoutes({}), {
    logger: createLogger("silent", "json"),
  });
  const open = () => {
    const conn = server.hub.attach(sink, { ip: "127.0.0.1" });
    conn.handleEvent(new Event("open"));
    return conn;
  };
  const sub = JSON.stringify({ mode: "pub_sub", action: "sub", topic: ["bench"] });
  for (let i = 0; i < SUBSCRIBERS; i++) {
    open().handleEvent(new MessageEvent("message", { data: sub }));
  }
  return { name, server, publisher: open(), times: [] };
}

const setups = [
  setup("history off", undefined),
  setup("rules, none for the topic", "line/+/state=100,alarms/#=1000"),
  setup("history on", "bench=1000:300"),
];
let seq = 0;
const round = (s: Setup) => {
  const t0 = performance.now();
  for (let i = 0; i < perRound; i++) {
    const data = `{"mode":"pub_sub","action":"pub","src":"agent","topic":"bench","code":200,` +
      `"msg":"tick","data":{"seq":${++seq},"sent":${t0}}}`;
    s.publisher.handleEvent(new MessageEvent("message", { data }));
  }
  return performance.now() - t0;
};
// Subscriptions to a topic with history finish asynchronously (their ack waits for a read):
// let the event loop turn, as a server's does between socket events.
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));
await turn();
for (let r = 0; r < 5; r++) for (const s of setups) round(s), await turn(); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const s of setups) {
    s.times.push(round(s));
    await turn();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(setups[0].times);
console.log(
  `| Server path: 1 publish → ${SUBSCRIBERS} subscribers, in process | µs per publish | vs history off |`,
);
console.log("| --- | ---: | ---: |");
for (const s of setups) {
  const m = median(s.times);
  console.log(`| ${s.name} | ${((m * 1000) / perRound).toFixed(2)} | ${(base / m).toFixed(2)}× |`);
}
for (const s of setups) {
  const { published, delivered } = s.server.hub.stats;
  if (delivered !== published * SUBSCRIBERS) {
    throw new Error(`${s.name}: ${delivered} deliveries for ${published} publishes`);
  }
  await s.server.shutdown(0);
}
