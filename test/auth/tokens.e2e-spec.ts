import { createHash, randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { User } from '../../src/auth/users/user.js';
import { refreshTokens } from '../../src/database/schema.js';
import { type AuthHarness, startAuthHarness } from '../support/auth-harness.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from '../support/databases.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

describe.each(testDatabaseKinds())('tokens on %s', (kind) => {
  let database: TestDatabase;
  let harness: AuthHarness;
  let sequence = 0;
  const newUser = () => harness.users.create({ email: `holder${++sequence}@example.com`, otpChannel: 'email' });
  const rowOf = async (token: string) =>
    (
      await harness.db
        .select()
        .from(refreshTokens)
        .where(eq(refreshTokens.tokenHash, sha256(token)))
    )[0];
  const sessionOf = async (pair: { accessToken: string }) => (await harness.tokens.verifyAccessToken(pair.accessToken)).sid;
  /** Moves a rotation back in time, past the grace in which a rotated token still gets a pair. */
  const rotatedSecondsAgo = (token: string, seconds: number) =>
    harness.db
      .update(refreshTokens)
      .set({ rotatedAt: new Date(Date.now() - seconds * 1000) })
      .where(eq(refreshTokens.tokenHash, sha256(token)));
  const familyOf = async (token: string) => {
    const row = await rowOf(token);
    return harness.db.select().from(refreshTokens).where(eq(refreshTokens.familyId, row!.familyId));
  };

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    harness = await startAuthHarness(database);
  });
  afterAll(async () => {
    await harness?.close();
    await database?.drop();
  });

  describe('a new session', () => {
    it('is a token pair in the shape the API returns', async () => {
      const user = await newUser();
      const pair = await harness.tokens.issueTokenPair(user);
      expect(pair).toEqual({
        accessToken: expect.any(String),
        refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        tokenType: 'Bearer',
        expiresIn: 900,
        user: {
          id: user.id,
          email: user.email,
          phone: null,
          emailVerified: false,
          phoneVerified: false,
          otpChannel: 'email',
          createdAt: user.createdAt.toISOString(),
        },
      });
      expect((await harness.tokens.verifyAccessToken(pair.accessToken)).sub).toBe(user.id);
    });

    it('stores only the digest of the refresh token, with a 30-day expiry', async () => {
      const { refreshToken } = await harness.tokens.issueTokenPair(await newUser(), { userAgent: 'curl/8', ip: '203.0.113.9' });
      const row = await rowOf(refreshToken);
      expect(row).toMatchObject({
        tokenHash: sha256(refreshToken),
        rotatedAt: null,
        revokedAt: null,
        userAgent: 'curl/8',
        ip: '203.0.113.9',
      });
      expect(JSON.stringify(await harness.db.select().from(refreshTokens))).not.toContain(refreshToken);
      const days = (row!.expiresAt.getTime() - row!.createdAt.getTime()) / 86_400_000;
      expect(days).toBeCloseTo(30, 2);
    });
  });

  describe('refresh', () => {
    it('rotates: a new pair, the old token marked rotated and pointing at its successor in the same family', async () => {
      const user = await newUser();
      const first = await harness.tokens.issueTokenPair(user);
      const second = await harness.tokens.refresh(first.refreshToken);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(second.user.id).toBe(user.id);
      expect((await harness.tokens.verifyAccessToken(second.accessToken)).sub).toBe(user.id);

      const old = await rowOf(first.refreshToken);
      const successor = await rowOf(second.refreshToken);
      expect(old!.rotatedAt).toBeInstanceOf(Date);
      expect(old!.replacedBy).toBe(successor!.id);
      expect(successor).toMatchObject({ familyId: old!.familyId, rotatedAt: null, revokedAt: null });

      const third = await harness.tokens.refresh(second.refreshToken);
      expect(third.user.id).toBe(user.id);
    });

    it('treats a rotated token coming back after the grace as theft: TOKEN_REUSED and the whole family revoked', async () => {
      const user = await newUser();
      const first = await harness.tokens.issueTokenPair(user);
      const second = await harness.tokens.refresh(first.refreshToken);
      const otherSession = await harness.tokens.issueTokenPair(user);
      await rotatedSecondsAgo(first.refreshToken, 11);

      await expect(harness.tokens.refresh(first.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_REUSED' });
      for (const row of await familyOf(first.refreshToken)) expect(row.revokedAt).toBeInstanceOf(Date);
      // The session is over for its current token too, which was never rotated: revoked, not reused.
      await expect(harness.tokens.refresh(second.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_REVOKED' });
      expect(await harness.tokens.isSessionLive(await sessionOf(second), user.id)).toBe(false);
      await expect(harness.tokens.refresh(otherSession.refreshToken)).resolves.toMatchObject({ tokenType: 'Bearer' });
    });

    it('gives every one of several concurrent refreshes with the same token a pair of the same session; after 10 s the token is reuse', async () => {
      const user = await newUser();
      const original = await harness.tokens.issueTokenPair(user);
      const results = await Promise.all(Array.from({ length: 5 }, () => harness.tokens.refresh(original.refreshToken)));
      expect(new Set(results.map((pair) => pair.refreshToken)).size).toBe(5);
      for (const pair of results) expect(await sessionOf(pair)).toBe(await sessionOf(original));
      const family = await familyOf(original.refreshToken);
      expect(family).toHaveLength(6);
      expect(family.filter((row) => row.rotatedAt !== null)).toHaveLength(1);
      // Each tab goes on with its own token.
      for (const pair of results) await expect(harness.tokens.refresh(pair.refreshToken)).resolves.toMatchObject({ tokenType: 'Bearer' });

      await rotatedSecondsAgo(original.refreshToken, 11);
      await expect(harness.tokens.refresh(original.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_REUSED' });
      expect(await harness.tokens.isSessionLive(await sessionOf(original), user.id)).toBe(false);
    });

    it('ends a session SESSION_MAX_DAYS (90) after it started, however recently it refreshed', async () => {
      const user = await newUser();
      const first = await harness.tokens.issueTokenPair(user);
      const second = await harness.tokens.refresh(first.refreshToken);
      const successor = await rowOf(second.refreshToken);
      expect((successor!.expiresAt.getTime() - successor!.createdAt.getTime()) / 86_400_000).toBeCloseTo(30, 2);

      // The session started 89 days ago: its next token slides only to the 90th day.
      await harness.db
        .update(refreshTokens)
        .set({ createdAt: new Date(Date.now() - 89 * 86_400_000) })
        .where(eq(refreshTokens.tokenHash, sha256(first.refreshToken)));
      const third = await harness.tokens.refresh(second.refreshToken);
      const capped = await rowOf(third.refreshToken);
      expect((capped!.expiresAt.getTime() - Date.now()) / 86_400_000).toBeCloseTo(1, 2);

      await harness.db
        .update(refreshTokens)
        .set({ createdAt: new Date(Date.now() - 90 * 86_400_000 - 1000) })
        .where(eq(refreshTokens.tokenHash, sha256(first.refreshToken)));
      await expect(harness.tokens.refresh(third.refreshToken)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    });

    it('refuses an unknown token as UNAUTHORIZED', async () => {
      await expect(harness.tokens.refresh('A'.repeat(43))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    });

    it('refuses an expired token as UNAUTHORIZED without revoking its family', async () => {
      const { refreshToken } = await harness.tokens.issueTokenPair(await newUser());
      await harness.db
        .update(refreshTokens)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(refreshTokens.tokenHash, sha256(refreshToken)));
      await expect(harness.tokens.refresh(refreshToken)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      expect(await rowOf(refreshToken)).toMatchObject({ rotatedAt: null, revokedAt: null });
    });

    it('refuses the token of a deleted user', async () => {
      const user = await newUser();
      const { refreshToken } = await harness.tokens.issueTokenPair(user);
      await harness.users.softDelete(user.id);
      await expect(harness.tokens.refresh(refreshToken)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    });
  });

  describe('revocation', () => {
    let user: User;
    beforeEach(async () => {
      user = await newUser();
    });

    it('revokes every session of a user, and no one else’s', async () => {
      const sessions = [await harness.tokens.issueTokenPair(user), await harness.tokens.issueTokenPair(user)];
      const stranger = await harness.tokens.issueTokenPair(await newUser());
      expect(await harness.tokens.revokeAllForUser(user.id)).toBe(2);
      for (const session of sessions) {
        await expect(harness.tokens.refresh(session.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_REVOKED' });
        expect(await harness.tokens.isSessionLive(await sessionOf(session), user.id)).toBe(false);
      }
      await expect(harness.tokens.refresh(stranger.refreshToken)).resolves.toMatchObject({ tokenType: 'Bearer' });
    });

    it('logs out one session: its refresh token and its predecessors stop working, the other session goes on', async () => {
      const first = await harness.tokens.issueTokenPair(user);
      const current = await harness.tokens.refresh(first.refreshToken);
      const other = await harness.tokens.issueTokenPair(user);
      expect(await harness.tokens.sessionOf(current.refreshToken, user.id)).toBe(await sessionOf(current));
      await expect(harness.tokens.endSession(user.id, await sessionOf(current))).resolves.toBe(true);
      await expect(harness.tokens.refresh(current.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_REVOKED' });
      await expect(harness.tokens.refresh(first.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_REVOKED' });
      await expect(harness.tokens.refresh(other.refreshToken)).resolves.toMatchObject({ tokenType: 'Bearer' });
      await expect(harness.tokens.endSession(user.id, await sessionOf(current))).resolves.toBe(false);
    });

    it('ends no session of another user, and ignores tokens and sessions it does not know', async () => {
      const strangers = await harness.tokens.issueTokenPair(await newUser());
      expect(await harness.tokens.sessionOf(strangers.refreshToken, user.id)).toBeUndefined();
      await expect(harness.tokens.endSession(user.id, await sessionOf(strangers))).resolves.toBe(false);
      await expect(harness.tokens.refresh(strangers.refreshToken)).resolves.toMatchObject({ tokenType: 'Bearer' });
      expect(await harness.tokens.sessionOf('unknown-token', user.id)).toBeUndefined();
      await expect(harness.tokens.endSession(user.id, randomUUID())).resolves.toBe(false);
      await expect(harness.tokens.endSession(user.id, 'not-a-session')).resolves.toBe(false);
    });
  });

  describe('JwtAuthGuard on a route', () => {
    const me = (authorization?: string) =>
      fetch(`${harness.url}/probe/me`, { headers: authorization === undefined ? {} : { authorization } });
    const expectUnauthorized = async (response: Response) => {
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ statusCode: 401, code: 'UNAUTHORIZED', message: expect.stringContaining('Bearer') });
    };

    it('lets a user with a valid access token in, as that user', async () => {
      const user = await newUser();
      const { accessToken } = await harness.tokens.issueTokenPair(user);
      const response = await me(`Bearer ${accessToken}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ id: user.id });
    });

    it('refuses a request without a token', async () => {
      await expectUnauthorized(await me());
      await expectUnauthorized(await me('Bearer'));
    });

    it('refuses an unsigned token (alg none)', async () => {
      const user = await newUser();
      const now = Math.floor(Date.now() / 1000);
      const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const token = `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: user.id, jti: 'j', iss: 'otp-gateway', aud: 'otp-gateway-api', iat: now, exp: now + 900 })}.`;
      await expectUnauthorized(await me(`Bearer ${token}`));
    });

    it('refuses a token for another audience', async () => {
      const user = await newUser();
      const sid = await sessionOf(await harness.tokens.issueTokenPair(user));
      await expectUnauthorized(
        await me(`Bearer ${await harness.jwt.signAsync({ sid }, { subject: user.id, jwtid: 'j', audience: 'other-api' })}`),
      );
    });

    it('refuses an expired token', async () => {
      const user = await newUser();
      const sid = await sessionOf(await harness.tokens.issueTokenPair(user));
      const token = await harness.jwt.signAsync({ sid, iat: Math.floor(Date.now() / 1000) - 901 }, { subject: user.id, jwtid: 'j' });
      await expectUnauthorized(await me(`Bearer ${token}`));
    });

    it('refuses a still valid token once its session ends, with TOKEN_REVOKED', async () => {
      const user = await newUser();
      const pair = await harness.tokens.issueTokenPair(user);
      expect((await me(`Bearer ${pair.accessToken}`)).status).toBe(200);
      await harness.tokens.endSession(user.id, await sessionOf(pair));
      const refused = await me(`Bearer ${pair.accessToken}`);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toEqual({ statusCode: 401, code: 'TOKEN_REVOKED', message: expect.any(String) });
    });

    it('refuses a still valid token once its user is deleted, with TOKEN_REVOKED', async () => {
      const user = await newUser();
      const { accessToken } = await harness.tokens.issueTokenPair(user);
      expect((await me(`Bearer ${accessToken}`)).status).toBe(200);
      await harness.users.softDelete(user.id);
      expect(await (await me(`Bearer ${accessToken}`)).json()).toMatchObject({ statusCode: 401, code: 'TOKEN_REVOKED' });
    });
  });
});
