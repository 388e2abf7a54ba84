import { Inject, Injectable } from '@nestjs/common';
import { Sealer } from '../../common/sealer.js';
import { otpConfig } from '../../config/config.namespaces.js';
import type { OtpConfig } from '../../config/configuration.types.js';
import type { DeliveryContent, DeliveryHeader, DeliveryJob, QueuedDelivery } from './delivery-job.js';

/** A job as the durable queue stores it: only `sealed` carries the destination and code, encrypted. */
export interface SealedDeliveryJob extends DeliveryHeader {
  sealed: string;
}

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
    return { ...header, sealed: this.sealer.seal(content, header.key) };
  }

  /** The job for the worker; its content is decrypted when the worker opens it (under another OTP_SECRET, that throws). */
  unseal({ sealed, ...header }: SealedDeliveryJob): QueuedDelivery {
    return { ...header, open: () => this.sealer.open<DeliveryContent>(sealed, header.key) };
  }
}
