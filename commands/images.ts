/**
 * The old library's `images` example: lists the PNG, JPEG and GIF files of IMAGES_DIR (default:
 * the sample folder `assets/images/` of this repository), or of its subfolder `kwargs.dir`, reads
 * each without blocking the event loop and hashes it in the worker pool (`workers/image_info.ts`).
 *
 * Reply data, in file-name order, one object per image, keyed `img<N>` as the old library did:
 * `[{"img1": "dot_2x2.png", "format": "png", "width": 2, "height": 2, "bytes": 84, "sha256": "…"}]`.
 * Paths are relative to IMAGES_DIR (the server's own layout stays private). Files with another
 * extension, symlinks and files that are not a readable image are skipped; an empty or missing
 * folder is a 404 and a `dir` outside IMAGES_DIR a 400.
 */
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { CommandError, defineCommand, z } from "../lib/mod.ts";
import type { CommandContext } from "../lib/mod.ts";
import type { ImageInfo } from "../workers/image_info.ts";

/** The default folder: the samples that `assets/make_samples.ts` writes. */
const SAMPLES_DIR = join(import.meta.dirname!, "..", "assets", "images");
const IMAGE_FILE = /\.(png|jpe?g|gif)$/i;
/** Larger files are skipped: each one is held in memory while it is hashed. */
const MAX_IMAGE_BYTES = 64 * 1024 * 1024;
/** Images read and hashed at once, at most (and never more than the pool has workers). */
const MAX_PARALLEL = 4;
const byName = new Intl.Collator("en", { numeric: true }).compare;

type Ctx = CommandContext<unknown[], { dir?: string }>;

export default defineCommand({
  description: "List the images of IMAGES_DIR with their pixel size and SHA-256",
  kwargs: z.object({
    dir: z.string().max(1024).refine((s) => !s.includes("\0"), "must not contain NUL")
      .optional(),
  }),
  async handle(ctx) {
    const { root, folder, label } = await findFolder(
      ctx.config.IMAGES_DIR ?? SAMPLES_DIR,
      ctx.kwargs.dir,
    );
    const names = await listImages(folder, label);
    const lanes = Math.max(1, Math.min(MAX_PARALLEL, ctx.config.WORKERS));
    const infos = await mapLimit(names, lanes, (name) => inspect(ctx, folder, name));
    const found: Record<string, unknown>[] = [];
    infos.forEach((info, i) => {
      if (info === null) return;
      const path = relative(root, join(folder, names[i])).split(sep).join("/");
      found.push({ [`img${found.length + 1}`]: path, ...info });
    });
    if (found.length === 0) throw new CommandError(404, `No images in ${label}`, []);
    return found;
  },
});

/** Resolves `dir` inside the root, refusing any path (or symlink) that leads out of it. */
async function findFolder(base: string, dir: string | undefined) {
  const label = dir ? `folder "${dir}"` : "IMAGES_DIR";
  const root = await realPath(resolve(base), "IMAGES_DIR");
  if (!dir) return { root, folder: root, label };
  if (escapes(root, resolve(root, dir))) {
    throw new CommandError(400, `Folder "${dir}" is outside IMAGES_DIR`, []);
  }
  const folder = await realPath(resolve(root, dir), label);
  // Checked again on the real path: a symlink inside the root may point out of it.
  if (escapes(root, folder)) {
    throw new CommandError(400, `Folder "${dir}" is outside IMAGES_DIR`, []);
  }
  return { root, folder, label };
}

function escapes(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

async function realPath(path: string, label: string): Promise<string> {
  try {
    const real = await Deno.realPath(path);
    if ((await Deno.stat(real)).isDirectory) return real;
  } catch (err) {
    const missing = err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory;
    if (!missing) throw err;
  }
  throw new CommandError(404, `Image folder not found: ${label}`, []);
}

/** Regular files with an image extension, in natural name order (`img2` before `img10`). */
async function listImages(folder: string, label: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.isFile && IMAGE_FILE.test(entry.name)) names.push(entry.name);
  }
  if (names.length === 0) throw new CommandError(404, `No images in ${label}`, []);
  return names.sort(byName);
}

/** Reads one file (async) and moves its bytes to the pool; null when it is skipped. */
async function inspect(ctx: Ctx, folder: string, name: string): Promise<ImageInfo | null> {
  const path = join(folder, name);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    const { size } = await Deno.stat(path);
    if (size > MAX_IMAGE_BYTES) {
      ctx.log.warn(`Skipped image "${name}": larger than ${MAX_IMAGE_BYTES} bytes`, { size });
      return null;
    }
    bytes = await Deno.readFile(path, { signal: ctx.signal });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null; // removed since it was listed
    throw err;
  }
  try {
    return await ctx.offload<ImageInfo>("image_info", bytes, { transfer: [bytes.buffer] });
  } catch (err) {
    if (!(err instanceof CommandError) || err.code !== 400) throw err;
    ctx.log.warn(`Skipped image "${name}": ${err.message}`);
    return null;
  }
}

/** Maps with at most `limit` calls pending; results keep the input order. */
async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
