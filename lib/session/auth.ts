/**
 * Who is connecting: the shared token, JWTs and an app's own hook, checked once on the WebSocket
 * handshake. Also the Origin allow-list and token redaction for logs.
 *
 * Order of checks, when an authenticator is made from several of them:
 * 1. The hook (an optional `auth.ts` in the app root), when given. A principal it returns is
 *    accepted as is. `null` means "not mine": the request falls through to 2 and 3, or is refused
 *    when neither is configured. An error it throws rejects the returned promise (the server
 *    answers 500). So a hook adds ways in; to make the hook the only gate, configure neither
 *    `AUTH_TOKEN` nor `JWT_SECRET`.
 * 2. The shared token (`AUTH_TOKEN`), compared in constant time. Principal id `"token"`, all
 *    permissions, no expiry.
 * 3. A JWT signed with `JWT_SECRET` (HS256). Principal id = the `sub` claim (`"jwt"` when absent),
 *    permissions from the `perms` claim, `expiresAt` from `exp`, `user` from `sub` and `info` from
 *    the `info` claim (both for presence entries).
 * With both 2 and 3 configured, either one lets the client in.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { type JwtClaims, JwtError, verifyJwt } from "./jwt.ts";
import { type Permissions, permissionsFromClaims } from "./permissions.ts";

/** An authenticated client. */
export interface Principal {
  /** Who it is: a user or device id, for logs and `sendTo`. */
  id: string;
  /** What it may do; absent: everything. */
  permissions?: Permissions;
  /** When its credentials expire, in ms since the epoch; the server may close the socket then. */
  expiresAt?: number;
  /** Topic filters subscribed at connect, before the client's first message (JWT `subs`). */
  subs?: readonly string[];
  /** The user it acts for (a JWT's `sub`), shown in presence entries; absent: none. */
  user?: string;
  /** What a JWT's `info` claim says about it, shown in presence entries; absent: none. */
  info?: unknown;
}

/** A custom authentication hook: the default export of an app's `auth.ts`. */
export type AuthHook = (
  req: Request,
  info: Deno.ServeHandlerInfo,
) => Principal | null | Promise<Principal | null>;

/** Checks a handshake request: a principal to let in, or `null` to refuse with 401. */
export type Authenticator = (
  req: Request,
  info: Deno.ServeHandlerInfo,
) => Promise<Principal | null>;

/** Options of {@link createAuthenticator}. */
export interface AuthOptions {
  /** The shared token (`AUTH_TOKEN`). */
  authToken?: string;
  /** The HS256 secret for JWTs (`JWT_SECRET`). */
  jwtSecret?: string;
  /** The app's own check; see the module doc for how it combines with the others. */
  hook?: AuthHook;
  /**
   * Called with the reason when a presented credential is refused ("Token expired at …"), for
   * logs. Never given the token itself.
   */
  onDenied?: (reason: string) => void;
}

const TOKEN_PARAM = /([?&]token=)[^&#]*/gi;

/**
 * Reads the client's credential: the `Authorization: Bearer <token>` header, else the `token`
 * query parameter (browsers cannot set headers on a WebSocket, so they use the URL).
 *
 * @param req The handshake request.
 * @returns The token, or `null` when none (or an empty one) is given.
 * @example
 * ```ts
 * tokenFromRequest(new Request("http://h/?token=abc")); // "abc"
 * ```
 */
export function tokenFromRequest(req: Request): string | null {
  const header = req.headers.get("authorization");
  if (header !== null) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m) return m[1];
  }
  const q = new URL(req.url).searchParams.get("token");
  return q ? q : null;
}

/**
 * Makes the handshake check from the configured methods.
 *
 * @param opts The shared token, JWT secret and/or hook, plus an optional `onDenied` logger.
 * @returns The authenticator, or `null` when nothing is configured (everyone is let in).
 * @throws {TypeError} When `authToken` or `jwtSecret` is an empty string (unset it instead).
 * @example
 * ```ts
 * const auth = createAuthenticator({ authToken: Deno.env.get("AUTH_TOKEN") });
 * const principal = auth ? await auth(req, info) : { id: "anonymous" };
 * if (!principal) return new Response("Unauthorized", { status: 401 });
 * ```
 */
export function createAuthenticator(opts: AuthOptions): Authenticator | null {
  const { authToken, jwtSecret, hook, onDenied } = opts;
  if (authToken === "") throw new TypeError("Auth token must not be empty: leave it unset instead");
  if (jwtSecret === "") throw new TypeError("JWT secret must not be empty: leave it unset instead");
  if (authToken === undefined && jwtSecret === undefined && hook === undefined) return null;
  // Digests have one length, and timingSafeEqual compares them in constant time, so the
  // comparison leaks neither the token nor its length.
  const expected = authToken === undefined ? undefined : sha256(authToken);

  return async (req, info) => {
    if (hook) {
      const principal = await hook(req, info);
      if (principal) return principal;
    }
    if (expected === undefined && jwtSecret === undefined) {
      onDenied?.("Refused by the auth hook");
      return null;
    }
    const token = tokenFromRequest(req);
    if (token === null) {
      onDenied?.("No token given");
      return null;
    }
    if (expected !== undefined && timingSafeEqual(sha256(token), expected)) {
      return { id: "token" };
    }
    if (jwtSecret === undefined) {
      onDenied?.("Wrong auth token");
      return null;
    }
    try {
      return principalFromClaims(await verifyJwt(token, jwtSecret));
    } catch (e) {
      if (!(e instanceof JwtError || e instanceof TypeError)) throw e;
      onDenied?.(
        expected === undefined ? e.message : `Neither the auth token nor a valid JWT: ${e.message}`,
      );
      return null;
    }
  };
}

/**
 * The principal of a verified JWT: id from `sub` (`"jwt"` when absent), permissions from `perms`,
 * expiry from `exp`, the filters to subscribe at connect from `subs`.
 *
 * @param claims The verified claims.
 * @returns The principal.
 * @throws {JwtError} When `subs` is not a list of strings (or `perms` is malformed).
 * @example
 * ```ts
 * principalFromClaims({ sub: "panel-7", exp: 1764640000, subs: ["panels/7"] });
 * // { id: "panel-7", expiresAt: 1764640000000, subs: ["panels/7"] }
 * ```
 */
export function principalFromClaims(claims: JwtClaims): Principal {
  const principal: Principal = { id: claims.sub ?? "jwt" };
  const permissions = permissionsFromClaims(claims);
  if (permissions) principal.permissions = permissions;
  if (claims.exp !== undefined) principal.expiresAt = claims.exp * 1000;
  if (claims.sub !== undefined) principal.user = claims.sub;
  if (claims.info !== undefined) principal.info = claims.info;
  const subs = claims.subs;
  if (subs !== undefined) {
    if (!Array.isArray(subs) || subs.some((s) => typeof s !== "string")) {
      throw new JwtError("malformed", 'Malformed token: "subs" must be a list of topic filters');
    }
    if (subs.length > 0) principal.subs = subs;
  }
  return principal;
}

/**
 * Hides the `token` query value of a URL for logs; everything else is kept as it was.
 *
 * @param url A full URL or a path with a query.
 * @returns The URL with each `token=` value replaced by `***`.
 * @example
 * ```ts
 * redactToken("/?batch=1&token=s3cret"); // "/?batch=1&token=***"
 * ```
 */
export function redactToken(url: string): string {
  return url.replace(TOKEN_PARAM, "$1***");
}

/**
 * Checks a handshake's Origin against the allow-list (`ALLOWED_ORIGINS`), by exact match.
 *
 * The check stops cross-site WebSocket hijacking: a page on another site opening a socket with
 * the user's ambient credentials. Browsers always send Origin on a WebSocket handshake, so a
 * missing Origin means a non-browser client (an agent, a script) and is allowed: such a client
 * can send any Origin it likes, so refusing it would protect nothing; authentication is the
 * token's job. The literal origin `"null"` (sandboxed frames, `file:` pages) must be listed to be
 * allowed.
 *
 * @param origin The `Origin` header, or `null` when absent.
 * @param allowed Origins such as `https://panel.example:8443`; empty: all allowed.
 * @returns `true` when the handshake may proceed.
 * @example
 * ```ts
 * originAllowed("https://evil.example", ["https://panel.example"]); // false
 * ```
 */
export function originAllowed(origin: string | null, allowed: readonly string[]): boolean {
  if (allowed.length === 0 || origin === null) return true;
  return allowed.includes(origin);
}

/** The SHA-256 digest of a token: 32 bytes whatever the token's length. */
function sha256(s: string): Uint8Array {
  return createHash("sha256").update(s, "utf8").digest();
}
