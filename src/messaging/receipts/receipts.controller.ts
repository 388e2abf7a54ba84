import { Body, Controller, Headers, HttpCode, Logger, Post, Req } from '@nestjs/common';
import { ApiConsumes, ApiExcludeController } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { UnauthorizedError, ValidationFailedError } from '../../common/errors.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import type { ReceiptStatus } from '../../otp/otp.types.js';
import { ReceiptSignatures } from './receipt-signatures.js';
import { type Receipt, ReceiptService } from './receipt.service.js';
import { parseSnsMessage } from './sns-message.js';

/** Events read from one SendGrid post at most: a post is bounded work, whatever it holds (SendGrid batches far fewer). */
export const MAX_EVENTS_PER_POST = 500;

const FORGED = 'The request is not signed by the provider.';

/**
 * Delivery receipts as the vendors post them, each verified by the vendor's signature before anything
 * in it is read: unsigned or wrongly signed is 401 and changes nothing. A receipt for a message this
 * service does not know is acknowledged and ignored, so a vendor never retries it.
 */
@Controller('webhooks')
@ApiExcludeController()
export class ReceiptsController {
  private readonly logger = new Logger('Delivery');

  constructor(
    private readonly signatures: ReceiptSignatures,
    private readonly receipts: ReceiptService,
    private readonly metrics: MetricsService,
  ) {}

  /** Twilio's StatusCallback for SMS and WhatsApp messages (sent with every message when PUBLIC_BASE_URL is set). */
  @Post('twilio/status')
  @HttpCode(204)
  @ApiConsumes('application/x-www-form-urlencoded')
  async twilio(@Req() request: FastifyRequest, @Body() body: unknown, @Headers('x-twilio-signature') signature?: string): Promise<void> {
    const params = Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : ''));
    if (!this.signatures.twilio(request.url, signature, params)) this.refuse('twilio');
    const status = twilioStatus(params.MessageStatus);
    if (status === undefined || !params.MessageSid) return;
    await this.receipts.apply({ vendor: 'twilio', messageId: params.MessageSid, status, errorCode: params.ErrorCode || undefined });
  }

  /** SendGrid's signed Event Webhook: a JSON array of events. */
  @Post('sendgrid/events')
  @HttpCode(204)
  async sendgrid(
    @Body() body: unknown,
    @Headers('x-twilio-email-event-webhook-signature') signature?: string,
    @Headers('x-twilio-email-event-webhook-timestamp') timestamp?: string,
  ): Promise<void> {
    const raw = typeof body === 'string' ? body : '';
    if (!this.signatures.sendgrid(raw, signature, timestamp)) this.refuse('sendgrid');
    const events = parseJson(raw);
    if (!Array.isArray(events)) throw new ValidationFailedError({ body: ['must be a JSON array of events'] });
    for (const event of events.slice(0, MAX_EVENTS_PER_POST)) {
      const receipt = sendgridReceipt(event);
      if (receipt) await this.receipts.apply(receipt);
    }
  }

  /** SES events through an SNS HTTPS subscription (confirmed here, once its signature is checked). */
  @Post('ses')
  @HttpCode(204)
  async ses(@Body() body: unknown): Promise<void> {
    const message = parseSnsMessage(body);
    if (!message || !(await this.signatures.sns(message))) this.refuse('ses');
    if (message.Type === 'SubscriptionConfirmation') {
      const confirmed = await this.signatures.confirmSubscription(message.SubscribeURL!).catch(() => false);
      this.logger.log(`SNS subscription to ${message.TopicArn} ${confirmed ? 'confirmed' : 'could not be confirmed'}`);
      return;
    }
    if (message.Type !== 'Notification') return;
    const receipt = sesReceipt(parseJson(message.Message));
    if (receipt) await this.receipts.apply(receipt);
  }

  private refuse(vendor: string): never {
    this.metrics.receipts.inc({ vendor, result: 'unsigned' });
    throw new UnauthorizedError(FORGED);
  }
}

function twilioStatus(status: string | undefined): ReceiptStatus | undefined {
  if (status === 'delivered' || status === 'read') return 'delivered';
  if (status === 'undelivered' || status === 'failed') return 'undelivered';
  return undefined;
}

/** `delivered`; `bounce` and `dropped` lose the message. Their `sg_message_id` starts with the id the send was given. */
function sendgridReceipt(event: unknown): Receipt | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const { event: type, sg_message_id: id, status, reason, timestamp } = event as Record<string, unknown>;
  if (typeof id !== 'string' || id === '') return undefined;
  const messageId = id.split('.')[0]!;
  const at = typeof timestamp === 'number' ? timestamp * 1000 : undefined;
  if (type === 'delivered') return { vendor: 'sendgrid', messageId, status: 'delivered', at };
  if (type !== 'bounce' && type !== 'dropped') return undefined;
  const errorCode =
    typeof status === 'string' && status ? status : typeof reason === 'string' && type === 'dropped' ? 'dropped' : String(type);
  return { vendor: 'sendgrid', messageId, status: 'undelivered', errorCode };
}

/** An SES event (configuration-set event publishing, or identity notifications). */
function sesReceipt(event: unknown): Receipt | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const record = event as {
    eventType?: string;
    notificationType?: string;
    mail?: { messageId?: unknown };
    delivery?: { timestamp?: unknown };
    bounce?: { bounceType?: unknown; bouncedRecipients?: { status?: unknown }[] };
  };
  const type = record.eventType ?? record.notificationType;
  const messageId = record.mail?.messageId;
  if (typeof messageId !== 'string' || messageId === '') return undefined;
  if (type === 'Delivery') {
    const at = typeof record.delivery?.timestamp === 'string' ? Date.parse(record.delivery.timestamp) : NaN;
    return { vendor: 'ses', messageId, status: 'delivered', at: Number.isNaN(at) ? undefined : at };
  }
  if (type === 'Bounce') {
    const status = record.bounce?.bouncedRecipients?.[0]?.status;
    const errorCode = typeof status === 'string' && status ? status : String(record.bounce?.bounceType ?? 'Bounce');
    return { vendor: 'ses', messageId, status: 'undelivered', errorCode };
  }
  if (type === 'Reject' || type === 'Rendering Failure') return { vendor: 'ses', messageId, status: 'undelivered', errorCode: type };
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
