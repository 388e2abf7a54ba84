import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { runWithLogContext } from './log-context.js';

/** Probed every few seconds by orchestrators and scrapers: their lines would drown the rest at info. */
const QUIET_PATHS = new Set(['/health/live', '/metrics']);
/** Readiness: 200 or 503, its changes are one WARN line each (ReadinessLog), not one per probe. */
const READINESS_PATH = '/health/ready';

/**
 * The request id on every response (errors, 404s, 413s and 429s included), on every line written
 * while a request is handled, and one summary line per request with the client's address.
 */
export function installRequestLogging(fastify: FastifyInstance, logger: Logger): void {
  // Entered before the body is read and again just before the handler: reading a body loses the
  // async context, and guards, pipes, handlers and exception filters all run after preHandler.
  fastify.addHook('onRequest', (request, _reply, done) => runWithLogContext({ requestId: request.id }, done));
  fastify.addHook('preHandler', (request, _reply, done) => runWithLogContext({ requestId: request.id }, done));

  fastify.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });

  fastify.addHook('onResponse', (request, reply, done) => {
    const path = request.url.split('?')[0]!;
    const status = reply.statusCode;
    // A 503 is the service saying a dependency is down (logged where it is found) or that it is draining.
    const level =
      path === READINESS_PATH && (status < 500 || status === 503)
        ? 'debug'
        : status === 503
          ? 'warn'
          : status >= 500
            ? 'error'
            : QUIET_PATHS.has(path)
              ? 'debug'
              : 'info';
    if (logger.isLevelEnabled(level)) {
      logger[level](
        {
          context: 'HTTP',
          requestId: request.id,
          // As TRUST_PROXY resolves it: X-Forwarded-For counts only through trusted hops.
          ip: request.ip,
          req: { id: request.id, method: request.method, url: path, route: request.routeOptions.url ?? null },
          res: { statusCode: status },
          responseTime: Math.round(reply.elapsedTime * 10) / 10,
          ...(request.apiKeyName !== undefined ? { apiKeyName: request.apiKeyName } : {}),
        },
        `${request.method} ${path} ${status}`,
      );
    }
    done();
  });
}
