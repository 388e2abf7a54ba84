import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError, ValidationFailedError } from '../common/errors.js';
import { messagingConfig } from '../config/config.namespaces.js';
import type { Channel, MessagingConfig } from '../config/configuration.types.js';
import type { ContactKind, OtpChannel } from '../database/schema.js';
import { Notifier } from '../messaging/notifier.js';
import { normalizeEmailAddress, normalizePhoneNumber, parseContact } from '../otp/destinations/addresses.js';
import { maskDestination } from '../common/masked-destination.js';
import { VerificationNotFoundError } from '../otp/otp.errors.js';
import { OtpService, type VerificationView } from '../otp/otp.service.js';
import { effectiveStatus, type VerificationRecord } from '../otp/otp.types.js';
import type { RequestMeta } from '../common/request-meta.decorator.js';
import {
  AccountExistsError,
  CurrentPasswordRequiredError,
  InvalidAccessTokenError,
  InvalidCredentialsError,
  SessionNotFoundError,
  TotpAlreadyEnabledError,
  TotpCodeIncorrectError,
  TotpNotEnrolledError,
} from './auth.errors.js';
import type { LoginDto, RegisterDto, ResendOtpDto, StartOtpDto, UpdateMeDto, VerifyOtpDto } from './dto/auth.dto.js';
import { APP_LOGIN_PURPOSE, AUTHENTICATOR_APP, type ChallengeChannel } from './totp/totp.constants.js';
import { type TotpEnrollment, TotpService } from './totp/totp.service.js';
import { LoginAttempts } from './passwords/login-attempts.js';
import { PasswordHasher } from './passwords/password-hasher.js';
import type { Session, TokenPair } from './tokens/tokens.service.js';
import { TokensService } from './tokens/tokens.service.js';
import { type PublicUser, toPublicUser, type User } from './users/user.js';
import { UsersRepository } from './users/users.repository.js';
import { EventPublisher } from '../events/event-publisher.port.js';

/** The purposes whose challenges the auth flows complete; any other (e.g. the server API's `verify`) is not theirs. */
const AUTH_PURPOSES = ['signup', 'login', 'password_reset', 'change_contact', APP_LOGIN_PURPOSE] as const;
type AuthPurpose = (typeof AUTH_PURPOSES)[number];

/** The end-user routes take no locale yet; the templates fall back to English for any other anyway. */
const LOCALE = 'en';

/** What a challenge answered from the app shows as `to`: nothing was sent anywhere. */
const APP_DESTINATION = 'authenticator app';

export interface Challenge {
  challengeId: string;
  channel: ChallengeChannel;
  /** Masked. */
  to: string;
  expiresAt: string;
}

export type StartedChallenge = Omit<Challenge, 'to' | 'channel'> & { channel: Channel };

export interface ResentChallenge {
  challengeId: string;
  expiresAt: string;
  resendAvailableAt: string;
}

/** What a sign-in screen may show about a pending challenge; `delivery` only where it tells nothing about an account. */
export interface ChallengeStatus {
  challengeId: string;
  channel: ChallengeChannel;
  /** Masked. */
  to: string;
  expiresAt: string;
  resendAvailableAt: string;
  delivery?: { status: string; updatedAt: string };
}

/** What `PATCH /v1/auth/me` did: applied at once, or waiting for the code sent to a new contact. */
export type ProfileUpdate = { applied: PublicUser } | { pending: Challenge };

interface AccountContact {
  kind: ContactKind;
  value: string;
  verified: boolean;
}

/**
 * Sign-up, login with a second factor, passwordless login, password reset and contact changes, each
 * a challenge of OtpService completed by `verify`. The challenge's purpose and destination, and the
 * account it was started for (its subject, for sign-up and login), say which flow and which account it
 * belongs to, so nothing else needs to be remembered between the steps.
 */
@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);
  private readonly audit = new Logger('Audit');

  constructor(
    private readonly users: UsersRepository,
    private readonly passwords: PasswordHasher,
    private readonly loginAttempts: LoginAttempts,
    private readonly tokens: TokensService,
    private readonly otp: OtpService,
    private readonly totp: TotpService,
    @Inject(Notifier) private readonly notifier: Notifier,
    @Inject(messagingConfig.KEY) private readonly messaging: MessagingConfig,
    @Inject(EventPublisher) private readonly events: EventPublisher,
  ) {}

  async register(input: RegisterDto, meta: RequestMeta): Promise<{ userId: string } & Challenge> {
    const email = input.email === undefined ? undefined : requireEmail(input.email, 'email');
    const phone = input.phone === undefined ? undefined : this.allowedPhone(input.phone, 'phone');
    if (input.otpChannel !== undefined) this.assertUsableOtpChannel(input.otpChannel, { email: email ?? null, phone: phone ?? null });

    const user = await this.users.create({
      email,
      phone,
      passwordHash: await this.passwords.hash(input.password),
      otpChannel: input.otpChannel,
    });
    const contact = signupContactOf(user);
    try {
      // Bound to this account: another sign-up with the same address gets a challenge (and code) of its own.
      const view = await this.otp.start(
        { channel: this.channelFor(contact.kind, user.otpChannel), to: contact.value, purpose: 'signup', locale: LOCALE },
        meta,
        { budget: 'anonymous', subject: user.id },
      );
      const contacts = { email: email && maskDestination('email', email), phone: phone && maskDestination('sms', phone) };
      await this.events.publish('user.created', { userId: user.id, ...contacts });
      return { userId: user.id, ...challengeOf(view) };
    } catch (error) {
      // An account whose code could not be issued could never be confirmed, and would keep its contacts taken.
      await this.users.softDelete(user.id).catch(() => undefined);
      throw error;
    }
  }

  async login(input: LoginDto, meta: RequestMeta): Promise<Challenge> {
    try {
      await this.loginAttempts.assertAllowed(input.identifier);
    } catch (error) {
      if (error instanceof DomainError) this.auditSignIn('failure', meta, { method: 'password', reason: error.code });
      throw error;
    }
    const identifier = parseContact(input.identifier);
    if (identifier?.kind === 'phone') this.otp.destinationOf('sms', identifier.value);
    const user = identifier ? await this.findByContact(identifier.kind, identifier.value) : undefined;
    // The same work whether or not the account exists, so the answer's timing does not tell.
    const valid = user?.passwordHash
      ? await this.passwords.verify(user.passwordHash, input.password)
      : await this.passwords.verifyAgainstDummy(input.password);
    if (!user || !identifier || !valid) {
      await this.loginAttempts.failed(input.identifier);
      this.auditSignIn('failure', meta, { method: 'password', reason: 'INVALID_CREDENTIALS', userId: user?.id });
      throw new InvalidCredentialsError();
    }
    await this.loginAttempts.succeeded(input.identifier);
    // The password step only: the sign-in completes with the code, which gets its own line.
    this.auditSignIn('success', meta, { method: 'password', userId: user.id });

    if (this.totp.isEnabled(user)) return this.appChallenge(user);
    const contact = this.loginContact(user, identifier.kind, input.channel);
    // After the right password: a budget of its own, which no anonymous request can spend.
    // Bound to the account whose password was given, which may not be the one the contact finds by the time the code is typed.
    const view = await this.otp.start({ channel: contact.channel, to: contact.value, purpose: 'login', locale: LOCALE }, meta, {
      budget: 'proven',
      subject: user.id,
    });
    return challengeOf(view);
  }

  /**
   * Passwordless login and forgotten passwords. The answer depends on the request alone: the code
   * goes to the identifier itself, on the channel derived from it, and an identifier that may not
   * receive codes (no account, or a contact not confirmed) gets a real but undelivered challenge.
   */
  async startOtp(input: StartOtpDto, meta: RequestMeta): Promise<StartedChallenge> {
    const identifier = parseContact(input.identifier);
    if (!identifier) {
      throw new ValidationFailedError({
        identifier: ['identifier must be an email address or a phone number in E.164 format, such as +447911123456'],
      });
    }
    const channel = channelForIdentifier(identifier.kind, input.channel);
    if (identifier.kind === 'phone') this.otp.destinationOf(channel, identifier.value);
    const user = await this.findByContact(identifier.kind, identifier.value);
    const deliver = user !== undefined && mayReceiveCodes(user, identifier.kind) && !this.appRequired(user, input.purpose);
    const view = await this.otp.start({ channel, to: identifier.value, purpose: input.purpose, locale: LOCALE }, meta, {
      budget: 'anonymous',
      deliver,
      deliveryPrivate: true,
    });
    return { challengeId: view.id, channel: view.channel, expiresAt: view.expiresAt };
  }

  /**
   * Completes the flow the challenge was started for. Everything that can be refused without the
   * code is refused before the check, so a malformed request never uses up the code or an attempt.
   * A password reset of an account with the app on answers the app's login challenge instead of tokens.
   */
  async verify(input: VerifyOtpDto, signedIn: User | undefined, meta: RequestMeta): Promise<TokenPair | Challenge> {
    const challenge = await this.otp.find(input.challengeId, 'auth');
    if (!challenge || !isAuthPurpose(challenge.purpose)) {
      this.auditSignIn('failure', meta, { method: 'code', reason: 'VERIFICATION_NOT_FOUND' });
      throw new VerificationNotFoundError();
    }
    if (challenge.purpose === APP_LOGIN_PURPOSE) return this.verifyWithApp(challenge, input, meta);
    if (input.code === undefined) {
      throw new ValidationFailedError({ recoveryCode: ['recoveryCode is only accepted for a challenge of channel totp; give code'] });
    }
    const code = input.code;
    if (challenge.purpose === 'password_reset' && input.newPassword === undefined) {
      throw new ValidationFailedError({ newPassword: ['newPassword is required to complete a password reset'] });
    }
    if (challenge.purpose !== 'password_reset' && input.newPassword !== undefined) {
      throw new ValidationFailedError({ newPassword: ['newPassword is only accepted when completing a password reset'] });
    }
    const kind = contactKindOf(challenge.channel);
    if (challenge.purpose === 'change_contact') {
      // Only the account that asked for the change may complete it.
      if (!signedIn) throw new InvalidAccessTokenError();
      if ((await this.users.findContactChange(signedIn.id, kind)) !== challenge.to) throw new VerificationNotFoundError();
      const { record } = await this.otp.check(
        { id: challenge.id, code, purpose: challenge.purpose, realm: 'auth', found: challenge },
        meta,
      );
      return this.completeContactChange(signedIn!, kind, record.to, meta);
    }
    const flow = challenge.purpose;
    try {
      // Hashed before the check, so a refusal for a busy hasher (SERVICE_BUSY) does not use the code up.
      const newPasswordHash = flow === 'password_reset' ? await this.passwords.hash(input.newPassword!) : undefined;
      const { record } = await this.otp.check(
        { id: challenge.id, code, purpose: challenge.purpose, realm: 'auth', found: challenge },
        meta,
      );
      const owner = await this.ownerOf(record, kind);
      // Also how an undelivered challenge (no account, or a contact that may not receive codes) ends,
      // should its code ever be guessed.
      if (
        !owner ||
        (record.purpose !== 'signup' && !mayReceiveCodes(owner, kind)) ||
        (record.subject === undefined && this.appRequired(owner, record.purpose))
      ) {
        throw new VerificationNotFoundError();
      }
      // Every auth code proves possession of the contact it was sent to; ownership is taken only now, after the check.
      let user = await this.markVerified(owner, kind);
      if (newPasswordHash !== undefined) {
        user = await this.resetPassword(user, newPasswordHash, meta);
        // The code proves the contact, not the app: with the app on, signing in still takes its code, as after a password.
        if (this.totp.isEnabled(user)) return await this.appChallenge(user);
      }
      const pair = await this.tokens.issueTokenPair(user, meta);
      this.auditSignIn('success', meta, { method: 'code', flow, userId: user.id });
      return pair;
    } catch (error) {
      if (error instanceof DomainError) this.auditSignIn('failure', meta, { method: 'code', flow, reason: error.code });
      throw error;
    }
  }

  async resend(input: ResendOtpDto, meta: RequestMeta): Promise<ResentChallenge> {
    const challenge = await this.otp.find(input.challengeId, 'auth');
    // The app shows its codes itself: there is nothing to re-send.
    if (!challenge || !isAuthPurpose(challenge.purpose) || challenge.purpose === APP_LOGIN_PURPOSE || (await this.orphaned(challenge))) {
      throw new VerificationNotFoundError();
    }
    const view = await this.otp.resendById(challenge.id, 'auth', meta, { deliver: await this.deliversTo(challenge) });
    return { challengeId: view.id, expiresAt: view.expiresAt, resendAvailableAt: view.resendAvailableAt };
  }

  /**
   * The public status of a challenge still open (pending, or failed to deliver, until it expires), so
   * the sign-in screen can say "not delivered, try another channel". Its delivery is shown for
   * `register`, `login` and contact changes, never for an id `otp/start` handed out: that answer
   * must be the same whether or not the account exists (there, an unknown account's challenge is
   * never delivered at all).
   */
  async challengeStatus(challengeId: string): Promise<ChallengeStatus> {
    const challenge = await this.otp.find(challengeId, 'auth');
    const now = Date.now();
    // A failed one is what this route exists for; it reads as expired like a pending one once its code would have.
    const open = challenge !== undefined && ['pending', 'failed'].includes(effectiveStatus(challenge, now)) && now < challenge.expiresAt;
    if (!open || !isAuthPurpose(challenge.purpose) || (await this.orphaned(challenge))) throw new VerificationNotFoundError();
    if (challenge.purpose === APP_LOGIN_PURPOSE) {
      const expiresAt = new Date(challenge.expiresAt).toISOString();
      return { challengeId: challenge.id, channel: AUTHENTICATOR_APP, to: APP_DESTINATION, expiresAt, resendAvailableAt: expiresAt };
    }
    const view = await this.otp.get(challenge.id, 'auth');
    return {
      challengeId: view.id,
      channel: view.channel,
      to: view.to,
      expiresAt: view.expiresAt,
      resendAvailableAt: view.resendAvailableAt,
      ...(challenge.deliveryPrivate ? {} : { delivery: { status: view.delivery.status, updatedAt: view.delivery.updatedAt } }),
    };
  }

  refresh(refreshToken: string, meta: RequestMeta): Promise<TokenPair> {
    return this.tokens.refresh(refreshToken, meta);
  }

  /**
   * Ends the Bearer token's session, and the refresh token's when one is given and it is the same
   * user's (another account's token is ignored: logout always succeeds and reveals nothing).
   */
  async logout(user: User, sessionId: string, refreshToken: string | undefined, meta: RequestMeta): Promise<void> {
    const sessions = new Set([sessionId]);
    if (refreshToken !== undefined) {
      const other = await this.tokens.sessionOf(refreshToken, user.id);
      if (other !== undefined) sessions.add(other);
    }
    for (const session of sessions) {
      if (await this.tokens.endSession(user.id, session))
        this.audit.log({ event: 'auth.logout', userId: user.id, sessionId: session, ip: meta.ip });
    }
  }

  /** The user's live sessions; `current` marks the one of the asking access token. */
  listSessions(user: User, currentSessionId: string): Promise<Session[]> {
    return this.tokens.listSessions(user.id, currentSessionId);
  }

  /** @throws SessionNotFoundError for an id that is not one of the user's live sessions, whoever else it may belong to. */
  async endSession(user: User, sessionId: string, meta: RequestMeta): Promise<void> {
    if (!(await this.tokens.endSession(user.id, sessionId))) throw new SessionNotFoundError();
    this.audit.log({ event: 'auth.session_ended', userId: user.id, sessionId, ip: meta.ip });
    await this.events.publish('session.revoked', { userId: user.id, sessionId, reason: 'ended' });
  }

  /** Deletes the account for good, with the current password; its sessions and access tokens end with it. */
  async deleteAccount(user: User, password: string, meta: RequestMeta): Promise<void> {
    await this.assertCurrentPassword(user, password);
    await this.users.delete(user.id);
    this.audit.log({ event: 'auth.account_deleted', userId: user.id, ip: meta.ip });
    await this.events.publish('user.deleted', { userId: user.id, by: 'user' });
  }

  /**
   * A new authenticator secret, with the current password: an access token alone (perhaps stolen) must
   * not be able to tie the account to its holder's app. Waits for `confirmTotp`.
   */
  async enrollTotp(user: User, password: string, meta: RequestMeta): Promise<TotpEnrollment> {
    await this.assertCurrentPassword(user, password);
    const enrollment = await this.totp.enroll(user);
    if (!enrollment) throw new TotpAlreadyEnabledError();
    this.audit.log({ event: 'auth.totp_enrolled', userId: user.id, ip: meta.ip });
    return enrollment;
  }

  /** Turns the app on with a first code from it; wrong codes count toward `LOGIN_MAX_FAILURES` like sign-in's. */
  async confirmTotp(user: User, code: string, meta: RequestMeta): Promise<{ recoveryCodes: string[] }> {
    const attempts = appAttemptsOf(user);
    await this.loginAttempts.assertAllowed(attempts);
    const result = await this.totp.confirm(user, code);
    if ('refused' in result) {
      if (result.refused === 'not_enrolled') throw new TotpNotEnrolledError();
      await this.loginAttempts.failed(attempts);
      throw new TotpCodeIncorrectError();
    }
    await this.loginAttempts.succeeded(attempts);
    this.audit.log({ event: 'auth.totp_enabled', userId: user.id, ip: meta.ip });
    return result;
  }

  async disableTotp(user: User, password: string, meta: RequestMeta): Promise<void> {
    await this.assertCurrentPassword(user, password);
    await this.totp.disable(user.id);
    this.audit.log({ event: 'auth.totp_disabled', userId: user.id, ip: meta.ip });
  }

  /**
   * `otpChannel` applies at once; a new email address or phone number is only staged, and replaces
   * the current one when the code sent to it is verified.
   */
  async updateMe(user: User, input: UpdateMeDto, meta: RequestMeta): Promise<ProfileUpdate> {
    if (input.email !== undefined && input.phone !== undefined) {
      throw new ValidationFailedError({ body: ['change one contact at a time: give email or phone, not both'] });
    }
    if (input.otpChannel === undefined && input.email === undefined && input.phone === undefined) {
      throw new ValidationFailedError({ body: ['give otpChannel, email or phone'] });
    }
    // Before anything is applied or sent: an access token alone (15 minutes, perhaps stolen) must not be
    // able to move the account to an address its holder controls.
    if (input.email !== undefined || input.phone !== undefined) await this.assertCurrentPassword(user, input.password);
    let current = user;
    if (input.otpChannel !== undefined) {
      this.assertUsableOtpChannel(input.otpChannel, current);
      current = (await this.users.setOtpChannel(current.id, input.otpChannel)) ?? current;
    }
    if (input.email === undefined && input.phone === undefined) return { applied: toPublicUser(current) };

    const kind: ContactKind = input.email !== undefined ? 'email' : 'phone';
    const value = kind === 'email' ? requireEmail(input.email!, 'email') : this.allowedPhone(input.phone!, 'phone');
    if (value === (kind === 'email' ? current.email : current.phone)) {
      throw new ValidationFailedError({
        [kind]: [`${kind} is already the ${kind === 'email' ? 'email address' : 'phone number'} of this account`],
      });
    }
    if (await this.users.findVerifiedOwner(kind, value)) throw new AccountExistsError();
    await this.users.stageContactChange(current.id, kind, value);
    const view = await this.otp.start(
      { channel: this.channelFor(kind, current.otpChannel), to: value, purpose: 'change_contact', locale: LOCALE },
      meta,
      { budget: 'proven' },
    );
    return { pending: challengeOf(view) };
  }

  /**
   * The holder of an access token may guess the password here as a stranger would at login, so the
   * guesses count the same way (`LOGIN_MAX_FAILURES` per 15 minutes), on a counter of the account's own:
   * only someone signed in as the account can spend it.
   */
  private async assertCurrentPassword(user: User, password: string | undefined): Promise<void> {
    const attempts = `account:${user.id}`;
    await this.loginAttempts.assertAllowed(attempts);
    const valid = user.passwordHash !== null && password !== undefined && (await this.passwords.verify(user.passwordHash, password));
    if (!valid) {
      await this.loginAttempts.failed(attempts);
      throw new CurrentPasswordRequiredError();
    }
    await this.loginAttempts.succeeded(attempts);
  }

  /**
   * An account with the app on signs in with its password and the app only: a passwordless login (a code to
   * a contact alone) would step around the app, so `otp/start` answers it as for an unknown account.
   */
  private appRequired(user: User, purpose: string): boolean {
    return purpose === 'login' && this.totp.isEnabled(user);
  }

  /** The second factor of a password login when the app is on: a challenge whose code the app shows, nothing sent. */
  private async appChallenge(user: User): Promise<Challenge> {
    const contact = signupContactOf(user);
    // Bound to the account; a login while one is pending gets that one back, with its failed attempts.
    const record = await this.otp.startUnsent(
      { channel: this.channelFor(contact.kind, user.otpChannel), to: user.id, purpose: APP_LOGIN_PURPOSE, locale: LOCALE },
      { budget: 'proven', subject: user.id },
    );
    return { challengeId: record.id, channel: AUTHENTICATOR_APP, to: APP_DESTINATION, expiresAt: new Date(record.expiresAt).toISOString() };
  }

  /**
   * A login challenge answered with the app's code or a recovery code. Wrong ones count toward the
   * challenge's attempts (then it locks) and toward the account's own `LOGIN_MAX_FAILURES` across
   * challenges, so logging in again for a fresh challenge buys no more guesses.
   */
  private async verifyWithApp(challenge: VerificationRecord, input: VerifyOtpDto, meta: RequestMeta): Promise<TokenPair> {
    const method = input.recoveryCode !== undefined ? 'recovery_code' : 'totp';
    try {
      const user = challenge.subject === undefined ? undefined : await this.users.findById(challenge.subject);
      if (!user || !this.totp.isEnabled(user)) throw new VerificationNotFoundError();
      if (input.newPassword !== undefined) {
        throw new ValidationFailedError({ newPassword: ['newPassword is only accepted when completing a password reset'] });
      }
      const attempts = appAttemptsOf(user);
      await this.loginAttempts.assertAllowed(attempts);
      // A settled, expired or locked challenge is refused before a recovery code or a time step could be used up on it.
      if (effectiveStatus(challenge, Date.now()) !== 'pending' || challenge.attempts >= challenge.maxAttempts) {
        await this.otp.settle(challenge.id, 'auth', false, meta);
      }
      const approved =
        input.recoveryCode !== undefined
          ? await this.totp.useRecoveryCode(user.id, input.recoveryCode)
          : await this.totp.acceptCode(user, input.code!);
      if (!approved) await this.loginAttempts.failed(attempts);
      await this.otp.settle(challenge.id, 'auth', approved, meta);
      await this.loginAttempts.succeeded(attempts);
      const pair = await this.tokens.issueTokenPair(user, meta);
      this.auditSignIn('success', meta, { method, flow: APP_LOGIN_PURPOSE, userId: user.id });
      return pair;
    } catch (error) {
      if (error instanceof DomainError) this.auditSignIn('failure', meta, { method, flow: APP_LOGIN_PURPOSE, reason: error.code });
      throw error;
    }
  }

  private async completeContactChange(user: User, kind: ContactKind, value: string, meta: RequestMeta): Promise<TokenPair> {
    // Taken as it is applied, so one code applies one change; a newer request in between wins.
    if ((await this.users.takeContactChange(user.id, kind)) !== value) throw new VerificationNotFoundError();
    const updated = await this.users.replaceContact(user.id, kind, value);
    if (!updated) throw new VerificationNotFoundError();
    this.audit.log({ event: 'auth.contact_changed', userId: user.id, kind, ip: meta.ip });
    this.tellOfContactChange(user, kind, maskDestination(this.channelFor(kind, updated.otpChannel), value));
    return this.tokens.issueTokenPair(updated, meta);
  }

  /**
   * The contact being replaced is told, so an owner whose account is being taken over hears of it
   * where they still read; when a contact is added instead, the account's other confirmed contacts are.
   * Only confirmed contacts: an unconfirmed one may be someone else's, who must not learn the new one.
   */
  private tellOfContactChange(before: User, kind: ContactKind, maskedNewContact: string): void {
    const confirmed = contactsOf(before).filter((contact) => contact.verified);
    const replaced = confirmed.filter((contact) => contact.kind === kind);
    for (const contact of replaced.length > 0 ? replaced : confirmed) {
      // Best effort and not awaited, like the password-changed notice: the change already happened.
      this.notifier
        .contactChanged(this.channelFor(contact.kind, before.otpChannel), contact.value, { kind, newContact: maskedNewContact }, LOCALE)
        .catch(() => this.logger.warn(`contact-changed notice for user ${before.id} could not be sent`));
    }
  }

  private async resetPassword(user: User, newPasswordHash: string, meta: RequestMeta): Promise<User> {
    const updated = (await this.users.setPasswordHash(user.id, newPasswordHash)) ?? user;
    // Every session ends, and with it every access token issued for one, on every replica.
    const revoked = await this.tokens.revokeAllForUser(user.id);
    this.logger.log(`password reset for user ${user.id}: ${revoked} refresh token${revoked === 1 ? '' : 's'} revoked`);
    this.audit.log({ event: 'auth.password_reset', userId: user.id, ip: meta.ip });
    if (revoked > 0) await this.events.publish('session.revoked', { userId: user.id, reason: 'password_reset' });
    for (const contact of contactsOf(updated).filter((c) => c.verified)) {
      // Best effort and not awaited: a slow or failing provider must not fail the reset that already happened.
      this.notifier
        .passwordChanged(this.channelFor(contact.kind, updated.otpChannel), contact.value, LOCALE)
        .catch(() => this.logger.warn(`password-changed notice for user ${user.id} could not be sent`));
    }
    return updated;
  }

  /** @throws AccountExistsError when another account verified the contact first, taking it from this one. */
  private async markVerified(user: User, kind: ContactKind): Promise<User> {
    if ((kind === 'email' ? user.emailVerifiedAt : user.phoneVerifiedAt) !== null) return user;
    const claimed = kind === 'email' ? await this.users.markEmailVerified(user.id) : await this.users.markPhoneVerified(user.id);
    if (!claimed) throw new AccountExistsError();
    return claimed;
  }

  /** Whether a resend may actually send: only where the first send would have. */
  private async deliversTo(challenge: VerificationRecord): Promise<boolean> {
    // Only a signed-in user starts these, to a contact they chose and that no account has.
    if (challenge.purpose === 'change_contact') return true;
    const kind = contactKindOf(challenge.channel);
    const owner = await this.ownerOf(challenge, kind);
    if (!owner) return false;
    if (challenge.subject === undefined && this.appRequired(owner, challenge.purpose)) return false;
    return challenge.purpose === 'signup' || mayReceiveCodes(owner, kind);
  }

  /**
   * Where a login's second factor goes: a confirmed contact (the one asked for, else the preferred
   * channel's, else the identifier's kind), or, while none is confirmed, the sign-up contact.
   */
  private loginContact(user: User, identifierKind: ContactKind, requested: Channel | undefined): AccountContact & { channel: Channel } {
    const candidates = codeContactsOf(user);
    for (const wanted of [requested, user.otpChannel]) {
      if (wanted === undefined || wanted === null || !this.enabled(wanted)) continue;
      const match = candidates.find((contact) => contact.kind === contactKindOf(wanted));
      if (match) return { ...match, channel: wanted };
    }
    const chosen = candidates.find((contact) => contact.kind === identifierKind) ?? candidates[0]!;
    return { ...chosen, channel: this.channelFor(chosen.kind, user.otpChannel) };
  }

  private assertUsableOtpChannel(channel: OtpChannel, contacts: { email: string | null; phone: string | null }): void {
    if (!this.enabled(channel)) {
      throw new ValidationFailedError({
        otpChannel: [`otpChannel must be one of the enabled channels: ${this.messaging.channels.join(', ')}`],
      });
    }
    if (contactKindOf(channel) === 'email' ? contacts.email === null : contacts.phone === null) {
      throw new ValidationFailedError({
        otpChannel: [`otpChannel ${channel} needs ${channel === 'email' ? 'an email address' : 'a phone number'} on the account`],
      });
    }
  }

  /** An email address gets email; a phone number SMS, or WhatsApp when that is the user's choice and it is enabled. */
  private channelFor(kind: ContactKind, otpChannel: OtpChannel | null): Channel {
    if (kind === 'email') return 'email';
    return otpChannel === 'whatsapp' && this.enabled('whatsapp') ? 'whatsapp' : 'sms';
  }

  /** E.164, and a number codes may be sent to (SMS_ALLOWED_COUNTRIES, SMS_ALLOWED_NUMBER_TYPES): checked before the account keeps it. */
  private allowedPhone(phone: string, field: string): string {
    return this.otp.destinationOf('sms', requirePhone(phone, field)).normalized;
  }

  private enabled(channel: Channel): boolean {
    return this.messaging.channels.includes(channel);
  }

  /**
   * The account a challenge completes: the one it was started for (sign-up, login), as long as that
   * account still claims the contact the code went to; else (`otp/start`) the account the contact signs in to.
   */
  private async ownerOf(challenge: VerificationRecord, kind: ContactKind): Promise<User | undefined> {
    if (challenge.subject === undefined) return this.findByContact(kind, challenge.to);
    const user = await this.users.findById(challenge.subject);
    return user && (kind === 'email' ? user.email : user.phone) === challenge.to ? user : undefined;
  }

  /**
   * A challenge started for an account that is gone, or lost the contact to the account that verified it,
   * or (the app's) whose app has been turned off: its code can complete nothing.
   */
  private async orphaned(challenge: VerificationRecord): Promise<boolean> {
    if (challenge.purpose === APP_LOGIN_PURPOSE) {
      const user = challenge.subject === undefined ? undefined : await this.users.findById(challenge.subject);
      return !user || !this.totp.isEnabled(user);
    }
    return challenge.subject !== undefined && (await this.ownerOf(challenge, contactKindOf(challenge.channel))) === undefined;
  }

  /** The account this contact signs in to: its verified owner, else an unfinished sign-up that claims it. */
  private findByContact(kind: ContactKind, value: string): Promise<User | undefined> {
    return this.users.findByContact(kind, value);
  }

  /** One line per sign-in success or failure, for whoever investigates an account later. */
  private auditSignIn(
    result: 'success' | 'failure',
    meta: RequestMeta,
    fields: { method: 'password' | 'code' | 'totp' | 'recovery_code'; flow?: AuthPurpose; reason?: string; userId?: string },
  ): void {
    this.audit.log({ event: 'auth.sign_in', result, ...fields, ip: meta.ip, userAgent: meta.userAgent?.slice(0, 200) });
  }
}

/** The account's own counter of wrong app and recovery codes, apart from the password counters of its identifiers. */
function appAttemptsOf(user: User): string {
  return `totp:${user.id}`;
}

function isAuthPurpose(purpose: string): purpose is AuthPurpose {
  return (AUTH_PURPOSES as readonly string[]).includes(purpose);
}

function contactKindOf(channel: Channel): ContactKind {
  return channel === 'email' ? 'email' : 'phone';
}

function contactsOf(user: User): AccountContact[] {
  const contacts: AccountContact[] = [];
  if (user.email !== null) contacts.push({ kind: 'email', value: user.email, verified: user.emailVerifiedAt !== null });
  if (user.phone !== null) contacts.push({ kind: 'phone', value: user.phone, verified: user.phoneVerifiedAt !== null });
  return contacts;
}

/** Where the sign-up code went: the preferred channel's contact, else the email address, else the phone number. */
function signupContactOf(user: User): AccountContact {
  const contacts = contactsOf(user);
  const preferred = user.otpChannel === null ? undefined : contacts.find((contact) => contact.kind === contactKindOf(user.otpChannel!));
  return preferred ?? contacts.find((contact) => contact.kind === 'email') ?? contacts[0]!;
}

/**
 * The contacts that may receive codes: the confirmed ones, or while none is, the sign-up contact
 * (it already received a code; one typed wrongly at sign-up and never confirmed gets nothing more).
 */
function codeContactsOf(user: User): AccountContact[] {
  const verified = contactsOf(user).filter((contact) => contact.verified);
  return verified.length > 0 ? verified : [signupContactOf(user)];
}

function mayReceiveCodes(user: User, kind: ContactKind): boolean {
  return codeContactsOf(user).some((contact) => contact.kind === kind);
}

/** From the request alone, so the answer is the same for an identifier without an account. */
function channelForIdentifier(kind: ContactKind, requested: Channel | undefined): Channel {
  if (requested === undefined) return kind === 'email' ? 'email' : 'sms';
  if ((requested === 'email') !== (kind === 'email')) {
    throw new ValidationFailedError({
      channel: [
        requested === 'email'
          ? 'channel email needs an email address as identifier'
          : `channel ${requested} needs a phone number as identifier`,
      ],
    });
  }
  return requested;
}

function requireEmail(email: string, field: string): string {
  const normalized = normalizeEmailAddress(email);
  if (!normalized) throw new ValidationFailedError({ [field]: [`${field} must be an email address`] });
  return normalized;
}

function requirePhone(phone: string, field: string): string {
  const e164 = normalizePhoneNumber(phone);
  if (!e164) throw new ValidationFailedError({ [field]: [`${field} must be a phone number in E.164 format, such as +447911123456`] });
  return e164;
}

function challengeOf(view: VerificationView): Challenge {
  return { challengeId: view.id, channel: view.channel, to: view.to, expiresAt: view.expiresAt };
}
