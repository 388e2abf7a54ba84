import { type ExecutionContext, Injectable } from '@nestjs/common';
import { type AuthenticatedRequest, JwtAuthGuard } from './jwt-auth.guard.js';

/**
 * For public routes that do more for a signed-in user: no Authorization header passes as anonymous,
 * but a header that is there must hold a valid token.
 */
@Injectable()
export class OptionalJwtAuthGuard extends JwtAuthGuard {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (request.headers.authorization === undefined) return true;
    return super.canActivate(context);
  }
}
