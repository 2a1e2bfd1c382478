/**
 * The API's `command` method: runs a command as client `src: "api"` through the real dispatcher
 * (lib/http/api_client.ts). Without streaming, the answer is the final reply, its code as the
 * HTTP status. With `Accept: application/x-ndjson` the status is 200 and every reply, progress
 * included, is one line of the body as it happens; the last line is the final reply (no
 * `more`). A streaming client that goes away cancels the command (its signal aborts); without
 * streaming the command runs to its end or its time limit (Deno's `request.signal` also aborts
 * after every successful response, so it cannot tell).
 *
 * @module
 */
import { type ApiClientHost, callAsClient, json, type Sent, strip } from "./api_client.ts";
import { Code } from "../wire/protocol.ts";

/**
 * Runs a command for the API.
 *
 * @param host The hub, the dispatcher and the nesting limit.
 * @param body `{command, args?, kwargs?}`, already validated.
 * @param stream Whether to stream every reply as NDJSON.
 * @returns The response.
 */
export async function runCommand(
  host: ApiClientHost,
  body: Sent,
  stream: boolean,
): Promise<Response> {
  const message = { mode: "req_res", action: "req", ...body };
  if (!stream) {
    let final: Sent = { code: Code.FAILED, msg: "No reply" };
    await callAsClient(host, message, (sent) => {
      if (sent.more === true) return false;
      final = strip(sent);
      return true;
    }).done;
    return json(final as Sent & { code: number });
  }
  const encoder = new TextEncoder();
  let call: ReturnType<typeof callAsClient> | undefined;
  const lines = new ReadableStream<Uint8Array>({
    start(controller) {
      call = callAsClient(host, message, (sent) => {
        controller.enqueue(encoder.encode(JSON.stringify(strip(sent)) + "\n"));
        if (sent.more === true) return false;
        return true;
      });
      call.done.then(() => {
        try {
          controller.close();
        } catch {
          // Cancelled by the reader already.
        }
      });
    },
    cancel() {
      call?.cancel();
    },
  });
  return new Response(lines, {
    status: 200,
    headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" },
  });
}
