import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { loggableError } from '../database/database-errors.js';
import { isRedisUnavailableError } from '../redis/redis-connection.js';
import { DomainError, ERROR_STATUS, retryAfterInWords } from './errors.js';

const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  411: 'LENGTH_REQUIRED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
  503: 'SERVICE_UNAVAILABLE',
};

/** Fastify's own request errors, in words a client can act on. */
const FASTIFY_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than 64 KiB.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Send the request body as application/json.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'VALIDATION_FAILED',
    message: 'The request body is empty but its Content-Type is application/json.',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'VALIDATION_FAILED', message: 'The request body is not valid JSON.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'BAD_REQUEST',
    message: 'The Content-Length header does not match the body.',
  },
  FST_ERR_BAD_URL: { status: 400, code: 'BAD_REQUEST', message: 'The request URL is not valid.' },
};

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  [extra: string]: unknown;
}

/**
 * The one place where errors become HTTP responses, in the shape the SPEC gives:
 * `{statusCode, code, message, ...extras}`. Anything unexpected is a 500 with an `errorId` that the
 * log carries too; its message and stack stay in the log.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { httpAdapter } = this.adapterHost;
    const context = host.switchToHttp();
    const response = context.getResponse();
    const { body, retryAfter } = this.toBody(exception, context.getRequest());
    if (retryAfter !== undefined) httpAdapter.setHeader(response, 'Retry-After', String(retryAfter));
    httpAdapter.reply(response, body, body.statusCode);
  }

  private toBody(exception: unknown, request: { method?: string; url?: string }): { body: ErrorBody; retryAfter?: number } {
    if (exception instanceof DomainError) {
      const statusCode = ERROR_STATUS[exception.code];
      const retryAfter = exception.retryAfterSeconds === undefined ? undefined : Math.max(1, Math.ceil(exception.retryAfterSeconds));
      const body: ErrorBody = { statusCode, code: exception.code, message: exception.message, ...exception.details };
      if (retryAfter !== undefined) body.retryAfter = retryAfter;
      return { body, retryAfter };
    }

    // Nest wraps Fastify's request errors (body too large, bad JSON, …) in an HttpException whose cause is the original.
    const known = FASTIFY_ERRORS[fastifyErrorCode(exception) ?? ''];
    if (known) {
      const body: ErrorBody = { statusCode: known.status, code: known.code, message: known.message };
      if (known.code === 'VALIDATION_FAILED') body.errors = { body: [known.message] };
      return { body };
    }

    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const response = exception.getResponse();
      const code = CODE_BY_STATUS[statusCode] ?? (statusCode >= 500 ? 'INTERNAL' : `HTTP_${statusCode}`);
      if (typeof response === 'object' && response !== null) {
        const fields = response as Record<string, unknown>;
        const message = Array.isArray(fields.message)
          ? fields.message.join('; ')
          : typeof fields.message === 'string' ? fields.message : this.defaultMessage(statusCode, request);
        // Terminus readiness bodies ({status, info, error, details}) pass through whole, with the common fields added.
        const extras = 'details' in fields && 'status' in fields ? fields : {};
        const body: ErrorBody = { ...extras, statusCode, code: typeof fields.code === 'string' ? fields.code : code, message };
        return { body, retryAfter: statusCode === 429 ? 60 : undefined };
      }
      return { body: { statusCode, code, message: typeof response === 'string' ? response : this.defaultMessage(statusCode, request) } };
    }

    const status = (exception as { statusCode?: unknown })?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return { body: { statusCode: status, code: CODE_BY_STATUS[status] ?? `HTTP_${status}`, message: this.defaultMessage(status, request) } };
    }

    if (isRedisUnavailableError(exception)) {
      this.logger.warn(`${request.method ?? ''} ${routeOf(request.url)}: answered 503, Redis is unavailable (${describe(exception)})`);
      return {
        body: { statusCode: 503, code: 'SERVICE_UNAVAILABLE', message: 'The service is temporarily unavailable. Try again shortly.', retryAfter: 5 },
        retryAfter: 5,
      };
    }

    const errorId = randomUUID();
    const { summary, stack } = loggableError(exception);
    this.logger.error(`errorId=${errorId} ${request.method ?? ''} ${routeOf(request.url)}: ${summary}`, stack);
    return { body: { statusCode: 500, code: 'INTERNAL', message: 'An unexpected error occurred.', errorId } };
  }

  private defaultMessage(status: number, request: { method?: string; url?: string }): string {
    switch (status) {
      case 404:
        return `No route ${request.method ?? ''} ${routeOf(request.url)}.`;
      case 405:
        return 'This method is not allowed on this route.';
      case 413:
        return 'The request body is larger than 64 KiB.';
      case 415:
        return 'Send the request body as application/json.';
      case 429:
        return `Too many requests. ${retryAfterInWords(60)}`;
      case 503:
        return 'The service is temporarily unavailable.';
      default:
        return status >= 500 ? 'An unexpected error occurred.' : 'The request could not be processed.';
    }
  }
}

/** The path without its query string: queries can carry tokens, and paths are enough to debug. */
function routeOf(url: string | undefined): string {
  return (url ?? '').split('?')[0]!.slice(0, 200);
}

function fastifyErrorCode(exception: unknown): string | undefined {
  const candidate = exception instanceof HttpException ? exception.cause : exception;
  const code = (candidate as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('FST_') ? code : undefined;
}

function describe(exception: unknown): string {
  return loggableError(exception).summary;
}
