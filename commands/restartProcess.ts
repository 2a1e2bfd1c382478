/**
 * Restarts the services behind RESTART_URLS (comma-separated) by POSTing to each, with a time
 * limit per request (RESTART_TIMEOUT_MS), and streams progress as the old library did:
 * `process` creeps from 0 towards 99 while it waits, with the stage in `msg`, and the final reply
 * has `process: 100` and "重启成功", or "重启失败" with the results of the failed URLs.
 */
import { defineCommand, reply } from "../lib/mod.ts";

const TICK_MS = 250;

function stage(progress: number): string {
  if (progress <= 30) return "软件重启中";
  if (progress <= 70) return "视觉重启中";
  return "相机重启中";
}

async function restart(url: string, timeoutMs: number, signal: AbortSignal) {
  try {
    const res = await fetch(url, {
      method: "POST",
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
    await res.body?.cancel();
    return { url, status: res.status, ok: res.status === 200 || res.status === 204 };
  } catch (err) {
    const reason = err instanceof DOMException && err.name === "TimeoutError"
      ? `timed out after ${timeoutMs} ms`
      : (err as Error).message;
    return { url, status: -1, ok: false, error: reason };
  }
}

export default defineCommand({
  description: "Restart the configured services and stream progress",
  timeoutMs: 120_000,
  async handle(ctx) {
    const urls = ctx.config.RESTART_URLS;
    ctx.progress(0, "软件开始重启");
    let done = 0;
    const jobs = urls.map((url) =>
      restart(url, ctx.config.RESTART_TIMEOUT_MS, ctx.signal).finally(() => done++)
    );
    const all = Promise.all(jobs);
    let progress = 0;
    while (done < urls.length) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = new Promise((r) => timer = setTimeout(r, TICK_MS));
      await Promise.race([all, tick]);
      clearTimeout(timer);
      if (done === urls.length || ctx.signal.aborted) break;
      progress = Math.max(progress, Math.floor(done / urls.length * 100));
      if (progress < 99) progress++;
      ctx.progress(progress, stage(progress));
    }
    const results = await all;
    const failed = results.filter((r) => !r.ok);
    return failed.length === 0
      ? reply({ msg: "重启成功", data: results, process: 100 })
      : reply({ msg: "重启失败", data: results, process: 100 });
  },
});
