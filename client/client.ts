/**
 * The Switchboard client: one WebSocket, reconnected with back-off, that correlates replies by id,
 * keeps subscriptions across reconnects and queues what is sent before it is open.
 * Web APIs only, so the same file runs in browsers and Deno.
 *
 * @module
 */
import { type Deferred, deferred } from "./_deferred.ts";
import { type Dialogue, openDialogue } from "./dialogue.ts";
import { SwitchboardError } from "./errors.ts";
import { Refresher } from "./session.ts";
import { Requests } from "./requests.ts";
import { HistoryPositions } from "./history.ts";
import { topicMatches } from "./topic_match.ts";
import { type DeliveryHandler, type Subscriber, Subscriptions } from "./subscriptions.ts";
import type {
  Ack,
  CallOptions,
  ClientEvents,
  ClientState,
  ConnectOptions,
  Delivery,
  DialogueOptions,
  Message,
  PresenceEntry,
  PresenceEvent,
  PresenceStats,
  PublishOptions,
  Reply,
  SubscribeOptions,
} from "./types.ts";

/** What `subscribe` returns: call it to unsubscribe; `ready` is the server's ack. */
export interface Unsubscribe {
  /** Removes the handler; sends `unsub` for filters no other handler uses. Never rejects. */
  (): Promise<void>;
  /** The ack of the subscription; rejects with a SwitchboardError when it was refused. */
  readonly ready: Promise<Ack>;
}

const OPEN = 1;
/** How long a gap's recovery waits for its ack (without a client-wide `timeoutMs`). */
const RECOVER_TIMEOUT_MS = 10_000;
const CLOSED = 3;

/**
 * A connection to a Switchboard server. Make one with `connect(url, options)`.
 *
 * @example
 * ```ts
 * import { connect } from "./mod.ts";
 *
 * const sb = connect("ws://127.0.0.1:18887/", { src: "front" });
 * await sb.ready;
 * console.log(await sb.call("add_user", { kwargs: { name: "jw" } }));
 * await sb.close();
 * ```
 */
export class SwitchboardClient {
  /** The server's URL as given (without the query parameters the client adds). */
  readonly url: string;
  /** The client's role: `src` of every message. */
  readonly src: string;
  /** Resolves when the first connection opens; rejects if the client closes before. */
  readonly ready: Promise<void>;
  /** Resolves when the client is closed for good and its socket has finished closing. */
  readonly closed: Promise<void>;

  #options: ConnectOptions;
  #WebSocket: new (url: string) => WebSocket;
  #reconnect: { minMs: number; maxMs: number } | false;
  #state: ClientState = "connecting";
  #ws: WebSocket | undefined;
  #nextId = 1;
  #attempt = 0;
  #opens = 0;
  #openedAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #openTimer: ReturnType<typeof setTimeout> | undefined;
  #lastError: string | undefined;
  #ready = deferred<void>();
  #closed = deferred<void>();
  #requests: Requests;
  #subs = new Subscriptions();
  /** The ack each active filter waits for (or got). */
  #filterAcks = new Map<string, Promise<Ack>>();
  /** Settled by the next (re)subscription of all filters, sent when a socket opens. */
  #resub: Deferred<Ack> | undefined;
  #listeners = new Map<string, Set<(payload: never) => void>>();
  #refresher: Refresher | undefined;
  /** Positions in topics with history; recovered from after every reconnect and on gaps. */
  #history = new HistoryPositions();

  /**
   * Starts connecting at once; prefer `connect(url, options)`.
   *
   * @param url `ws://`, `wss://` (or `http(s)://`, or a path relative to the page in a browser).
   * @param options See {@linkcode ConnectOptions}.
   * @throws {SyntaxError} When the URL is not a WebSocket URL.
   */
  constructor(url: string | URL, options: ConnectOptions = {}) {
    const base = (globalThis as { location?: { href: string } }).location?.href;
    const parsed = new URL(url, base);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") {
      parsed.protocol = parsed.protocol === "http:" ? "ws:" : "wss:";
    }
    if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
      throw new SyntaxError(`Cannot connect to ${parsed.href}: expected a ws: or wss: URL`);
    }
    this.url = parsed.href;
    this.src = options.src ?? "front";
    this.#options = options;
    const getToken = options.getToken;
    if (getToken !== undefined) {
      this.#refresher = new Refresher({
        getToken,
        send: (msg) => {
          if (this.#ws === undefined || this.#ws.readyState !== OPEN) return false;
          this.#ws.send(JSON.stringify(msg));
          return true;
        },
        refreshed: (outcome) => {
          this.#emit("refresh", outcome);
          if (outcome.error) this.#emit("error", outcome.error);
        },
      });
    }
    this.#WebSocket = options.WebSocket ?? WebSocket;
    this.#reconnect = options.reconnect === false
      ? false
      : { minMs: options.reconnect?.minMs ?? 500, maxMs: options.reconnect?.maxMs ?? 5000 };
    this.#requests = new Requests({
      maxQueue: options.maxQueue ?? 1000,
      timeoutMs: options.timeoutMs,
    });
    this.ready = this.#ready.promise;
    this.closed = this.#closed.promise;
    void this.#connect();
  }

  /** `connecting` (first time), `open`, `reconnecting` or `closed`. */
  get state(): ClientState {
    return this.#state;
  }

  /** The filters subscribed to (by at least one handler). */
  get topics(): string[] {
    return this.#subs.filters;
  }

  /**
   * Listens to an event.
   *
   * @param type `open`, `close`, `reconnect`, `error` or `message`.
   * @param listener Gets the event's payload (see {@linkcode ClientEvents}).
   * @returns A function that removes the listener.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   *
   * const sb = connect("ws://127.0.0.1:18887/");
   * const off = sb.on("message", (msg) => console.log("broadcast:", msg.data));
   * off();
   * await sb.close();
   * ```
   */
  on<K extends keyof ClientEvents>(
    type: K,
    listener: (payload: ClientEvents[K]) => void,
  ): () => void {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, set = new Set());
    set.add(listener);
    return () => void set.delete(listener);
  }

  /**
   * Calls a command and waits for its final reply. Every call carries a new `id`, so calls run
   * concurrently on the server. A call is never sent twice: if the connection drops before its
   * final reply, it rejects with 503 "Connection lost" (commands are not idempotent).
   *
   * @param command The command's name.
   * @param options Arguments, progress callbacks, time limit, abort signal.
   * @returns The final reply's `data` (or the whole reply with `fullReply: true`).
   * @throws {SwitchboardError} A non-200 final reply (its code, msg and data); 408 when
   * `timeoutMs` passed; 503 when the connection dropped, the client closed or the queue is full.
   * Aborting rejects with the signal's reason.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   *
   * const sb = connect("ws://127.0.0.1:18887/");
   * const results = await sb.call("restartProcess", {
   *   onProgress: (percent, msg) => console.log(`${percent}% ${msg}`),
   *   timeoutMs: 130_000,
   * });
   * await sb.close();
   * ```
   */
  call<T = unknown>(command: string, options: CallOptions & { fullReply: true }): Promise<Reply<T>>;
  call<T = unknown>(command: string, options?: CallOptions): Promise<T>;
  call(command: string, options: CallOptions = {}): Promise<unknown> {
    const { args, kwargs, onProgress, onReply } = options;
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const message = { mode: "req_res", action: "req", src: this.src, id, command, args, kwargs };
      this.#requests.start(id, message, `Call "${command}"`, options, {
        receive: (msg) => {
          const reply = msg as Reply;
          if (typeof reply.process === "number") {
            this.#guard(() => onProgress?.(reply.process as number, reply.msg, reply));
          }
          if (reply.more === true) {
            this.#guard(() => onReply?.(reply));
            return false;
          }
          if (reply.code === 200) resolve(options.fullReply ? reply : reply.data);
          else reject(SwitchboardError.from(reply));
          return true;
        },
        fail: reject,
      });
    });
  }

  /**
   * Starts a multi-turn dialogue: a call whose handler asks questions with `ctx.send` and waits
   * for the answers with `ctx.recv()`. Answers carry the dialogue's `id`.
   *
   * @param command The command's name.
   * @param options The first request's arguments, a time limit for the whole dialogue, a signal.
   * @returns The dialogue: `next()`, `send(kwargs)`, `done`.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   *
   * const sb = connect("ws://127.0.0.1:18887/");
   * const d = sb.dialogue("wizard");
   * await d.next(); // the question
   * d.send({ name: "jw" });
   * console.log(await d.done); // { name: "jw" }
   * await sb.close();
   * ```
   */
  dialogue<T = unknown>(command: string, options: DialogueOptions = {}): Dialogue<T> {
    const id = this.#nextId++;
    const head = { mode: "req_res", action: "req", src: this.src, id, command };
    const control = openDialogue<T>(id, (answer) => {
      // `dialogue: true`: if the command ended meanwhile, the server answers 400 instead of
      // taking the answer for a new request and running the command again.
      this.#requests.write(JSON.stringify({ ...head, ...answer, dialogue: true }), id);
    });
    const message = { ...head, args: options.args, kwargs: options.kwargs };
    this.#requests.start(id, message, `Dialogue "${command}"`, options, {
      receive: (msg) => control.reply(msg as Reply),
      fail: control.fail,
    });
    return control.dialogue;
  }

  /**
   * Publishes on a topic.
   *
   * @param topic A topic name (no wildcards).
   * @param options `code`, `msg`, `data`, `retain`, and a local `timeoutMs` for the ack.
   * @returns The server's ack.
   * @throws {SwitchboardError} A non-200 ack (400 for a wildcard topic, 403, …), or 408/503 as
   * for `call`. A publish is never sent twice.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   *
   * const sb = connect("ws://127.0.0.1:18887/", { src: "agent" });
   * await sb.publish("line/1/state", { msg: "running", data: { rpm: 1200 }, retain: true });
   * await sb.close();
   * ```
   */
  publish(topic: string, options: PublishOptions = {}): Promise<Ack> {
    const { timeoutMs, ...fields } = options;
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const message = { mode: "pub_sub", action: "pub", src: this.src, id, topic, ...fields };
      this.#requests.start(id, message, `Publish on "${topic}"`, { timeoutMs }, {
        receive: (msg) => (settleAck(msg, resolve, reject), true),
        fail: reject,
      });
    });
  }

  /**
   * Who is on a topic now, across every node: one entry per connection holding an exact
   * subscription to it (docs/presence.md).
   *
   * @param topic A topic name (no wildcards) that has presence.
   * @param options A local time limit for the answer.
   * @returns The entries.
   * @throws {SwitchboardError} 400 for a wildcard topic, 403 without subscribe permission, 404
   * when the topic has no presence, or 408/503 as for `call`.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   *
   * const sb = connect("ws://127.0.0.1:18887/");
   * for (const e of await sb.presence("panels/7")) console.log(e.user, e.src);
   * await sb.close();
   * ```
   */
  presence(topic: string, options: { timeoutMs?: number } = {}): Promise<PresenceEntry[]> {
    return this.#ask<PresenceEntry[]>("presence", topic, options.timeoutMs);
  }

  /**
   * How many connections and distinct users are on a topic now.
   *
   * @param topic A topic name (no wildcards) that has presence.
   * @param options A local time limit for the answer.
   * @returns `{ clients, users }`.
   * @throws {SwitchboardError} As for `presence`.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   *
   * const sb = connect("ws://127.0.0.1:18887/");
   * const { clients, users } = await sb.presenceStats("panels/7");
   * await sb.close();
   * ```
   */
  presenceStats(topic: string, options: { timeoutMs?: number } = {}): Promise<PresenceStats> {
    return this.#ask<PresenceStats>("presence_stats", topic, options.timeoutMs);
  }

  /** Sends a pub_sub question with an id; resolves with its answer's `data`. */
  #ask<T>(action: string, topic: string, timeoutMs: number | undefined): Promise<T> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const message = { mode: "pub_sub", action, src: this.src, id, topic };
      this.#requests.start(id, message, `${action} of "${topic}"`, { timeoutMs }, {
        receive: (msg) => {
          if (msg.code === 200) resolve(msg.data as T);
          else reject(SwitchboardError.from(msg));
          return true;
        },
        fail: reject,
      });
    });
  }

  /**
   * Subscribes a handler to one or more topic filters (MQTT wildcards `+` and `#`). The handler
   * gets only deliveries whose topic matches one of its filters, once per delivery, retained
   * replays (`retained: true`) included. The client sends `sub` for a filter when its first
   * handler subscribes, `unsub` after its last handler leaves, and subscribes again to every
   * filter after a reconnect.
   *
   * @param topics A filter or a list of filters.
   * @param handler Called with each matching delivery.
   * @param options `joinLeave`: called with the join and leave events of the presence topics the
   * filters match (docs/presence.md).
   * @returns A function that unsubscribes, with `ready`: the ack (rejects when refused, and then
   * the handler is removed).
   * @throws {TypeError} When no filter is given.
   *
   * @example
   * ```ts
   * import { connect } from "./mod.ts";
   *
   * const sb = connect("ws://127.0.0.1:18887/");
   * const unsubscribe = sb.subscribe("machines/+/state", (d) => console.log(d.topic, d.data));
   * await unsubscribe.ready;
   * await unsubscribe();
   * await sb.close();
   * ```
   */
  subscribe<T = unknown>(
    topics: string | readonly string[],
    handler: (delivery: Delivery<T>) => void,
    options: SubscribeOptions = {},
  ): Unsubscribe {
    const filters = typeof topics === "string" ? [topics] : [...topics];
    if (filters.length === 0) throw new TypeError("Cannot subscribe: no topic filter given");
    if (this.#state === "closed") {
      return Object.assign(() => Promise.resolve(), { ready: rejected<Ack>(closedError()) });
    }
    const joinLeave = options.joinLeave;
    const { subscriber, added } = this.#subs.add(filters, handler as DeliveryHandler, joinLeave);
    // With joinLeave, filters already subscribed are sent again, with `join_leave`.
    const send = joinLeave ? subscriber.filters : added;
    if (send.length > 0) {
      if (this.#state === "open") this.#subscribe(send, { joinLeave: joinLeave !== undefined });
      else for (const filter of send) this.#filterAcks.set(filter, this.#afterResub());
    }
    let done: Promise<void> | undefined;
    const unsubscribe = () => done ??= this.#unsubscribe(subscriber);
    const acks = subscriber.filters.map((f) => this.#filterAcks.get(f) as Promise<Ack>);
    const ready = Promise.all(acks).then((all) => all[all.length - 1], (err) => {
      void unsubscribe();
      throw err;
    });
    ready.catch(() => {});
    return Object.assign(unsubscribe, { ready });
  }

  /**
   * Closes the client: stops reconnecting, clears its timers, rejects what is pending or queued
   * with 503 "Client closed", and closes the socket.
   *
   * @returns `closed`: resolves once the socket has finished closing.
   */
  close(): Promise<void> {
    if (this.#state === "closed") return this.closed;
    this.#state = "closed";
    clearTimeout(this.#timer);
    clearTimeout(this.#openTimer);
    this.#failAll(closedError());
    const ws = this.#ws;
    if (ws !== undefined && ws.readyState !== CLOSED) ws.close(1000, "Client closed");
    else this.#closed.resolve();
    return this.closed;
  }

  // --- subscriptions ---------------------------------------------------------------------------

  /**
   * Sends `sub` for filters; the ack is what their handlers' `ready` waits for. After a reconnect
   * it carries `recover` (every position and the last ack's `time`); `joinLeave` asks for the
   * presence events of their topics.
   */
  #subscribe(
    filters: readonly string[],
    opts: { joinLeave?: boolean; recovering?: boolean } = {},
  ): Promise<Ack> {
    const recovering = opts.recovering === true;
    const id = this.#nextId++;
    const recover = recovering && !this.#history.empty ? this.#history.recover() : undefined;
    const ack = new Promise<Ack>((resolve, reject) => {
      const message = {
        mode: "pub_sub",
        action: "sub",
        src: this.src,
        id,
        topic: filters,
        join_leave: opts.joinLeave || undefined,
        recover,
      };
      // A refused subscription is also an `error` event: handlers may never see a delivery.
      const fail = (err: unknown) => {
        if (this.#state !== "closed") this.#emit("error", toError(err));
        reject(err);
      };
      this.#requests.start(id, message, "Subscribe", {}, {
        receive: (
          msg,
        ) => (this.#acked(msg, [...filters], recover !== undefined),
          settleAck(msg, resolve, fail),
          true),
        fail,
        // Subscribing is idempotent: the subscription of all filters after reconnecting answers it.
        drop: () => this.#afterResub().then(resolve, reject),
      });
    });
    ack.catch(() => {});
    for (const filter of filters) this.#filterAcks.set(filter, ack);
    return ack;
  }

  /** A subscription ack: its `time` and positions; a recovery's outcome goes to the app. */
  #acked(msg: Message, filters: string[], recovery: boolean): void {
    if (msg.code !== 200) return;
    this.#history.ack(msg as Ack, recovery);
    if (recovery && typeof msg.recovered === "boolean") {
      this.#emit("recovery", { recovered: msg.recovered, filters });
    }
  }

  /**
   * A gap in a topic's offsets (a delivery dropped for this slow client, or lost continuity):
   * subscribes again to the filters that match it, recovering from its position. Its live
   * deliveries are dropped until the ack; they come again, in order, after it.
   */
  #recoverTopic(topic: string): void {
    const pos = this.#history.get(topic);
    if (this.#state !== "open" || pos === undefined || !this.#history.recovering(topic)) return;
    const filters = this.#subs.filters.filter((f) => topicMatches(f, topic));
    if (filters.length === 0) return;
    const id = this.#nextId++;
    const recover = { positions: { [topic]: pos } };
    const message = { mode: "pub_sub", action: "sub", src: this.src, id, topic: filters, recover };
    // A slow client may lose the ack too: give up after a while; the next gap tries again.
    const limits = { timeoutMs: this.#options.timeoutMs ?? RECOVER_TIMEOUT_MS };
    this.#requests.start(id, message, "Recover", limits, {
      receive: (msg) => (this.#acked(msg, filters, true), true),
      fail: (err) => {
        this.#history.abandon(topic);
        if (this.#state !== "closed") this.#emit("error", toError(err));
      },
      drop: () => this.#history.abandon(topic), // the reconnect recovers everything
    });
  }

  #unsubscribe(subscriber: Subscriber): Promise<void> {
    const removed = this.#subs.remove(subscriber);
    for (const filter of removed) this.#filterAcks.delete(filter);
    if (removed.length > 0) {
      const filters = this.#subs.filters;
      this.#history.keep((topic) => filters.some((f) => topicMatches(f, topic)));
    }
    // While not open, nothing to send: the next (re)subscription leaves these filters out.
    if (removed.length === 0 || this.#state !== "open") return Promise.resolve();
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const message = { mode: "pub_sub", action: "unsub", src: this.src, id, topic: removed };
      const fail = (err: unknown) => {
        if (this.#state !== "closed") this.#emit("error", toError(err));
        resolve();
      };
      this.#requests.start(id, message, "Unsubscribe", {}, {
        receive: (msg) => (msg.code === 200 ? resolve() : fail(SwitchboardError.from(msg)), true),
        fail,
        drop: resolve,
      });
    });
  }

  #afterResub(): Promise<Ack> {
    return (this.#resub ??= deferred<Ack>()).promise;
  }

  /** On open: subscribes again to every filter (retained values then replay). */
  #restore(): void {
    const waiting = this.#resub;
    this.#resub = undefined;
    const watched = this.#subs.watched;
    const plain = this.#subs.filters.filter((f) => !watched.includes(f));
    const acks: Promise<Ack>[] = [];
    if (plain.length > 0) acks.push(this.#subscribe(plain, { recovering: true }));
    if (watched.length > 0) {
      acks.push(this.#subscribe(watched, { joinLeave: true, recovering: true }));
    }
    if (acks.length > 0) {
      const all = Promise.all(acks).then((list) => list[list.length - 1]);
      if (waiting !== undefined) all.then(waiting.resolve, waiting.reject);
    } else {
      waiting?.resolve({
        mode: "pub_sub",
        action: "ack",
        code: 200,
        msg: "unsubscribed",
        data: [],
      });
    }
  }

  // --- the socket ------------------------------------------------------------------------------

  async #connect(): Promise<void> {
    const url = new URL(this.url);
    if (this.#options.batch !== false) url.searchParams.set("batch", "1");
    if (!url.searchParams.has("src")) url.searchParams.set("src", this.src);
    const token = this.#options.getToken ?? this.#options.token;
    if (token !== undefined) {
      try {
        url.searchParams.set("token", typeof token === "string" ? token : await token());
      } catch (err) {
        if (this.#state === "closed") return;
        this.#lastError = `Cannot get a token: ${toError(err).message}`;
        return this.#lost(1006, "", false);
      }
    }
    if (this.#state === "closed") return;
    let ws: WebSocket;
    try {
      ws = new this.#WebSocket(url.href);
    } catch (err) {
      this.#lastError = toError(err).message; // a blocked URL or a broken WebSocket class
      return this.#lost(1006, "", false);
    }
    this.#ws = ws;
    this.#lastError = undefined;
    // A connection attempt into a black hole can hang for minutes in some browsers.
    this.#openTimer = setTimeout(() => {
      if (this.#ws !== ws || ws.readyState === OPEN) return;
      this.#lastError = `Not open after ${this.#options.openTimeoutMs ?? 10_000} ms`;
      ws.close();
    }, this.#options.openTimeoutMs ?? 10_000);
    ws.onopen = () => this.#onOpen(ws);
    ws.onmessage = (e) => this.#ws === ws && this.#onMessage(e.data);
    ws.onerror = (e) => {
      this.#lastError ??= (e as ErrorEvent).message || "WebSocket error";
    };
    ws.onclose = (e) => this.#onClose(ws, e);
  }

  #onOpen(ws: WebSocket): void {
    if (this.#ws !== ws || this.#state === "closed") return;
    clearTimeout(this.#openTimer);
    const reconnected = this.#opens++ > 0;
    this.#state = "open";
    this.#openedAt = Date.now();
    this.#ready.resolve();
    this.#requests.open(ws, () => this.#restore()); // subscriptions go before the queue
    this.#emit("open", { reconnected });
  }

  #onClose(ws: WebSocket, e: CloseEvent): void {
    if (this.#ws !== ws) return;
    this.#ws = undefined;
    clearTimeout(this.#openTimer);
    if (this.#state === "closed") {
      this.#emit("close", { code: e.code, reason: e.reason, willReconnect: false });
      this.#closed.resolve();
      return;
    }
    this.#lost(e.code, e.reason, this.#openedAt !== 0);
  }

  /** A socket closed (or could not be made) without `close()`. */
  #lost(code: number, reason: string, wasOpen: boolean): void {
    const lasted = wasOpen ? Date.now() - this.#openedAt : 0;
    this.#requests.lost();
    for (const filter of this.#subs.filters) this.#filterAcks.set(filter, this.#afterResub());
    const error = this.#lastError;
    const willReconnect = this.#reconnect !== false;
    this.#emit("close", { code, reason, willReconnect, ...(error ? { error } : {}) });
    if (this.#reconnect === false) {
      this.#state = "closed";
      this.#failAll(
        new SwitchboardError(503, wasOpen ? "Connection lost" : `Cannot connect to ${this.url}`),
      );
      this.#closed.resolve();
      return;
    }
    this.#state = "reconnecting";
    const { minMs, maxMs } = this.#reconnect;
    // Start the back-off again only after a connection that held: a server that accepts and
    // closes at once (client limit) must not be hammered.
    if (lasted > maxMs) this.#attempt = 0;
    const base = Math.min(maxMs, minMs * 2 ** this.#attempt);
    const delayMs = Math.round(base / 2 + Math.random() * base / 2);
    this.#attempt++;
    this.#openedAt = 0;
    this.#emit("reconnect", { attempt: this.#attempt, delayMs });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#connect();
    }, delayMs);
  }

  /** Rejects everything pending or queued: the client will not connect again. */
  #failAll(err: SwitchboardError): void {
    this.#requests.close(err);
    this.#resub?.reject(err);
    this.#resub = undefined;
    this.#ready.reject(err);
  }

  #onMessage(data: unknown): void {
    if (typeof data !== "string") {
      this.#emit("error", new Error("Ignored a binary frame: the protocol uses text frames"));
      return;
    }
    if (this.#options.batch !== false && data.includes("\n")) {
      for (const line of data.split("\n")) if (line !== "") this.#receive(line);
    } else this.#receive(data);
  }

  #receive(text: string): void {
    let msg: Message;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      this.#emit("error", new Error(`Cannot parse a message: ${toError(err).message}`));
      return;
    }
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
      this.#emit("error", new Error(`Ignored a message that is not an object: ${text}`));
      return;
    }
    if (msg.mode === "session" && this.#refresher?.receive(msg)) return;
    if (this.#requests.route(msg)) return;
    if (msg.mode === "pub_sub" && msg.action === "pub" && typeof msg.topic === "string") {
      const verdict = this.#history.check(msg as Delivery);
      if (verdict === "gap") return this.#recoverTopic(msg.topic);
      if (verdict === "drop") return;
      this.#subs.dispatch(msg as Delivery, (err) => this.#emit("error", toError(err)));
      return;
    }
    const event = presenceEvent(msg);
    if (event !== undefined) {
      this.#subs.dispatchJoinLeave(event, (err) => this.#emit("error", toError(err)));
      return;
    }
    this.#emit("message", msg);
  }

  // --- events ----------------------------------------------------------------------------------

  #emit<K extends keyof ClientEvents>(type: K, payload: ClientEvents[K]): void {
    const listeners = this.#listeners.get(type);
    if (listeners === undefined || listeners.size === 0) {
      // An error nobody listens to must not vanish (a refused subscription, a throwing handler).
      if (type === "error") console.error("Switchboard client:", payload);
      return;
    }
    for (const listener of [...listeners]) {
      if (type === "error") {
        try {
          (listener as (p: ClientEvents[K]) => void)(payload);
        } catch (err) {
          console.error("Switchboard client: an error listener threw", err);
        }
      } else this.#guard(() => (listener as (p: ClientEvents[K]) => void)(payload));
    }
  }

  /** Runs a user callback; what it throws becomes an `error` event. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#emit("error", toError(err));
    }
  }
}

/** A join, leave or presence_sync message as the event a `joinLeave` callback gets. */
function presenceEvent(msg: Message): PresenceEvent | undefined {
  if (msg.mode !== "pub_sub" || typeof msg.topic !== "string") return undefined;
  const data = msg.data as Record<string, unknown> | undefined;
  if (typeof data !== "object" || data === null) return undefined;
  if (msg.action === "join" || msg.action === "leave") {
    return { type: msg.action, topic: msg.topic, entry: data as unknown as PresenceEntry };
  }
  if (msg.action !== "presence_sync") return undefined;
  const count = (n: unknown) => typeof n === "number" ? n : undefined;
  return { type: "sync", topic: msg.topic, joins: count(data.joins), leaves: count(data.leaves) };
}

function settleAck(msg: Message, resolve: (ack: Ack) => void, reject: (err: unknown) => void) {
  if (msg.code === 200) resolve(msg as Ack);
  else reject(SwitchboardError.from(msg));
}

function closedError(): SwitchboardError {
  return new SwitchboardError(503, "Client closed");
}

function rejected<T>(err: unknown): Promise<T> {
  const promise = Promise.reject(err);
  promise.catch(() => {});
  return promise;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
