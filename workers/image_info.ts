/**
 * The CPU-bound step of the `images` command: the SHA-256 of an image file and its pixel size from
 * the PNG, JPEG or GIF header. It runs in the worker pool; the hash checks the cancellation flag
 * every 64 KiB, so a cancelled or timed-out job on a large file stops within a fraction of a
 * millisecond instead of finishing its loop. See docs/workers.md.
 *
 * @module
 */
import { CommandError, defineWorker } from "../lib/workers/api.ts";
import { sha256, toHex } from "./_sha256.ts";

/** An image format this worker reads. */
export type ImageFormat = "png" | "jpeg" | "gif";

/** What the worker returns for one file. */
export interface ImageInfo {
  /** The format found in the file's signature (not its name). */
  format: ImageFormat;
  /** Width in pixels, from the header. */
  width: number;
  /** Height in pixels, from the header. */
  height: number;
  /** File size in bytes. */
  bytes: number;
  /** SHA-256 of the whole file, lower-case hex. */
  sha256: string;
}

/**
 * Reads the format and pixel size from an image header, without decoding pixels.
 *
 * @param bytes The file's bytes (only the first few hundred are needed for PNG and GIF).
 * @returns The format, width and height.
 * @throws {CommandError} 400 when the bytes are not a PNG, JPEG or GIF, or the header is cut off.
 * @example
 * ```ts
 * const gif = Uint8Array.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 3, 0, 5, 0]);
 * imageSize(gif); // { format: "gif", width: 3, height: 5 }
 * ```
 */
export function imageSize(bytes: Uint8Array): Pick<ImageInfo, "format" | "width" | "height"> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (startsWith(bytes, PNG_SIGNATURE)) {
    // The first chunk must be IHDR: length(4) "IHDR"(4) width(4) height(4), big-endian.
    if (bytes.length < 24 || !startsWith(bytes.subarray(12), IHDR)) throw truncated("PNG");
    return { format: "png", width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (startsWith(bytes, GIF87A) || startsWith(bytes, GIF89A)) {
    // Logical screen width and height, little-endian, right after the 6-byte signature.
    if (bytes.length < 10) throw truncated("GIF");
    return { format: "gif", width: view.getUint16(6, true), height: view.getUint16(8, true) };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes, view);
  throw new CommandError(400, "Not a PNG, JPEG or GIF image");
}

/**
 * The worker: size from the header, then the SHA-256 of the whole file.
 *
 * @param bytes The file's bytes (send them with `transfer: [bytes.buffer]`).
 * @returns `{ format, width, height, bytes, sha256 }`.
 * @throws {CommandError} 400 for a file that is not a readable PNG, JPEG or GIF.
 * @throws {CancelledError} When the job is cancelled while hashing.
 */
export default defineWorker((bytes: Uint8Array, ctx): ImageInfo => {
  const size = imageSize(bytes);
  const digest = sha256(bytes, ctx.throwIfCancelled);
  return { ...size, bytes: bytes.byteLength, sha256: toHex(digest) };
});

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const IHDR = [0x49, 0x48, 0x44, 0x52];
const GIF87A = [0x47, 0x49, 0x46, 0x38, 0x37, 0x61];
const GIF89A = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61];

/** Walks the JPEG segments up to the first start-of-frame (SOF0–SOF15 but DHT, JPG and DAC). */
function jpegSize(
  bytes: Uint8Array,
  view: DataView,
): Pick<ImageInfo, "format" | "width" | "height"> {
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) throw new CommandError(400, "Cannot read the JPEG header: bad segment");
    const marker = bytes[p + 1];
    if (marker === 0xff) { // fill byte before a marker
      p++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { // segments without a length
      p += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break; // end of image or scan data: no frame header
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc;
    // SOF: FF Cn, length(2), precision(1), height(2), width(2).
    if (isFrame) {
      if (p + 9 > bytes.length) break;
      return { format: "jpeg", width: view.getUint16(p + 7), height: view.getUint16(p + 5) };
    }
    p += 2 + view.getUint16(p + 2);
  }
  throw truncated("JPEG");
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function truncated(format: string): CommandError {
  return new CommandError(400, `Cannot read the ${format} header: file is cut off or corrupt`);
}
