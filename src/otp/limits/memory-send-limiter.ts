import { Injectable } from '@nestjs/common';
import type { OtpStore } from '../store/otp-store.js';
import {
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

interface Window {
  count: number;
  resetsAt: number;
}

interface BudgetState {
  cooldownUntil: number;
  hour: Window;
  day: Window;
}

const budgetKey = (destination: string, budget: SendBudget) => `${budget}\0${destination}`;

/**
 * How often the windows that have ended are dropped. A window that ended is worth nothing (the next
 * send opens a fresh one), so dropping it never lifts a live limit; what stays is bounded by what the
 * per-IP and per-key limits let in within a day.
 */
export const SWEEP_INTERVAL_MS = 60_000;

/**
 * Embedded mode: the same fixed windows as the Redis limiter, opened by the first send (or guess).
 * The pending index is the memory store's, asked through `pendingIndex`; without one, no start finds a
 * pending verification here, and the store's `createPending` is what keeps it one.
 */
@Injectable()
export class MemorySendLimiter implements SendLimiter {
  private readonly budgets = new Map<string, BudgetState>();
  private readonly guesses = new Map<string, Window>();
  private lastSweep = 0;

  constructor(private readonly pendingIndex?: Pick<OtpStore, 'findPendingId'>) {}

  /** Destinations (per budget) and guess windows held now, for tests and diagnostics. */
  get size(): number {
    return this.budgets.size + this.guesses.size;
  }

  async consume(destination: string, budget: SendBudget, limits: SendLimits, now: number): Promise<SendLimitVerdict> {
    this.forgetExpired(now);
    const key = budgetKey(destination, budget);
    const state = this.budgets.get(key) ?? {
      cooldownUntil: 0,
      hour: { count: 0, resetsAt: now + HOUR_MS },
      day: { count: 0, resetsAt: now + DAY_MS },
    };
    if (state.hour.resetsAt <= now) state.hour = { count: 0, resetsAt: now + HOUR_MS };
    if (state.day.resetsAt <= now) state.day = { count: 0, resetsAt: now + DAY_MS };
    if (state.cooldownUntil > now) return { allowed: false, reason: 'cooldown', retryAfterMs: state.cooldownUntil - now };
    if (state.hour.count >= limits.perHour) return { allowed: false, reason: 'hourly', retryAfterMs: state.hour.resetsAt - now };
    if (state.day.count >= limits.perDay) return { allowed: false, reason: 'daily', retryAfterMs: state.day.resetsAt - now };
    state.cooldownUntil = now + limits.cooldownMs;
    state.hour.count += 1;
    state.day.count += 1;
    this.budgets.set(key, state);
    return { allowed: true };
  }

  async consumeUnlessPending(
    destination: string,
    budget: SendBudget,
    limits: SendLimits,
    now: number,
    pending: PendingLookup,
  ): Promise<SendLimitVerdict | { pendingId: string }> {
    const pendingId = await this.pendingIndex?.findPendingId(destination, pending.purpose, budget, now, pending.subject);
    return pendingId ? { pendingId } : this.consume(destination, budget, limits, now);
  }

  async liftCooldown(destination: string, budget: SendBudget): Promise<void> {
    const state = this.budgets.get(budgetKey(destination, budget));
    if (state) state.cooldownUntil = 0;
  }

  async takeGuess(destination: string, perDay: number, now: number): Promise<GuessVerdict> {
    this.forgetExpired(now);
    let window = this.guesses.get(destination);
    if (!window || window.resetsAt <= now) window = { count: 0, resetsAt: now + DAY_MS };
    if (window.count >= perDay) return { allowed: false, retryAfterMs: window.resetsAt - now };
    window.count += 1;
    this.guesses.set(destination, window);
    return { allowed: true };
  }

  async refundGuess(destination: string, now: number): Promise<void> {
    const window = this.guesses.get(destination);
    if (window && window.resetsAt > now && window.count > 0) window.count -= 1;
  }

  async reset(destination: string): Promise<void> {
    for (const budget of SEND_BUDGETS) this.budgets.delete(budgetKey(destination, budget));
    this.guesses.delete(destination);
  }

  /**
   * A full scan, at most once per interval whatever the traffic: scanning on every send once the maps
   * were large made each send cost as much as the number of destinations seen that day.
   */
  private forgetExpired(now: number) {
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [key, state] of this.budgets) {
      if (state.day.resetsAt <= now && state.cooldownUntil <= now) this.budgets.delete(key);
    }
    for (const [destination, window] of this.guesses) if (window.resetsAt <= now) this.guesses.delete(destination);
  }
}
