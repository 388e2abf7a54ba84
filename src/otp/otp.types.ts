import type { Channel } from '../config/configuration.types.js';
import type { SendBudget } from './limits/send-limiter.js';

export const VERIFICATION_STATUSES = ['pending', 'approved', 'expired', 'canceled', 'max_attempts', 'failed'] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

export type DeliveryStatus = 'queued' | 'sending' | 'sent' | 'failed';

export interface DeliveryState {
  status: DeliveryStatus;
  provider: string | null;
  attempts: number;
  lastError: string | null;
  updatedAt: number;
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

/** What a check did, decided atomically by the store. */
export type CheckOutcome =
  | { result: 'approved'; record: VerificationRecord }
  | { result: 'incorrect'; record: VerificationRecord }
  | { result: 'locked'; record: VerificationRecord }
  | { result: 'not_found' };

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

export interface DeliveryUpdate {
  sendNumber: number;
  status: DeliveryStatus;
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
