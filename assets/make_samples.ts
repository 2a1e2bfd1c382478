/**
 * Writes the sample images of `assets/images/` (the `images` command's default folder): a few small,
 * valid PNGs of different sizes and colour types. The output is committed; run this again only to
 * change the samples:
 *
 * ```sh
 * deno run --allow-write assets/make_samples.ts
 * ```
 *
 * @module
 */
import { join } from "node:path";

/** One sample: its file name, size, PNG colour type and a pixel function. */
interface Sample {
  name: string;
  width: number;
  height: number;
  /** 0 grayscale (1 byte per pixel), 2 RGB (3 bytes), 6 RGBA (4 bytes). */
  colorType: 0 | 2 | 6;
  pixel(x: number, y: number): number[];
}

/** The samples; the `images` tests check these names and sizes. */
export const SAMPLES: Sample[] = [
  {
    name: "dot_2x2.png",
    width: 2,
    height: 2,
    colorType: 6,
    pixel: (x, y) =>
      [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [0, 0, 0, 0]][y * 2 + x],
  },
  {
    name: "gradient_64x48.png",
    width: 64,
    height: 48,
    colorType: 2,
    pixel: (x, y) => [x * 4, y * 5, 128],
  },
  {
    name: "gray_31x7.png",
    width: 31,
    height: 7,
    colorType: 0,
    pixel: (x, y) => [(x * 8 + y * 36) & 0xff],
  },
  {
    name: "stripes_320x200.png",
    width: 320,
    height: 200,
    colorType: 2,
    pixel: (x, y) => ((x >> 4) + (y >> 4)) % 2 === 0 ? [240, 200, 40] : [30, 60, 120],
  },
];

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32 (ISO 3309, the one PNG uses) of some bytes.
 *
 * @param bytes The data.
 * @returns The CRC as an unsigned 32-bit number.
 */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Encodes a sample as a PNG: signature, IHDR, one zlib-compressed IDAT, IEND.
 *
 * @param sample The image.
 * @returns The PNG file's bytes.
 */
export async function encodePng(sample: Sample): Promise<Uint8Array> {
  const channels = { 0: 1, 2: 3, 6: 4 }[sample.colorType];
  const stride = 1 + sample.width * channels; // each scanline starts with filter type 0 (none)
  const raw = new Uint8Array(stride * sample.height);
  for (let y = 0; y < sample.height; y++) {
    for (let x = 0; x < sample.width; x++) {
      raw.set(sample.pixel(x, y), y * stride + 1 + x * channels);
    }
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, sample.width);
  view.setUint32(4, sample.height);
  ihdr.set([8, sample.colorType, 0, 0, 0], 8); // bit depth 8, deflate, adaptive filters, no interlace
  return concat([
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk("IHDR", ihdr),
    chunk("IDAT", await deflate(raw)),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** zlib format (RFC 1950), which is what PNG's IDAT holds. */
async function deflate(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

if (import.meta.main) {
  const dir = join(import.meta.dirname!, "images");
  await Deno.mkdir(dir, { recursive: true });
  for (const sample of SAMPLES) {
    const png = await encodePng(sample);
    await Deno.writeFile(join(dir, sample.name), png);
    console.log(`Wrote ${sample.name} (${sample.width}x${sample.height}, ${png.length} bytes)`);
  }
}
