import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { authConfig } from '../config/config.namespaces.js';
import type { AuthConfig } from '../config/configuration.types.js';
import { UnauthorizedError } from './errors.js';

const fingerprint = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * `X-Api-Key` for server-to-server routes. Keys are compared as SHA-256 digests in constant time,
 * so neither a key's content nor its length leaks through timing; every key is compared every time.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: Buffer[];

  constructor(@Inject(authConfig.KEY) config: AuthConfig) {
    this.keys = config.apiKeys.map(fingerprint);
  }

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>().headers['x-api-key'];
    const presented = typeof header === 'string' && header.length > 0 && header.length <= 512 ? fingerprint(header) : undefined;
    let valid = false;
    for (const key of this.keys) valid = (presented !== undefined && timingSafeEqual(key, presented)) || valid;
    if (!valid) throw new UnauthorizedError();
    return true;
  }
}
