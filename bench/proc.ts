/**
 * Process figures from Linux's /proc: CPU time and memory of the server and of the load
 * generator itself.
 *
 * @module
 */

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time a process has used so far, user plus system, all threads.
 *
 * @param pid A process id, or "self".
 * @returns Seconds of CPU time.
 * @throws {Deno.errors.NotFound} When the process does not exist.
 */
export function cpuSeconds(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces; the fields after its closing ")" do not.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 (utime) and 15 (stime), counted from the state field, which is field 3.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * CPU time the whole machine has spent busy so far, all cores: user, system, interrupts. The
 * kernel charges much of the loopback network work done in interrupts to whichever process ran
 * at the time, so interrupts count here as they do in the process figures.
 *
 * @returns Seconds of CPU time.
 */
export function machineCpuSeconds(): number {
  const fields = Deno.readTextFileSync("/proc/stat").split("\n", 1)[0].trim().split(/\s+/);
  // cpu user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq] = fields.slice(1).map(Number);
  return (user + nice + system + irq + softirq) / TICKS_PER_SECOND;
}

/**
 * A memory figure of a process from /proc/<pid>/status.
 *
 * @param pid A process id, or "self".
 * @param field `VmRSS` (resident now) or `VmHWM` (resident peak).
 * @returns Kibibytes.
 * @throws {Error} When the field is missing.
 */
export function memoryKb(pid: number | "self", field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  if (!match) throw new Error(`Cannot read ${field} of process ${pid}: not in /proc status`);
  return Number(match[1]);
}
