/**
 * Adds a user to the in-memory store and announces it on the `user` topic.
 */
import { defineCommand, z } from "../lib/mod.ts";
import { addUser } from "./_users.ts";

export default defineCommand({
  description: "Add a user",
  kwargs: z.object({ name: z.string().min(1).max(100), age: z.number().int().min(0).optional() }),
  handle(ctx) {
    const user = addUser(ctx.kwargs);
    ctx.publish("user", { src: "agent", msg: "添加了一个用户", data: [user] });
    return [user];
  },
});
