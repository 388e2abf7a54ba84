import { EventWebhook } from '@sendgrid/eventwebhook';
import { Inject, Injectable, Logger } from '@nestjs/common';
import twilio from 'twilio';
import { messagingConfig } from '../../config/config.namespaces.js';
import type { MessagingConfig } from '../../config/configuration.types.js';
import { isAllowedSnsUrl, type SnsMessage, verifySnsSignature } from './sns-message.js';

/** A certificate or confirmation fetch never waits longer than this, nor reads more than this. */
const FETCH_TIMEOUT_MS = 5_000;
const MAX_CERTIFICATE_BYTES = 16 * 1024;
/** Signing certificates kept, newest last: AWS rotates them rarely, so a handful covers every topic. */
const MAX_CACHED_CERTIFICATES = 8;

/** Whether a receipt was really sent by its vendor: each vendor's own signature, checked as that vendor documents it. */
@Injectable()
export class ReceiptSignatures {
  private readonly logger = new Logger('Delivery');
  private readonly sendgridKey: ReturnType<EventWebhook['convertPublicKeyToECDSA']> | undefined;
  private readonly certificates = new Map<string, Promise<string>>();

  constructor(@Inject(messagingConfig.KEY) private readonly config: MessagingConfig) {
    const key = config.receipts.sendgridPublicKey;
    this.sendgridKey = key !== undefined ? new EventWebhook().convertPublicKeyToECDSA(asPem(key)) : undefined;
  }

  /** X-Twilio-Signature: HMAC-SHA1 with the auth token over the URL Twilio posted to and the sorted form fields. */
  twilio(pathAndQuery: string, signature: string | undefined, params: Record<string, string>): boolean {
    const { publicBaseUrl } = this.config.receipts;
    const { authToken } = this.config.twilio;
    if (!signature || publicBaseUrl === undefined || authToken === undefined) return false;
    return twilio.validateRequest(authToken, signature, `${publicBaseUrl}${pathAndQuery}`, params);
  }

  /** SendGrid's Event Webhook: ECDSA P-256 over the timestamp header followed by the body as sent. */
  sendgrid(body: string, signature: string | undefined, timestamp: string | undefined): boolean {
    if (!this.sendgridKey || !signature || !timestamp) return false;
    try {
      return new EventWebhook().verifySignature(this.sendgridKey, body, signature, timestamp);
    } catch {
      return false;
    }
  }

  /** An SNS message: its certificate from an allowed origin only, then the RSA signature over AWS's string to sign. */
  async sns(message: SnsMessage): Promise<boolean> {
    const { snsTopicArns: topics, snsCertificateHosts: origins } = this.config.receipts;
    if (topics !== undefined && !topics.includes(message.TopicArn)) return false;
    if (!isAllowedSnsUrl(message.SigningCertURL, origins) || !new URL(message.SigningCertURL).pathname.endsWith('.pem')) return false;
    try {
      return verifySnsSignature(message, await this.certificate(message.SigningCertURL));
    } catch (error) {
      this.logger.warn(`SNS signing certificate unavailable: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  /** Confirms an SNS subscription, only on an allowed origin (the message's signature was checked first). */
  async confirmSubscription(subscribeUrl: string): Promise<boolean> {
    if (!isAllowedSnsUrl(subscribeUrl, this.config.receipts.snsCertificateHosts)) return false;
    const response = await fetch(subscribeUrl, { redirect: 'manual', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    await response.body?.cancel();
    return response.ok;
  }

  private certificate(url: string): Promise<string> {
    let cached = this.certificates.get(url);
    if (!cached) {
      cached = fetchCertificate(url);
      // A failed fetch is not cached: the next message tries again.
      cached.catch(() => this.certificates.delete(url));
      this.certificates.set(url, cached);
      if (this.certificates.size > MAX_CACHED_CERTIFICATES) this.certificates.delete(this.certificates.keys().next().value!);
    }
    return cached;
  }
}

async function fetchCertificate(url: string): Promise<string> {
  const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${new URL(url).host} answered ${response.status}`);
  }
  const text = await response.text();
  if (text.length > MAX_CERTIFICATE_BYTES || !text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('not a certificate');
  return text;
}

/** SendGrid shows the key as bare base64 (DER); the verifier reads PEM. */
function asPem(key: string): string {
  if (key.includes('-----BEGIN')) return key;
  const lines = key.replace(/\s+/g, '').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}
