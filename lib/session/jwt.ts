/**
 * HS256 JSON Web Tokens (RFC 7519) over `jose`: verification for the server, signing for tests and
 * tools. Only HS256 is accepted, whatever the token's header says (no "none", no algorithm
 * confusion). Every way a token can be bad surfaces as a {@link JwtError}.
 *
 * `jose` checks the signature (in constant time, with Web Crypto) and `exp`/`nbf`; this module
 * adds what it leaves open: a size cap, strict base64url parts (no padding, no whitespace), no
 * `crit` header at all, a string `sub`, and messages safe to log.
 */
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";

/**
 * The claims of a verified token: the registered ones typed, anything else (`perms`, `info`,
 * `subs`, …) kept as it was sent.
 */
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

/** The one algorithm accepted, pinned in every verification. */
const ALGORITHM = "HS256";
// A part of a compact token: jose's decoder would also take padding and whitespace.
const PART = /^[A-Za-z0-9_-]+$/;
const encoder = new TextEncoder();

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
  const key = secretBytes(secret);
  return await new SignJWT(payload).setProtectedHeader({ alg: ALGORITHM, typ: "JWT" }).sign(key);
}

/**
 * Verifies an HS256 JWT and returns its claims, all of them. The signature is checked (in
 * constant time) before the payload is read.
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
  const parts = token.split(".");
  if (parts.length !== 3) {
    throw new JwtError("malformed", "Malformed token: expected three dot-separated parts");
  }
  checkPart(parts[0], "header");
  checkHeader(token);
  checkPart(parts[1], "payload");
  checkPart(parts[2], "signature");
  const key = secretBytes(secret);
  let claims: JwtClaims;
  try {
    const verified = await jwtVerify<JwtClaims>(token, key, {
      algorithms: [ALGORITHM],
      currentDate: new Date(opts.now ?? Date.now()),
      clockTolerance: opts.leewaySec ?? 0,
    });
    claims = verified.payload;
  } catch (e) {
    throw toJwtError(e);
  }
  if (claims.sub !== undefined && typeof claims.sub !== "string") {
    throw new JwtError("malformed", 'Malformed token: "sub" must be a string');
  }
  return claims;
}

function checkPart(part: string, what: string): void {
  if (!PART.test(part)) {
    throw new JwtError("malformed", `Malformed token: ${what} is not base64url`);
  }
}

/** Refuses any algorithm but HS256, and any `crit` header, before the signature is checked. */
function checkHeader(token: string): void {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new JwtError("malformed", "Malformed token: header is not a UTF-8 JSON object");
  }
  if (header.alg !== ALGORITHM) {
    const alg = typeof header.alg === "string" ? `"${header.alg.slice(0, 32)}"` : "missing";
    throw new JwtError("algorithm", `Unsupported token algorithm ${alg}: only HS256 is accepted`);
  }
  // RFC 7515 §4.1.11: a verifier must reject critical extensions it does not understand.
  if (header.crit !== undefined) {
    throw new JwtError("malformed", 'Malformed token: unsupported "crit" header');
  }
}

/** Turns a jose error into a JwtError with a message that names no value from the token. */
function toJwtError(e: unknown): unknown {
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return new JwtError("signature", "Invalid token signature");
  }
  if (e instanceof errors.JWTExpired) {
    return new JwtError("expired", `Token expired at ${isoTime(e.payload.exp)}`);
  }
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "nbf" && e.reason === "check_failed") {
      return new JwtError("not_before", `Token not valid before ${isoTime(e.payload.nbf)}`);
    }
    return new JwtError("malformed", `Malformed token: "${e.claim}" must be a number of seconds`);
  }
  if (e instanceof errors.JWTInvalid) {
    return new JwtError("malformed", "Malformed token: payload is not a UTF-8 JSON object");
  }
  if (e instanceof errors.JOSEError) return new JwtError("malformed", "Malformed token");
  return e;
}

function isoTime(seconds: unknown): string {
  const d = new Date(Number(seconds) * 1000);
  return Number.isNaN(d.getTime()) ? `${seconds}` : d.toISOString();
}

function secretBytes(secret: string): Uint8Array {
  if (typeof secret !== "string" || secret.length === 0) {
    throw new TypeError("JWT secret must be a non-empty string");
  }
  return encoder.encode(secret);
}
