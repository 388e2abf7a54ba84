import type { RedisClient } from '../redis/redis-connection.js';
import { requireScripts } from '../redis/redis-scripts.js';
import { CONVERSION_SCRIPTS } from './provider-conversion.scripts.js';

/** What happened to a provider's codes. */
export type ConversionEvent = 'sent' | 'delivered' | 'undelivered' | 'approved';
const EVENTS: readonly ConversionEvent[] = ['sent', 'delivered', 'undelivered', 'approved'];

export interface ConversionFigures {
  sent: number;
  delivered: number;
  undelivered: number;
  approved: number;
}

/** Figures of the last hour, and the part of it old enough to judge (sent at least the grace period ago). */
export interface ConversionWindow {
  lastHour: ConversionFigures;
  judged: { sent: number; approved: number };
}

const HOUR_MS = 60 * 60 * 1000;
/**
 * Counts are kept per 10 s of send time: a code's approval counts in the slot of its send, so the
 * share of approved codes compares like with like. A provider's window is at most 360 slots of 4
 * counts, whatever the traffic.
 */
export const SLOT_MS = 10_000;
const slotOf = (time: number) => Math.floor(time / SLOT_MS);

/** Per-provider counts of the last hour, shared by replicas (Redis) or kept in this process (embedded mode). */
export interface ConversionCounts {
  /** `at`: when the code was sent (an approval or receipt counts toward its send's slot). */
  add(provider: string, event: ConversionEvent, at: number): Promise<void>;
  window(provider: string, now: number, graceMs: number): Promise<ConversionWindow>;
}

export const ConversionCounts = Symbol('ConversionCounts');

function summarize(entries: Iterable<[string, number]>, now: number, graceMs: number): ConversionWindow {
  const lastHour: ConversionFigures = { sent: 0, delivered: 0, undelivered: 0, approved: 0 };
  const judged = { sent: 0, approved: 0 };
  const oldest = slotOf(now - HOUR_MS);
  const judgedUntil = slotOf(now - graceMs);
  for (const [field, count] of entries) {
    const [event, slotText] = field.split(':') as [ConversionEvent, string];
    const slot = Number(slotText);
    if (!EVENTS.includes(event) || slot <= oldest) continue;
    lastHour[event] += count;
    if (slot <= judgedUntil && (event === 'sent' || event === 'approved')) judged[event] += count;
  }
  return { lastHour, judged };
}

/** The counts added since the last flush: provider → field → how many, and the promise every caller of them awaits. */
interface PendingCounts {
  counts: Map<string, Map<string, number>>;
  sent: Promise<void>;
}

/**
 * One hash per provider, `<event>:<slot>` → count; fields older than an hour are dropped as it is read.
 *
 * The counts added while one batch of replies or requests is handled go to Redis together, one command per
 * provider and field with how many: a busy API approves dozens of codes of one provider in one batch of Redis
 * replies, and each count was a command of its own, for the API and for Redis (1.3 % of the API's CPU in a
 * profile of the benchmark's check phase, where half the checks approve). They are sent once the promise
 * reactions of that batch have run (`process.nextTick` runs after them), so they still leave in the same write
 * as the rest of the pass (coalesceWrites), and every caller's promise settles with the command that carried
 * its count.
 */
export class RedisConversionCounts implements ConversionCounts {
  private pending: PendingCounts | undefined;

  constructor(private readonly redis: RedisClient) {
    requireScripts(redis, CONVERSION_SCRIPTS);
  }

  add(provider: string, event: ConversionEvent, at: number): Promise<void> {
    const pending = (this.pending ??= this.nextFlush());
    const fields = pending.counts.get(provider) ?? new Map<string, number>();
    pending.counts.set(provider, fields);
    const field = `${event}:${slotOf(at)}`;
    fields.set(field, (fields.get(field) ?? 0) + 1);
    return pending.sent;
  }

  async window(provider: string, now: number, graceMs: number): Promise<ConversionWindow> {
    const key = `otp:{conversion:${provider}}`;
    const hash = await this.redis.hgetall(key);
    const oldest = slotOf(now - HOUR_MS);
    const stale = Object.keys(hash).filter((field) => Number(field.split(':')[1]) <= oldest);
    if (stale.length > 0) await this.redis.hdel(key, ...stale);
    return summarize(
      Object.entries(hash).map(([field, count]) => [field, Number(count)]),
      now,
      graceMs,
    );
  }

  private nextFlush(): PendingCounts {
    const counts = new Map<string, Map<string, number>>();
    const sent = new Promise<void>((resolve, reject) => {
      process.nextTick(() => {
        this.pending = undefined;
        try {
          const commands = [...counts].flatMap(([provider, fields]) =>
            [...fields].map(([field, count]) => this.redis.otpConversionAdd(`otp:{conversion:${provider}}`, field, 2 * HOUR_MS, count)),
          );
          Promise.all(commands).then(() => resolve(), reject);
        } catch (error) {
          // Thrown here, it would be an uncaught exception of the process rather than each caller's failure.
          reject(error);
        }
      });
    });
    return { counts, sent };
  }
}

export class MemoryConversionCounts implements ConversionCounts {
  private readonly counts = new Map<string, Map<string, number>>();

  async add(provider: string, event: ConversionEvent, at: number): Promise<void> {
    const counts = this.counts.get(provider) ?? new Map<string, number>();
    this.counts.set(provider, counts);
    const field = `${event}:${slotOf(at)}`;
    counts.set(field, (counts.get(field) ?? 0) + 1);
  }

  async window(provider: string, now: number, graceMs: number): Promise<ConversionWindow> {
    const counts = this.counts.get(provider) ?? new Map<string, number>();
    const oldest = slotOf(now - HOUR_MS);
    for (const field of counts.keys()) if (Number(field.split(':')[1]) <= oldest) counts.delete(field);
    return summarize(counts, now, graceMs);
  }
}
