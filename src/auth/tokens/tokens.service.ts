import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { isUUID } from 'class-validator';
import { and, eq, gt, isNull, min, sql } from 'drizzle-orm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { authConfig } from '../../config/config.namespaces.js';
import type { AuthConfig } from '../../config/configuration.types.js';
import { Database } from '../../database/database.constants.js';
import { refreshTokens, users } from '../../database/schema.js';
import type { RequestMeta } from '../../common/request-meta.decorator.js';
import { InvalidAccessTokenError, InvalidRefreshTokenError, TokenReusedError, TokenRevokedError } from '../auth.errors.js';
import { type PublicUser, toPublicUser, type User } from '../users/user.js';
import { UsersRepository } from '../users/users.repository.js';
import { SigningKeys } from './signing-keys.js';
import {
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  ACCESS_TOKEN_TTL_SECONDS,
  REFRESH_REUSE_GRACE_SECONDS,
  REFRESH_TOKEN_BYTES,
} from './tokens.constants.js';
import { EventPublisher } from '../../events/event-publisher.port.js';

export interface AccessTokenClaims {
  sub: string;
  /** The session (refresh-token family) the token was issued for: it stops working when that session ends. */
  sid: string;
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

/** One live session as its user sees it in `GET /v1/auth/sessions`. */
export interface Session {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

/** A refresh token exchanged for its successor, in the session it belongs to. */
export interface RotatedRefreshToken {
  userId: string;
  sessionId: string;
  refreshToken: string;
}

type Rotation =
  | ({ outcome: 'rotated' } & RotatedRefreshToken)
  | { outcome: 'invalid' | 'revoked' }
  | { outcome: 'reused'; userId: string; sessionId: string };

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Sessions: a session is one refresh-token family (its id is the family id, the `sid` of its access
 * tokens), started by the family's oldest token. It is live while one of its tokens is neither revoked
 * nor expired; revoking the family ends it, and its access tokens with it, on every replica at once.
 */
@Injectable()
export class TokensService {
  private readonly audit = new Logger('Audit');
  /** Every sign-in's statement: built once, and parsed and planned once per connection as a named prepared statement. */
  private insertSession: ReturnType<TokensService['prepareInsertSession']> | undefined;

  constructor(
    private readonly jwt: JwtService,
    private readonly keys: SigningKeys,
    @Inject(Database) private readonly db: Database,
    private readonly users: UsersRepository,
    @Inject(authConfig.KEY) private readonly auth: AuthConfig,
    @Optional() @Inject(EventPublisher) private readonly events?: EventPublisher,
  ) {}

  /** A new session: a fresh refresh-token family and an access token; where it was started from is kept beside its refresh tokens. */
  async issueTokenPair(user: User, context: RequestMeta = {}): Promise<TokenPair> {
    const sessionId = randomUUID();
    const now = new Date();
    const refreshToken = newRefreshToken();
    this.insertSession ??= this.prepareInsertSession();
    await this.insertSession.execute({
      userId: user.id,
      familyId: sessionId,
      tokenHash: hashToken(refreshToken),
      createdAt: now,
      expiresAt: this.expiryOf(now, now),
      userAgent: context.userAgent ?? null,
      ip: context.ip ?? null,
    });
    return this.pairFor(user, refreshToken, sessionId);
  }

  /**
   * Rotates the refresh token and signs a new access token of the same session.
   * @throws TokenReusedError when a token rotated more than the grace period ago comes back (its session is ended).
   * @throws TokenRevokedError when its session was logged out or revoked.
   * @throws InvalidRefreshTokenError when it is unknown, expired, its session is over its lifetime, or its user is gone.
   */
  async refresh(refreshToken: string, context: RequestMeta = {}): Promise<TokenPair> {
    const { userId, sessionId, refreshToken: next } = await this.rotateRefreshToken(refreshToken, context);
    const user = await this.users.findById(userId);
    if (!user) throw new InvalidRefreshTokenError();
    return this.pairFor(user, next, sessionId);
  }

  /** The claims and header JwtService would sign with the module's options (jwt-options.ts), signed with the same key. */
  async signAccessToken(userId: string, sessionId: string): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    return this.keys.sign({
      sid: sessionId,
      iat,
      exp: iat + ACCESS_TOKEN_TTL_SECONDS,
      aud: ACCESS_TOKEN_AUDIENCE,
      iss: ACCESS_TOKEN_ISSUER,
      sub: userId,
      jti: randomUUID(),
    });
  }

  /**
   * @throws InvalidAccessTokenError for anything but an unexpired HS256 token of ours: issuer, audience,
   * expiry, subject and session are all required (a token signed without `exp` would otherwise never expire).
   */
  async verifyAccessToken(token: string): Promise<AccessTokenClaims> {
    let claims: Partial<AccessTokenClaims>;
    try {
      claims = await this.jwt.verifyAsync<Partial<AccessTokenClaims>>(token);
    } catch {
      throw new InvalidAccessTokenError();
    }
    const { sub, sid, jti, iat, exp } = claims;
    if (typeof sub !== 'string' || typeof jti !== 'string' || typeof sid !== 'string' || !isUUID(sid, 'loose'))
      throw new InvalidAccessTokenError();
    // Ours never live longer than ACCESS_TOKEN_TTL_SECONDS; one that claims to was not made here.
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp <= iat || exp - iat > ACCESS_TOKEN_TTL_SECONDS)
      throw new InvalidAccessTokenError();
    return claims as AccessTokenClaims;
  }

  /**
   * Whether the session is still live for this user: one query on the family index, read from the
   * shared database on every request, so a logout on one replica is seen by all of them at once.
   */
  async isSessionLive(sessionId: string, userId: string): Promise<boolean> {
    const [live] = await this.db
      .select({ id: refreshTokens.id })
      .from(refreshTokens)
      .where(
        and(
          eq(refreshTokens.familyId, sessionId),
          eq(refreshTokens.userId, userId),
          isNull(refreshTokens.revokedAt),
          gt(refreshTokens.expiresAt, new Date()),
        ),
      )
      .limit(1);
    return live !== undefined;
  }

  /**
   * Marks the presented token rotated and issues its successor in the same family, in one transaction
   * that holds the presented token's row lock: of two requests with the same token, the second waits
   * for the first, then finds it rotated. Within REFRESH_REUSE_GRACE_SECONDS of that rotation it gets a
   * successor of its own (two tabs refreshing at once); later, the whole family is revoked.
   */
  async rotateRefreshToken(refreshToken: string, context: RequestMeta = {}): Promise<RotatedRefreshToken> {
    const rotation = await this.db.transaction(async (tx): Promise<Rotation> => {
      const now = new Date();
      const [presented] = await tx
        .select({
          id: refreshTokens.id,
          userId: refreshTokens.userId,
          familyId: refreshTokens.familyId,
          expiresAt: refreshTokens.expiresAt,
          rotatedAt: refreshTokens.rotatedAt,
          revokedAt: refreshTokens.revokedAt,
          userDeletedAt: users.deletedAt,
        })
        .from(refreshTokens)
        .innerJoin(users, eq(users.id, refreshTokens.userId))
        .where(eq(refreshTokens.tokenHash, hashToken(refreshToken)))
        .for('update', { of: refreshTokens });
      if (!presented || presented.userDeletedAt !== null || presented.expiresAt <= now) return { outcome: 'invalid' };
      const [session] = await tx
        .select({ startedAt: min(refreshTokens.createdAt) })
        .from(refreshTokens)
        .where(eq(refreshTokens.familyId, presented.familyId));
      const startedAt = session?.startedAt ?? now;
      if (startedAt.getTime() + this.auth.sessions.maxDays * DAY_MS <= now.getTime()) return { outcome: 'invalid' };
      const ids = { userId: presented.userId, sessionId: presented.familyId };

      const pastGrace = presented.rotatedAt !== null && now.getTime() - presented.rotatedAt.getTime() > REFRESH_REUSE_GRACE_SECONDS * 1000;
      // An ended session: logged out or revoked, unless the token is an old one coming back (theft).
      if (presented.revokedAt !== null) return pastGrace ? { outcome: 'reused', ...ids } : { outcome: 'revoked' };
      if (pastGrace) {
        await tx
          .update(refreshTokens)
          .set({ revokedAt: now })
          .where(and(eq(refreshTokens.familyId, presented.familyId), isNull(refreshTokens.revokedAt)));
        return { outcome: 'reused', ...ids };
      }

      const successorId = randomUUID();
      if (presented.rotatedAt === null) {
        await tx.update(refreshTokens).set({ rotatedAt: now, replacedBy: successorId }).where(eq(refreshTokens.id, presented.id));
      }
      const successor = newRefreshToken();
      await tx.insert(refreshTokens).values({
        id: successorId,
        userId: presented.userId,
        familyId: presented.familyId,
        tokenHash: hashToken(successor),
        createdAt: now,
        expiresAt: this.expiryOf(now, startedAt),
        userAgent: context.userAgent ?? null,
        ip: context.ip ?? null,
      });
      return { outcome: 'rotated', ...ids, refreshToken: successor };
    });

    switch (rotation.outcome) {
      case 'rotated':
        return { userId: rotation.userId, sessionId: rotation.sessionId, refreshToken: rotation.refreshToken };
      case 'reused':
        this.audit.warn({ event: 'auth.refresh_reused', userId: rotation.userId, sessionId: rotation.sessionId, ip: context.ip });
        await this.events?.publish('session.revoked', { userId: rotation.userId, sessionId: rotation.sessionId, reason: 'reused' });
        throw new TokenReusedError();
      case 'revoked':
        throw new TokenRevokedError();
      default:
        throw new InvalidRefreshTokenError();
    }
  }

  /**
   * The user's live sessions, newest use first: where each started, when its refresh token was last
   * exchanged, and from where (its latest token's client).
   */
  async listSessions(userId: string, currentSessionId: string | undefined): Promise<Session[]> {
    if (!isUUID(userId, 'loose')) return [];
    const rows = await this.db
      .select({
        familyId: refreshTokens.familyId,
        createdAt: refreshTokens.createdAt,
        expiresAt: refreshTokens.expiresAt,
        revokedAt: refreshTokens.revokedAt,
        userAgent: refreshTokens.userAgent,
        ip: refreshTokens.ip,
      })
      .from(refreshTokens)
      .where(eq(refreshTokens.userId, userId))
      .orderBy(refreshTokens.createdAt);
    const now = Date.now();
    const families = new Map<string, { started: Date; latest: (typeof rows)[number]; live: boolean }>();
    for (const row of rows) {
      const live = row.revokedAt === null && row.expiresAt.getTime() > now;
      const family = families.get(row.familyId);
      if (family === undefined) families.set(row.familyId, { started: row.createdAt, latest: row, live });
      else Object.assign(family, { latest: row, live: family.live || live });
    }
    return [...families.entries()]
      .filter(([, family]) => family.live && family.started.getTime() + this.auth.sessions.maxDays * DAY_MS > now)
      .map(([id, { started, latest }]) => ({
        id,
        createdAt: started.toISOString(),
        lastUsedAt: latest.createdAt.toISOString(),
        userAgent: latest.userAgent,
        ip: latest.ip,
        current: id === currentSessionId,
      }))
      .sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt));
  }

  /** Logout: ends one session of the user; false when it had already ended or is not theirs. */
  async endSession(userId: string, sessionId: string): Promise<boolean> {
    if (!isUUID(sessionId, 'loose')) return false;
    const revoked = await this.db
      .update(refreshTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(refreshTokens.familyId, sessionId), eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)))
      .returning({ id: refreshTokens.id });
    return revoked.length > 0;
  }

  /** The session a refresh token belongs to, when it is one of this user's; undefined for any other token. */
  async sessionOf(refreshToken: string, userId: string): Promise<string | undefined> {
    const [presented] = await this.db
      .select({ familyId: refreshTokens.familyId })
      .from(refreshTokens)
      .where(and(eq(refreshTokens.tokenHash, hashToken(refreshToken)), eq(refreshTokens.userId, userId)));
    return presented?.familyId;
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

  private prepareInsertSession() {
    return this.db
      .insert(refreshTokens)
      .values({
        userId: sql.placeholder('userId'),
        familyId: sql.placeholder('familyId'),
        tokenHash: sql.placeholder('tokenHash'),
        createdAt: sql.placeholder('createdAt'),
        expiresAt: sql.placeholder('expiresAt'),
        userAgent: sql.placeholder('userAgent'),
        ip: sql.placeholder('ip'),
      })
      .prepare('refresh_tokens_insert_session');
  }

  /** A refresh token slides REFRESH_TOKEN_TTL_DAYS from now, never past the end of its session. */
  private expiryOf(now: Date, sessionStartedAt: Date): Date {
    const sliding = now.getTime() + this.auth.sessions.refreshTokenTtlDays * DAY_MS;
    const absolute = sessionStartedAt.getTime() + this.auth.sessions.maxDays * DAY_MS;
    return new Date(Math.min(sliding, absolute));
  }

  private async pairFor(user: User, refreshToken: string, sessionId: string): Promise<TokenPair> {
    return {
      accessToken: await this.signAccessToken(user.id, sessionId),
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
