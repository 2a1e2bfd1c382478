/**
 * The bare baseline: `Deno.serve` + `Deno.upgradeWebSocket`, one `JSON.parse` per message, the
 * `echo` command and pub/sub with one `JSON.stringify` per publish and a plain
 * `Map<topic, Set<socket>>`. No validation, ids, limits or logging: the physical limit of our
 * runtime, which Switchboard is measured against.
 *
 * It speaks just enough of the Switchboard protocol for the benchmark scenarios, with the same
 * reply shapes. A client that connects with `?batch=1` may send several messages in one frame
 * (one per line), and gets what one turn of the event loop produced for it in one frame at the
 * end of that turn (SPEC 2's batching rule with nothing else around it: what the bare runtime gets
 * from that rule, which the fan-out table reports as raw `?batch=1`).
 *
 * Run: `PORT=0 HOST=127.0.0.1 deno run --allow-net --allow-env bench/raw_server.ts`
 *
 * @module
 */

import { setImmediate } from "node:timers";

const SRC = "control";

/** Subscribers by exact topic name. */
const subscribers = new Map<string, Set<WebSocket>>();
/** Topics of each socket, to clean up on close. */
const topicsOf = new WeakMap<WebSocket, Set<string>>();

/** Sockets that connected with `?batch=1`. */
const batching = new WeakSet<WebSocket>();
/** How many are open: while none is, sending costs what it did before batching existed. */
let batchingOpen = 0;
/** What each batching socket gets at the end of this turn, joined with `\n`. */
const pending = new Map<WebSocket, string>();

// deno-lint-ignore no-explicit-any
type Message = any;

/** Sends now, or for a batching socket at the end of this turn with the rest of the turn. */
function send(socket: WebSocket, text: string): void {
  if (batchingOpen === 0 || !batching.has(socket)) return socket.send(text);
  const joined = pending.get(socket);
  if (joined !== undefined) return void pending.set(socket, joined + "\n" + text);
  if (pending.size === 0) setImmediate(flush);
  pending.set(socket, text);
}

function flush(): void {
  for (const [socket, text] of pending) {
    if (socket.readyState === WebSocket.OPEN) socket.send(text);
  }
  pending.clear();
}

function reply(socket: WebSocket, msg: Message, data: unknown): void {
  send(
    socket,
    JSON.stringify({
      mode: "req_res",
      action: "res",
      src: SRC,
      id: msg.id,
      command: msg.command,
      code: 200,
      msg: "success",
      data,
    }),
  );
}

function ack(socket: WebSocket, msg: Message, data: unknown): void {
  send(
    socket,
    JSON.stringify({
      mode: "pub_sub",
      action: "ack",
      src: SRC,
      id: msg.id,
      topic: msg.topic,
      code: 200,
      msg: "success",
      data,
    }),
  );
}

function fail(socket: WebSocket, code: number, text: string): void {
  send(socket, JSON.stringify({ mode: "req_res", action: "res", src: SRC, code, msg: text }));
}

function subscribe(socket: WebSocket, msg: Message): void {
  const own = topicsOf.get(socket)!;
  for (const topic of typeof msg.topic === "string" ? [msg.topic] : msg.topic) {
    let set = subscribers.get(topic);
    if (!set) subscribers.set(topic, set = new Set());
    set.add(socket);
    own.add(topic);
  }
  ack(socket, msg, [...own]);
}

function unsubscribe(socket: WebSocket, msg: Message): void {
  const own = topicsOf.get(socket)!;
  for (const topic of typeof msg.topic === "string" ? [msg.topic] : msg.topic) {
    subscribers.get(topic)?.delete(socket);
    own.delete(topic);
  }
  ack(socket, msg, [...own]);
}

function publish(socket: WebSocket, msg: Message): void {
  ack(socket, msg, null);
  const set = subscribers.get(msg.topic);
  if (!set) return;
  // One serialisation per publish, however many subscribers.
  const frame = JSON.stringify({
    mode: "pub_sub",
    action: "pub",
    src: msg.src,
    topic: msg.topic,
    code: msg.code,
    msg: msg.msg,
    data: msg.data,
  });
  for (const sub of set) send(sub, frame);
}

function handle(socket: WebSocket, text: string): void {
  let msg: Message;
  try {
    msg = JSON.parse(text);
  } catch {
    return fail(socket, 400, "Invalid JSON");
  }
  if (msg.mode === "req_res" && msg.action === "req") {
    if (msg.command === "echo") return reply(socket, msg, { args: msg.args, kwargs: msg.kwargs });
    return fail(socket, 404, `Unknown command "${msg.command}"`);
  }
  if (msg.mode === "pub_sub") {
    if (msg.action === "pub") return publish(socket, msg);
    if (msg.action === "sub") return subscribe(socket, msg);
    if (msg.action === "unsub") return unsubscribe(socket, msg);
  }
  fail(socket, 404, "Unknown mode or action");
}

function onClose(socket: WebSocket): void {
  const own = topicsOf.get(socket);
  if (!own) return;
  for (const topic of own) subscribers.get(topic)?.delete(socket);
  topicsOf.delete(socket);
  if (batching.delete(socket)) batchingOpen--;
}

Deno.serve({
  hostname: Deno.env.get("HOST") ?? "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 0),
}, (req) => {
  if (req.headers.get("upgrade") !== "websocket") return new Response("raw server\n");
  const batch = new URL(req.url).searchParams.get("batch") === "1";
  const { socket, response } = Deno.upgradeWebSocket(req);
  topicsOf.set(socket, new Set());
  if (batch) {
    batching.add(socket);
    batchingOpen++;
  }
  socket.onmessage = batch
    ? (e) => {
      for (const line of (e.data as string).split("\n")) if (line) handle(socket, line);
    }
    : (e) => handle(socket, e.data as string);
  socket.onclose = () => onClose(socket);
  return response;
});
