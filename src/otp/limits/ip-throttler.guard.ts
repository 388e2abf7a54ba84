import { type ExecutionContext, Injectable } from '@nestjs/common';
import { normalizeIp, ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerRequest } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { isIP } from 'node:net';
import { ApiKeyRateLimitedError, RequestRateLimitedError } from '../otp.errors.js';

/** The throttler names of OtpModule's ThrottlerModule: the end user's address, and the API key. */
export const IP_THROTTLER = 'default';
export const API_KEY_THROTTLER = 'api-key';

const API_KEY_TRACKER = 'api-key:';

/**
 * Request limits, answering with the SPEC's 429 shape (`RATE_LIMITED`, `retryAfter`):
 * - public routes: per client IP (as TRUST_PROXY resolves it), each route on its own;
 * - API-key routes (run after ApiKeyGuard): per key across all of its routes, plus per end-user IP
 *   where the backend passes `clientIp`. The backend's own address is not limited per IP: a
 *   customer's whole backend often calls from one address for all of its users.
 */
@Injectable()
export class IpThrottlerGuard extends ThrottlerGuard {
  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    const http = request.context.switchToHttp().getRequest<FastifyRequest>();
    const keyName = http.apiKeyName;
    if (request.throttler.name === API_KEY_THROTTLER) {
      if (keyName === undefined) return true;
      // One bucket per key, whichever route of the key it is.
      return super.handleRequest({
        ...request,
        getTracker: () => `${API_KEY_TRACKER}${keyName}`,
        generateKey: (_context, tracker) => tracker,
      });
    }
    if (keyName === undefined) return super.handleRequest(request);
    const clientIp = clientIpOf(http.body);
    if (clientIp === undefined) return true;
    // Per key as well: one application cannot spend the budget of an address that another application's users share.
    return super.handleRequest({ ...request, getTracker: () => `${keyName}|${normalizeIp(clientIp, this.ipv6SubnetPrefix)}` });
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const seconds = Math.max(1, detail.timeToBlockExpire);
    throw detail.tracker.startsWith(API_KEY_TRACKER) ? new ApiKeyRateLimitedError(seconds) : new RequestRateLimitedError(seconds);
  }
}

/**
 * `clientIp` of a send or check body, read before validation (guards run first); a malformed one is
 * not used here and is refused by validation with a 400 right after.
 */
function clientIpOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as { clientIp?: unknown }).clientIp;
  return typeof value === 'string' && isIP(value) !== 0 ? value.toLowerCase() : undefined;
}
