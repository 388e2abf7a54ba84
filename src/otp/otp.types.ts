import type { Channel } from '../config/configuration.types.js';
import { SEND_BUDGETS, type SendBudget } from './limits/send-limiter.js';

export const VERIFICATION_STATUSES = ['pending', 'approved', 'expired', 'canceled', 'max_attempts', 'failed'] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

export const DELIVERY_STATUSES = ['queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** What a provider's receipt says of a message it accepted: the end of its story. */
export type ReceiptStatus = Extract<DeliveryStatus, 'delivered' | 'undelivered'>;

export function isReceiptStatus(status: DeliveryStatus): status is ReceiptStatus {
  return status === 'delivered' || status === 'undelivered';
}

export interface DeliveryState {
  status: DeliveryStatus;
  provider: string | null;
  attempts: number;
  lastError: string | null;
  updatedAt: number;
  /** The provider's id of the message it accepted (Twilio SID, SES MessageId…): receipts name it. */
  messageId?: string;
  /** The provider's code for a message it could not deliver (Twilio 30003, an SMTP bounce code). */
  errorCode?: string;
  /** When the provider says the message reached the recipient. */
  deliveredAt?: number;
}

/** One verification as stored. Times are epoch milliseconds; the code itself is never stored. */
export interface VerificationRecord {
  id: string;
  channel: Channel;
  /** Normalized: lower-cased email address or E.164 number. */
  to: string;
  purpose: string;
  /**
   * Whose sends it counts in, which also says its realm: `api` for the Verifications API, the others
   * for the challenges of `/v1/auth`. A pending verification is one per `to`+`purpose`+`budget`
   * (+`subject`).
   */
  budget: SendBudget;
  /**
   * Opaque id of whom the verification is for (the auth flows: the account a sign-up or login code
   * completes), set by the caller. Part of the pending key: two subjects' verifications for one
   * destination are two verifications, so one subject's code never completes the other's.
   */
  subject?: string;
  locale: string;
  status: VerificationStatus;
  /** HMAC of the current code, bound to id and purpose; empty once the verification is settled. */
  digest: string;
  createdAt: number;
  updatedAt: number;
  /** Expiry of the current code. */
  expiresAt: number;
  attempts: number;
  maxAttempts: number;
  sends: number;
  maxSends: number;
  lastSentAt: number;
  delivery: DeliveryState;
  /** Set when a provider generated the code (Twilio Verify): checks go to that provider. */
  codeIssuer: string | null;
  /**
   * Set once a route that must not tell whether an account exists (`otp/start`) handed out this id:
   * the public challenge status then never shows its delivery.
   */
  deliveryPrivate?: boolean;
}

/**
 * The Verifications API and the auth challenges never see each other's verifications: a code of one
 * is never accepted, re-sent, read or canceled through the other, whatever its purpose says.
 */
export type Realm = 'api' | 'auth';

export function realmOf(budget: SendBudget): Realm {
  return budget === 'api' ? 'api' : 'auth';
}

/** The budgets of each realm, as `realmOf` assigns them. */
export const BUDGETS_OF: Readonly<Record<Realm, readonly SendBudget[]>> = {
  api: SEND_BUDGETS.filter((budget) => realmOf(budget) === 'api'),
  auth: SEND_BUDGETS.filter((budget) => realmOf(budget) === 'auth'),
};

/** What a check did, decided atomically by the store. */
export type CheckOutcome =
  | { result: 'approved'; record: VerificationRecord }
  | { result: 'incorrect'; record: VerificationRecord }
  | { result: 'locked'; record: VerificationRecord }
  | { result: 'not_found' };

/**
 * Which verifications a check by id alone may act on: those of these budgets (a realm's) and, when given,
 * of this purpose. Any other is `not_found`, as if it did not exist.
 */
export interface CheckScope {
  budgets: readonly SendBudget[];
  purpose?: string;
}

/**
 * A check by id alone. `not_found` carries the record when it exists in the scope but is no longer
 * pending; `deferred`: it was left as it was, for a check that reads it first (see `OtpStore.checkById`).
 */
export type ScopedCheckOutcome =
  Exclude<CheckOutcome, { result: 'not_found' }> | { result: 'not_found'; record?: VerificationRecord } | { result: 'deferred' };

export type ResendOutcome =
  | { result: 'resent'; record: VerificationRecord }
  | { result: 'max_sends'; record: VerificationRecord }
  /** Not pending any more (settled or expired in the meantime): start a new verification instead. */
  | { result: 'not_pending' };

export interface NewCode {
  digest: string;
  expiresAt: number;
  now: number;
}

/**
 * A report on one send. From the worker: how the send went (`sent` names the message the provider
 * accepted). From a receipt (`delivered` / `undelivered`): applies only to that message while it is
 * `sent`, so a duplicate, a late receipt or one for an earlier provider's message changes nothing.
 */
export interface DeliveryUpdate {
  sendNumber: number;
  status: DeliveryStatus;
  messageId?: string;
  errorCode?: string;
  deliveredAt?: number;
  provider?: string | null;
  attempts?: number;
  lastError?: string | null;
  codeIssuer?: string | null;
}

/** Verification statuses as a client sees them: a pending one past its expiry reads as expired. */
export function effectiveStatus(record: VerificationRecord, now: number): VerificationStatus {
  if (record.status === 'pending' && now >= record.expiresAt) return 'expired';
  return record.status;
}
