/** `claimed`: the pending entry now names the `claim` of `consumeUnlessPending`, made in the same step as the count. */
export type SendLimitVerdict =
  { allowed: true; claimed?: true } | { allowed: false; reason: 'cooldown' | 'hourly' | 'daily'; retryAfterMs: number };

export type GuessVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface SendLimits {
  cooldownMs: number;
  perHour: number;
  perDay: number;
}

/**
 * Each destination's sends are counted in three budgets that never spend each other: sends through
 * the Verifications API, anonymous auth requests (`register`, `otp/start` and their resends), and
 * sends that follow proof (`login` after the right password, a signed-in user's contact change).
 * So no amount of anonymous requests keeps a user who knows their password from their login code.
 */
export const SEND_BUDGETS = ['api', 'anonymous', 'proven'] as const;
export type SendBudget = (typeof SEND_BUDGETS)[number];

/** Which pending verification of a destination a send may be for: its purpose (and subject), in the send's budget. */
export interface PendingLookup {
  purpose: string;
  subject?: string;
  /**
   * The new verification this send would start (its id and expiry): when the send is allowed, the pending entry is
   * made to name it in the same step, where the limiter can (Redis, whose entries sit in the destination's hash);
   * the verdict says so with `claimed`. The caller has written the verification first (`OtpStore.writeAhead`).
   */
  claim?: { id: string; expiresAt: number };
}

/** The pending entry an approval settles: the verification's id, purpose and subject. */
export interface ApprovedEntry {
  id: string;
  purpose: string;
  subject?: string;
}

/**
 * Per-destination send limits (resend cooldown, hourly and daily caps) in separate budgets, and the
 * daily wrong-guess allowance of a destination whose code is fixed; shared by every replica when
 * Redis is configured. `consume` checks all three send limits and counts the send only if all allow it.
 */
export interface SendLimiter {
  consume(destination: string, budget: SendBudget, limits: SendLimits, now: number): Promise<SendLimitVerdict>;
  /**
   * A start's first step: the id of the pending verification for `destination`+`budget`+`pending` if the
   * pending index names one, and then nothing is counted; otherwise `consume`. The id is a hint the
   * caller re-checks against the verification (and counts the send itself if it goes ahead). Redis
   * answers both from the destination's one hash in one round trip, and makes `pending.claim` the
   * pending one in it when the send is allowed.
   */
  consumeUnlessPending(
    destination: string,
    budget: SendBudget,
    limits: SendLimits,
    now: number,
    pending: PendingLookup,
  ): Promise<SendLimitVerdict | { pendingId: string }>;
  /**
   * Lifts the cooldown of one budget of a destination (a verification there was just approved). With `approved`,
   * also drops the pending entry for its purpose and subject while it names that verification, in the same step,
   * where the limiter keeps the pending index beside its counts (Redis, whose store leaves an approved
   * verification's entry to this); the memory store drops its own.
   */
  liftCooldown(destination: string, budget: SendBudget, approved?: ApprovedEntry): Promise<void>;
  /**
   * Takes one of the `perDay` guesses a destination's fixed code allows in the daily window opened by
   * the first; `refundGuess` gives back one that turned out right or was never compared.
   */
  takeGuess(destination: string, perDay: number, now: number): Promise<GuessVerdict>;
  refundGuess(destination: string, now: number): Promise<void>;
  /** Clears every budget and the guess count of one destination. */
  reset(destination: string): Promise<void>;
}

export const SendLimiter = Symbol('SendLimiter');

export const HOUR_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * HOUR_MS;
