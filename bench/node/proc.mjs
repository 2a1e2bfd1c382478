/**
 * CPU time and memory of processes from Linux's /proc, for both load generators and the
 * orchestrator (bench/proc.ts re-exports it), so every figure is read the same way.
 *
 * @module
 */
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time a process has used so far, user plus system, all threads.
 *
 * @param {number | "self"} pid A process id, or "self".
 * @returns {number} Seconds of CPU time.
 */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
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
 * @returns {number} Seconds of CPU time.
 */
export function machineCpuSeconds() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/);
  // cpu user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq] = fields.slice(1).map(Number);
  return (user + nice + system + irq + softirq) / TICKS_PER_SECOND;
}

/**
 * A memory figure of a process from /proc/<pid>/status.
 *
 * @param {number | "self"} pid A process id, or "self".
 * @param {"VmRSS" | "VmHWM"} [field] Resident now (default) or resident peak.
 * @returns {number} Kibibytes.
 * @throws {Error} When the field is missing.
 */
export function memoryKb(pid, field = "VmRSS") {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  if (!match) throw new Error(`Cannot read ${field} of process ${pid}: not in /proc status`);
  return Number(match[1]);
}
