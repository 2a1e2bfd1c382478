/**
 * The in-memory user store shared by add_user and del_user (a leading `_` keeps this file out
 * of the routes: it is a helper, not a command).
 */

/** A stored user. */
export interface User {
  id: number;
  name: string;
  age?: number;
}

const users = new Map<number, User>();
let lastId = 0;

/** Adds a user and returns it with its new id. */
export function addUser(fields: Omit<User, "id">): User {
  const user = { id: ++lastId, ...fields };
  users.set(user.id, user);
  return user;
}

/** Removes a user; returns it, or undefined when there was none with that id. */
export function deleteUser(id: number): User | undefined {
  const user = users.get(id);
  users.delete(id);
  return user;
}
