import { DomainError, retryAfterInWords } from '../common/errors.js';

export class VerificationNotFoundError extends DomainError {
  constructor() {
    super('VERIFICATION_NOT_FOUND', 'No pending verification was found. It may have expired, been approved or been canceled.');
  }
}

export class OtpIncorrectError extends DomainError {
  constructor(attemptsRemaining: number) {
    super(
      'OTP_INCORRECT',
      attemptsRemaining > 0
        ? `The code is incorrect. ${attemptsRemaining} attempt${attemptsRemaining === 1 ? '' : 's'} remaining.`
        : 'The code is incorrect. No attempts remain: request a new code.',
      { attemptsRemaining },
    );
  }
}

export class OtpAttemptsExceededError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super('OTP_ATTEMPTS_EXCEEDED', `Too many incorrect codes: this verification is locked. Request a new code. ${retryAfterInWords(retryAfterSeconds)}`, {}, retryAfterSeconds);
  }
}

export class OtpResendTooSoonError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super('OTP_RESEND_TOO_SOON', `A code was sent moments ago. ${retryAfterInWords(retryAfterSeconds)}`, {}, retryAfterSeconds);
  }
}

export class OtpRateLimitedError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super('OTP_RATE_LIMITED', `Too many codes requested. ${retryAfterInWords(retryAfterSeconds)}`, {}, retryAfterSeconds);
  }
}

export class OtpMaxSendsError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super('OTP_MAX_SENDS', `No more codes can be sent for this verification. ${retryAfterInWords(retryAfterSeconds)}`, {}, retryAfterSeconds);
  }
}

export class DestinationNotAllowedError extends DomainError {
  constructor(country: string | undefined, message?: string) {
    super('DESTINATION_NOT_ALLOWED', message ?? (country ? `Codes cannot be sent to numbers in ${country}.` : 'Codes cannot be sent to this destination.'));
  }
}

export class ChannelUnavailableError extends DomainError {
  constructor(channel: string) {
    super('CHANNEL_UNAVAILABLE', `No ${channel} provider is available right now. Nothing was sent; try again later.`, { channel }, 30);
  }
}

export class RequestRateLimitedError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super('RATE_LIMITED', `Too many requests from this address. ${retryAfterInWords(retryAfterSeconds)}`, {}, retryAfterSeconds);
  }
}

/** The per-key limit (API_KEY_RATE_LIMIT_PER_MINUTE): one application's backend, whatever its users' addresses. */
export class ApiKeyRateLimitedError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super('RATE_LIMITED', `Too many requests with this API key. ${retryAfterInWords(retryAfterSeconds)}`, {}, retryAfterSeconds);
  }
}
