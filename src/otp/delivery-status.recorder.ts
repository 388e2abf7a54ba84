import { Inject, Injectable, Logger } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import type { DeliveryReport, DeliveryReports } from './delivery.port.js';
import { OtpStore, RETENTION_MS } from './store/otp-store.js';

/** Delivery reports from messaging, written onto the verification they are about. */
@Injectable()
export class DeliveryStatusRecorder implements DeliveryReports {
  readonly retentionMs = RETENTION_MS;
  private readonly audit = new Logger('Audit');

  constructor(
    @Inject(OtpStore) private readonly store: OtpStore,
    private readonly metrics: MetricsService,
  ) {}

  async record(report: DeliveryReport): Promise<void> {
    const { verificationId, ...update } = report;
    await this.store.updateDelivery(verificationId, update, Date.now());
    if (report.status === 'failed') {
      const record = await this.store.get(verificationId);
      if (record?.status === 'failed') this.metrics.verificationsFailed.inc({ channel: record.channel });
      this.audit.warn({ event: 'verification.delivery_failed', verificationId, provider: report.provider, error: report.lastError });
    }
  }
}
