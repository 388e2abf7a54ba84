import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { InvalidAccessTokenError } from '../auth.errors.js';
import type { User } from '../users/user.js';
import { UsersRepository } from '../users/users.repository.js';
import { TokensService } from './tokens.service.js';

export interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: User;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/i;

/**
 * Bearer access tokens. A valid signature is not enough: the user must still exist and not be
 * deleted, so a deleted account's outstanding tokens stop working at once, not after 15 minutes.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly tokens: TokensService,
    private readonly users: UsersRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header.trim()) : null;
    if (!match) throw new InvalidAccessTokenError();
    const claims = await this.tokens.verifyAccessToken(match[1]!);
    const user = await this.users.findById(claims.sub);
    if (!user) throw new InvalidAccessTokenError();
    request.user = user;
    return true;
  }
}
