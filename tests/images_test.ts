/**
 * The `images` command end to end over a socket (sample folder, skipped files, empty and missing
 * folders, paths outside IMAGES_DIR) and its worker `workers/image_info.ts` in-process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Client, type Msg, req, startServer, withServer, wsUrl } from "./_client.ts";
import imageInfo, { imageSize } from "../workers/image_info.ts";
import { CancelledError, createContext } from "../lib/workers/api.ts";
import { CommandError } from "../lib/wire/errors.ts";

const SAMPLES = join(import.meta.dirname!, "..", "assets", "images");
/** The samples written by assets/make_samples.ts, in the order the command lists them. */
const SAMPLE_SIZES: [name: string, width: number, height: number][] = [
  ["dot_2x2.png", 2, 2],
  ["gradient_64x48.png", 64, 48],
  ["gray_31x7.png", 31, 7],
  ["stripes_320x200.png", 320, 200],
];
/** A valid 1x1 GIF89a (one transparent pixel). */
const GIF_1X1 = Uint8Array.from([
  0x47,
  0x49,
  0x46,
  0x38,
  0x39,
  0x61,
  0x01,
  0x00,
  0x01,
  0x00,
  0x80,
  0x00,
  0x00,
  0xff,
  0xff,
  0xff,
  0x00,
  0x00,
  0x00,
  0x21,
  0xf9,
  0x04,
  0x01,
  0x00,
  0x00,
  0x00,
  0x00,
  0x2c,
  0x00,
  0x00,
  0x00,
  0x00,
  0x01,
  0x00,
  0x01,
  0x00,
  0x00,
  0x02,
  0x02,
  0x44,
  0x01,
  0x00,
  0x3b,
]);

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What the command must report for a file, computed here independently of the worker. */
async function expected(path: string, format: string, width: number, height: number) {
  const bytes = await Deno.readFile(path);
  return { format, width, height, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) };
}

/** Starts a server (IMAGES_DIR as given), runs `fn` with a connected client, cleans up. */
function withClient(
  options: Record<string, unknown>,
  fn: (client: Client) => Promise<void>,
): Promise<void> {
  return withServer((_server, c) => fn(c), options);
}

/** A temporary folder with the given files, removed after `fn`. */
async function withFolder(
  files: Record<string, Uint8Array<ArrayBuffer> | string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "switchboard_images_" });
  try {
    for (const [name, content] of Object.entries(files)) {
      await Deno.mkdir(join(dir, name, ".."), { recursive: true });
      if (typeof content === "string") await Deno.writeTextFile(join(dir, name), content);
      else await Deno.writeFile(join(dir, name), content);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertError(reply: Msg, code: number, msg: string): void {
  assert.deepEqual(
    { code: reply.code, msg: reply.msg, data: reply.data },
    { code, msg, data: [] },
  );
}

Deno.test("images - lists the sample folder with exact sizes and SHA-256 over a socket", async () => {
  const want = await Promise.all(
    SAMPLE_SIZES.map(async ([name, width, height], i) => ({
      [`img${i + 1}`]: name,
      ...await expected(join(SAMPLES, name), "png", width, height),
    })),
  );
  const server = await startServer({ WORKERS: 2 });
  const client = await Client.connect(wsUrl(server));
  try {
    const r = await client.request(req("images"));
    assert.equal(r.code, 200, r.msg);
    assert.equal(r.msg, "success");
    assert.deepEqual(r.data, want);
    assert.equal(server.pool.stats().completed, SAMPLE_SIZES.length, "hashed in the pool");
  } finally {
    await client.close();
    await server.shutdown();
  }
});

Deno.test("images - skips other files, fake images, symlinks and subfolders", async () => {
  const dot = await Deno.readFile(join(SAMPLES, "dot_2x2.png"));
  const files = {
    "notes.txt": "not an image",
    "fake.png": "not a PNG either, despite its name",
    "cut.png": dot.slice(0, 20), // a PNG signature, but the header is cut off
    "pic2.GIF": GIF_1X1,
    "pic10.png": dot,
    "sub/inner.png": dot,
  };
  await withFolder(files, async (dir) => {
    await Deno.symlink(join(SAMPLES, "gradient_64x48.png"), join(dir, "link.png"));
    await withClient({ IMAGES_DIR: dir }, async (client) => {
      const r = await client.request(req("images"));
      assert.equal(r.code, 200, r.msg);
      assert.deepEqual(r.data, [
        { img1: "pic2.GIF", ...await expected(join(dir, "pic2.GIF"), "gif", 1, 1) },
        { img2: "pic10.png", ...await expected(join(dir, "pic10.png"), "png", 2, 2) },
      ]);
    });
  });
});

Deno.test("images - an empty, image-less or missing folder is a 404", async () => {
  await withFolder({}, async (dir) => {
    await withClient({ IMAGES_DIR: dir }, async (client) => {
      assertError(await client.request(req("images")), 404, "No images in IMAGES_DIR");
    });
  });
  await withFolder({ "a.txt": "text", "b.png": "text" }, async (dir) => {
    await withClient({ IMAGES_DIR: dir }, async (client) => {
      assertError(await client.request(req("images")), 404, "No images in IMAGES_DIR");
      assertError(
        await client.request(req("images", { kwargs: { dir: "nope" } })),
        404,
        'Image folder not found: folder "nope"',
      );
    });
    await withClient({ IMAGES_DIR: join(dir, "missing") }, async (client) => {
      assertError(await client.request(req("images")), 404, "Image folder not found: IMAGES_DIR");
    });
  });
});

Deno.test("images - kwargs.dir lists a subfolder and refuses paths outside IMAGES_DIR", async () => {
  const dot = await Deno.readFile(join(SAMPLES, "dot_2x2.png"));
  await withFolder({ "root/sub/x.png": dot, "outside/y.png": dot }, async (dir) => {
    const root = join(dir, "root");
    await Deno.symlink(join(dir, "outside"), join(root, "escape"));
    await withClient({ IMAGES_DIR: root }, async (client) => {
      const r = await client.request(req("images", { kwargs: { dir: "sub" } }));
      assert.equal(r.code, 200, r.msg);
      assert.deepEqual(r.data, [
        { img1: "sub/x.png", ...await expected(join(root, "sub", "x.png"), "png", 2, 2) },
      ]);
      for (const bad of ["..", "../outside", "sub/../../outside", "/etc", "escape"]) {
        const refused = await client.request(req("images", { kwargs: { dir: bad } }));
        assertError(refused, 400, `Folder "${bad}" is outside IMAGES_DIR`);
      }
      const typo = await client.request(req("images", { kwargs: { dir: 7 } }));
      assert.equal(typo.code, 400);
    });
  });
});

Deno.test("image_info - reads PNG, GIF and JPEG headers and rejects other bytes", () => {
  const jpeg = Uint8Array.from([
    ...[0xff, 0xd8], // SOI
    ...[0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0], // APP0
    ...[0xff, 0xff], // fill byte
    ...[0xff, 0xc4, 0x00, 0x04, 0x00, 0x00], // DHT: 0xC4 is not a frame header
    ...[0xff, 0xc2, 0x00, 0x11, 0x08, 0x01, 0xe0, 0x02, 0x80, 3], // SOF2: 480 high, 640 wide
  ]);
  assert.deepEqual(imageSize(jpeg), { format: "jpeg", width: 640, height: 480 });
  assert.deepEqual(imageSize(GIF_1X1), { format: "gif", width: 1, height: 1 });
  const gif87 = Uint8Array.from([0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x2c, 0x01, 0x05, 0x00]);
  assert.deepEqual(imageSize(gif87), { format: "gif", width: 300, height: 5 });
  const isError = (code: number, message: RegExp) => (err: unknown) =>
    err instanceof CommandError && err.code === code && message.test(err.message);
  assert.throws(() => imageSize(new TextEncoder().encode("hello")), isError(400, /^Not a PNG/));
  assert.throws(() => imageSize(new Uint8Array(0)), isError(400, /^Not a PNG/));
  assert.throws(() => imageSize(jpeg.subarray(0, 30)), isError(400, /JPEG header/));
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
  assert.throws(() => imageSize(png), isError(400, /PNG header/));
});

Deno.test("image_info - hashes like crypto.subtle and stops when the job is cancelled", async () => {
  const bytes = new Uint8Array(3 * 64 * 1024 + 17);
  bytes.set(GIF_1X1);
  for (let i = GIF_1X1.length; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  const flags = new Int32Array(new SharedArrayBuffer(8));
  const ctx = createContext("image_info", flags, new AbortController().signal);
  const info = await imageInfo(bytes, ctx);
  assert.deepEqual(info, {
    format: "gif",
    width: 1,
    height: 1,
    bytes: bytes.byteLength,
    sha256: await sha256Hex(bytes),
  });
  Atomics.store(flags, 0, 1); // what the pool does on a timeout or when the client leaves
  assert.throws(() => imageInfo(bytes, ctx), CancelledError);
});
