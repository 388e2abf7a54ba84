import { SENT_MARK_PREFIX, type SentMark } from '../../otp/delivery.port.js';
import { verificationKey } from '../../otp/verification-key.js';
import type { RedisClient } from '../../redis/redis-connection.js';
import { requireScripts } from '../../redis/redis-scripts.js';
import { DELIVERY_LEDGER_SCRIPTS } from './delivery-ledger.scripts.js';

/** What a provider's message id leads back to: the send it carried, and who tried that send before. */
export interface SentMessage {
  verificationId: string;
  sendNumber: number;
  channel: 'email' | 'sms' | 'whatsapp';
  provider: string;
  /** ISO country of the destination (`none` for email), for the conversion counters. */
  country: string;
  /** Providers whose message for this send was reported undelivered already: a failover never goes back to them. */
  tried: string[];
}

/** A send's destination and code, sealed, kept while the verification may still need it sent again. */
export interface KeptMessage {
  sendNumber: number;
  sealed: string;
}

/**
 * Remembers which sends went out, so a job that runs again (a stalled worker's job picked up by
 * another, a crash after the provider accepted) never delivers the same send twice; and, for
 * delivery receipts, which verification each provider message belongs to, the sealed message a
 * failover sends again, and which failovers were started already.
 */
export interface DeliveryLedger {
  wasSent(key: string): Promise<boolean>;
  /**
   * Where the store that holds the verifications can see that the send went out, if it can: in Redis,
   * the field `markSent` sets in the verification's hash (or the key the previous version set beside
   * it). A status report that names it is not applied once the send is marked, so the check and the
   * report need not wait for each other.
   */
  sentMark?(key: string): SentMark;
  markSent(key: string, ttlMs: number): Promise<void>;
  /** Indexes a provider's message id (per vendor: Twilio SIDs, SendGrid and SES ids) for its receipts. */
  rememberMessage(vendor: string, messageId: string, message: SentMessage, ttlMs: number): Promise<void>;
  findMessage(vendor: string, messageId: string): Promise<SentMessage | undefined>;
  /** Keeps the verification's current message, replacing an earlier send's. */
  keep(verificationId: string, message: KeptMessage, ttlMs: number): Promise<void>;
  kept(verificationId: string): Promise<KeptMessage | undefined>;
  /** The verification settled: its message is deleted. */
  forget(verificationId: string): Promise<void>;
  /** True once per send and provider: the failover that follows that provider's loss is started by one caller only. */
  claimFailover(verificationId: string, sendNumber: number, provider: string, ttlMs: number): Promise<boolean>;
}

export const DeliveryLedger = Symbol('DeliveryLedger');

/**
 * Everything of one verification sits in or beside its hash, under its hash tag. A send (`<id>:<send>`,
 * a failover's `<id>:<send>:after:<provider>`) is marked by a field of the verification's hash; the
 * previous version marked it by a key of its own beside it, which is still honoured.
 */
const sentMarkOf = (key: string): SentMark & { verification: string } => {
  const separator = key.indexOf(':');
  const id = key.slice(0, separator);
  const send = key.slice(separator + 1);
  const verification = verificationKey(id);
  return { verification, field: `${SENT_MARK_PREFIX}${send}`, key: `${verification}:sent:${send}` };
};
const keptKey = (verificationId: string) => `${verificationKey(verificationId)}:kept`;
const failoverKey = (verificationId: string, sendNumber: number, provider: string) =>
  `${verificationKey(verificationId)}:failover:${sendNumber}:${provider}`;
/** Its own slot: a receipt names a message, not a verification. */
const messageKey = (vendor: string, messageId: string) => `otp:{m:${vendor}:${messageId}}`;

export class RedisDeliveryLedger implements DeliveryLedger {
  constructor(private readonly redis: RedisClient) {
    requireScripts(redis, DELIVERY_LEDGER_SCRIPTS);
  }

  async wasSent(key: string): Promise<boolean> {
    const mark = sentMarkOf(key);
    return (await this.redis.otpLedgerWasSent(mark.verification, mark.key, mark.field)) === 1;
  }

  sentMark(key: string): SentMark {
    return sentMarkOf(key);
  }

  /** `ttlMs` applies only where the verification's hash is gone: a mark in the hash lives as long as the hash. */
  async markSent(key: string, ttlMs: number): Promise<void> {
    const mark = sentMarkOf(key);
    await this.redis.otpLedgerMarkSent(mark.verification, mark.key, mark.field, Math.max(1000, ttlMs));
  }

  async rememberMessage(vendor: string, messageId: string, message: SentMessage, ttlMs: number): Promise<void> {
    await this.redis.set(messageKey(vendor, messageId), JSON.stringify(message), 'PX', Math.max(1000, ttlMs));
  }

  async findMessage(vendor: string, messageId: string): Promise<SentMessage | undefined> {
    const raw = await this.redis.get(messageKey(vendor, messageId));
    return raw ? (JSON.parse(raw) as SentMessage) : undefined;
  }

  async keep(verificationId: string, message: KeptMessage, ttlMs: number): Promise<void> {
    await this.redis.set(keptKey(verificationId), JSON.stringify(message), 'PX', Math.max(1000, ttlMs));
  }

  async kept(verificationId: string): Promise<KeptMessage | undefined> {
    const raw = await this.redis.get(keptKey(verificationId));
    return raw ? (JSON.parse(raw) as KeptMessage) : undefined;
  }

  async forget(verificationId: string): Promise<void> {
    await this.redis.del(keptKey(verificationId));
  }

  async claimFailover(verificationId: string, sendNumber: number, provider: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(failoverKey(verificationId, sendNumber, provider), '1', 'PX', Math.max(1000, ttlMs), 'NX')) === 'OK';
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
  private readonly messages = new Map<string, { value: SentMessage; until: number }>();
  private readonly keptMessages = new Map<string, { value: KeptMessage; until: number }>();
  private lastSweep = 0;

  get size(): number {
    return this.sent.size;
  }

  async wasSent(key: string): Promise<boolean> {
    const until = this.sent.get(key);
    return until !== undefined && until > Date.now();
  }

  async markSent(key: string, ttlMs: number): Promise<void> {
    this.sweep();
    this.sent.set(key, Date.now() + ttlMs);
  }

  async rememberMessage(vendor: string, messageId: string, message: SentMessage, ttlMs: number): Promise<void> {
    this.sweep();
    this.messages.set(`${vendor}:${messageId}`, { value: structuredClone(message), until: Date.now() + ttlMs });
  }

  async findMessage(vendor: string, messageId: string): Promise<SentMessage | undefined> {
    return live(this.messages.get(`${vendor}:${messageId}`));
  }

  async keep(verificationId: string, message: KeptMessage, ttlMs: number): Promise<void> {
    this.sweep();
    this.keptMessages.set(verificationId, { value: { ...message }, until: Date.now() + ttlMs });
  }

  async kept(verificationId: string): Promise<KeptMessage | undefined> {
    return live(this.keptMessages.get(verificationId));
  }

  async forget(verificationId: string): Promise<void> {
    this.keptMessages.delete(verificationId);
  }

  async claimFailover(verificationId: string, sendNumber: number, provider: string, ttlMs: number): Promise<boolean> {
    const key = `${verificationId}:${sendNumber}:failover:${provider}`;
    if (await this.wasSent(key)) return false;
    await this.markSent(key, ttlMs);
    return true;
  }

  private sweep(): void {
    const now = Date.now();
    if (now - this.lastSweep < LEDGER_SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [stale, until] of this.sent) if (until <= now) this.sent.delete(stale);
    for (const map of [this.messages, this.keptMessages] as Map<string, { until: number }>[]) {
      for (const [stale, { until }] of map) if (until <= now) map.delete(stale);
    }
  }
}

function live<T>(entry: { value: T; until: number } | undefined): T | undefined {
  return entry && entry.until > Date.now() ? structuredClone(entry.value) : undefined;
}
