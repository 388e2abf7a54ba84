import type { Channel } from '../config/configuration.types.js';
import type { DeliveryUpdate } from './otp.types.js';

/** One code to deliver. The code travels only inside this request (and, encrypted, a queued job). */
export interface DeliveryRequest {
  verificationId: string;
  /** Which send of the verification this is (1 = first); status reports name it so a stale one is ignored. */
  sendNumber: number;
  channel: Channel;
  to: string;
  code: string;
  purpose: string;
  locale: string;
  expiresAt: Date;
}

/** A delivery update for one send of one verification (`codeIssuer`: the provider that generated the code, e.g. Twilio Verify). */
export interface DeliveryReport extends DeliveryUpdate {
  verificationId: string;
}

/**
 * The port through which the OTP core hands codes to messaging. Messaging implements it; the core
 * never knows which providers, queues or retries are behind it.
 */
export interface OtpDelivery {
  /** False when no provider of the channel is configured with a circuit that is not open: nothing may be sent then. */
  canDeliver(channel: Channel): boolean;
  /** Accepts the request durably (or fails); delivery itself happens later and is reported through `DeliveryReports`. */
  deliver(request: DeliveryRequest): Promise<void>;
  /** Checks a code that a provider issued itself; true when the provider approves it. */
  checkProviderCode(provider: string, channel: Channel, to: string, code: string): Promise<boolean>;
}

export const OtpDelivery = Symbol('OtpDelivery');

/**
 * The port through which messaging reports how each send went. The OTP core implements it (the
 * verification's delivery status); messaging injects it, as it injects nothing else of the core.
 */
export interface DeliveryReports {
  /**
   * How long after its code expires a verification is still kept and takes reports: a delivered send
   * must be remembered that long, so a late retry of it never reports a failure for it.
   */
  readonly retentionMs: number;
  /** Records the report on the verification; a report for a send that is no longer the current one changes nothing. */
  record(report: DeliveryReport): Promise<void>;
}

export const DeliveryReports = Symbol('DeliveryReports');
