/**
 * Deletes a user by id: `kwargs: {"id": 1}` or `args: [1]`. An unknown id is a 404.
 */
import { CommandError, defineCommand, z } from "../lib/mod.ts";
import { deleteUser } from "./_users.ts";

export default defineCommand({
  description: "Delete a user by id",
  args: z.tuple([z.number().int()]).or(z.tuple([])),
  kwargs: z.object({ id: z.number().int().optional() }),
  handle(ctx) {
    const id = ctx.kwargs.id ?? ctx.args[0];
    if (id === undefined) throw new CommandError(400, "Give the user's id: kwargs.id or args[0]");
    const user = deleteUser(id);
    if (user === undefined) throw new CommandError(404, "没查到");
    return [user];
  },
});
