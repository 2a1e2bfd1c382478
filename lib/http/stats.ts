/**
 * `GET /stats.json`: what the console's charts and topic table read, built from plain values —
 * the same counters and gauges as /metrics, and the filters subscribed on this node with their
 * subscriber counts. The console turns counter differences into rates; the server keeps no
 * history for it.
 */

/** What the endpoint is built from; the handler fills it from the server's state. */
export interface StatsSnapshot {
  /** Counters and gauges by their /metrics name without the `switchboard_` prefix. */
  counters: Record<string, number>;
  /** Subscribed filters on this node and how many local clients hold each. */
  topics: Iterable<readonly [filter: string, subscribers: number]>;
}

/** The JSON body of `/stats.json`. */
export interface StatsBody {
  /** When the snapshot was taken, in ms since the epoch. */
  time: number;
  counters: Record<string, number>;
  /** The busiest filters first, at most {@link MAX_TOPICS}. */
  topics: { filter: string; subscribers: number }[];
  /** How many filters are subscribed in all, including those left out of `topics`. */
  topicCount: number;
}

/** The most topics listed: the page stays small however many filters clients use. */
export const MAX_TOPICS = 100;

/**
 * Builds the body of `/stats.json`.
 *
 * @param snapshot Takes the current counters and topic counts; called once per request.
 * @param now The clock, injectable for tests.
 * @returns The body, topics sorted by subscribers (most first), then by filter.
 * @example
 * ```ts
 * statsBody(() => ({ counters: { connections: 2 }, topics: [["a/#", 2]] }));
 * // { time: …, counters: { connections: 2 }, topics: [{ filter: "a/#", subscribers: 2 }], topicCount: 1 }
 * ```
 */
export function statsBody(snapshot: () => StatsSnapshot, now: number = Date.now()): StatsBody {
  const { counters, topics } = snapshot();
  const all = [...topics].map(([filter, subscribers]) => ({ filter, subscribers }));
  all.sort((a, b) => b.subscribers - a.subscribers || (a.filter < b.filter ? -1 : 1));
  return { time: now, counters, topics: all.slice(0, MAX_TOPICS), topicCount: all.length };
}

/**
 * Answers `GET /stats.json`.
 *
 * @param snapshot Takes the current counters and topic counts.
 * @returns A JSON response that caches must not keep.
 */
export function statsResponse(snapshot: () => StatsSnapshot): Response {
  return Response.json(statsBody(snapshot), { headers: { "cache-control": "no-store" } });
}
