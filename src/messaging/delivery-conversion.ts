import { Inject, Injectable, Logger } from '@nestjs/common';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { messagingConfig } from '../config/config.namespaces.js';
import type { Channel, MessagingConfig } from '../config/configuration.types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ConversionCounts, type ConversionEvent, type ConversionFigures } from './provider-conversion.js';

/** The country of a destination, as a metric label: ISO alpha-2 for phone numbers, `none` for email. */
export function countryOf(channel: Channel, to: string): string {
  if (channel === 'email') return 'none';
  return parsePhoneNumberFromString(to)?.country ?? 'unknown';
}

const PRUNE_INTERVAL_MS = 60_000;

export interface ConversionSubject {
  channel: Channel;
  provider: string;
  country: string;
}

export interface ProviderConversionView {
  lastHour: ConversionFigures;
  /** Enough of its codes old enough to be entered, and too few of them were: the silent failure no error reports. */
  suspect: boolean;
}

/**
 * Follows codes past "sent": the counters of `/metrics` (started, delivered, undelivered, approved per
 * channel, provider and country) and each provider's last hour, shared by replicas, from which it is
 * judged suspect per SUSPECT_GRACE_SECONDS, SUSPECT_MIN_SENDS and SUSPECT_MIN_APPROVAL.
 */
@Injectable()
export class DeliveryConversion {
  private readonly logger = new Logger('Messaging');
  private readonly suspects = new Map<string, boolean>();
  /** When each provider's counts were last read (which drops what is older than an hour). */
  private readonly prunedAt = new Map<string, number>();

  constructor(
    @Inject(ConversionCounts) private readonly counts: ConversionCounts,
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    private readonly metrics: MetricsService,
  ) {}

  /** `sentAt`: when the code went out, so an approval or receipt counts with its send. Never throws: counting must not fail a delivery. */
  async count(event: ConversionEvent, subject: ConversionSubject, sentAt: number): Promise<void> {
    const labels = { channel: subject.channel, provider: subject.provider, country: subject.country };
    this.metrics.conversions.inc({ stage: event === 'sent' ? 'started' : event, ...labels });
    try {
      await this.counts.add(subject.provider, event, sentAt);
      // Counts stay bounded to an hour even where nobody reads /health/messaging or scrapes /metrics.
      const now = Date.now();
      if (now - (this.prunedAt.get(subject.provider) ?? 0) >= PRUNE_INTERVAL_MS) await this.view(subject.provider, now);
    } catch (error) {
      this.logger.warn(`conversion of ${subject.provider} not counted: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async view(provider: string, now = Date.now()): Promise<ProviderConversionView> {
    const { minSends, minApproval, graceSeconds } = this.config.suspect;
    const { lastHour, judged } = await this.counts.window(provider, now, graceSeconds * 1000);
    this.prunedAt.set(provider, now);
    const suspect = judged.sent >= minSends && judged.approved / judged.sent < minApproval;
    this.note(provider, suspect, judged);
    return { lastHour, suspect };
  }

  /** The gauge, and one WARN line each way when a provider turns suspect or stops being so. */
  private note(provider: string, suspect: boolean, judged: { sent: number; approved: number }): void {
    this.metrics.providerSuspect.set({ provider }, suspect ? 1 : 0);
    const before = this.suspects.get(provider) ?? false;
    this.suspects.set(provider, suspect);
    if (before === suspect) return;
    const figures = `${judged.approved} of ${judged.sent} codes of the last hour approved`;
    if (suspect) {
      this.logger.warn({
        msg: `${provider} is suspect: ${figures}, below ${this.config.suspect.minApproval}; its codes may not arrive (or it is pumped)`,
        provider,
        suspect,
      });
    } else {
      this.logger.warn({ msg: `${provider} is no longer suspect: ${figures}`, provider, suspect });
    }
  }
}
