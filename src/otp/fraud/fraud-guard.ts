import type { Channel } from '../../config/configuration.types.js';

/** One SMS/WhatsApp send (or any send, when only a channel cap applies) as the fraud guard sees it. */
export interface GuardedSend {
  channel: Channel;
  /** ISO 3166 alpha-2, or `001` (libphonenumber's name for non-geographic numbers); none for email. */
  country?: string;
  /** The E.164 number without its last 3 digits; none for email. */
  prefix?: string;
  /**
   * Whether the send counts in its country's conversion sample: only codes that really reach the number
   * do. A test destination's fixed code or a withheld challenge costs nothing and proves nothing, so
   * neither can suspend a country nor vouch for one.
   */
  sampled: boolean;
}

/** 0 = no cap, as configured. */
export interface GuardLimits {
  prefixPerHour: number;
  countryPerHour: number;
  channelPerHour: number;
  minSample: number;
  graceMs: number;
  /** 0 = never suspend. */
  minConversion: number;
  suspendMs: number;
}

export type ThrottleReason = 'prefix' | 'country' | 'channel';

/** What made a country's suspension: its judged sends of the last hour and how many of them were approved. */
export interface SuspensionEvidence {
  sends: number;
  approved: number;
}

/**
 * What an admitted send counted, so that `refund` can take it back: the send, the limits it was counted under
 * (which caps counted it), when, and its entry in its country's sends if it is sampled there.
 */
export interface CountedSend {
  send: GuardedSend;
  limits: GuardLimits;
  at: number;
  entry?: string;
}

export type GuardVerdict =
  | { allowed: true; counted: CountedSend }
  | { allowed: false; reason: ThrottleReason; retryAfterMs: number }
  /** `started`: this very send found the country's rate too low, so the suspension is new. */
  | { allowed: false; reason: 'suspended'; retryAfterMs: number; started?: SuspensionEvidence };

export interface CountrySuspension extends SuspensionEvidence {
  country: string;
  since: number;
  until: number;
}

/** What an admin reads: current suspensions, and each country's sends and approvals of the last hour. */
export interface GuardOverview {
  suspensions: CountrySuspension[];
  countries: { country: string; sends: number; approved: number }[];
}

/**
 * The fraud guard's shared state: hourly counters per number prefix, country and channel, and per
 * country the rolling last hour of sends and of approvals (each approval under the time of the send
 * it approved), from which a country whose codes are not being entered gets suspended. Shared by every
 * replica when Redis is configured. `admit` decides and counts a send in one step, and counts nothing
 * it refuses; `refund` uncounts one it admitted.
 */
export interface FraudGuard {
  admit(send: GuardedSend, limits: GuardLimits, now: number): Promise<GuardVerdict>;
  /**
   * Takes back what `admit` counted for a send that did not go ahead after all: the guard is asked beside the
   * destination's own limits, which may refuse the send or find it is a re-send. A counter whose hour has ended
   * since is left alone.
   */
  refund(counted: CountedSend): Promise<void>;
  /** An approval of a sampled send made at `sentAt` to `country`; `id` names the verification, which is approved once. */
  recordApproval(country: string, id: string, sentAt: number, now: number): Promise<void>;
  overview(now: number): Promise<GuardOverview>;
  /** Ends a country's suspension and forgets its window, so the same sends cannot suspend it again. */
  lift(country: string, now: number): Promise<void>;
}

export const FraudGuard = Symbol('FraudGuard');

export const WINDOW_MS = 60 * 60 * 1000;
