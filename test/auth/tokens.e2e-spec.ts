import { createHash } from 'node:crypto';
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
  const rowOf = async (token: string) => (await harness.db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, sha256(token))))[0];
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
      expect(row).toMatchObject({ tokenHash: sha256(refreshToken), rotatedAt: null, revokedAt: null, userAgent: 'curl/8', ip: '203.0.113.9' });
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

    it('treats a rotated token coming back as theft: TOKEN_REUSED and the whole family revoked', async () => {
      const user = await newUser();
      const first = await harness.tokens.issueTokenPair(user);
      const second = await harness.tokens.refresh(first.refreshToken);
      const otherSession = await harness.tokens.issueTokenPair(user);

      await expect(harness.tokens.refresh(first.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_REUSED' });
      for (const row of await familyOf(first.refreshToken)) expect(row.revokedAt).toBeInstanceOf(Date);
      await expect(harness.tokens.refresh(second.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_REUSED' });
      await expect(harness.tokens.refresh(otherSession.refreshToken)).resolves.toMatchObject({ tokenType: 'Bearer' });
    });

    it('lets exactly one of several concurrent refreshes with the same token succeed; the others count as reuse', async () => {
      const { refreshToken } = await harness.tokens.issueTokenPair(await newUser());
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => harness.tokens.refresh(refreshToken)));
      const succeeded = results.filter((result) => result.status === 'fulfilled');
      const failed = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      expect(succeeded).toHaveLength(1);
      expect(failed.map((result) => (result.reason as { code?: string }).code)).toEqual(['TOKEN_REUSED', 'TOKEN_REUSED', 'TOKEN_REUSED', 'TOKEN_REUSED']);
      const family = await familyOf(refreshToken);
      expect(family).toHaveLength(2);
      expect(family.filter((row) => row.rotatedAt !== null)).toHaveLength(1);
    });

    it('refuses an unknown token as UNAUTHORIZED', async () => {
      await expect(harness.tokens.refresh('A'.repeat(43))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    });

    it('refuses an expired token as UNAUTHORIZED without revoking its family', async () => {
      const { refreshToken } = await harness.tokens.issueTokenPair(await newUser());
      await harness.db.update(refreshTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(refreshTokens.tokenHash, sha256(refreshToken)));
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
        await expect(harness.tokens.refresh(session.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_REUSED' });
      }
      await expect(harness.tokens.refresh(stranger.refreshToken)).resolves.toMatchObject({ tokenType: 'Bearer' });
    });

    it('logs out one session: its refresh token and its predecessors stop working, the other session goes on', async () => {
      const first = await harness.tokens.issueTokenPair(user);
      const current = await harness.tokens.refresh(first.refreshToken);
      const other = await harness.tokens.issueTokenPair(user);
      await harness.tokens.revokeFamilyOf(current.refreshToken);
      await expect(harness.tokens.refresh(current.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_REUSED' });
      await expect(harness.tokens.refresh(other.refreshToken)).resolves.toMatchObject({ tokenType: 'Bearer' });
    });

    it('ignores logout with a token it does not know', async () => {
      await expect(harness.tokens.revokeFamilyOf('unknown-token')).resolves.toBeUndefined();
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
      await expectUnauthorized(await me(`Bearer ${await harness.jwt.signAsync({}, { subject: user.id, jwtid: 'j', audience: 'other-api' })}`));
    });

    it('refuses an expired token', async () => {
      const user = await newUser();
      const token = await harness.jwt.signAsync({ iat: Math.floor(Date.now() / 1000) - 901 }, { subject: user.id, jwtid: 'j' });
      await expectUnauthorized(await me(`Bearer ${token}`));
    });

    it('refuses a still valid token once its user is deleted', async () => {
      const user = await newUser();
      const { accessToken } = await harness.tokens.issueTokenPair(user);
      expect((await me(`Bearer ${accessToken}`)).status).toBe(200);
      await harness.users.softDelete(user.id);
      await expectUnauthorized(await me(`Bearer ${accessToken}`));
    });
  });
});
