import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** The machine's CPU time since boot, all cores together, in ms, as proc(5)'s /proc/stat counts it. */
export interface MachineCpu {
  /** Running anything: user, nice, system, interrupts (a guest's time is within user). */
  busyMs: number;
  /** Idle, or waiting for a disk. */
  idleMs: number;
  /** Taken by the hypervisor for other machines while this one had work to run. */
  stealMs: number;
}

/** Clock ticks of 10 ms (USER_HZ, 100 on Linux). */
const TICK_MS = 10;

export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  return {
    busyMs: (user! + nice! + system! + irq! + softirq!) * TICK_MS,
    idleMs: (idle! + iowait!) * TICK_MS,
    stealMs: (steal ?? 0) * TICK_MS,
  };
}

/** The Redis server's own CPU time (user + system) so far, in ms, as it counts it in `INFO cpu` (to the microsecond). */
export async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}
