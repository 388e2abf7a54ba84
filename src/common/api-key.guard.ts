import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { hash, timingSafeEqual } from 'node:crypto';
import { authConfig } from '../config/config.namespaces.js';
import type { ApiKey, ApiKeyScope, AuthConfig } from '../config/configuration.types.js';
import { addToLogContext } from '../logging/log-context.js';
import { UnauthorizedError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The name of the API key the request was let in with (never the key): for logs, metrics and limits. */
    apiKeyName?: string;
  }
}

// The one-shot digest: about half of createHash's cost (which builds a Hash object for one update), on every request.
const fingerprint = (key: string) => hash('sha256', key, 'buffer');

const MESSAGES: Record<ApiKeyScope, { none: string; invalid: string }> = {
  application: {
    none: 'No API keys are configured: set API_KEYS.',
    invalid: 'A valid API key is required in the X-Api-Key header.',
  },
  admin: {
    none: 'No admin API keys are configured: set ADMIN_API_KEYS.',
    invalid: 'A valid admin API key (one of ADMIN_API_KEYS) is required in the X-Api-Key header.',
  },
};

/**
 * `X-Api-Key` for server-to-server routes, of one scope: an application's key (API_KEYS) opens
 * `/v1/verifications` only, an admin key (ADMIN_API_KEYS) `/v1/admin` only. Keys are compared as
 * SHA-256 digests in constant time, so neither a key's content nor its length leaks through timing;
 * every key of the scope is compared every time. The key's name goes on the request and its log lines.
 */
abstract class ScopedApiKeyGuard implements CanActivate {
  private readonly keys: { name: string; digest: Buffer }[];

  protected constructor(
    config: AuthConfig,
    private readonly scope: ApiKeyScope,
  ) {
    this.keys = config.apiKeys
      .filter((key: ApiKey) => key.scope === scope)
      .map((key) => ({ name: key.name, digest: fingerprint(key.key) }));
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (this.keys.length === 0) throw new UnauthorizedError(MESSAGES[this.scope].none);
    const header = request.headers['x-api-key'];
    const presented = typeof header === 'string' && header.length > 0 && header.length <= 512 ? fingerprint(header) : undefined;
    let matched: string | undefined;
    for (const key of this.keys) {
      if (presented !== undefined && timingSafeEqual(key.digest, presented) && matched === undefined) matched = key.name;
    }
    if (matched === undefined) throw new UnauthorizedError(MESSAGES[this.scope].invalid);
    request.apiKeyName = matched;
    addToLogContext({ apiKeyName: matched });
    return true;
  }
}

/** `/v1/verifications`: the keys of API_KEYS (and the generated development key). */
@Injectable()
export class ApiKeyGuard extends ScopedApiKeyGuard {
  constructor(@Inject(authConfig.KEY) config: AuthConfig) {
    super(config, 'application');
  }
}

/** `/v1/admin`: the keys of ADMIN_API_KEYS alone; none configured = every request is refused. */
@Injectable()
export class AdminApiKeyGuard extends ScopedApiKeyGuard {
  constructor(@Inject(authConfig.KEY) config: AuthConfig) {
    super(config, 'admin');
  }
}
