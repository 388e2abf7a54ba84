import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../redis/redis-connection.js';
import { requireScripts } from '../../redis/redis-scripts.js';
import { REDIS_CLIENT } from '../../redis/redis.constants.js';
import {
  type CountedSend,
  type FraudGuard,
  type GuardedSend,
  type GuardLimits,
  type GuardOverview,
  type GuardVerdict,
  type ThrottleReason,
  WINDOW_MS,
} from './fraud-guard.js';
import { FRAUD_GUARD_SCRIPTS } from './fraud-guard.scripts.js';

/**
 * Every key shares one hash tag: a send's check reads its channel's, country's and prefix's state in one
 * script, which Redis Cluster allows within one slot only. Sends cost money, so their rate stays far
 * below what one slot serves.
 */
const KEY_PREFIX = 'otp:{fraud}:';
const key = (name: string) => `${KEY_PREFIX}${name}`;
const countryKeys = (country: string) => ({
  suspension: key(`suspended:${country}`),
  sends: key(`sent:${country}`),
  approvals: key(`approved:${country}`),
  since: key(`since:${country}`),
});
const COUNTRIES = key('countries');
/** A send's hourly counters: its channel's, its country's and its number prefix's. */
const counterKeys = (send: GuardedSend): [string, string, string] => [
  key(`channel:${send.channel}`),
  key(`country:${send.country ?? '-'}`),
  key(`prefix:${send.prefix ?? '-'}`),
];
/**
 * The caps of a send's counters, in `counterKeys`' order, as the admission script takes them (0: not counted): a
 * send with no country counts in its channel's alone.
 */
const capsOf = (send: GuardedSend, limits: GuardLimits): [number, number, number] => {
  const phone = send.country !== undefined;
  return [limits.channelPerHour, phone ? limits.countryPerHour : 0, phone && send.prefix !== undefined ? limits.prefixPerHour : 0];
};
/**
 * One send in this many to a country (counted by each process) trims that country's sends and approvals
 * to the window; the others count within it, so what left the window waits at most that many of the
 * country's sends to go. It is trimmed whatever FRAUD_MIN_CONVERSION is: the sends are recorded for the
 * admin overview even when nothing is judged, and a set whose expiry every send renews would only grow.
 */
const TRIM_EVERY = 64;
const SUSPENSIONS = key('suspensions');

@Injectable()
export class RedisFraudGuard implements FraudGuard {
  /** Members of a country's sends must differ: this process's own prefix and a counter make them so. */
  private readonly memberPrefix = randomBytes(6).toString('base64url');
  private sequence = 0;
  /** Sends to each country (libphonenumber's regions: a few hundred at most) since this process started: when to trim. */
  private readonly sendsByCountry = new Map<string, number>();

  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClient) {
    requireScripts(redis, FRAUD_GUARD_SCRIPTS);
  }

  async admit(send: GuardedSend, limits: GuardLimits, now: number): Promise<GuardVerdict> {
    const country = send.country ?? '-';
    const keys = countryKeys(country);
    const entry = `${this.memberPrefix}:${(this.sequence = (this.sequence + 1) % Number.MAX_SAFE_INTEGER)}`;
    const [verdict, wait, sends, approved] = await this.redis.otpFraudAdmit(
      keys.suspension,
      keys.sends,
      keys.approvals,
      keys.since,
      ...counterKeys(send),
      COUNTRIES,
      SUSPENSIONS,
      now,
      WINDOW_MS,
      limits.graceMs,
      limits.minSample,
      limits.minConversion,
      limits.suspendMs,
      ...capsOf(send, limits),
      send.sampled ? 1 : 0,
      entry,
      country,
      send.country !== undefined ? 1 : 0,
      this.countSend(country) % TRIM_EVERY === 0 ? 1 : 0,
    );
    if (verdict === 'ok') {
      // The send's entry in its country's sends, where the script made one.
      const sampled = send.country !== undefined && send.sampled;
      return { allowed: true, counted: { send, limits, at: now, ...(sampled ? { entry } : {}) } };
    }
    if (verdict === 'suspended') {
      return {
        allowed: false,
        reason: 'suspended',
        retryAfterMs: Number(wait),
        ...(sends !== undefined ? { started: { sends: Number(sends), approved: Number(approved) } } : {}),
      };
    }
    return { allowed: false, reason: verdict as ThrottleReason, retryAfterMs: Number(wait) };
  }

  async refund({ send, limits, entry }: CountedSend): Promise<void> {
    // Each counter the admission counted in: those it was given a cap for.
    const counted = capsOf(send, limits).map((cap) => (cap > 0 ? 1 : 0));
    await this.redis.otpFraudRefund(...counterKeys(send), countryKeys(send.country ?? '-').sends, ...counted, entry ?? '');
  }

  private countSend(country: string): number {
    const sends = ((this.sendsByCountry.get(country) ?? 0) + 1) % Number.MAX_SAFE_INTEGER;
    this.sendsByCountry.set(country, sends);
    return sends;
  }

  async recordApproval(country: string, id: string, sentAt: number, now: number): Promise<void> {
    const keys = countryKeys(country);
    await this.redis.otpFraudApprove(keys.approvals, keys.since, now, WINDOW_MS, sentAt, id);
  }

  async overview(now: number): Promise<GuardOverview> {
    const [suspensions, countries] = await this.redis.otpFraudOverview(COUNTRIES, SUSPENSIONS, now, WINDOW_MS, KEY_PREFIX);
    return {
      suspensions: suspensions
        .map(([country, since, until, sends, approved]) => ({
          country,
          since: Number(since),
          until: Number(until),
          sends: Number(sends),
          approved: Number(approved),
        }))
        .sort((a, b) => a.country.localeCompare(b.country)),
      countries: countries
        .map(([country, sends, approved]) => ({ country, sends: Number(sends), approved: Number(approved) }))
        .filter((entry) => entry.sends > 0 || entry.approved > 0)
        .sort((a, b) => a.country.localeCompare(b.country)),
    };
  }

  async lift(country: string, now: number): Promise<void> {
    const keys = countryKeys(country);
    await this.redis.otpFraudLift(keys.suspension, keys.sends, keys.approvals, keys.since, SUSPENSIONS, now, WINDOW_MS, country);
  }
}
