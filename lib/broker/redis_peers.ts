/**
 * Questions between nodes over Redis, for what needs every node's answer: the backend API's
 * `clients` (who is connected where), `send` and `disconnect` (how many were reached).
 *
 * - A question is published on `<prefix>:q` as `<node id> <seq> <question>`. PUBLISH answers with
 *   the number of subscribers that got it, so the asking node knows how many answers to wait
 *   for (every node but itself) without a registry of nodes.
 * - Each other node answers on the asker's own channel `<prefix>:r:<node id>` with
 *   `<seq> <answer>`.
 * - The asker resolves with the answers when all have come, or with those that came when the
 *   deadline passes (a node that died between the PUBLISH and its answer). Redis down: no
 *   answers, at once.
 *
 * It has a subscriber connection of its own, so a slow answer never holds up publishes.
 *
 * @module
 */
import type { Peers, TransportSink } from "./broker.ts";
import { reason, type RedisConnection, type RedisLink } from "./redis_connection.ts";

/** How long an asker waits for the answers of other nodes, by default. */
export const ASK_TIMEOUT_MS = 1000;

interface Asked {
  answers: string[];
  expected: number;
  resolve(answers: string[]): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Asks the other nodes and answers them. */
export class RedisPeers implements Peers {
  readonly #redis: RedisConnection;
  readonly #sink: TransportSink;
  readonly #nodeId: string;
  readonly #questions: string;
  readonly #answers: string;
  readonly #sub: RedisLink;
  readonly #asked = new Map<number, Asked>();
  readonly #timeoutMs: number;
  #seq = 0;
  /** Whether this node's subscription to questions is confirmed (it hears its own, too). */
  #listening = false;
  #closing: Promise<void> | undefined;

  /**
   * @param redis The node's Redis connections.
   * @param sink Where questions from other nodes are answered (`answer`).
   * @param options This node's id and the deadline of a question.
   */
  constructor(
    redis: RedisConnection,
    sink: TransportSink,
    options: { nodeId: string; timeoutMs?: number },
  ) {
    this.#redis = redis;
    this.#sink = sink;
    this.#nodeId = options.nodeId;
    this.#timeoutMs = options.timeoutMs ?? ASK_TIMEOUT_MS;
    this.#questions = `${redis.namespace}q`;
    this.#answers = `${redis.namespace}r:${options.nodeId}`;
    redis.use();
    this.#sub = redis.open("peers", () => this.#subscribe());
  }

  /** Whether questions can be asked and answered now (the subscription is confirmed). */
  get ready(): boolean {
    return this.#listening && this.#sub.ready && this.#redis.command.ready;
  }

  /**
   * Asks every other node.
   *
   * @param question The question's text.
   * @returns The answers that came before the deadline (none when Redis is down).
   */
  async ask(question: string): Promise<string[]> {
    const client = this.#redis.command.ready ? this.#redis.command.client : undefined;
    if (client === undefined || this.#closing !== undefined) return [];
    const seq = ++this.#seq;
    const { promise, resolve } = Promise.withResolvers<string[]>();
    const asked: Asked = {
      answers: [],
      expected: Infinity,
      resolve,
      timer: setTimeout(() => this.#done(seq), this.#timeoutMs),
    };
    this.#asked.set(seq, asked);
    try {
      const receivers = await client.publish(this.#questions, `${this.#nodeId} ${seq} ${question}`);
      // This node gets its own question too, when its subscription is up.
      asked.expected = this.#listening && this.#sub.ready ? receivers - 1 : receivers;
    } catch (err) {
      this.#redis.warn("peers", `Cannot ask the other nodes: ${reason(err)}`);
      asked.expected = 0;
    }
    if (asked.answers.length >= asked.expected) this.#done(seq);
    return await promise;
  }

  close(): Promise<void> {
    return this.#closing ??= (async () => {
      for (const seq of [...this.#asked.keys()]) this.#done(seq);
      await this.#sub.close();
      await this.#redis.release();
    })();
  }

  #done(seq: number): void {
    const asked = this.#asked.get(seq);
    if (asked === undefined) return;
    this.#asked.delete(seq);
    clearTimeout(asked.timer);
    asked.resolve(asked.answers);
  }

  #subscribe(): void {
    // Listening again after a reconnection is harmless: a listener is held once per channel.
    const sub = this.#sub.client!;
    sub.listen("c", [this.#questions], this.#onQuestion).then(() => this.#listening = true)
      .catch(this.#failed);
    sub.listen("c", [this.#answers], this.#onAnswer).catch(this.#failed);
  }

  readonly #failed = (err: unknown): void => {
    if (this.#sub.ready) this.#redis.warn("peers", `Redis subscribe failed: ${reason(err)}`);
  };

  readonly #onQuestion = (message: string): void => {
    const space = message.indexOf(" ");
    const space2 = message.indexOf(" ", space + 1);
    if (space < 0 || space2 < 0) return;
    const asker = message.slice(0, space);
    if (asker === this.#nodeId) return;
    const seq = message.slice(space + 1, space2);
    const question = message.slice(space2 + 1);
    void (async () => {
      const answer = await this.#sink.answer?.(question) ?? "null";
      await this.#redis.command.client?.publish(
        `${this.#redis.namespace}r:${asker}`,
        `${seq} ${answer}`,
      );
    })().catch((err) => this.#redis.warn("peers", `Cannot answer a node: ${reason(err)}`));
  };

  readonly #onAnswer = (message: string): void => {
    const space = message.indexOf(" ");
    const asked = this.#asked.get(Number(message.slice(0, space)));
    if (space < 0 || asked === undefined) return;
    asked.answers.push(message.slice(space + 1));
    if (asked.answers.length >= asked.expected) this.#done(Number(message.slice(0, space)));
  };
}
