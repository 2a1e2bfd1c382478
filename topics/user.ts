/**
 * The `user` topic callback, as the old library shipped it: after a publish on `user` has been
 * delivered, it publishes `{src: "agent", data: ["hahaha", "xixixi"]}` on `user`.
 */
import { defineTopic } from "../lib/mod.ts";

export default defineTopic({
  description: "Answers every publish on user with the old library's reply",
  onPublish: () => ({ src: "agent", data: ["hahaha", "xixixi"] }),
});
