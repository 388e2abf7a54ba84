import { DomainError, retryAfterInWords, UnauthorizedError } from '../common/errors.js';

export class AccountExistsError extends DomainError {
  constructor() {
    super('ACCOUNT_EXISTS', 'An account with this email address or phone number already exists.');
  }
}

/** A rotated or revoked refresh token came back: someone holds a copy, so its whole family is revoked. */
export class TokenReusedError extends DomainError {
  constructor() {
    super('TOKEN_REUSED', 'This refresh token was already used. Every session it belonged to has been signed out; sign in again.');
  }
}

export class InvalidRefreshTokenError extends UnauthorizedError {
  constructor() {
    super('The refresh token is not valid or has expired. Sign in again.');
  }
}

export class InvalidAccessTokenError extends UnauthorizedError {
  constructor() {
    super('A valid access token is required in the Authorization header as "Bearer <token>".');
  }
}

/** One answer for an unknown identifier and a wrong password, so a login does not tell which accounts exist. */
export class InvalidCredentialsError extends DomainError {
  constructor() {
    super('INVALID_CREDENTIALS', 'The identifier or the password is not correct.');
  }
}

/** The session a token belongs to has ended (logout, revocation, password reset, account deletion). */
export class TokenRevokedError extends DomainError {
  constructor() {
    super('TOKEN_REVOKED', 'This session has ended (signed out, revoked or the password was reset). Sign in again.');
  }
}

/** A new email address or phone number needs the current password, so a stolen access token alone cannot take the account over. */
export class CurrentPasswordRequiredError extends DomainError {
  constructor() {
    super('INVALID_CREDENTIALS', 'The current password of the account is required, and must be correct, to change its email address or phone number.');
  }
}

/** Too many wrong passwords for one identifier: the same answer whether or not the account exists. */
export class LoginRateLimitedError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super(
      'LOGIN_RATE_LIMITED',
      `Too many wrong passwords for this account. ${retryAfterInWords(retryAfterSeconds)} ` +
        'Signing in with a code, or resetting the password, still works.',
      {},
      retryAfterSeconds,
    );
  }
}

/** Every password-hashing slot stayed taken for too long: the process is saturated, not broken. */
export class ServiceBusyError extends DomainError {
  constructor(retryAfterSeconds = 1) {
    super('SERVICE_BUSY', 'The service is busy. Try again in a moment.', {}, retryAfterSeconds);
  }
}
