import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { bodyTooLargeMessage, type ErrorCode } from './errors.js';

/**
 * The one error body of the API (`errorBody` builds it): `statusCode`, a stable `code` to branch
 * on and a `message` to show, plus the fields that some errors add.
 */
export class ErrorResponse {
  @ApiProperty({ type: 'integer', example: 429, description: 'The HTTP status, repeated.' })
  statusCode!: number;

  @ApiProperty({ example: 'OTP_RATE_LIMITED', description: 'Stable error code; each response below lists the codes it can carry.' })
  code!: string;

  @ApiProperty({
    example: 'Too many codes requested. Try again in 11 minutes.',
    description: 'What went wrong, in words a person can act on.',
  })
  message!: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    example: 660,
    description: 'Seconds until a retry can succeed; the `Retry-After` header says the same.',
  })
  retryAfter?: number;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'array', items: { type: 'string' } },
    example: { to: ['to must be at most 320 characters'] },
    description: '`VALIDATION_FAILED` only: the messages of each invalid field.',
  })
  errors?: Record<string, string[]>;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, example: 4, description: '`OTP_INCORRECT` only: wrong codes still allowed.' })
  attemptsRemaining?: number;

  @ApiPropertyOptional({ example: 'sms', description: '`CHANNEL_UNAVAILABLE` only: the channel without a usable provider.' })
  channel?: string;

  @ApiPropertyOptional({ format: 'uuid', description: '`INTERNAL` only: the id under which the log holds the details.' })
  errorId?: string;
}

export type DocumentedErrors = Partial<Record<400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 503, readonly ErrorCode[]>>;

const RETRY_AFTER = { 'Retry-After': { description: 'Seconds until a retry can succeed.', schema: { type: 'integer', minimum: 1 } } };

type ErrorExample = Omit<ErrorResponse, 'statusCode' | 'code'>;

/**
 * What a client really receives for each code, in the words the service uses (the messages of the
 * domain errors and of the exception filter), with the fields that code adds.
 */
const EXAMPLES: Partial<Record<ErrorCode, ErrorExample>> = {
  VALIDATION_FAILED: {
    message: 'The request is not valid.',
    errors: { channel: ['channel must be one of: email, sms, whatsapp'], to: ['to must be a string'] },
  },
  DESTINATION_NOT_ALLOWED: { message: 'Codes cannot be sent to numbers in RU.' },
  UNAUTHORIZED: { message: 'A valid API key is required in the X-Api-Key header.' },
  INVALID_CREDENTIALS: { message: 'The identifier or the password is not correct.' },
  TOKEN_REUSED: { message: 'This refresh token was already used. Every session it belonged to has been signed out; sign in again.' },
  TOKEN_REVOKED: { message: 'This session has ended (signed out, revoked or the password was reset). Sign in again.' },
  VERIFICATION_NOT_FOUND: { message: 'No pending verification was found. It may have expired, been approved or been canceled.' },
  SESSION_NOT_FOUND: { message: 'No session of this account has this id. It may have ended already.' },
  USER_NOT_FOUND: { message: 'No account has this identifier.' },
  TOTP_ALREADY_ENABLED: { message: 'An authenticator app is already on for this account. Turn it off first to enrol another.' },
  TOTP_NOT_ENROLLED: { message: 'No authenticator app enrolment is waiting for confirmation. Start one at POST /v1/auth/totp/enroll.' },
  ACCOUNT_EXISTS: { message: 'An account with this email address or phone number already exists.' },
  // With the default body limit: the message names the limit the service runs with.
  PAYLOAD_TOO_LARGE: { message: bodyTooLargeMessage(64 * 1024) },
  UNSUPPORTED_MEDIA_TYPE: { message: 'Send the request body as application/json.' },
  OTP_INCORRECT: { message: 'The code is incorrect. 4 attempts remaining.', attemptsRemaining: 4 },
  RATE_LIMITED: { message: 'Too many requests from this address. Try again in 42 seconds.', retryAfter: 42 },
  OTP_RATE_LIMITED: { message: 'Too many codes requested. Try again in 11 minutes.', retryAfter: 660 },
  OTP_RESEND_TOO_SOON: { message: 'A code was sent moments ago. Try again in 27 seconds.', retryAfter: 27 },
  OTP_MAX_SENDS: { message: 'No more codes can be sent for this verification. Try again in 9 minutes.', retryAfter: 540 },
  OTP_ATTEMPTS_EXCEEDED: {
    message: 'Too many incorrect codes: this verification is locked. Request a new code. Try again in 8 minutes.',
    retryAfter: 480,
  },
  DESTINATION_THROTTLED: { message: 'Too many codes were sent to numbers close to this one. Try again in 40 minutes.', retryAfter: 2400 },
  DESTINATION_SUSPENDED: {
    message: 'Codes to numbers in GB are suspended: too few of the codes sent there were entered. Try again in 58 minutes.',
    retryAfter: 3480,
  },
  LOGIN_RATE_LIMITED: {
    message:
      'Too many wrong passwords for this account. Try again in 13 minutes. Signing in with a code, or resetting the password, still works.',
    retryAfter: 780,
  },
  INTERNAL: { message: 'An unexpected error occurred.', errorId: '0b8e2f6a-3c1d-4e5f-9a7b-2c4d6e8f0a1b' },
  SERVICE_UNAVAILABLE: { message: 'The service is temporarily unavailable. Try again shortly.', retryAfter: 5 },
  SERVICE_BUSY: { message: 'The service is busy. Try again in a moment.', retryAfter: 1 },
  CHANNEL_UNAVAILABLE: {
    message: 'No sms provider is available right now. Nothing was sent; try again later.',
    channel: 'sms',
    retryAfter: 30,
  },
};

/** A code added without an entry above still gets an example with its own code, never another code's. */
function example(status: number, code: string): ErrorResponse {
  const known = EXAMPLES[code as ErrorCode];
  return { statusCode: status, code, ...(known ?? { message: `${code.charAt(0)}${code.slice(1).toLowerCase().replaceAll('_', ' ')}.` }) };
}

/**
 * The error responses of a route, each with the shared error body, the codes it can carry and one
 * example per code. Groups are merged by status; every route can also answer 500 `INTERNAL`.
 */
export function ApiErrors(...groups: DocumentedErrors[]): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, Set<string>>();
  for (const group of groups) {
    for (const [status, codes] of Object.entries(group)) {
      const known = byStatus.get(Number(status)) ?? new Set<string>();
      for (const code of codes) known.add(code);
      byStatus.set(Number(status), known);
    }
  }
  byStatus.set(500, new Set(['INTERNAL']));
  const responses = [...byStatus].map(([status, codes]) =>
    ApiResponse({
      status,
      type: ErrorResponse,
      description: `\`code\`: ${[...codes].map((code) => `\`${code}\``).join(', ')}`,
      examples: Object.fromEntries([...codes].map((code) => [code, { summary: code, value: example(status, code) }])),
      ...(status === 429 || status === 503 || codes.has('DESTINATION_SUSPENDED') ? { headers: RETRY_AFTER } : {}),
    }),
  );
  return applyDecorators(...responses);
}

/** What every route that takes a JSON body can answer before its handler runs. */
export const BODY_ERRORS: DocumentedErrors = {
  400: ['VALIDATION_FAILED'],
  413: ['PAYLOAD_TOO_LARGE'],
  415: ['UNSUPPORTED_MEDIA_TYPE'],
};

/** Redis not answering: every route that reads or writes its state, per-IP limits included, says so rather than hanging. */
export const UNAVAILABLE: DocumentedErrors = { 503: ['SERVICE_UNAVAILABLE'] };

/**
 * The fraud guard's refusals of an SMS/WhatsApp send (or of any send, under a channel cap): every route that sends a code
 * can answer them.
 */
export const FRAUD_REFUSALS: DocumentedErrors = { 403: ['DESTINATION_SUSPENDED'], 429: ['DESTINATION_THROTTLED'] };
