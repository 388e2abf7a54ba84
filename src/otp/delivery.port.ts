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
  /**
   * The delivery ledger's mark that this send went out (`DeliveryLedger.sentMark`): when it exists the
   * report is ignored. A job's 'sending' report names it so that it can leave together with the
   * ledger's check, and a job that runs again after its send never writes 'sending' over 'sent'.
   */
  unlessMarked?: SentMark;
}

/**
 * Where the delivery ledger marks a send that went out, when the verification's store can see it
 * (Redis): a field of the verification's own hash, so a mark costs a few bytes in it rather than a key
 * of its own; or, for a send the previous version marked, the key it set beside the verification,
 * under the same hash tag. Field names starting with `SENT_MARK_PREFIX` are the ledger's: no field of
 * the verification uses one, and the store keeps them as they are.
 */
export interface SentMark {
  field: string;
  key: string;
}

export const SENT_MARK_PREFIX = 'm';

/**
 * The port through which the OTP core hands codes to messaging. Messaging implements it; the core
 * never knows which providers, queues or retries are behind it.
 */
export interface OtpDelivery {
  /** False when no provider of the channel is configured with a circuit that is not open: nothing may be sent then. */
  canDeliver(channel: Channel): boolean;
  /** Accepts the request durably (or fails); delivery itself happens later and is reported through `DeliveryReports`. */
  deliver(request: DeliveryRequest): Promise<void>;
  /**
   * Does what `deliver` does for a request that must reach no one, and sends nothing: a withheld code (the
   * auth flows' answer to an address with no account) is accepted in the same steps and the same time as a
   * delivered one, so how long the answer takes does not tell whether the account exists. The code itself
   * is not passed on.
   */
  withhold(request: DeliveryRequest): Promise<void>;
  /** Checks a code that a provider issued itself; true when the provider approves it. */
  checkProviderCode(provider: string, channel: Channel, to: string, code: string): Promise<boolean>;
  /**
   * The verification settled (approved, canceled, locked): what messaging still keeps of its code
   * for a failover is deleted, and an approval counts for the provider that delivered the code.
   */
  settled(verification: SettledVerification): Promise<void>;
}

export interface SettledVerification {
  verificationId: string;
  status: 'approved' | 'canceled' | 'max_attempts';
  channel: Channel;
  to: string;
  /** The provider that delivered the current code, if any did. */
  provider: string | null;
  /** When the current code was sent. */
  sentAt: number;
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
  /**
   * Records the report on the verification; a report for a send that is no longer the current one, or
   * a receipt that is a duplicate or out of order, changes nothing (`applied: false`).
   */
  record(report: DeliveryReport): Promise<RecordedReport>;
}

/** `pending` and `expiresAt` are read back for receipts and failures only; a send's progress reports leave them false and 0. */
export interface RecordedReport {
  applied: boolean;
  /** The verification still waits for its code to be entered (pending and not expired). */
  pending: boolean;
  /** Expiry of the current code; 0 when the verification is unknown. */
  expiresAt: number;
}

export const DeliveryReports = Symbol('DeliveryReports');
