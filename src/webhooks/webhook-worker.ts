import { Inject, Injectable, Logger } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { WebhookFailures } from './webhook-failures.js';
import type { WebhookJob } from './webhook-job.js';
import { WebhookSender } from './webhook-sender.js';

/** One attempt at one event for one receiver, the same for Bull and the in-process queue. */
@Injectable()
export class WebhookWorker {
  private readonly logger = new Logger('Webhooks');

  constructor(
    private readonly sender: WebhookSender,
    @Inject(WebhookFailures) private readonly failures: WebhookFailures,
    private readonly metrics: MetricsService,
  ) {}

  /** Resolves when the receiver took it, or when it never will (kept as a failure); throws to have the queue retry. */
  async attempt(job: WebhookJob, attempt: number, maxAttempts: number): Promise<void> {
    try {
      await this.sender.deliver(job);
      this.metrics.events.inc({ result: 'delivered' });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const receiver = originOf(job.url);
      if (attempt < maxAttempts) {
        this.metrics.events.inc({ result: 'retried' });
        this.logger.warn({
          msg: `${job.type} ${job.webhookId} to ${receiver}: attempt ${attempt} of ${maxAttempts} failed (${reason})`,
          attempt,
        });
        throw error;
      }
      this.metrics.events.inc({ result: 'exhausted' });
      this.logger.error({ msg: `${job.type} ${job.webhookId} to ${receiver}: given up after ${attempt} attempts (${reason})`, attempt });
      await this.failures.add({
        webhookId: job.webhookId,
        type: job.type,
        url: receiver,
        attempts: attempt,
        lastError: reason,
        failedAt: new Date().toISOString(),
      });
    }
  }
}

/** A receiver as logs and the failure list show it: its origin and path, never credentials or a query it may carry. */
export function originOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
