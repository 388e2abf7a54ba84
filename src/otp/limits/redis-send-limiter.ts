import { Inject, Injectable } from '@nestjs/common';
import type { RedisClient } from '../../redis/redis-connection.js';
import { requireScripts } from '../../redis/redis-scripts.js';
import { REDIS_CLIENT } from '../../redis/redis.constants.js';
import {
  budgetLetter,
  cooldownFieldOf,
  destinationKey,
  entryId,
  legacyBudgetKeysOf,
  limitFieldsOf,
  pendingField,
  verificationIdOf,
} from '../destination-hash.js';
import {
  type ApprovedEntry,
  DAY_MS,
  type GuessVerdict,
  HOUR_MS,
  type PendingLookup,
  SEND_BUDGETS,
  type SendBudget,
  type SendLimiter,
  type SendLimits,
  type SendLimitVerdict,
} from './send-limiter.js';
import { SEND_LIMITER_SCRIPTS } from './send-limiter.scripts.js';

/** The guess count has a key of its own, beside the destination's hash and in its slot. */
const guessesKeyOf = (destination: string) => `${destinationKey(destination)}:guesses`;

/** Each budget's limits are fields of the destination's hash (destination-hash.ts), beside its pending index. */
@Injectable()
export class RedisSendLimiter implements SendLimiter {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClient) {
    requireScripts(redis, SEND_LIMITER_SCRIPTS);
  }

  consume(destination: string, budget: SendBudget, limits: SendLimits, now: number): Promise<SendLimitVerdict> {
    // Asked about no pending entry, the script answers a verdict only.
    return this.run(destination, budget, limits, now, '') as Promise<SendLimitVerdict>;
  }

  consumeUnlessPending(destination: string, budget: SendBudget, limits: SendLimits, now: number, pending: PendingLookup) {
    return this.run(destination, budget, limits, now, pendingField(pending.purpose, budget, pending.subject), pending.claim);
  }

  async liftCooldown(destination: string, budget: SendBudget, approved?: ApprovedEntry): Promise<void> {
    await this.redis.otpLiftCooldown(
      destinationKey(destination),
      legacyBudgetKeysOf(destination, budget)[0],
      cooldownFieldOf(budget),
      approved ? pendingField(approved.purpose, budget, approved.subject) : '',
      approved ? entryId(approved.id) : '',
    );
  }

  async takeGuess(destination: string, perDay: number): Promise<GuessVerdict> {
    const [allowed, ttl] = await this.redis.otpTakeGuess(guessesKeyOf(destination), perDay, DAY_MS);
    return allowed === 1 ? { allowed: true } : { allowed: false, retryAfterMs: Number(ttl) };
  }

  async refundGuess(destination: string): Promise<void> {
    await this.redis.otpRefundGuess(guessesKeyOf(destination));
  }

  /** The limit fields only: the pending index in the same hash is the store's, and stays. */
  async reset(destination: string): Promise<void> {
    await Promise.all([
      this.redis.hdel(destinationKey(destination), ...SEND_BUDGETS.flatMap(limitFieldsOf)),
      this.redis.del(...SEND_BUDGETS.flatMap((budget) => legacyBudgetKeysOf(destination, budget)), guessesKeyOf(destination)),
    ]);
  }

  private async run(
    destination: string,
    budget: SendBudget,
    limits: SendLimits,
    now: number,
    field: string,
    claim?: PendingLookup['claim'],
  ): Promise<SendLimitVerdict | { pendingId: string }> {
    const [verdict, detail] = await this.redis.otpConsumeSend(
      destinationKey(destination),
      ...legacyBudgetKeysOf(destination, budget),
      budgetLetter(budget),
      limits.cooldownMs,
      limits.perHour,
      limits.perDay,
      HOUR_MS,
      DAY_MS,
      now,
      field,
      claim ? entryId(claim.id) : '',
      claim ? claim.expiresAt : '',
    );
    if (verdict === 'ok') return Number(detail) === 1 ? { allowed: true, claimed: true } : { allowed: true };
    if (verdict === 'pending') return { pendingId: verificationIdOf(String(detail)) };
    return { allowed: false, reason: verdict as 'cooldown' | 'hourly' | 'daily', retryAfterMs: Number(detail) };
  }
}
