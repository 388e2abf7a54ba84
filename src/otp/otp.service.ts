import { Inject, Injectable, Logger } from '@nestjs/common';
import { ValidationFailedError } from '../common/errors.js';
import { messagingConfig, otpConfig } from '../config/config.namespaces.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { Channel, MessagingConfig, OtpConfig } from '../config/configuration.types.js';
import { candidateOf, digestCode, shortDigestCode } from './codes/otp-codes.js';
import { EventPublisher, type EventType } from '../events/event-publisher.port.js';
import { OtpDelivery } from './delivery.port.js';
import { DestinationPolicies, type DestinationPolicy } from './destinations/destination-policy.js';
import { isoTime } from '../common/iso-time.js';
import { maskDestination } from '../common/masked-destination.js';
import { normalizeAnyDestination, normalizeDestination, type Destination } from './destinations/destinations.js';
import { FraudScreen } from './fraud/fraud-screen.js';
import { type SendBudget, SendLimiter, type SendLimits, type SendLimitVerdict } from './limits/send-limiter.js';
import {
  OtpAttemptsExceededError,
  OtpIncorrectError,
  OtpMaxSendsError,
  OtpRateLimitedError,
  OtpResendTooSoonError,
  VerificationNotFoundError,
} from './otp.errors.js';
import {
  BUDGETS_OF,
  type CheckOutcome,
  effectiveStatus,
  type Realm,
  realmOf,
  type VerificationRecord,
  type VerificationStatus,
} from './otp.types.js';
import type { RequestMeta } from '../common/request-meta.decorator.js';
import { OtpStore } from './store/otp-store.js';
import { mintVerificationId } from './verification-key.js';

export interface StartVerification {
  channel: Channel;
  to: string;
  purpose: string;
  locale: string;
}

/**
 * `realm`: the API checking it; a verification of the other realm is not found, whatever its purpose.
 * `found`: the record a caller just read with `find` for this id, so it is not read a second time (the
 * check itself still decides on what is stored at that moment).
 */
export type CheckVerification = { code: string; realm: Realm } & (
  { id: string; purpose?: string; found?: VerificationRecord } | { to: string; purpose: string }
);

export interface StartOptions {
  /**
   * The per-destination budget the send counts in, chosen by the caller: `api` for the Verifications
   * API, `anonymous` for auth requests anyone can make, `proven` for sends that follow a password or a
   * session. It also sets the verification's realm (`api` or `auth`).
   */
  budget: SendBudget;
  /**
   * False stores a real, checkable verification but sends nothing: the auth flows answer an unknown
   * account with one, so it behaves exactly like a real challenge without revealing anything.
   */
  deliver?: boolean;
  /** The id goes to a caller who must not learn whether the account exists: never show its delivery publicly. */
  deliveryPrivate?: boolean;
  /**
   * Whom the verification is for (an account id): stored on it, and part of its pending key, so a
   * start for another subject and the same destination gets a verification of its own. The send
   * limits stay per destination and budget, whoever the subject.
   */
  subject?: string;
}

export interface VerificationView {
  id: string;
  status: VerificationStatus;
  channel: Channel;
  to: string;
  purpose: string;
  createdAt: string;
  expiresAt: string;
  attemptsRemaining: number;
  sendsRemaining: number;
  resendAvailableAt: string;
  delivery: {
    status: string;
    provider: string | null;
    attempts: number;
    lastError: string | null;
    updatedAt: string;
    errorCode: string | null;
    deliveredAt: string | null;
  };
}

/** A re-send of the pending verification `id`, under the policy its destination's send was given. */
interface Resend {
  id: string;
  destination: Destination;
  policy: DestinationPolicy;
  meta: RequestMeta;
  options: StartOptions;
  now: number;
  /** The send was counted in its budget already (a start that found another had just created the pending verification). */
  sendCounted?: boolean;
}

/**
 * The verification lifecycle: issue (or re-issue) a code under the send limits, hand it to
 * delivery, and check it atomically. Codes exist in plain text only on their way to delivery.
 */
@Injectable()
export class OtpService {
  private readonly audit = new Logger('Audit');
  private readonly destinations: DestinationPolicies;

  constructor(
    @Inject(otpConfig.KEY) private readonly config: OtpConfig,
    @Inject(messagingConfig.KEY) private readonly messaging: MessagingConfig,
    @Inject(OtpStore) private readonly store: OtpStore,
    @Inject(SendLimiter) private readonly limiter: SendLimiter,
    @Inject(OtpDelivery) private readonly delivery: OtpDelivery,
    private readonly metrics: MetricsService,
    private readonly fraud: FraudScreen,
    @Inject(EventPublisher) private readonly events: EventPublisher,
  ) {
    this.destinations = new DestinationPolicies(config, { store, limiter, delivery });
  }

  /** Starts a verification, or re-sends the pending one for the same `to`, purpose, budget and subject. */
  async start(input: StartVerification, meta: RequestMeta, options: StartOptions): Promise<VerificationView> {
    if (!this.messaging.channels.includes(input.channel)) {
      throw new ValidationFailedError({ channel: [`channel must be one of: ${this.messaging.channels.join(', ')}`] });
    }
    const destination = this.destinationOf(input.channel, input.to);
    const policy = this.destinations.for(destination.normalized, { deliver: options.deliver });
    policy.assertCanSend(input.channel);

    const now = Date.now();
    const id = mintVerificationId();
    const code = policy.issueCode();
    const record: VerificationRecord = {
      id,
      channel: input.channel,
      to: destination.normalized,
      purpose: input.purpose,
      budget: options.budget,
      locale: input.locale,
      status: 'pending',
      digest: this.digestFor(policy, id, input.purpose, code),
      createdAt: now,
      updatedAt: now,
      expiresAt: now + this.config.ttlSeconds * 1000,
      attempts: 0,
      maxAttempts: this.config.maxAttempts,
      sends: 1,
      maxSends: this.config.maxSends,
      lastSentAt: now,
      delivery: policy.firstDelivery(now),
      codeIssuer: null,
      ...(options.deliveryPrivate ? { deliveryPrivate: true } : {}),
      ...(options.subject !== undefined ? { subject: options.subject } : {}),
    };
    // One step finds the pending verification or, when there is none, counts this send as a new one's and, where the
    // store can write the new one ahead in the same write, makes it the pending one: a round trip fewer on every new send.
    const ahead = this.store.writeAhead !== undefined && this.store.dropAhead !== undefined;
    const step = Promise.all([
      // Issued first, so the record leaves ahead of the step that may name it.
      ahead ? this.store.writeAhead!(record) : undefined,
      this.limiter.consumeUnlessPending(destination.normalized, options.budget, this.sendLimits(), now, {
        purpose: input.purpose,
        subject: options.subject,
        ...(ahead ? { claim: { id, expiresAt: record.expiresAt } } : {}),
      }),
    ]);
    // The fraud guard is asked in the same write rather than after the destination's answer, a round trip fewer on
    // every screened send: it counts the send if it admits it, and that count is taken back before anything is
    // answered wherever this does not go ahead as a new send.
    const screening = this.fraud.screen(input.channel, destination, policy.reachesDestination, now);
    const [, found] = await step.catch(async (error: unknown) => {
      await this.fraud.withdraw(await screening);
      throw error;
    });
    const screened = await screening;
    const claimed = 'claimed' in found && found.claimed === true;
    if (ahead && !claimed) {
      // Nothing names it: dropped in the same write as whatever follows, and left to its expiry should that fail.
      this.store.dropAhead!(record, false).catch(() => undefined);
    }
    if ('pendingId' in found || !found.allowed) await this.fraud.withdraw(screened);
    if ('pendingId' in found) {
      // A re-send, screened as a re-send is.
      const resent = await this.resend({ id: found.pendingId, destination, policy, meta, options, now });
      if (resent) return resent;
      // The index named one that has settled since: this send starts a new one, and counts as such.
      await this.consumeSendLimit(input.channel, destination, options.budget, policy, now);
    } else {
      refuseUnlessAllowed(found);
      try {
        this.fraud.enforce(screened);
      } catch (error) {
        // The fraud guard refused (or could not be asked about) a send whose verification is the pending one
        // already: it goes, and its entry with it, before the refusal is answered.
        if (claimed) await this.store.dropAhead!(record, true).catch(() => undefined);
        throw error;
      }
    }
    if (!claimed) {
      const created = await this.store.createPending(record);
      if (!created.created) {
        // Another request started one for the same destination and purpose a moment ago: re-send that one.
        const resent = await this.resend({ id: created.pendingId, destination, policy, meta, options, now: Date.now(), sendCounted: true });
        if (resent) return resent;
        throw new VerificationNotFoundError();
      }
    }
    this.log('verification.started', record, meta);
    this.metrics.verificationsStarted.inc({ channel: record.channel, kind: 'new', ...apiKeyLabel(meta) });
    return this.view(await policy.send(record, code, now), now);
  }

  /** Re-sends the pending verification with this id (the auth flows' `resend`), in the budget and for the subject it was started with. */
  async resendById(
    id: string,
    realm: Realm,
    meta: RequestMeta,
    options: Omit<StartOptions, 'budget' | 'subject'> = {},
  ): Promise<VerificationView> {
    const record = await this.find(id, realm);
    if (!record || effectiveStatus(record, Date.now()) !== 'pending') throw new VerificationNotFoundError();
    const { channel, to, purpose, locale, budget, subject } = record;
    return this.start({ channel, to, purpose, locale }, meta, { ...options, budget, subject });
  }

  /**
   * A destination as a send to it would use it: normalized, or refused by the same syntax, country
   * and number-type rules, for flows that keep a contact before they send to it.
   */
  destinationOf(channel: Channel, to: string): Destination {
    return normalizeDestination(channel, to, {
      allowedCountries: this.config.smsAllowedCountries,
      allowedNumberTypes: this.config.smsAllowedNumberTypes,
    });
  }

  /**
   * The verification as stored, destination unmasked, for flows that must know what a challenge is
   * for and where it goes before they act on it. Never for a response. Ids reach it as UUIDs: the
   * routes and bodies that take one refuse anything else (`ParseVerificationIdPipe`, `@IsUUID`).
   */
  async find(id: string, realm: Realm): Promise<VerificationRecord | undefined> {
    const record = await this.store.get(id);
    return record && realmOf(record.budget) === realm ? record : undefined;
  }

  async check(input: CheckVerification, meta: RequestMeta = {}): Promise<{ id: string; status: 'approved'; record: VerificationRecord }> {
    const now = Date.now();
    const id = 'id' in input ? input.id : await this.findPendingIdIn(input.realm, normalizeAnyDestination(input.to), input.purpose, now);
    const found = 'found' in input ? input.found : undefined;
    const usable = found && found.id === id && !found.codeIssuer && realmOf(found.budget) === input.realm ? found : undefined;
    if (id && !usable) {
      // Most checks are decided here in one step; what it defers is read first, below.
      const scoped = await this.store.checkById(
        id,
        { budgets: BUDGETS_OF[input.realm], purpose: input.purpose },
        shortDigestCode(this.config.secret, id, input.code),
        now,
      );
      if (scoped.result !== 'deferred') {
        if (scoped.result === 'not_found' && !scoped.record) this.notFound(meta);
        return this.concluded(scoped.record!, scoped, meta);
      }
    }
    // A code checked by its provider is judged on a fresh read: its attempts decide whether the provider is asked at all.
    const record = usable ?? (id ? await this.find(id, input.realm) : undefined);
    if (!record || (input.purpose !== undefined && input.purpose !== record.purpose)) this.notFound(meta);

    const outcome = record.codeIssuer
      ? await this.checkWithProvider(record, input.code, now)
      : await this.checkOwnCode(record, input.code, meta, now);
    return this.concluded(record, outcome, meta);
  }

  /**
   * A challenge whose codes the caller checks itself (an authenticator app): stored, counted and locked like
   * any other, but never sent, so no send limit applies. A pending one for the same `to`, purpose, budget and
   * subject is returned instead of a new one, with its failed attempts. Its verdicts go to `settle`.
   */
  async startUnsent(input: StartVerification, options: Pick<StartOptions, 'budget' | 'subject'>): Promise<VerificationRecord> {
    const now = Date.now();
    const pendingId = await this.store.findPendingId(input.to, input.purpose, options.budget, now, options.subject);
    const pending = pendingId ? await this.store.get(pendingId) : undefined;
    if (pending && effectiveStatus(pending, now) === 'pending') return pending;
    const record: VerificationRecord = {
      id: mintVerificationId(),
      ...input,
      budget: options.budget,
      status: 'pending',
      // No digest: no code of ours can ever match it.
      digest: '',
      createdAt: now,
      updatedAt: now,
      expiresAt: now + this.config.ttlSeconds * 1000,
      attempts: 0,
      maxAttempts: this.config.maxAttempts,
      sends: 0,
      maxSends: 0,
      lastSentAt: now,
      delivery: { status: 'sent', provider: null, attempts: 0, lastError: null, updatedAt: now },
      codeIssuer: null,
      ...(options.subject !== undefined ? { subject: options.subject } : {}),
    };
    const created = await this.store.createPending(record);
    if (!created.created) {
      const winner = await this.store.get(created.pendingId);
      if (winner) return winner;
      throw new VerificationNotFoundError();
    }
    this.log('verification.started', record, {});
    return record;
  }

  /** Records the verdict on a code the caller checked itself (`startUnsent`), under the same rules as `check`. */
  async settle(
    id: string,
    realm: Realm,
    approved: boolean,
    meta: RequestMeta = {},
  ): Promise<{ id: string; status: 'approved'; record: VerificationRecord }> {
    const record = await this.find(id, realm);
    if (!record) throw new VerificationNotFoundError();
    return this.concluded(record, await this.store.settleExternalCheck(id, approved, Date.now()), meta);
  }

  private notFound(meta: RequestMeta): never {
    this.metrics.checks.inc({ result: 'not_found' });
    this.log('verification.checked', undefined, meta, { result: 'not_found' });
    throw new VerificationNotFoundError();
  }

  private async concluded(
    record: VerificationRecord,
    outcome: CheckOutcome,
    meta: RequestMeta,
  ): Promise<{ id: string; status: 'approved'; record: VerificationRecord }> {
    this.metrics.checks.inc({ result: outcome.result });
    switch (outcome.result) {
      case 'approved':
        this.metrics.verificationsApproved.inc({ channel: outcome.record.channel });
        this.log('verification.approved', outcome.record, meta);
        // Together, so their Redis commands leave in one write.
        await Promise.all([
          this.liftCooldown(outcome.record),
          this.fraud.recordApproval(outcome.record, this.destinations.for(outcome.record.to).reachesDestination, Date.now()),
          this.settled(outcome.record),
        ]);
        return { id: record.id, status: 'approved', record: outcome.record };
      case 'incorrect': {
        const remaining = Math.max(0, outcome.record.maxAttempts - outcome.record.attempts);
        this.log(remaining === 0 ? 'verification.locked' : 'verification.checked', outcome.record, meta, {
          result: 'incorrect',
          attemptsRemaining: remaining,
        });
        if (remaining === 0) await this.settled(outcome.record);
        throw new OtpIncorrectError(remaining);
      }
      case 'locked':
        this.log('verification.checked', outcome.record, meta, { result: 'locked' });
        await this.settled(outcome.record);
        throw new OtpAttemptsExceededError(Math.max(1, this.config.resendCooldownSeconds));
      default:
        this.log('verification.checked', record, meta, { result: 'not_found' });
        throw new VerificationNotFoundError();
    }
  }

  async get(id: string, realm: Realm): Promise<VerificationView> {
    const record = await this.find(id, realm);
    if (!record) throw new VerificationNotFoundError();
    return this.view(record, Date.now());
  }

  async cancel(id: string, realm: Realm, meta: RequestMeta = {}): Promise<{ id: string; status: 'canceled' }> {
    if (!(await this.find(id, realm)) || !(await this.store.cancel(id, Date.now()))) throw new VerificationNotFoundError();
    const canceled = await this.store.get(id);
    this.log('verification.canceled', canceled, meta);
    if (canceled) await this.settled(canceled);
    return { id, status: 'canceled' };
  }

  async resetSendLimits(destination: string): Promise<void> {
    await this.limiter.reset(normalizeAnyDestination(destination));
  }

  /** Returns undefined when the pending verification settled in the meantime, so the caller starts a new one. */
  private async resend(resend: Resend): Promise<VerificationView | undefined> {
    const { id, destination, policy, meta, options, now, sendCounted = false } = resend;
    const current = await this.store.get(id);
    if (!current || effectiveStatus(current, now) !== 'pending') return undefined;
    if (current.sends >= current.maxSends) throw new OtpMaxSendsError(secondsUntil(current.expiresAt, now));
    if (!sendCounted) await this.consumeSendLimit(current.channel, destination, current.budget, policy, now);

    const code = policy.issueCode();
    const outcome = await this.store.resend(id, {
      digest: this.digestFor(policy, id, current.purpose, code),
      expiresAt: now + this.config.ttlSeconds * 1000,
      now,
    });
    if (outcome.result === 'not_pending') return undefined;
    if (outcome.result === 'max_sends') throw new OtpMaxSendsError(secondsUntil(outcome.record.expiresAt, now));
    // A pending challenge re-sent through otp/start: that caller now holds its id too.
    if (options.deliveryPrivate && !outcome.record.deliveryPrivate) await this.store.markDeliveryPrivate(id);
    this.log('verification.resent', outcome.record, meta);
    this.metrics.verificationsStarted.inc({ channel: outcome.record.channel, kind: 'resend', ...apiKeyLabel(meta) });
    return this.view(await policy.send(outcome.record, code, now), now);
  }

  /**
   * The destination's own limits, then the fraud guard's, which counts only a send that happens. Test
   * destinations and withheld challenges too: a fixed code is no reason to let anyone send (or guess)
   * without limit, and a withheld challenge refused or admitted differently would tell whether an account exists.
   */
  private async consumeSendLimit(
    channel: Channel,
    destination: Destination,
    budget: SendBudget,
    policy: DestinationPolicy,
    now: number,
  ): Promise<void> {
    refuseUnlessAllowed(await this.limiter.consume(destination.normalized, budget, this.sendLimits(), now));
    await this.fraud.admit(channel, destination, policy.reachesDestination, now);
  }

  private sendLimits(): SendLimits {
    return {
      cooldownMs: this.config.resendCooldownSeconds * 1000,
      perHour: this.config.maxSendsPerHour,
      perDay: this.config.maxSendsPerDay,
    };
  }

  private async findPendingIdIn(realm: Realm, to: string, purpose: string, now: number): Promise<string | undefined> {
    const budgets: SendBudget[] = realm === 'api' ? ['api'] : ['proven', 'anonymous'];
    for (const budget of budgets) {
      const id = await this.store.findPendingId(to, purpose, budget, now);
      if (id) return id;
    }
    return undefined;
  }

  /**
   * The digest stored of a code. A check by id alone (`OtpStore.checkById`) compares the short one; a destination
   * whose wrong guesses count per day stores the one bound to the purpose instead, which that check defers, so
   * each of its checks takes `checkOwnCode`, where the day's guess is taken before the code is compared.
   */
  private digestFor(policy: DestinationPolicy, id: string, purpose: string, code: string): string {
    return policy.countsGuesses ? digestCode(this.config.secret, id, purpose, code) : shortDigestCode(this.config.secret, id, code);
  }

  /** A code we issued, compared by its digest; a destination whose code is fixed also counts the wrong ones per day. */
  private async checkOwnCode(record: VerificationRecord, code: string, meta: RequestMeta, now: number): Promise<CheckOutcome> {
    const policy = this.destinations.for(record.to);
    const guess = await policy.takeGuess(now);
    if (!guess.allowed) {
      this.metrics.checks.inc({ result: 'locked' });
      this.log('verification.checked', record, meta, { result: 'locked', reason: 'daily_guesses' });
      throw new OtpAttemptsExceededError(Math.max(1, Math.ceil(guess.retryAfterMs / 1000)));
    }
    const outcome = await this.store.check(record.id, candidateOf(this.config.secret, record.id, record.purpose, code), now);
    if (outcome.result !== 'incorrect') await policy.refundGuess(Date.now());
    return outcome;
  }

  /** After an approval the next code may be sent at once; a failure here must not undo the approval. */
  private async liftCooldown(record: VerificationRecord): Promise<void> {
    const approved = { id: record.id, purpose: record.purpose, ...(record.subject !== undefined ? { subject: record.subject } : {}) };
    await this.limiter.liftCooldown(record.to, record.budget, approved).catch((error: unknown) => {
      this.audit.warn({
        event: 'verification.cooldown_not_lifted',
        verificationId: record.id,
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }

  private async checkWithProvider(record: VerificationRecord, code: string, now: number) {
    // Our own limits first: a locked or settled verification never reaches the provider.
    if (record.status === 'max_attempts' || record.attempts >= record.maxAttempts)
      return this.store.settleExternalCheck(record.id, false, now);
    if (effectiveStatus(record, now) !== 'pending') return { result: 'not_found' as const };
    const approved = await this.delivery.checkProviderCode(record.codeIssuer!, record.channel, record.to, code);
    return this.store.settleExternalCheck(record.id, approved, Date.now());
  }

  private view(record: VerificationRecord, now: number): VerificationView {
    return {
      id: record.id,
      status: effectiveStatus(record, now),
      channel: record.channel,
      to: maskDestination(record.channel, record.to),
      purpose: record.purpose,
      createdAt: isoTime(record.createdAt),
      expiresAt: isoTime(record.expiresAt),
      attemptsRemaining: Math.max(0, record.maxAttempts - record.attempts),
      sendsRemaining: Math.max(0, record.maxSends - record.sends),
      resendAvailableAt: isoTime(record.lastSentAt + this.config.resendCooldownSeconds * 1000),
      delivery: {
        status: record.delivery.status,
        provider: record.delivery.provider,
        attempts: record.delivery.attempts,
        lastError: record.delivery.lastError,
        updatedAt: isoTime(record.delivery.updatedAt),
        errorCode: record.delivery.errorCode ?? null,
        deliveredAt: record.delivery.deliveredAt !== undefined ? isoTime(record.delivery.deliveredAt) : null,
      },
    };
  }

  /**
   * Once approved, canceled or locked, the code is never sent again: messaging forgets the message it
   * kept for a failover, and counts an approval for the provider that delivered it. Neither may undo
   * what was settled.
   */
  private async settled(record: VerificationRecord): Promise<void> {
    if (record.status !== 'approved' && record.status !== 'canceled' && record.status !== 'max_attempts') return;
    const { id: verificationId, status, channel, to, lastSentAt: sentAt } = record;
    const provider = record.delivery.provider;
    await this.delivery.settled({ verificationId, status, channel, to, provider, sentAt }).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      this.audit.warn({ event: 'verification.settle_not_reported', verificationId, error: reason });
    });
  }

  /**
   * One structured line per event, for the audit trail: never the code, the destination masked. The
   * published ones also go to WEBHOOK_URLS.
   */
  private log(event: string, record: VerificationRecord | undefined, meta: RequestMeta, extra: Record<string, unknown> = {}): void {
    if (record && this.events.enabled && PUBLISHED.has(event)) {
      void this.events.publish(event as EventType, {
        id: record.id,
        channel: record.channel,
        to: maskDestination(record.channel, record.to),
        purpose: record.purpose,
        status: effectiveStatus(record, Date.now()),
        attemptsRemaining: Math.max(0, record.maxAttempts - record.attempts),
      });
    }
    this.audit.log({
      event,
      verificationId: record?.id,
      channel: record?.channel,
      to: record ? maskDestination(record.channel, record.to) : undefined,
      purpose: record?.purpose,
      ip: meta.ip,
      userAgent: meta.userAgent?.slice(0, 200),
      ...extra,
    });
  }
}

/** The audit events that are also outgoing events. */
const PUBLISHED: ReadonlySet<string> = new Set<EventType>([
  'verification.started',
  'verification.approved',
  'verification.locked',
  'verification.canceled',
]);

/** Which application started it; the auth flows' own sends carry no such label. */
function apiKeyLabel(meta: RequestMeta): { api_key?: string } {
  return meta.apiKeyName !== undefined ? { api_key: meta.apiKeyName } : {};
}

/** The destination's own refusal of a send, answered as such. */
function refuseUnlessAllowed(verdict: SendLimitVerdict): void {
  if (verdict.allowed) return;
  const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
  throw verdict.reason === 'cooldown' ? new OtpResendTooSoonError(seconds) : new OtpRateLimitedError(seconds);
}

function secondsUntil(time: number, now: number): number {
  return Math.max(1, Math.ceil((time - now) / 1000));
}
