import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { loggableError } from '../database/database-errors.js';
import { isRedisUnavailableError } from '../redis/redis-connection.js';
import { errorBody, type ErrorBody } from './error-body.js';
import { bodyTooLargeMessage, DomainError, ERROR_STATUS, retryAfterInWords } from './errors.js';

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

/**
 * A 429 whose origin did not say when a retry can succeed (none of this service's limits: they all say) still
 * carries a `Retry-After`, as every 429 does.
 */
const UNSPECIFIED_RETRY_AFTER_SECONDS = 60;

/** Fastify's own request errors, in words a client can act on (the body limit's words depend on the limit). */
const FASTIFY_ERRORS: Record<string, { status: number; code: string; message: string | ((request: ErrorRequest) => string) }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE', message: (request) => payloadTooLargeMessage(request) },
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

/** What the filter reads of the request: Fastify's, or only the method and URL when there is no route. */
interface ErrorRequest {
  method?: string;
  url?: string;
  routeOptions?: { bodyLimit?: number };
}

/** What the filter reads of the reply: a `Retry-After` that a throttler already set, when there is one. */
interface ErrorReply {
  getHeader?(name: string): unknown;
}

/**
 * The one place where errors become HTTP responses, as `errorBody` shapes them (the draining adapter's
 * refusals during shutdown are the only others). Anything unexpected is a 500 with an `errorId` that the
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
    const body = this.toBody(exception, context.getRequest(), response);
    if (body.retryAfter !== undefined) httpAdapter.setHeader(response, 'Retry-After', String(body.retryAfter));
    httpAdapter.reply(response, body, body.statusCode);
  }

  private toBody(exception: unknown, request: ErrorRequest, reply: ErrorReply): ErrorBody {
    if (exception instanceof DomainError) {
      return errorBody(ERROR_STATUS[exception.code], exception.code, exception.message, exception.details, exception.retryAfterSeconds);
    }

    // Nest wraps Fastify's request errors (body too large, bad JSON, …) in an HttpException whose cause is the original.
    const known = FASTIFY_ERRORS[fastifyErrorCode(exception) ?? ''];
    if (known) {
      const message = typeof known.message === 'string' ? known.message : known.message(request);
      return errorBody(known.status, known.code, message, known.code === 'VALIDATION_FAILED' ? { errors: { body: [message] } } : {});
    }

    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const response = exception.getResponse();
      const code = CODE_BY_STATUS[statusCode] ?? (statusCode >= 500 ? 'INTERNAL' : `HTTP_${statusCode}`);
      if (typeof response === 'object' && response !== null) {
        const fields = response as Record<string, unknown>;
        const message = Array.isArray(fields.message)
          ? fields.message.join('; ')
          : typeof fields.message === 'string'
            ? fields.message
            : this.defaultMessage(statusCode, request);
        // Terminus readiness bodies ({status, info, error, details}) pass through whole, with the common fields added.
        const extras = 'details' in fields && 'status' in fields ? fields : {};
        const retryAfter = statusCode === 429 ? (retryAfterSetOn(reply) ?? UNSPECIFIED_RETRY_AFTER_SECONDS) : undefined;
        return errorBody(statusCode, typeof fields.code === 'string' ? fields.code : code, message, extras, retryAfter);
      }
      return errorBody(statusCode, code, typeof response === 'string' ? response : this.defaultMessage(statusCode, request));
    }

    const status = (exception as { statusCode?: unknown })?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return errorBody(status, CODE_BY_STATUS[status] ?? `HTTP_${status}`, this.defaultMessage(status, request));
    }

    if (isRedisUnavailableError(exception)) {
      this.logger.warn(`${request.method ?? ''} ${routeOf(request.url)}: answered 503, Redis is unavailable (${describe(exception)})`);
      return errorBody(503, 'SERVICE_UNAVAILABLE', 'The service is temporarily unavailable. Try again shortly.', {}, 5);
    }

    const errorId = randomUUID();
    const { summary, stack } = loggableError(exception);
    this.logger.error(`errorId=${errorId} ${request.method ?? ''} ${routeOf(request.url)}: ${summary}`, stack);
    return errorBody(500, 'INTERNAL', 'An unexpected error occurred.', { errorId });
  }

  private defaultMessage(status: number, request: ErrorRequest): string {
    switch (status) {
      case 404:
        return `No route ${request.method ?? ''} ${routeOf(request.url)}.`;
      case 405:
        return 'This method is not allowed on this route.';
      case 413:
        return payloadTooLargeMessage(request);
      case 415:
        return 'Send the request body as application/json.';
      case 429:
        return `Too many requests. ${retryAfterInWords(UNSPECIFIED_RETRY_AFTER_SECONDS)}`;
      case 503:
        return 'The service is temporarily unavailable.';
      default:
        return status >= 500 ? 'An unexpected error occurred.' : 'The request could not be processed.';
    }
  }
}

/** In the words of the limit Fastify applied to this route's body: the configured `bodyLimitBytes`, unless a route sets its own. */
function payloadTooLargeMessage(request: ErrorRequest): string {
  const limit = request.routeOptions?.bodyLimit;
  return limit === undefined ? 'The request body is too large.' : bodyTooLargeMessage(limit);
}

/** The seconds in a `Retry-After` that was set before the exception (as @nestjs/throttler's guard sets one before it throws). */
function retryAfterSetOn(reply: ErrorReply): number | undefined {
  const seconds = Number(reply.getHeader?.('retry-after'));
  return Number.isInteger(seconds) && seconds > 0 ? seconds : undefined;
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
