import type { ThrottlerStorage } from '@nestjs/throttler';
import type { RedisClient } from '../../redis/redis-connection.js';
import { requireScripts } from '../../redis/redis-scripts.js';
import { THROTTLER_SCRIPTS } from './throttler.scripts.js';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** A lease takes this share of a window's limit (at least one hit, at most MAX_LEASE). */
const LEASE_SHARE = 1 / 100;
const MAX_LEASE = 100;

/** Hits of a window this process took from Redis at once, spent here one per request. */
interface Lease {
  /** Taken and not yet spent. */
  left: number;
  /** The window's count in Redis once this lease was taken. */
  hits: number;
  /** When the window ends, by this process's clock. */
  endsAt: number;
  /** Redis had nothing left to take: every request is refused here until the window ends. */
  spent: boolean;
}

/**
 * Request limits for @nestjs/throttler, kept in Redis so that they hold across replicas.
 * (The community Redis storage declares peer support only up to Nest 11, so this small one is ours.)
 *
 * The throttlers named in `leased` take their hits from Redis in leases: a share of the window's limit at once
 * (a hundredth of the limit, 1 to 100 hits), spent in this process one request at a time, so a key's requests make one
 * round trip per lease instead of one each. Redis never hands out more than the limit, so no more requests pass
 * than the limit allows, across replicas too; what a replica leased and has not spent when the window ends is
 * not spent elsewhere, so up to one lease per other replica can be refused early. A limit under 200 leases one
 * hit at a time, which is what every request costs without a lease. Only for a limit that the holder of a secret
 * spends (an API key's): a stranger's requests cannot take a lease that refuses its owner early.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly leases = new Map<string, Lease>();
  /** The lease being taken per key, which every request that found none left waits for. */
  private readonly taking = new Map<string, Promise<void>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly leased: ReadonlySet<string> = new Set(),
  ) {
    requireScripts(redis, THROTTLER_SCRIPTS);
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const tag = `otp:{t:${throttlerName}:${key}}`;
    if (this.leased.has(throttlerName) && blockDuration <= 0) return this.spend(tag, ttl, limit);
    const [totalHits, timeToExpire, isBlocked, timeToBlockExpire] = await this.redis.otpThrottle(
      `${tag}:hits`,
      `${tag}:block`,
      ttl,
      limit,
      Math.max(0, blockDuration),
    );
    return {
      totalHits: Number(totalHits),
      timeToExpire: Math.ceil(Number(timeToExpire) / 1000),
      isBlocked: Number(isBlocked) === 1,
      timeToBlockExpire: Math.ceil(Number(timeToBlockExpire) / 1000),
    };
  }

  private async spend(tag: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    for (;;) {
      const now = Date.now();
      const lease = this.leases.get(tag);
      if (lease !== undefined && lease.endsAt > now) {
        const seconds = Math.ceil((lease.endsAt - now) / 1000);
        if (lease.spent) return { totalHits: lease.hits, timeToExpire: seconds, isBlocked: true, timeToBlockExpire: seconds };
        if (lease.left > 0) {
          lease.left -= 1;
          return { totalHits: lease.hits - lease.left, timeToExpire: seconds, isBlocked: false, timeToBlockExpire: 0 };
        }
      }
      // Each pass takes hits from Redis or learns that the window is spent, so this ends.
      await this.take(tag, ttl, limit);
    }
  }

  private take(tag: string, ttl: number, limit: number): Promise<void> {
    const pending = this.taking.get(tag);
    if (pending) return pending;
    const wanted = Math.min(MAX_LEASE, Math.max(1, Math.floor(limit * LEASE_SHARE)));
    const taking = this.redis
      .otpThrottleLease(`${tag}:hits`, ttl, limit, wanted)
      .then(([taken, hits, windowMs]) => {
        // A window Redis does not keep (a limit of 0) is refused for a whole window, as INCREMENT_SCRIPT would.
        const endsAt = Date.now() + (Number(windowMs) > 0 ? Number(windowMs) : ttl);
        this.leases.set(tag, { left: Number(taken), hits: Number(hits), endsAt, spent: Number(taken) === 0 });
      })
      .finally(() => this.taking.delete(tag));
    this.taking.set(tag, taking);
    return taking;
  }
}
