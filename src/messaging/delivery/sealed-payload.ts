import { Inject, Injectable } from '@nestjs/common';
import { Sealer } from '../../common/sealer.js';
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
 * Jobs kept in Redis hold a code, so their content is stored sealed (AES-256-GCM) with a key derived
 * from OTP_SECRET for this one purpose, and bound to their job: a payload moved to another job fails to open.
 */
@Injectable()
export class PayloadSealer {
  private readonly sealer: Sealer;

  constructor(@Inject(otpConfig.KEY) otp: Pick<OtpConfig, 'secret'>) {
    this.sealer = new Sealer(otp.secret, 'delivery-queue-payload-v1');
  }

  seal({ content, ...header }: DeliveryJob): SealedDeliveryJob {
    return { ...header, sealed: this.sealContent(content, header.key) };
  }

  /** Content sealed for what it is bound to (a job's key, or a kept message's owner): opened only by `openContent` with the same. */
  sealContent(content: DeliveryContent, boundTo: string): string {
    return this.sealer.seal(content, boundTo);
  }

  /** The job for the worker; its content is decrypted when the worker opens it (under another OTP_SECRET, that throws). */
  unseal({ sealed, ...header }: SealedDeliveryJob): QueuedDelivery {
    return { ...header, open: () => this.openContent(sealed, header.key) };
  }

  openContent(sealed: string, boundTo: string): DeliveryContent {
    return this.sealer.open<DeliveryContent>(sealed, boundTo);
  }
}
