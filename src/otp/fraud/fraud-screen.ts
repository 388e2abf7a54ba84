import { Inject, Injectable, Logger } from '@nestjs/common';
import { otpConfig } from '../../config/config.namespaces.js';
import type { Channel, FraudConfig, OtpConfig } from '../../config/configuration.types.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { parsePhoneNumber } from '../destinations/addresses.js';
import type { Destination } from '../destinations/destinations.js';
import { DestinationSuspendedError, DestinationThrottledError } from '../otp.errors.js';
import type { VerificationRecord } from '../otp.types.js';
import { FraudEvents } from './fraud-events.js';
import {
  type CountedSend,
  FraudGuard,
  type GuardedSend,
  type GuardLimits,
  type GuardOverview,
  type GuardVerdict,
  type SuspensionEvidence,
  type ThrottleReason,
} from './fraud-guard.js';

/** What an admin reads at GET /v1/admin/fraud. */
export interface FraudView {
  suspensions: { country: string; suspendedAt: string; until: string; sends: number; approved: number }[];
  countries: GuardOverview['countries'];
}

/** The fraud guard's say on one send (`FraudScreen.screen`), before it is answered or withdrawn. */
export type Screening =
  | { outcome: 'unscreened' }
  | { outcome: 'admitted'; counted: CountedSend }
  | { outcome: 'refused'; reason: ThrottleReason | 'suspended'; country?: string; error: Error }
  | { outcome: 'failed'; error: unknown };

/** Every send on a channel with nothing to check: one answer for all of them. */
const UNSCREENED: Screening = Object.freeze({ outcome: 'unscreened' });

/** libphonenumber's region of numbers that belong to no country (+800, +882, +883…): judged together. */
export const NON_GEOGRAPHIC = '001';
/** The `country` label of a refusal with no country: a channel cap on email. */
const NO_COUNTRY = 'none';

/**
 * The fraud guard as the OTP core applies it to every send, before anything is sent: the configured
 * caps and suspension rule, one call to the guard's state per send (and one more to take back what it
 * counted of a send that does not go ahead), and on a refusal its error, its metric and, for a new
 * suspension, a WARN line and a `fraud.suspended` event. A guard with nothing to check for a channel
 * makes no call at all.
 */
@Injectable()
export class FraudScreen {
  private readonly logger = new Logger('FraudGuard');
  private readonly config: FraudConfig;
  private readonly phoneChecks: boolean;

  constructor(
    @Inject(otpConfig.KEY) otp: OtpConfig,
    @Inject(FraudGuard) private readonly guard: FraudGuard,
    @Inject(FraudEvents) private readonly events: FraudEvents,
    private readonly metrics: MetricsService,
  ) {
    this.config = otp.fraud;
    this.phoneChecks =
      this.config.prefixPerHour > 0 || Object.values(this.config.countryPerHour).some((cap) => cap > 0) || this.config.minConversion > 0;
    metrics.refreshBeforeScrape(() => this.refreshSuspendedGauge());
  }

  /** Throws DESTINATION_THROTTLED or DESTINATION_SUSPENDED when the send must not happen; counts it otherwise. */
  async admit(channel: Channel, destination: Destination, sampled: boolean, now: number): Promise<void> {
    this.enforce(await this.screen(channel, destination, sampled, now));
  }

  /**
   * The guard's verdict on a send, asked before the destination's own limits have answered so that both leave in
   * one write: an admitted send is counted, and is `withdraw`n if those limits refuse it. Never rejects; `enforce`
   * answers the verdict. A suspension this send started is reported here, since it began whatever the answer.
   */
  async screen(channel: Channel, destination: Destination, sampled: boolean, now: number): Promise<Screening> {
    if (!this.screens(channel)) return UNSCREENED;
    const phone = channel !== 'email';
    const country = phone ? (destination.country ?? NON_GEOGRAPHIC) : undefined;
    const send: GuardedSend = phone
      ? { channel, country, prefix: destination.normalized.slice(0, -3), sampled }
      : { channel, sampled: false };
    let verdict: GuardVerdict;
    try {
      verdict = await this.guard.admit(send, this.limits(channel, country), now);
    } catch (error) {
      return { outcome: 'failed', error };
    }
    if (verdict.allowed) return { outcome: 'admitted', counted: verdict.counted };
    const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
    if (verdict.reason === 'suspended') {
      if (verdict.started) this.suspended(country!, verdict.started, now + verdict.retryAfterMs);
      return { outcome: 'refused', reason: verdict.reason, country, error: new DestinationSuspendedError(country!, seconds) };
    }
    const error = new DestinationThrottledError(verdict.reason, verdict.reason === 'channel' ? channel : country!, seconds);
    return { outcome: 'refused', reason: verdict.reason, country, error };
  }

  /** Answers a screening: throws its refusal (or the guard's failure), and admits the send otherwise. */
  enforce(screening: Screening): void {
    if (screening.outcome === 'failed') throw screening.error;
    if (screening.outcome !== 'refused') return;
    this.metrics.fraudRefusals.inc({ reason: screening.reason, country: screening.country ?? NO_COUNTRY });
    throw screening.error;
  }

  /** Takes back what a screening counted, for a send that does not go ahead; a failure leaves the count to its hour. */
  async withdraw(screening: Screening): Promise<void> {
    if (screening.outcome !== 'admitted') return;
    await this.guard.refund(screening.counted).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(`a send that did not go ahead stays counted by the fraud guard until its hour ends: ${reason}`);
    });
  }

  /**
   * Counts an approval toward its country's rate as it happens, under the time of the send it approved.
   * `sampled`: whether that send counted (a code that reached the number); a failure here never undoes the approval.
   */
  async recordApproval(record: VerificationRecord, sampled: boolean, now: number): Promise<void> {
    if (record.channel === 'email' || !sampled || !this.phoneChecks) return;
    const country = parsePhoneNumber(record.to)?.country ?? NON_GEOGRAPHIC;
    await this.guard.recordApproval(country, record.id, record.lastSentAt, now).catch((error: unknown) => {
      this.logger.warn(
        `an approval in ${country} was not counted toward its rate: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  }

  async view(now: number): Promise<FraudView> {
    const { suspensions, countries } = await this.guard.overview(now);
    return {
      suspensions: suspensions.map(({ country, since, until, sends, approved }) => ({
        country,
        suspendedAt: new Date(since).toISOString(),
        until: new Date(until).toISOString(),
        sends,
        approved,
      })),
      countries,
    };
  }

  async lift(country: string, now: number): Promise<void> {
    await this.guard.lift(country, now);
  }

  private limits(channel: Channel, country: string | undefined): GuardLimits {
    const { countryPerHour } = this.config;
    return {
      prefixPerHour: this.config.prefixPerHour,
      countryPerHour: country !== undefined ? (countryPerHour[country] ?? countryPerHour['*'] ?? 0) : 0,
      channelPerHour: this.channelCap(channel),
      minSample: this.config.minSample,
      graceMs: this.config.graceSeconds * 1000,
      minConversion: this.config.minConversion,
      suspendMs: this.config.suspendMinutes * 60_000,
    };
  }

  /** Whether a send on this channel has anything to pass here: otherwise `admit` admits it at once, and makes no call. */
  private screens(channel: Channel): boolean {
    return (channel !== 'email' && this.phoneChecks) || this.channelCap(channel) > 0;
  }

  private channelCap(channel: Channel): number {
    const caps = this.config.channelPerHour;
    return caps[channel] ?? caps['*'] ?? 0;
  }

  /** Once per suspension: the replica whose send found the rate too low is the one that says so. */
  private suspended(country: string, evidence: SuspensionEvidence, until: number): void {
    const { sends, approved } = evidence;
    const rate = sends > 0 ? ((approved / sends) * 100).toFixed(1) : '0';
    this.logger.warn(
      `${country} suspended for ${this.config.suspendMinutes} minutes: of the ${sends} SMS/WhatsApp codes sent there in the last hour ` +
        `at least ${this.config.graceSeconds} s ago, ${approved} were entered (${rate}%, below FRAUD_MIN_CONVERSION ` +
        `${this.config.minConversion}); ` +
        `sends to ${country} answer 403 DESTINATION_SUSPENDED until then, or until DELETE /v1/admin/fraud/suspensions/${country}`,
    );
    this.metrics.fraudSuspensions.inc({ country });
    this.events.suspended({ country, sends, approved, until: new Date(until).toISOString() });
  }

  private async refreshSuspendedGauge(): Promise<void> {
    if (!this.phoneChecks) return;
    const { suspensions } = await this.guard.overview(Date.now());
    this.metrics.fraudSuspended.reset();
    for (const { country } of suspensions) this.metrics.fraudSuspended.set({ country }, 1);
  }
}
