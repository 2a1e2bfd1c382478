/**
 * A per-connection token bucket with abuse tracking. It uses no timers: tokens are refilled from
 * the time elapsed since the last call, and `take` allocates nothing, because it runs on every
 * message.
 *
 * Abuse rule ("close after sustained abuse"): rejections form a streak as long as each comes
 * within `quietMs` (default 1 s) of the previous one. A client that keeps sending faster than the
 * rate gets some messages through as tokens refill, but its rejections never pause, so its streak
 * grows; once the streak spans more than `disconnectAfterMs` (default 3 s), `shouldDisconnect`
 * says so. A short burst over the limit only earns 429 replies.
 */

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** The clock, in ms. Default: `Date.now`. */
  now?: () => number;
  /** How long rejections must go on before `shouldDisconnect` is true, in ms. Default: 3000. */
  disconnectAfterMs?: number;
  /** A pause without rejections this long, in ms, ends a streak. Default: 1000. */
  quietMs?: number;
}

/**
 * A token bucket: `ratePerSec` tokens a second, at most `burst` saved up, full at the start.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(5000, 10_000);
 * if (!bucket.take()) {
 *   reply(429, "Rate limited");
 *   if (bucket.shouldDisconnect()) socket.close(1008, "Rate limit exceeded");
 * }
 * ```
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #disconnectAfterMs: number;
  readonly #quietMs: number;
  #tokens: number;
  #last: number;
  #streakStart = -1; // time of the first rejection of the current streak; -1: none
  #lastReject = 0;
  #violations = 0;

  /**
   * @param ratePerSec Tokens added a second; 0 turns limiting off (`take` is always true).
   * @param burst The most tokens held, at least 1 when limiting is on.
   * @param options The clock (a function, for short calls) or {@link TokenBucketOptions}.
   * @throws {RangeError} When a number is negative, not finite, or the burst is below 1.
   */
  constructor(ratePerSec: number, burst: number, options?: (() => number) | TokenBucketOptions) {
    const opts = typeof options === "function" ? { now: options } : options ?? {};
    this.#disconnectAfterMs = opts.disconnectAfterMs ?? 3000;
    this.#quietMs = opts.quietMs ?? 1000;
    if (!(ratePerSec >= 0 && Number.isFinite(ratePerSec))) {
      throw new RangeError(`Rate must be a finite number of at least 0: got ${ratePerSec}`);
    }
    if (ratePerSec > 0 && !(burst >= 1 && Number.isFinite(burst))) {
      throw new RangeError(`Burst must be a finite number of at least 1: got ${burst}`);
    }
    if (!(this.#disconnectAfterMs >= 0) || !(this.#quietMs >= 0)) {
      throw new RangeError("Disconnect and quiet times must be at least 0 ms");
    }
    this.#rate = ratePerSec / 1000;
    this.#burst = burst;
    this.#now = opts.now ?? Date.now;
    this.#tokens = burst;
    this.#last = this.#now();
  }

  /**
   * Takes `n` tokens if there are enough.
   *
   * @param n Tokens to take, 1 per message by default.
   * @param nowMs The current time from the same clock, when the caller has it already.
   * @returns `true` when allowed (tokens taken), `false` when rate limited (nothing taken).
   */
  take(n = 1, nowMs: number = this.#now()): boolean {
    if (this.#rate === 0) return true;
    // A clock that steps back refills nothing instead of draining the bucket.
    if (nowMs > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (nowMs - this.#last) * this.#rate);
      this.#last = nowMs;
    }
    if (this.#streakStart >= 0 && nowMs - this.#lastReject > this.#quietMs) {
      this.#streakStart = -1;
      this.#violations = 0;
    }
    if (this.#tokens >= n) {
      this.#tokens -= n;
      return true;
    }
    if (this.#streakStart < 0) this.#streakStart = nowMs;
    this.#lastReject = nowMs;
    this.#violations++;
    return false;
  }

  /** Rejections in the current streak; the first `take` after `quietMs` without one resets it. */
  get violations(): number {
    return this.#violations;
  }

  /**
   * Tells whether the client has been over the limit for too long and should be disconnected.
   *
   * @param nowMs The current time from the same clock.
   * @returns `true` when the current streak of rejections has lasted more than
   * `disconnectAfterMs` and has not ended.
   */
  shouldDisconnect(nowMs: number = this.#now()): boolean {
    if (this.#streakStart < 0 || nowMs - this.#lastReject > this.#quietMs) return false;
    return this.#lastReject - this.#streakStart > this.#disconnectAfterMs;
  }
}
