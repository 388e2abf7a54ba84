import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/**
 * Who asked: for the audit trail, the per-key metrics and where a session was started from. The
 * controllers take it from the request (`@ClientInfo()`, below); the services only read it.
 */
export interface RequestMeta {
  /**
   * The client address as Fastify resolved it (X-Forwarded-For only counts through TRUST_PROXY hops),
   * or the end user's `clientIp` a backend passed on.
   */
  ip?: string;
  userAgent?: string;
  /** The API key's name on server-to-server requests (see ApiKeyGuard): a label of the started-verifications counter. */
  apiKeyName?: string;
}

export const ClientInfo = createParamDecorator((_: unknown, context: ExecutionContext): RequestMeta => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : undefined, apiKeyName: request.apiKeyName };
});
