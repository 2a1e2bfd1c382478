/**
 * Replies with what it was given: `data: {args, kwargs}`. Handy for trying a client.
 */
import { defineCommand } from "../lib/mod.ts";

export default defineCommand({
  description: "Reply with the args and kwargs received",
  handle: ({ args, kwargs }) => ({ args, kwargs }),
});
