import { Inject, Injectable, Logger } from '@nestjs/common';
import { isoTime } from '../common/iso-time.js';
import { maskDestination } from '../common/masked-destination.js';
import { EventPublisher } from '../events/event-publisher.port.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { DeliveryReport, DeliveryReports, RecordedReport } from './delivery.port.js';
import { effectiveStatus, isReceiptStatus } from './otp.types.js';
import { OtpStore, RETENTION_MS } from './store/otp-store.js';

/** Delivery reports from messaging, written onto the verification they are about; each change is a `verification.delivery` event. */
@Injectable()
export class DeliveryStatusRecorder implements DeliveryReports {
  readonly retentionMs = RETENTION_MS;
  private readonly audit = new Logger('Audit');

  constructor(
    @Inject(OtpStore) private readonly store: OtpStore,
    private readonly metrics: MetricsService,
    @Inject(EventPublisher) private readonly events: EventPublisher,
  ) {}

  async record(report: DeliveryReport): Promise<RecordedReport> {
    const { verificationId, unlessMarked, ...update } = report;
    const outcome =
      unlessMarked === undefined
        ? await this.store.updateDelivery(verificationId, update, Date.now())
        : await this.store.updateDelivery(verificationId, update, Date.now(), unlessMarked);
    // Read back only when someone needs it: a send's own progress reports are the bulk of all reports.
    const readBack = isReceiptStatus(report.status) || report.status === 'failed' || this.events.enabled;
    const record = outcome !== 'ignored' && readBack ? await this.store.get(verificationId) : undefined;
    if (report.status === 'failed') {
      if (record?.status === 'failed') this.metrics.verificationsFailed.inc({ channel: record.channel });
      this.audit.warn({ event: 'verification.delivery_failed', verificationId, provider: report.provider, error: report.lastError });
    }
    if (!record) return { applied: outcome !== 'ignored', pending: false, expiresAt: 0 };
    const { delivery } = record;
    if (this.events.enabled)
      await this.events.publish('verification.delivery', {
        id: record.id,
        channel: record.channel,
        to: maskDestination(record.channel, record.to),
        purpose: record.purpose,
        delivery: {
          status: delivery.status,
          provider: delivery.provider,
          attempts: delivery.attempts,
          errorCode: delivery.errorCode ?? null,
          deliveredAt: delivery.deliveredAt !== undefined ? isoTime(delivery.deliveredAt) : null,
          updatedAt: isoTime(delivery.updatedAt),
        },
      });
    return { applied: true, pending: effectiveStatus(record, Date.now()) === 'pending', expiresAt: record.expiresAt };
  }
}
