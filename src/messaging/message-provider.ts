import type { Channel, ProviderId } from '../config/configuration.types.js';
import type { ContactChange } from './notifier.js';

/**
 * What is to be delivered: the template named here (per purpose and locale) is rendered once, before
 * the chain, into what the recipient reads (RenderedMessage), which is what providers are handed.
 */
export interface OutboundMessage {
  /** Unique per send attempt of one verification (`<verificationId>:<sendNumber>`): vendors that support it dedupe on it. */
  idempotencyKey: string;
  verificationId: string;
  channel: Channel;
  /** Normalized destination: lower-cased email address or E.164 phone number. */
  to: string;
  /** `otp` carries a code; `password_changed` and `contact_changed` are notices without one. */
  template: 'otp' | 'password_changed' | 'contact_changed';
  /** `contact_changed` only: the kind of contact and the new one, masked. */
  contactChange?: ContactChange;
  /** Present for `otp`; never logged outside the console provider. */
  code?: string;
  /** verify, signup, login, password_reset, change_contact … */
  purpose: string;
  /** BCP 47 language tag; providers fall back to `en` when no template exists for it. */
  locale: string;
  expiresAt: Date;
  /** The queue's attempt number for this send (1 = first), for log lines; unset outside the queue. */
  attempt?: number;
  /** Providers the chain must not use for this message: their copy of it was lost (a failover after an `undelivered` receipt). */
  skipProviders?: readonly string[];
}

/** The parts of an email; `text` is the plain-text alternative every client can show. */
export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/** What the recipient reads, per channel: an email's parts, or the text of an SMS or WhatsApp message. */
export interface MessageBodies {
  email: RenderedEmail;
  sms: string;
  whatsapp: string;
}

/** A message as providers receive it, rendered once before the chain: a template error is never a provider's failure. */
export interface RenderedMessage<C extends Channel = Channel> extends OutboundMessage {
  channel: C;
  /** The shipped language the body is written in: `es-MX` → `es`, `fr` → `en`. */
  language: string;
  body: MessageBodies[C];
}

export interface SendResult {
  provider: ProviderId;
  /** The vendor's id for the message (Twilio SID, SES MessageId, …), for support tickets. */
  providerMessageId?: string;
  /** True when the provider generated the code itself (Twilio Verify): checks must go back to it. */
  codeIssuedByProvider?: boolean;
}

/** How a failed send should be treated: the only thing the failover and retry logic looks at. */
export type ProviderErrorKind =
  /** The destination can never receive this (invalid number, rejected address): fail at once, no retry. */
  | 'permanent'
  /** Our credentials were refused: counts toward the circuit, fail over. */
  | 'auth'
  /** Timeout, 5xx, refused connection, throttling: counts toward the circuit, fail over, retry later. */
  | 'outage';

export class ProviderError extends Error {
  constructor(
    readonly provider: ProviderId,
    readonly kind: ProviderErrorKind,
    message: string,
    /** The vendor's own code (Twilio 21211, SMTP 550, SES MessageRejected …). */
    readonly vendorCode?: string | number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/**
 * One delivery strategy: an `@Injectable` class per vendor that builds its own client from
 * configuration and returns normalized results. Only providers that have their settings are built;
 * a chain names the others through a stand-in that sends nothing. Providers never retry: failover
 * is the FailoverSender's job and whole-chain retries are the queue's.
 */
export interface MessageProvider<C extends Channel = Channel> {
  readonly id: ProviderId;
  readonly channel: C;
  /** False only for the stand-in of a provider named in a chain without its settings. */
  readonly configured: boolean;
  /** Throws ProviderError, classified. */
  send(message: RenderedMessage<C>): Promise<SendResult>;
  /** A check that sends nothing and costs nothing (SMTP verify, account fetch); throws ProviderError. */
  probe(): Promise<void>;
}

/** Providers that generate and check the code themselves (Twilio Verify). */
export interface CodeCheckingProvider<C extends Channel = Channel> extends MessageProvider<C> {
  /** True when the vendor approved the code; false when it is wrong; throws ProviderError when unreachable. */
  checkCode(to: string, code: string, channel: Channel): Promise<boolean>;
}

export const MessageProvider = Symbol('MessageProvider');

export function isCodeChecking(provider: MessageProvider): provider is CodeCheckingProvider {
  return typeof (provider as Partial<CodeCheckingProvider>).checkCode === 'function';
}
