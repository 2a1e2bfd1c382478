/**
 * Process figures from Linux's /proc: CPU time and memory of the server and of the load
 * generator itself. One implementation, bench/node/proc.mjs, serves both load generators.
 *
 * @module
 */
export { cpuSeconds, machineCpuSeconds, memoryKb } from "./node/proc.mjs";
