import { HttpAdapterHost } from '@nestjs/core';
import { HttpException, PayloadTooLargeException } from '@nestjs/common';
import { AllExceptionsFilter } from './all-exceptions.filter.js';
import { DomainError } from './errors.js';

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** The filter's answer to `exception`, for a request whose route has `bodyLimit` and a reply that already carries `replyHeaders`. */
function answer(exception: unknown, options: { bodyLimit?: number; replyHeaders?: Record<string, string> } = {}): Answer {
  const result: Answer = { status: 0, body: {}, headers: {} };
  const adapter = {
    setHeader: (_reply: unknown, name: string, value: string) => void (result.headers[name] = value),
    reply: (_reply: unknown, body: Record<string, unknown>, status: number) => Object.assign(result, { body, status }),
  };
  const routeOptions = options.bodyLimit === undefined ? undefined : { bodyLimit: options.bodyLimit };
  const request = { method: 'POST', url: '/v1/verifications', routeOptions };
  const reply = { getHeader: (name: string) => options.replyHeaders?.[name.toLowerCase()] };
  const host = { switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }) };
  new AllExceptionsFilter({ httpAdapter: adapter } as unknown as HttpAdapterHost).catch(exception, host as never);
  return result;
}

/** As Nest hands over Fastify's refusal of a body over the limit. */
function bodyTooLarge(): HttpException {
  const cause = Object.assign(new Error('Request body is too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
  return new PayloadTooLargeException('Request body is too large', { cause });
}

describe('AllExceptionsFilter', () => {
  it('answers a domain error with its code, its fields and its Retry-After in the body and the header', () => {
    expect(answer(new DomainError('OTP_RESEND_TOO_SOON', 'A code was sent moments ago.', { extra: 1 }, 26.2))).toEqual({
      status: 429,
      body: { statusCode: 429, code: 'OTP_RESEND_TOO_SOON', message: 'A code was sent moments ago.', extra: 1, retryAfter: 27 },
      headers: { 'Retry-After': '27' },
    });
  });

  it('names the default body limit as 64 KiB', () => {
    expect(answer(bodyTooLarge(), { bodyLimit: 64 * 1024 }).body).toEqual({
      statusCode: 413,
      code: 'PAYLOAD_TOO_LARGE',
      message: 'The request body is larger than 64 KiB.',
    });
  });

  it('names the body limit the route applied, whatever it is', () => {
    expect(answer(bodyTooLarge(), { bodyLimit: 1024 * 1024 }).body.message).toBe('The request body is larger than 1 MiB.');
  });

  it('gives a 429 from elsewhere the Retry-After that a throttler set before it threw', () => {
    const limited = answer(new HttpException({ message: 'Too Many Requests' }, 429), { replyHeaders: { 'retry-after': '17' } });
    expect(limited).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED', retryAfter: 17 }, headers: { 'Retry-After': '17' } });
  });
});
