/**
 * Entry point: read the settings, create the server from the routes file, serve until SIGTERM.
 * `deno task start` runs it; `--root DIR` serves another app folder's routes.gen.ts instead.
 */
import routes from "./routes.gen.ts";
import { loadConfig } from "./lib/config.ts";
import { createServer } from "./lib/create_server.ts";
import { StartupError } from "./lib/wire/errors.ts";

try {
  const { config, root } = loadConfig(Deno.env.toObject(), Deno.args);
  const server = await createServer(root ? { ...config, root } : { ...config, routes });
  const stop = () => server.shutdown().then(() => Deno.exit(0));
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
} catch (err) {
  if (!(err instanceof StartupError)) throw err;
  console.error(err.message);
  Deno.exit(1);
}
