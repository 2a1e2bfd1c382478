/**
 * A multi-turn dialogue: asks for a name, waits for the client's next message of this dialogue
 * (same `id`, or its next message when it sends no ids), then greets.
 */
import { CommandError, defineCommand, reply } from "../lib/mod.ts";

export default defineCommand({
  description: "Ask for a name, then greet",
  async handle(ctx) {
    ctx.send({ msg: "What is your name? Reply with kwargs.name" });
    const answer = await ctx.recv();
    const name = (answer as { kwargs?: { name?: unknown } }).kwargs?.name;
    if (typeof name !== "string" || name === "") {
      throw new CommandError(400, "Expected kwargs.name as a non-empty string");
    }
    return reply({ msg: `Hello, ${name}!`, data: { name } });
  },
});
