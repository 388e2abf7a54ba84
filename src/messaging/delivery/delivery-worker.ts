import { Inject, Injectable, Logger } from '@nestjs/common';
import { messagingConfig } from '../../config/config.namespaces.js';
import type { MessagingConfig } from '../../config/configuration.types.js';
import { runWithLogContext } from '../../logging/log-context.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { type DeliveryReport, DeliveryReports } from '../../otp/delivery.port.js';
import { ChainExhaustedError, FailoverSender, MessageRenderingError, PermanentDeliveryError } from '../failover-sender.js';
import { maskDestinations } from '../masked-text.js';
import { countryOf, DeliveryConversion } from '../delivery-conversion.js';
import type { SendResult } from '../message-provider.js';
import { receiptVendorOf } from '../receipts/receipt-vendors.js';
import { DeliveryLedger } from './delivery-ledger.js';
import { keptMessageOwner, PayloadSealer } from './sealed-payload.js';
import type { DeliveryContent, QueuedDelivery } from './delivery-job.js';

/** Thrown to have the queue try the whole chain again later. */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

/**
 * One attempt at one queued send, the same for Bull and the in-process queue: skip it if it already
 * went out, run the failover chain, and report every step so the verification shows what happened.
 */
@Injectable()
export class DeliveryWorker {
  private readonly logger = new Logger('Delivery');

  constructor(
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    @Inject(DeliveryLedger) private readonly ledger: DeliveryLedger,
    @Inject(DeliveryReports) private readonly reports: DeliveryReports,
    private readonly sender: FailoverSender,
    private readonly metrics: MetricsService,
    private readonly sealer: PayloadSealer,
    private readonly conversion: DeliveryConversion,
  ) {}

  get maxAttempts(): number {
    return this.config.delivery.attempts;
  }

  /**
   * Resolves when the send is settled (sent, or failed for good); throws RetryLaterError when the
   * queue should try again after its backoff. Every line written meanwhile, here or by the
   * providers, carries the id of the request that queued the job and the verification's id.
   */
  attempt(job: QueuedDelivery, attemptNumber: number): Promise<void> {
    return runWithLogContext({ requestId: job.requestId, verificationId: job.verificationId }, () => this.run(job, attemptNumber));
  }

  private async run(job: QueuedDelivery, attemptNumber: number): Promise<void> {
    this.logger.log({
      msg: `${job.key}: ${job.channel} delivery attempt ${attemptNumber} of ${this.maxAttempts}`,
      channel: job.channel,
      attempt: attemptNumber,
    });
    // Whether the code expired and whether it can be read are known here, but they count only for a
    // send that has not gone out yet: an expired or unreadable job that was delivered is no failure.
    const expired = Date.now() >= job.expiresAt;
    let content: DeliveryContent | undefined;
    if (!expired) {
      try {
        content = job.open();
      } catch {
        content = undefined;
      }
    }
    if (content === undefined) {
      if (await this.alreadySent(job, attemptNumber)) return;
      if (expired) await this.fail(job, attemptNumber, 'expired', 'the code expired before it could be delivered');
      else {
        await this.fail(
          job,
          attemptNumber,
          'undecryptable',
          'the queued message could not be decrypted: OTP_SECRET differs from the one that queued it',
        );
      }
      return;
    }
    if (await this.startSending(job, attemptNumber)) return;
    try {
      const result = await this.sender.send({
        idempotencyKey: job.key,
        verificationId: job.verificationId,
        channel: job.channel,
        to: content.to,
        template: 'otp',
        code: content.code,
        purpose: content.purpose,
        locale: content.locale,
        expiresAt: new Date(job.expiresAt),
        attempt: attemptNumber,
        skipProviders: job.skipProviders,
      });
      // The ledger entry, the status and the follow-up are written together, so their Redis commands
      // leave in one write rather than one round trip after another. Neither the report nor the
      // follow-up ever throws; a ledger write that fails still fails the attempt, as before, and the
      // 'queued' report that follows is written after the 'sent' one.
      const marked = this.ledger.markSent(job.key, job.expiresAt - Date.now() + this.reports.retentionMs);
      const reported = this.report(job, {
        status: 'sent',
        provider: result.provider,
        attempts: attemptNumber,
        lastError: null,
        codeIssuer: result.codeIssuedByProvider ? result.provider : null,
        // Kept on the verification only to match the receipts that name it: an SMTP message id is
        // some 60 bytes that no receipt ever names, in a hash Redis keeps for every verification.
        messageId: receiptVendorOf(result.provider) === undefined ? undefined : result.providerMessageId,
      });
      const followedUp = this.followUp(job, content, result);
      await marked;
      this.logger.log({
        msg: `${job.key}: delivered through ${result.provider} on attempt ${attemptNumber}`,
        channel: job.channel,
        provider: result.provider,
        attempt: attemptNumber,
      });
      this.metrics.deliveries.inc({ channel: job.channel, result: 'sent' });
      this.metrics.deliveryLatency.observe({ channel: job.channel, provider: result.provider }, (Date.now() - job.issuedAt) / 1000);
      await reported;
      await followedUp;
    } catch (error) {
      // The chain's errors are masked already; anything else thrown on the way is masked here, as it
      // becomes the verification's lastError, the queue's failed reason and a log line.
      const reason = maskDestinations(error instanceof Error ? error.message : String(error), {
        channel: job.channel,
        to: content.to,
        code: content.code,
      });
      const kind = errorKindOf(error);
      const provider = error instanceof PermanentDeliveryError ? error.provider : undefined;
      // Neither a refused destination nor a message that cannot be rendered gets better by waiting.
      if (error instanceof PermanentDeliveryError || error instanceof MessageRenderingError || attemptNumber >= this.maxAttempts) {
        await this.fail(job, attemptNumber, kind, reason, provider);
        return;
      }
      this.logger.warn({
        msg: `${job.key}: attempt ${attemptNumber} of ${this.maxAttempts} failed (${reason}); retrying`,
        channel: job.channel,
        attempt: attemptNumber,
        errorKind: kind,
        error: reason,
      });
      await this.report(job, { status: 'queued', attempts: attemptNumber, lastError: reason });
      throw new RetryLaterError(reason);
    }
  }

  /**
   * The ledger's check and the 'sending' status. Where the ledger's mark is visible to the status
   * write (Redis), both leave in one round trip: the status is written only if the send is not marked,
   * in the same step, so a job that runs again after its send never reports it 'sending'. Otherwise
   * the check comes first. True when the send went out already.
   */
  private async startSending(job: QueuedDelivery, attemptNumber: number): Promise<boolean> {
    const mark = this.ledger.sentMark?.(job.key);
    if (mark === undefined) {
      if (await this.alreadySent(job, attemptNumber)) return true;
      await this.report(job, { status: 'sending', attempts: attemptNumber });
      return false;
    }
    const [sent] = await Promise.all([
      this.alreadySent(job, attemptNumber),
      this.report(job, { status: 'sending', attempts: attemptNumber, unlessMarked: mark }),
    ]);
    return sent;
  }

  private async alreadySent(job: QueuedDelivery, attemptNumber: number): Promise<boolean> {
    if (!(await this.ledger.wasSent(job.key))) return false;
    this.logger.log({ msg: `${job.key}: already delivered, not sending again`, channel: job.channel, attempt: attemptNumber });
    return true;
  }

  /**
   * After a provider accepted the code: counted for its conversion; its message id indexed for the
   * receipts that name it; and the message kept, sealed, for a failover should a receipt say it was
   * lost. Both live as long as the verification may still be read. None of it may fail the send.
   */
  private async followUp(job: QueuedDelivery, content: DeliveryContent, result: SendResult): Promise<void> {
    const country = countryOf(job.channel, content.to);
    const ttlMs = job.expiresAt - Date.now() + this.reports.retentionMs;
    try {
      await this.conversion.count('sent', { channel: job.channel, provider: result.provider, country }, Date.now());
      const vendor = receiptVendorOf(result.provider);
      if (vendor === undefined || result.providerMessageId === undefined || result.codeIssuedByProvider) return;
      const { verificationId, sendNumber, channel } = job;
      const tried = job.skipProviders ?? [];
      await this.ledger.rememberMessage(
        vendor,
        result.providerMessageId,
        { verificationId, sendNumber, channel, provider: result.provider, country, tried },
        ttlMs,
      );
      const sealed = this.sealer.sealContent(content, keptMessageOwner(verificationId));
      await this.ledger.keep(verificationId, { sendNumber, sealed }, Math.max(1000, job.expiresAt - Date.now()));
    } catch (error) {
      this.logger.warn(`${job.key}: receipts for this message will not be followed: ${error instanceof Error ? error.message : error}`);
    }
  }

  private async fail(job: QueuedDelivery, attempts: number, kind: string, reason: string, provider?: string): Promise<void> {
    this.logger.error({
      msg: `${job.key}: delivery failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${reason}`,
      channel: job.channel,
      provider,
      attempt: attempts,
      errorKind: kind,
      error: reason,
    });
    this.metrics.deliveries.inc({ channel: job.channel, result: 'failed' });
    await this.report(job, { status: 'failed', attempts, lastError: reason });
  }

  private async report(job: QueuedDelivery, report: Omit<DeliveryReport, 'verificationId' | 'sendNumber'>): Promise<void> {
    try {
      await this.reports.record({ verificationId: job.verificationId, sendNumber: job.sendNumber, ...report });
    } catch (error) {
      // A status write must not turn a delivered message into a retried one.
      this.logger.warn(`${job.key}: could not record delivery status ${report.status}: ${error instanceof Error ? error.message : error}`);
    }
  }
}

function errorKindOf(error: unknown): string {
  if (error instanceof PermanentDeliveryError) return 'permanent';
  if (error instanceof MessageRenderingError) return 'unrenderable';
  return error instanceof ChainExhaustedError ? 'exhausted' : 'unexpected';
}
