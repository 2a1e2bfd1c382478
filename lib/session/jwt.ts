/**
 * HS256 JSON Web Tokens (RFC 7519) with Web Crypto only: verification for the server, signing for
 * tests and tools. Only HS256 is accepted, whatever the token's header says (no "none", no
 * algorithm confusion). Every way a token can be bad surfaces as a {@link JwtError}.
 */

/** The claims of a verified token: the registered ones typed, anything else unknown. */
export interface JwtClaims {
  /** Subject: who the token is for. */
  sub?: string;
  /** Expiry, in seconds since the epoch. */
  exp?: number;
  /** Not before, in seconds since the epoch. */
  nbf?: number;
  /** Issued at, in seconds since the epoch. */
  iat?: number;
  [claim: string]: unknown;
}

/** Why a token was rejected, for callers that count or log reasons. */
export type JwtErrorReason = "malformed" | "algorithm" | "signature" | "expired" | "not_before";

/** A token that failed verification. The message is safe to log: it never contains the token. */
export class JwtError extends Error {
  /** Which check failed. */
  readonly reason: JwtErrorReason;

  /**
   * @param reason Which check failed.
   * @param message What is wrong, in sentence case.
   */
  constructor(reason: JwtErrorReason, message: string) {
    super(message);
    this.name = "JwtError";
    this.reason = reason;
  }
}

/** Options of {@link verifyJwt}. */
export interface VerifyJwtOptions {
  /** The current time in ms since the epoch. Default: `Date.now()`. */
  now?: number;
  /** Seconds of clock skew tolerated on `exp` and `nbf`. Default: 0. */
  leewaySec?: number;
}

/** Longer tokens are rejected before any decoding: a token is a header value, not a payload. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const HEADER = toBase64Url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
// A process holds one or two secrets; the cap only guards against callers that pass many.
const MAX_CACHED_KEYS = 16;
const keys = new Map<string, Promise<CryptoKey>>();

/**
 * Signs claims as an HS256 JWT.
 *
 * @param payload The claims; `exp`, `nbf` and `iat` are seconds since the epoch.
 * @param secret The shared HMAC secret.
 * @returns The compact token `header.payload.signature`.
 * @throws {TypeError} When the secret is empty.
 * @example
 * ```ts
 * const token = await signJwt({ sub: "panel-1", exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
 * ```
 */
export async function signJwt(payload: Record<string, unknown>, secret: string): Promise<string> {
  const body = `${HEADER}.${toBase64Url(encoder.encode(JSON.stringify(payload)))}`;
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(body));
  return `${body}.${toBase64Url(new Uint8Array(sig))}`;
}

/**
 * Verifies an HS256 JWT and returns its claims. The signature is checked with
 * `crypto.subtle.verify` (constant time) before the payload is read.
 *
 * @param token The compact token.
 * @param secret The shared HMAC secret.
 * @param options The current time in ms (a number, for short calls) or {@link VerifyJwtOptions}.
 * @returns The token's claims.
 * @throws {JwtError} When the token is malformed, not HS256, wrongly signed, expired or not yet
 * valid.
 * @throws {TypeError} When the secret is empty.
 * @example
 * ```ts
 * try {
 *   const claims = await verifyJwt(token, secret);
 *   console.log(claims.sub);
 * } catch (e) {
 *   if (e instanceof JwtError) console.log(`Rejected: ${e.message}`);
 * }
 * ```
 */
export async function verifyJwt(
  token: string,
  secret: string,
  options?: number | VerifyJwtOptions,
): Promise<JwtClaims> {
  const opts = typeof options === "number" ? { now: options } : options ?? {};
  if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH) {
    throw new JwtError("malformed", "Malformed token: not a string of at most 16 KiB");
  }
  const dot1 = token.indexOf(".");
  const dot2 = dot1 < 0 ? -1 : token.indexOf(".", dot1 + 1);
  if (dot2 < 0 || token.indexOf(".", dot2 + 1) >= 0) {
    throw new JwtError("malformed", "Malformed token: expected three dot-separated parts");
  }
  const header = decodeJson(token.slice(0, dot1), "header");
  if (header.alg !== "HS256") {
    const alg = typeof header.alg === "string" ? `"${header.alg.slice(0, 32)}"` : "missing";
    throw new JwtError("algorithm", `Unsupported token algorithm ${alg}: only HS256 is accepted`);
  }
  // RFC 7515 §4.1.11: a verifier must reject critical extensions it does not understand.
  if (header.crit !== undefined) {
    throw new JwtError("malformed", 'Malformed token: unsupported "crit" header');
  }
  const signature = decodeBase64Url(token.slice(dot2 + 1), "signature");
  const signed = encoder.encode(token.slice(0, dot2));
  if (!await crypto.subtle.verify("HMAC", await hmacKey(secret), signature, signed)) {
    throw new JwtError("signature", "Invalid token signature");
  }
  const claims = decodeJson(token.slice(dot1 + 1, dot2), "payload") as JwtClaims;
  checkTimes(claims, opts.now ?? Date.now(), opts.leewaySec ?? 0);
  return claims;
}

function checkTimes(claims: JwtClaims, nowMs: number, leewaySec: number): void {
  const now = nowMs / 1000;
  for (const name of ["exp", "nbf", "iat"] as const) {
    const v = claims[name];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v))) {
      throw new JwtError("malformed", `Malformed token: "${name}" must be a number of seconds`);
    }
  }
  if (claims.sub !== undefined && typeof claims.sub !== "string") {
    throw new JwtError("malformed", 'Malformed token: "sub" must be a string');
  }
  // RFC 7519: the token is valid strictly before `exp` and from `nbf` on.
  if (claims.exp !== undefined && now >= claims.exp + leewaySec) {
    throw new JwtError("expired", `Token expired at ${isoTime(claims.exp)}`);
  }
  if (claims.nbf !== undefined && now + leewaySec < claims.nbf) {
    throw new JwtError("not_before", `Token not valid before ${isoTime(claims.nbf)}`);
  }
}

function isoTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? `${seconds}` : d.toISOString();
}

function hmacKey(secret: string): Promise<CryptoKey> {
  if (typeof secret !== "string" || secret.length === 0) {
    throw new TypeError("JWT secret must be a non-empty string");
  }
  let key = keys.get(secret);
  if (key === undefined) {
    if (keys.size >= MAX_CACHED_KEYS) keys.clear();
    key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keys.set(secret, key);
  }
  return key;
}

function decodeBase64Url(part: string, what: string): Uint8Array<ArrayBuffer> {
  // fromBase64 would skip whitespace and accept padding: a JWT part allows neither.
  if (part.length === 0 || !BASE64URL.test(part)) {
    throw new JwtError("malformed", `Malformed token: ${what} is not base64url`);
  }
  try {
    return Uint8Array.fromBase64(part, { alphabet: "base64url" });
  } catch {
    throw new JwtError("malformed", `Malformed token: ${what} is not base64url`);
  }
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(decodeBase64Url(part, what)));
  } catch (e) {
    if (e instanceof JwtError) throw e;
    throw new JwtError("malformed", `Malformed token: ${what} is not UTF-8 JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwtError("malformed", `Malformed token: ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function toBase64Url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}
