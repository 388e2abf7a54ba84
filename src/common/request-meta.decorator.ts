import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

export interface ClientMeta {
  /** The client address as Fastify resolved it: X-Forwarded-For only counts through TRUST_PROXY hops. */
  ip: string;
  userAgent?: string;
  /** The name of the API key of a server-to-server request (see ApiKeyGuard). */
  apiKeyName?: string;
}

export const ClientInfo = createParamDecorator((_: unknown, context: ExecutionContext): ClientMeta => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : undefined, apiKeyName: request.apiKeyName };
});
