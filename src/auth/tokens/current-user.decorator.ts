import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { User } from '../users/user.js';
import type { AuthenticatedRequest } from './jwt-auth.guard.js';

/** The user `JwtAuthGuard` authenticated; only on routes behind that guard. */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): User => {
  const user = context.switchToHttp().getRequest<AuthenticatedRequest>().user;
  if (!user) throw new Error('@CurrentUser() used on a route without JwtAuthGuard');
  return user;
});

/** The signed-in user, if any; for routes behind `OptionalJwtAuthGuard`. */
export const OptionalCurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): User | undefined => context.switchToHttp().getRequest<AuthenticatedRequest>().user,
);

/** The session of the access token `JwtAuthGuard` accepted; only on routes behind that guard. */
export const CurrentSessionId = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const sessionId = context.switchToHttp().getRequest<AuthenticatedRequest>().sessionId;
  if (!sessionId) throw new Error('@CurrentSessionId() used on a route without JwtAuthGuard');
  return sessionId;
});
