import { Inject, Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { otpConfig } from '../../config/config.namespaces.js';
import type { OtpConfig } from '../../config/configuration.types.js';
import type { DeliveryContent, DeliveryHeader, DeliveryJob, QueuedDelivery } from './delivery-job.js';

/** A job as the durable queue stores it: only `sealed` carries the destination and code, encrypted. */
export interface SealedDeliveryJob extends DeliveryHeader {
  sealed: string;
}

/** What a kept message is sealed for: opened for its own verification only. */
export const keptMessageOwner = (verificationId: string) => `${verificationId}:kept`;

/**
 * Jobs kept in Redis hold a code, so their content is stored encrypted (AES-256-GCM) with a key derived
 * from OTP_SECRET for this one purpose, and bound to their job: a payload moved to another job fails to open.
 */
@Injectable()
export class PayloadSealer {
  private readonly key: Buffer;

  constructor(@Inject(otpConfig.KEY) otp: Pick<OtpConfig, 'secret'>) {
    this.key = Buffer.from(hkdfSync('sha256', otp.secret, 'otp-gateway', 'delivery-queue-payload-v1', 32));
  }

  seal({ content, ...header }: DeliveryJob): SealedDeliveryJob {
    return { ...header, sealed: this.sealContent(content, header.key) };
  }

  /** Content sealed for what it is bound to (a job's key, or a kept message's owner): opened only by `openContent` with the same. */
  sealContent(content: DeliveryContent, boundTo: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(boundTo));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(content), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
  }

  /** The job for the worker; its content is decrypted when the worker opens it (under another OTP_SECRET, that throws). */
  unseal({ sealed, ...header }: SealedDeliveryJob): QueuedDelivery {
    return { ...header, open: () => this.openContent(sealed, header.key) };
  }

  openContent(sealed: string, boundTo: string): DeliveryContent {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(boundTo));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as DeliveryContent;
  }
}
