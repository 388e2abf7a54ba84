/**
 * Domain errors carry a stable `code` that clients can branch on; the HTTP status is decided in one
 * place (`ERROR_STATUS`, used by the exception filter), so services never speak HTTP.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  DESTINATION_NOT_ALLOWED: 400,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  TOKEN_REUSED: 401,
  TOKEN_REVOKED: 401,
  FORBIDDEN: 403,
  DESTINATION_SUSPENDED: 403,
  NOT_FOUND: 404,
  VERIFICATION_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  ACCOUNT_EXISTS: 409,
  CONFLICT: 409,
  TOTP_ALREADY_ENABLED: 409,
  TOTP_NOT_ENROLLED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  OTP_INCORRECT: 422,
  RATE_LIMITED: 429,
  OTP_RATE_LIMITED: 429,
  OTP_RESEND_TOO_SOON: 429,
  OTP_MAX_SENDS: 429,
  OTP_ATTEMPTS_EXCEEDED: 429,
  DESTINATION_THROTTLED: 429,
  LOGIN_RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
  CHANNEL_UNAVAILABLE: 503,
  SERVICE_BUSY: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields for the response body, e.g. `attemptsRemaining`. Never a secret. */
    readonly details: Record<string, unknown> = {},
    /** Seconds until retrying can succeed; becomes `retryAfter` and the `Retry-After` header. */
    readonly retryAfterSeconds?: number,
  ) {
    // A domain error is an expected answer (a wrong code is one in two checks under load), never
    // logged with its stack: capturing a trace through Nest's async pipeline cost more than the
    // rest of building the 4xx, so none is captured.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = new.target.name;
  }
}

export class ValidationFailedError extends DomainError {
  constructor(readonly errors: Record<string, string[]>) {
    super('VALIDATION_FAILED', 'The request is not valid.', { errors });
  }
}

export class UnauthorizedError extends DomainError {
  constructor(message = 'A valid API key is required in the X-Api-Key header.') {
    super('UNAUTHORIZED', message);
  }
}

export class ServiceUnavailableError extends DomainError {
  constructor(message: string, retryAfterSeconds = 5) {
    super('SERVICE_UNAVAILABLE', message, {}, retryAfterSeconds);
  }
}

/** "Try again in 11 minutes." — what a person reads in a 429. */
export function retryAfterInWords(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return `Try again in ${s} second${s === 1 ? '' : 's'}.`;
  const minutes = Math.ceil(s / 60);
  if (minutes <= 90) return `Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
  const hours = Math.ceil(minutes / 60);
  return `Try again in ${hours} hour${hours === 1 ? '' : 's'}.`;
}

/** "The request body is larger than 64 KiB." — the limit as configured, in the unit it was most likely set in. */
export function bodyTooLargeMessage(limitBytes: number): string {
  return `The request body is larger than ${sizeInWords(limitBytes)}.`;
}

function sizeInWords(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
