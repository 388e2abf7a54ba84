import { Logger } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import type { TrustProxy } from '../config/configuration.types.js';

/**
 * One WARN line per process the first time a request carries `X-Forwarded-For` from an address that
 * TRUST_PROXY does not trust. Behind an ingress with TRUST_PROXY unset, every user appears with the
 * ingress's address: they share one per-IP limit and the logs cannot tell them apart. (It may also
 * be a client trying to pick its own address, which is refused either way, hence once and no more.)
 */
export function warnOnUntrustedForwardedFor(fastify: FastifyInstance, trustProxy: TrustProxy): void {
  let warned = false;
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (!warned && request.headers['x-forwarded-for'] !== undefined) {
      // With a trust setting, Fastify lists the peer and every trusted hop after it: only the peer means it was not trusted.
      const untrusted = trustProxy === false || (request.ips?.length ?? 1) < 2;
      if (untrusted) {
        warned = true;
        new Logger('TrustProxy').warn(
          `A request came with X-Forwarded-For from ${request.socket.remoteAddress ?? 'an unknown address'}, which TRUST_PROXY ` +
            `${trustProxy === false ? 'is not set to trust' : 'does not trust'}: its client IP is that address, so every client ` +
            'behind that proxy shares one per-IP limit. If a proxy or ingress is in front of this service, set TRUST_PROXY to its ' +
            'hop count (e.g. 1) or address range. Said once per process.',
        );
      }
    }
    done();
  });
}
