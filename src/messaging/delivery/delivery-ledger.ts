import type { RedisClient } from '../../redis/redis-connection.js';

/**
 * Remembers which sends went out, so a job that runs again (a stalled worker's job picked up by
 * another, a crash after the provider accepted) never delivers the same send twice.
 */
export interface DeliveryLedger {
  wasSent(key: string): Promise<boolean>;
  markSent(key: string, ttlMs: number): Promise<void>;
}

export const DeliveryLedger = Symbol('DeliveryLedger');

/** Beside the verification, under its hash tag. */
const ledgerKey = (key: string) => {
  const [verificationId, sendNumber] = key.split(':');
  return `otp:{v:${verificationId}}:sent:${sendNumber}`;
};

export class RedisDeliveryLedger implements DeliveryLedger {
  constructor(private readonly redis: RedisClient) {}

  async wasSent(key: string): Promise<boolean> {
    return (await this.redis.exists(ledgerKey(key))) === 1;
  }

  async markSent(key: string, ttlMs: number): Promise<void> {
    await this.redis.set(ledgerKey(key), '1', 'PX', Math.max(1000, ttlMs));
  }
}

/** How often the memory ledger drops the sends whose codes have expired. */
export const LEDGER_SWEEP_INTERVAL_MS = 60_000;

/**
 * Embedded mode. An entry lives as long as its code (a job is never retried past that), so the ledger
 * holds at most one window of sends; it is swept once per interval rather than on every send, which
 * made each send scan every send of the last code lifetime.
 */
export class MemoryDeliveryLedger implements DeliveryLedger {
  private readonly sent = new Map<string, number>();
  private lastSweep = 0;

  get size(): number {
    return this.sent.size;
  }

  async wasSent(key: string): Promise<boolean> {
    const until = this.sent.get(key);
    return until !== undefined && until > Date.now();
  }

  async markSent(key: string, ttlMs: number): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep >= LEDGER_SWEEP_INTERVAL_MS) {
      this.lastSweep = now;
      for (const [stale, until] of this.sent) if (until <= now) this.sent.delete(stale);
    }
    this.sent.set(key, now + ttlMs);
  }
}
