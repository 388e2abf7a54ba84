import { Inject, Injectable } from '@nestjs/common';
import { Webhook } from 'standardwebhooks';
import { messagingConfig } from '../config/config.namespaces.js';
import type { MessagingConfig } from '../config/configuration.types.js';
import { WEBHOOK_TIMEOUT_MS, type WebhookJob } from './webhook-job.js';

/** One attempt at one event for one receiver, signed per the Standard Webhooks specification. */
@Injectable()
export class WebhookSender {
  private readonly signer: Webhook | undefined;

  constructor(@Inject(messagingConfig.KEY) config: MessagingConfig) {
    this.signer = config.events.secret !== undefined ? new Webhook(config.events.secret) : undefined;
  }

  /** Resolves when the receiver answered 2xx; throws with the reason otherwise (a redirect is not followed). */
  async deliver(job: WebhookJob): Promise<void> {
    if (!this.signer) throw new Error('WEBHOOK_SECRET is not set');
    const timestamp = new Date();
    let response: Response;
    try {
      response = await fetch(job.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': job.webhookId,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': this.signer.sign(job.webhookId, timestamp, job.payload),
        },
        body: job.payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${WEBHOOK_TIMEOUT_MS} ms` : describe(error);
      throw new Error(`receiver unreachable: ${reason}`, { cause: error });
    }
    await response.body?.cancel();
    if (response.status < 200 || response.status >= 300) throw new Error(`receiver answered ${response.status}`);
  }
}

function describe(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
  return (cause ?? (error instanceof Error ? error.message : String(error))).slice(0, 200);
}
