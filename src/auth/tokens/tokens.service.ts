import { Inject, Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { and, eq, gt, inArray, isNull } from 'drizzle-orm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Database } from '../../database/database.constants.js';
import { refreshTokens, users } from '../../database/schema.js';
import { InvalidAccessTokenError, InvalidRefreshTokenError, TokenReusedError } from '../auth.errors.js';
import { type PublicUser, toPublicUser, type User } from '../users/user.js';
import { UsersRepository } from '../users/users.repository.js';
import { ACCESS_TOKEN_TTL_SECONDS, REFRESH_TOKEN_BYTES, REFRESH_TOKEN_TTL_SECONDS } from './tokens.constants.js';

export interface AccessTokenClaims {
  sub: string;
  jti: string;
  iss: string;
  aud: string;
  iat: number;
  exp: number;
}

/** The body of every response that signs a user in (`POST /v1/auth/otp/verify`, `/token/refresh`). */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  user: PublicUser;
}

/** Where a session was started from, kept beside its refresh tokens for people reviewing sessions. */
export interface SessionContext {
  userAgent?: string;
  ip?: string;
}

@Injectable()
export class TokensService {
  private readonly logger = new Logger(TokensService.name);

  constructor(
    private readonly jwt: JwtService,
    @Inject(Database) private readonly db: Database,
    private readonly users: UsersRepository,
  ) {}

  /** A new session: a fresh refresh-token family and an access token. */
  async issueTokenPair(user: User, context: SessionContext = {}): Promise<TokenPair> {
    const refreshToken = await this.issueRefreshToken(user.id, randomUUID(), context);
    return this.pairFor(user, refreshToken);
  }

  /**
   * Rotates the refresh token and signs a new access token.
   * @throws TokenReusedError when the token was already rotated or revoked (its family is revoked).
   * @throws InvalidRefreshTokenError when it is unknown, expired, or its user is gone.
   */
  async refresh(refreshToken: string, context: SessionContext = {}): Promise<TokenPair> {
    const { userId, refreshToken: next } = await this.rotateRefreshToken(refreshToken, context);
    const user = await this.users.findById(userId);
    if (!user) throw new InvalidRefreshTokenError();
    return this.pairFor(user, next);
  }

  async signAccessToken(userId: string): Promise<string> {
    return this.jwt.signAsync({}, { subject: userId, jwtid: randomUUID() });
  }

  /** @throws InvalidAccessTokenError for anything but an unexpired HS256 token of ours. */
  async verifyAccessToken(token: string): Promise<AccessTokenClaims> {
    let claims: Partial<AccessTokenClaims>;
    try {
      claims = await this.jwt.verifyAsync<Partial<AccessTokenClaims>>(token);
    } catch {
      throw new InvalidAccessTokenError();
    }
    if (typeof claims.sub !== 'string' || typeof claims.jti !== 'string') throw new InvalidAccessTokenError();
    return claims as AccessTokenClaims;
  }

  /**
   * Marks the presented token rotated and issues its successor in the same family, in one
   * transaction. The conditional UPDATE is what makes concurrent use safe: of two requests with the
   * same token, the second waits for the first's row lock, then finds it rotated and matches nothing.
   */
  async rotateRefreshToken(refreshToken: string, context: SessionContext = {}): Promise<{ userId: string; refreshToken: string }> {
    const tokenHash = hashToken(refreshToken);
    const now = new Date();
    const rotated = await this.db.transaction(async (tx) => {
      const successorId = randomUUID();
      const [current] = await tx
        .update(refreshTokens)
        .set({ rotatedAt: now, replacedBy: successorId })
        .where(
          and(
            eq(refreshTokens.tokenHash, tokenHash),
            isNull(refreshTokens.rotatedAt),
            isNull(refreshTokens.revokedAt),
            gt(refreshTokens.expiresAt, now),
            inArray(refreshTokens.userId, tx.select({ id: users.id }).from(users).where(isNull(users.deletedAt))),
          ),
        )
        .returning({ userId: refreshTokens.userId, familyId: refreshTokens.familyId });
      if (!current) return undefined;
      const successor = newRefreshToken();
      await tx.insert(refreshTokens).values({
        id: successorId,
        userId: current.userId,
        familyId: current.familyId,
        tokenHash: hashToken(successor),
        expiresAt: new Date(now.getTime() + REFRESH_TOKEN_TTL_SECONDS * 1000),
        userAgent: context.userAgent ?? null,
        ip: context.ip ?? null,
      });
      return { userId: current.userId, refreshToken: successor };
    });
    if (rotated) return rotated;

    const [presented] = await this.db
      .select({ familyId: refreshTokens.familyId, rotatedAt: refreshTokens.rotatedAt, revokedAt: refreshTokens.revokedAt })
      .from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, tokenHash));
    if (presented && (presented.rotatedAt !== null || presented.revokedAt !== null)) {
      const revoked = await this.revokeFamily(presented.familyId);
      this.logger.warn(`Refresh token reuse detected: family ${presented.familyId} revoked (${revoked} active token${revoked === 1 ? '' : 's'})`);
      throw new TokenReusedError();
    }
    throw new InvalidRefreshTokenError();
  }

  /** Logout: ends the session the token belongs to. Unknown tokens are ignored, so logout always succeeds. */
  async revokeFamilyOf(refreshToken: string): Promise<void> {
    const [presented] = await this.db
      .select({ familyId: refreshTokens.familyId })
      .from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, hashToken(refreshToken)));
    if (presented) await this.revokeFamily(presented.familyId);
  }

  /** Every session of the user (after a password reset); returns how many live tokens it revoked. */
  async revokeAllForUser(userId: string): Promise<number> {
    const revoked = await this.db
      .update(refreshTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)))
      .returning({ id: refreshTokens.id });
    return revoked.length;
  }

  private async revokeFamily(familyId: string): Promise<number> {
    const revoked = await this.db
      .update(refreshTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)))
      .returning({ id: refreshTokens.id });
    return revoked.length;
  }

  private async issueRefreshToken(userId: string, familyId: string, context: SessionContext): Promise<string> {
    const token = newRefreshToken();
    await this.db.insert(refreshTokens).values({
      userId,
      familyId,
      tokenHash: hashToken(token),
      expiresAt: new Date(Date.now() + REFRESH_TOKEN_TTL_SECONDS * 1000),
      userAgent: context.userAgent ?? null,
      ip: context.ip ?? null,
    });
    return token;
  }

  private async pairFor(user: User, refreshToken: string): Promise<TokenPair> {
    return {
      accessToken: await this.signAccessToken(user.id),
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      user: toPublicUser(user),
    };
  }
}

function newRefreshToken(): string {
  return randomBytes(REFRESH_TOKEN_BYTES).toString('base64url');
}

/** Only this digest is stored: a leaked table cannot be replayed. Unsalted is fine for 256 random bits. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
