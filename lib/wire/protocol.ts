/**
 * The wire protocol (v1): message shapes, the code table and the checks of incoming frames.
 *
 * Incoming frames are checked twice over only when they are bad: a hand-written fast path accepts
 * the common shapes without allocating, and only a rejected frame is run through the zod schema,
 * whose issues go back to the client in `data`. Tests check that both agree.
 */
import { z } from "zod";
import { type SessionMessage, sessionSchema } from "./session.ts";

export { type SessionMessage, sessionSchema };

/** The protocol codes, as the old library used them plus the extensions. */
export const Code = {
  OK: 200,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  TIMEOUT: 408,
  TOO_LARGE: 413,
  RATE_LIMITED: 429,
  FAILED: 500,
  UNAVAILABLE: 503,
} as const;

/** A correlation id: the client's choice, echoed in replies. */
export type MessageId = string | number;

/** A request of mode req_res. */
export interface RequestMessage {
  mode: "req_res";
  action: "req";
  src?: string;
  id?: MessageId;
  command: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A pub_sub message from a client: sub, unsub or pub; presence and presence_stats (v2). */
export interface PubSubMessage {
  mode: "pub_sub";
  action: "sub" | "unsub" | "pub" | "history" | "presence" | "presence_stats";
  src?: string;
  id?: MessageId;
  topic: string | string[];
  code?: number;
  msg?: string;
  data?: unknown;
  retain?: boolean;
  /** On `sub`: receive join and leave events of the presence topics of this sub. */
  join_leave?: boolean;
  [key: string]: unknown;
}

/** Any message a client may send. */
export type ClientMessage = RequestMessage | PubSubMessage | SessionMessage;

/** What a handler or the server sends: the optional fields of a reply or publish. */
export interface Outgoing {
  src?: string;
  code?: number;
  msg?: string;
  data?: unknown;
  [key: string]: unknown;
}

/** Limits that the frame check needs. */
export interface FrameLimits {
  /** Deepest nesting of arrays and objects accepted. */
  maxDepth: number;
}

const MODES = new Set(["req_res", "pub_sub", "session"]);
const REQ_RES_ACTIONS = new Set(["req"]);
const PUB_SUB_ACTIONS = new Set(["sub", "unsub", "pub", "history", "presence", "presence_stats"]);
const SESSION_ACTIONS = new Set(["refresh"]);
const ACTIONS = { req_res: REQ_RES_ACTIONS, pub_sub: PUB_SUB_ACTIONS, session: SESSION_ACTIONS };
const MAX_ID_LENGTH = 128;
const MAX_SRC_LENGTH = 64;
const MAX_COMMAND_LENGTH = 128;

const idSchema = z.union([z.string().max(MAX_ID_LENGTH), z.number().finite()]);
const base = {
  src: z.string().min(1).max(MAX_SRC_LENGTH).optional(),
  id: idSchema.optional(),
};

/** The zod schema of a request, used for error messages and the API contract. */
export const requestSchema = z.looseObject({
  mode: z.literal("req_res"),
  action: z.literal("req"),
  ...base,
  command: z.string().min(1).max(MAX_COMMAND_LENGTH),
  args: z.array(z.unknown()).optional(),
  kwargs: z.record(z.string(), z.unknown()).optional(),
});

/** The zod schema of a pub_sub message, used for error messages and the API contract. */
export const pubSubSchema = z.looseObject({
  mode: z.literal("pub_sub"),
  action: z.enum(["sub", "unsub", "pub", "history", "presence", "presence_stats"]),
  ...base,
  topic: z.union([z.string(), z.array(z.string())]),
  code: z.number().int().optional(),
  msg: z.string().optional(),
  retain: z.boolean().optional(),
  join_leave: z.boolean().optional(),
});

const SCHEMAS = { req_res: requestSchema, pub_sub: pubSubSchema, session: sessionSchema };

/** The result of checking one incoming frame. */
export type FrameCheck =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: number; msg: string; data?: unknown; id?: MessageId; mode?: string };

/**
 * Parses and checks one text frame.
 *
 * @param text The frame's text (already checked for size).
 * @param limits The nesting limit.
 * @returns The message, or the code, message and issues of the error reply.
 */
export function parseFrame(text: string, limits: FrameLimits): FrameCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, code: Code.BAD_REQUEST, msg: `Invalid JSON: ${(err as Error).message}` };
  }
  return checkMessage(value, limits);
}

/**
 * Checks a parsed value against the protocol.
 *
 * @param value What JSON.parse returned.
 * @param limits The nesting limit.
 * @returns The message, or the code, message and issues of the error reply.
 */
export function checkMessage(value: unknown, limits: FrameLimits): FrameCheck {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, code: Code.BAD_REQUEST, msg: "Invalid message: expected a JSON object" };
  }
  const m = value as Record<string, unknown>;
  const id = validId(m.id) ? m.id as MessageId : undefined;
  const mode = m.mode;
  const shape = unsafeShape(m, limits.maxDepth);
  if (shape) {
    return {
      ok: false,
      code: Code.BAD_REQUEST,
      msg: `Invalid message: ${shape}`,
      id,
      mode: modeOf(mode),
    };
  }
  if (typeof mode !== "string" || !MODES.has(mode)) {
    return {
      ok: false,
      code: mode === undefined || typeof mode !== "string" ? Code.BAD_REQUEST : Code.NOT_FOUND,
      msg: mode === undefined
        ? 'Invalid message: "mode" is required'
        : typeof mode !== "string"
        ? 'Invalid message: "mode" must be a string'
        : `Unknown mode: ${JSON.stringify(mode)} (expected "req_res", "pub_sub" or "session")`,
      id,
    };
  }
  const actions = ACTIONS[mode as keyof typeof ACTIONS];
  if (typeof m.action !== "string" || !actions.has(m.action)) {
    return {
      ok: false,
      code: typeof m.action === "string" ? Code.NOT_FOUND : Code.BAD_REQUEST,
      msg: typeof m.action === "string"
        ? `Unknown action for mode "${mode}": ${JSON.stringify(m.action)}`
        : m.action === undefined
        ? 'Invalid message: "action" is required'
        : 'Invalid message: "action" must be a string',
      id,
      mode,
    };
  }
  if (fastValid(m, mode)) return { ok: true, message: m as unknown as ClientMessage };
  const schema = SCHEMAS[mode as keyof typeof SCHEMAS];
  const result = schema.safeParse(m);
  if (result.success) return { ok: true, message: m as unknown as ClientMessage };
  return {
    ok: false,
    code: Code.BAD_REQUEST,
    msg: `Invalid message: ${describeIssues(result.error.issues)}`,
    data: issuesToData(result.error.issues),
    id,
    mode,
  };
}

function modeOf(mode: unknown): string | undefined {
  return typeof mode === "string" && MODES.has(mode) ? mode : undefined;
}

function validId(id: unknown): boolean {
  return (typeof id === "string" && id.length <= MAX_ID_LENGTH) ||
    (typeof id === "number" && Number.isFinite(id));
}

/** The hand-checked common shapes; false sends the frame to zod for the exact issues. */
function fastValid(m: Record<string, unknown>, mode: string): boolean {
  const src = m.src;
  if (
    src !== undefined &&
    (typeof src !== "string" || src.length === 0 || src.length > MAX_SRC_LENGTH)
  ) {
    return false;
  }
  if (m.id !== undefined && !validId(m.id)) return false;
  if (mode === "req_res") {
    const c = m.command;
    if (typeof c !== "string" || c.length === 0 || c.length > MAX_COMMAND_LENGTH) return false;
    if (m.args !== undefined && !Array.isArray(m.args)) return false;
    const k = m.kwargs;
    return k === undefined || (typeof k === "object" && k !== null && !Array.isArray(k));
  }
  if (mode === "session") return typeof m.token === "string" && m.token.length > 0;
  const t = m.topic;
  if (typeof t !== "string") {
    if (!Array.isArray(t)) return false;
    for (let i = 0; i < t.length; i++) if (typeof t[i] !== "string") return false;
  }
  if (m.code !== undefined && !Number.isInteger(m.code)) return false;
  if (m.msg !== undefined && typeof m.msg !== "string") return false;
  if (m.join_leave !== undefined && typeof m.join_leave !== "boolean") return false;
  return m.retain === undefined || typeof m.retain === "boolean";
}

/**
 * Finds `__proto__` keys and nesting beyond the limit. JSON.parse makes `__proto__` an own key,
 * harmless until some code copies the object with spread or Object.assign; refusing it keeps
 * every later copy safe. The recursion stops at the limit, so a hostile frame cannot overflow it.
 * The backend API checks its bodies with it too. Returns what is wrong, or null.
 */
export function unsafeShape(node: object, maxDepth: number, depth = 1): string | null {
  if (depth > maxDepth) return `nesting deeper than ${maxDepth} levels`;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const v = node[i];
      if (typeof v === "object" && v !== null) {
        const found = unsafeShape(v, maxDepth, depth + 1);
        if (found !== null) return found;
      }
    }
    return null;
  }
  if (Object.hasOwn(node, "__proto__")) return 'key "__proto__" is not allowed';
  for (const key in node) {
    const v = (node as Record<string, unknown>)[key];
    if (typeof v === "object" && v !== null) {
      const found = unsafeShape(v, maxDepth, depth + 1);
      if (found !== null) return found;
    }
  }
  return null;
}

/** A zod issue, trimmed to what a client needs. */
export interface Issue {
  path: string;
  message: string;
}

/**
 * Turns zod issues into the `data` of a 400 reply.
 *
 * @param issues The issues of a failed safeParse.
 * @returns One `{path, message}` per issue, the path joined with dots.
 */
export function issuesToData(issues: readonly z.core.$ZodIssue[]): Issue[] {
  return issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
}

/**
 * Describes zod issues in one line for the `msg` of a 400 reply.
 *
 * @param issues The issues of a failed safeParse.
 * @returns For example `"command": Invalid input: expected string, received number`.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.slice(0, 3).map((i) =>
    i.path.length ? `"${i.path.map(String).join(".")}": ${i.message}` : i.message
  ).join("; ") + (issues.length > 3 ? ` (and ${issues.length - 3} more)` : "");
}
