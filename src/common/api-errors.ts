import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import type { ErrorCode } from './errors.js';

/**
 * The one error body of the API (`AllExceptionsFilter` builds it): `statusCode`, a stable `code` to branch
 * on and a `message` to show, plus the fields that some errors add.
 */
export class ErrorResponse {
  @ApiProperty({ type: 'integer', example: 429, description: 'The HTTP status, repeated.' })
  statusCode!: number;

  @ApiProperty({ example: 'OTP_RATE_LIMITED', description: 'Stable error code; each response below lists the codes it can carry.' })
  code!: string;

  @ApiProperty({ example: 'Too many codes requested. Try again in 11 minutes.', description: 'What went wrong, in words a person can act on.' })
  message!: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, example: 660, description: 'Seconds until a retry can succeed; the `Retry-After` header says the same.' })
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

/**
 * The error responses of a route, each with the shared error body and the codes it can carry. Groups are
 * merged by status; every route can also answer 500 `INTERNAL`.
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
      ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
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
