/**
 * `deno task dev`: regenerates routes.gen.ts and restarts the server whenever a file under
 * commands/, topics/, workers/ or lib/ changes. Extra arguments go to the server
 * (`deno task dev --port 8080`); `--root DIR` serves another app folder.
 */
import { join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { generateRoutes } from "./routes_gen.ts";

const DEBOUNCE_MS = 100;
const WATCHED = ["commands", "topics", "workers", "lib", "main.ts"];

const args = [...Deno.args];
const rootAt = args.findIndex((a) => a === "--root" || a.startsWith("--root="));
const root = resolve(
  rootAt < 0 ? Deno.cwd() : args[rootAt].includes("=") ? args[rootAt].slice(7) : args[rootAt + 1],
);
const main = join(import.meta.dirname ?? ".", "..", "..", "main.ts");
if (rootAt >= 0 && !args.includes("--root")) args.splice(rootAt, 1, "--root", root);
else if (rootAt < 0 && resolve(root) !== resolve(main, "..")) args.push("--root", root);

let child: Deno.ChildProcess | undefined;

async function regenerate(): Promise<boolean> {
  try {
    if (await generateRoutes(root)) console.error("dev: routes.gen.ts regenerated");
    return true;
  } catch (err) {
    console.error(`dev: ${(err as Error).message}`);
    return false;
  }
}

async function restart(): Promise<void> {
  if (child !== undefined) {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
  }
  child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", main, ...args],
    stdin: "null",
  }).spawn();
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    try {
      child?.kill("SIGTERM");
      await child?.status;
    } finally {
      Deno.exit(0);
    }
  });
}

await regenerate();
await restart();

const paths = WATCHED.map((p) => join(root, p)).filter((p) => existsSync(p));
const watchRoot = join(root, "commands");
if (!paths.includes(watchRoot)) {
  Deno.mkdirSync(watchRoot, { recursive: true });
  paths.push(watchRoot);
}
let timer: ReturnType<typeof setTimeout> | undefined;
for await (const event of Deno.watchFs(paths, { recursive: true })) {
  if (event.paths.every((p) => p.endsWith("routes.gen.ts"))) continue;
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (await regenerate()) await restart();
  }, DEBOUNCE_MS);
}
