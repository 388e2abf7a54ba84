import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { InvalidAccessTokenError, TokenRevokedError } from '../auth.errors.js';
import type { User } from '../users/user.js';
import { UsersRepository } from '../users/users.repository.js';
import { TokensService } from './tokens.service.js';

export interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: User;
  /** The session (`sid`) of the access token that authenticated the request. */
  sessionId?: string;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/i;

/**
 * Bearer access tokens. A valid signature is not enough: the token's session must still be live and
 * its user must still exist, both read from the shared database on every request, so logout, password
 * reset and account deletion stop outstanding tokens at once on every replica, not after 15 minutes.
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
    const [user, live] = await Promise.all([this.users.findById(claims.sub), this.tokens.isSessionLive(claims.sid, claims.sub)]);
    if (!user || !live) throw new TokenRevokedError();
    request.user = user;
    request.sessionId = claims.sid;
    return true;
  }
}
