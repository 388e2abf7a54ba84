import { eq } from 'drizzle-orm';
import { createHmac } from 'node:crypto';
import { Database } from '../../src/database/database.constants.js';
import { refreshTokens } from '../../src/database/schema.js';
import { maskDestination } from '../../src/common/masked-destination.js';
import { call, startApp, type TestApp } from '../support/app.js';
import { Inboxes, JWT_SECRET } from '../support/auth-inboxes.js';
import type { LogEntry } from '../support/captured-logs.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from '../support/databases.js';
import { LOOSE_LIMITS } from '../support/environments.js';

interface Session {
  accessToken: string;
  refreshToken: string;
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

/** An HS256 token with exactly these claims, signed with the service's own secret: what a leaked secret or a bug could produce. */
function handSigned(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${body}.${createHmac('sha256', JWT_SECRET).update(body).digest('base64url')}`;
}

/**
 * Sessions through the real app: an access token is only as good as its session, which logout and
 * password reset end at once — on a second app instance sharing the database too (PostgreSQL) — and a
 * stolen access token alone cannot move the account to another email address.
 */
describe.each(testDatabaseKinds())('sessions on %s', (kind) => {
  let database: TestDatabase;
  let inboxes: Inboxes;
  let service: TestApp;
  /** A second instance on the same PostgreSQL database: a replica that never saw the logout. */
  let replica: TestApp | undefined;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    inboxes = await Inboxes.start();
    // HS256: the claim checks below are made with tokens hand-signed with JWT_SECRET.
    const env = { ...inboxes.env(), ...LOOSE_LIMITS, DATABASE_URL: database.url, JWT_SECRET, JWT_ALGORITHM: 'HS256' };
    service = await startApp(env);
    // PGlite is embedded: one process per database, so only PostgreSQL can have a second instance.
    if (kind === 'PostgreSQL') replica = await startApp(env);
  }, 120_000);
  afterAll(async () => {
    await replica?.close();
    await service?.close();
    await inboxes?.close();
    await database?.drop();
  });

  let sequence = 0;
  const run = `${kind.toLowerCase()}${Date.now() % 100_000}`;
  const newEmail = () => `person${++sequence}.${run}@example.com`;
  const newPhone = () => `+4479${kind === 'PGlite' ? '33' : '44'}${String(100_000 + ++sequence).slice(-6)}`;
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(service.url, 'POST', `/v1/auth${path}`, body, headers);
  const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });
  const patchMe = (accessToken: string, body: unknown) => call(service.url, 'PATCH', '/v1/auth/me', body, bearer(accessToken));
  const instances = () => (replica ? [service, replica] : [service]);
  /** Nest's `Logger` writes through the logger of the app created last, so an event may be in either instance's capture. */
  const auditOf = (event: string): LogEntry[] =>
    instances()
      .flatMap((app) => app.logs.entries)
      .filter((entry) => entry.context === 'Audit' && entry.record.event === event);

  async function signedUp(email = newEmail()) {
    const password = `pw-${Math.random().toString(36).slice(2)}-long`;
    const registered = await post('/register', { email, password });
    expect(registered.status).toBe(201);
    const verified = await post('/otp/verify', { challengeId: registered.body.challengeId, code: await inboxes.nextCode(email) });
    expect(verified.status).toBe(200);
    return { email, password, userId: registered.body.userId as string, session: verified.body as unknown as Session };
  }

  async function loggedIn(email: string, password: string): Promise<Session> {
    const login = await post('/login', { identifier: email, password });
    expect(login.status).toBe(200);
    const verified = await post('/otp/verify', { challengeId: login.body.challengeId, code: await inboxes.nextCode(email) });
    expect(verified.status).toBe(200);
    return verified.body as unknown as Session;
  }

  /** GET /v1/auth/me with the token on every instance: the statuses and codes they answer. */
  async function meEverywhere(accessToken: string): Promise<{ status: number; code: unknown }[]> {
    const answers = await Promise.all(instances().map((app) => call(app.url, 'GET', '/v1/auth/me', undefined, bearer(accessToken))));
    return answers.map((answer) => ({ status: answer.status, code: answer.body.code }));
  }
  const everywhere = (status: number, code?: string) => instances().map(() => ({ status, code }));

  describe('changing a contact', () => {
    it('needs the current password: an access token alone, or with a wrong password, changes nothing and sends nothing', async () => {
      const { email, session } = await signedUp();
      const target = newEmail();
      for (const body of [
        { email: target },
        { email: target, password: 'not-the-password' },
        { email: target, otpChannel: 'sms', password: '' },
      ]) {
        expect(await patchMe(session.accessToken, body)).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS' } });
      }
      expect(await patchMe(session.accessToken, { phone: newPhone() })).toMatchObject({
        status: 401,
        body: { code: 'INVALID_CREDENTIALS' },
      });
      expect((await call(service.url, 'GET', '/v1/auth/me', undefined, bearer(session.accessToken))).body).toMatchObject({
        email,
        otpChannel: null,
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(inboxes.messagesTo(target)).toEqual([]);
      // otpChannel alone still needs no password.
      expect(await patchMe(session.accessToken, { otpChannel: 'email' })).toMatchObject({ status: 200, body: { otpChannel: 'email' } });
    });

    it('stops password guesses made with an access token after LOGIN_MAX_FAILURES wrong ones, the right password too', async () => {
      const { password, session } = await signedUp();
      const target = newEmail();
      for (let i = 0; i < 10; i++) {
        expect(await patchMe(session.accessToken, { email: target, password: `wrong-password-${i}` })).toMatchObject({
          status: 401,
          body: { code: 'INVALID_CREDENTIALS' },
        });
      }
      const blocked = await patchMe(session.accessToken, { email: target, password });
      expect(blocked).toMatchObject({ status: 429, body: { code: 'LOGIN_RATE_LIMITED' } });
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(inboxes.messagesTo(target)).toEqual([]);
    });

    it('with the password: the new address gets the code, and once it is verified the old one is told, with the new one masked', async () => {
      const { email: oldEmail, password, userId, session } = await signedUp();
      const newAddress = newEmail();
      const staged = await patchMe(session.accessToken, { email: newAddress, password });
      expect(staged).toMatchObject({ status: 202, body: { channel: 'email' } });
      const changed = await post(
        '/otp/verify',
        { challengeId: staged.body.challengeId, code: await inboxes.nextCode(newAddress) },
        bearer(session.accessToken),
      );
      expect(changed).toMatchObject({ status: 200, body: { user: { id: userId, email: newAddress } } });

      const notice = await inboxes.next(oldEmail, (message) => message.subject === 'Your email address was changed');
      expect(notice.text).toContain(`The email address of your account was just changed to ${maskDestination('email', newAddress)}.`);
      expect(notice.text).not.toContain(newAddress);
      expect(inboxes.messagesTo(newAddress).filter((message) => message.subject === 'Your email address was changed')).toEqual([]);

      const audit = auditOf('auth.contact_changed').filter((entry) => entry.record.userId === userId);
      expect(audit.map((entry) => entry.record)).toEqual([
        expect.objectContaining({ event: 'auth.contact_changed', userId, kind: 'email', ip: '127.0.0.1' }),
      ]);
      expect(audit[0]!.line).not.toContain(newAddress);
      expect(audit[0]!.line).not.toContain(oldEmail);
    });

    it('tells the confirmed email address when a phone number is added', async () => {
      const { email, password, session } = await signedUp();
      const phone = newPhone();
      const staged = await patchMe(session.accessToken, { phone, password });
      expect(staged).toMatchObject({ status: 202, body: { channel: 'sms' } });
      const changed = await post(
        '/otp/verify',
        { challengeId: staged.body.challengeId, code: await inboxes.nextCode(phone) },
        bearer(session.accessToken),
      );
      expect(changed).toMatchObject({ status: 200, body: { user: { phone, phoneVerified: true } } });
      const notice = await inboxes.next(email, (message) => message.subject === 'Your phone number was changed');
      expect(notice.text).toContain(maskDestination('sms', phone));
      expect(notice.text).not.toContain(phone);
    });
  });

  describe('logout', () => {
    it('with the Bearer token alone ends that session: its access token is TOKEN_REVOKED at once on every instance, its refresh token too', async () => {
      const { email, password, userId, session } = await signedUp();
      const other = await loggedIn(email, password);
      expect(await meEverywhere(session.accessToken)).toEqual(everywhere(200));

      expect((await post('/logout', undefined, bearer(session.accessToken))).status).toBe(204);
      expect(await meEverywhere(session.accessToken)).toEqual(everywhere(401, 'TOKEN_REVOKED'));
      expect(await post('/token/refresh', { refreshToken: session.refreshToken })).toMatchObject({
        status: 401,
        body: { code: 'TOKEN_REVOKED' },
      });
      expect((await post('/logout', undefined, bearer(session.accessToken))).body).toMatchObject({ code: 'TOKEN_REVOKED' });
      // The other session of the same account goes on.
      expect(await meEverywhere(other.accessToken)).toEqual(everywhere(200));
      expect((await post('/token/refresh', { refreshToken: other.refreshToken })).status).toBe(200);

      const audit = auditOf('auth.logout').filter((entry) => entry.record.userId === userId);
      expect(audit.map((entry) => entry.record)).toEqual([
        expect.objectContaining({ event: 'auth.logout', userId, sessionId: claimsOf(session.accessToken).sid, ip: '127.0.0.1' }),
      ]);
      expect(audit[0]!.line).not.toContain(session.refreshToken);
      expect(audit[0]!.line).not.toContain(session.accessToken);
    });

    it("also ends the given refresh token's session, but never another account's", async () => {
      const { email, password, session } = await signedUp();
      const second = await loggedIn(email, password);
      const third = await loggedIn(email, password);
      const stranger = await signedUp();
      expect((await post('/logout', { refreshToken: second.refreshToken }, bearer(session.accessToken))).status).toBe(204);
      expect(await meEverywhere(second.accessToken)).toEqual(everywhere(401, 'TOKEN_REVOKED'));
      expect((await post('/logout', { refreshToken: stranger.session.refreshToken }, bearer(third.accessToken))).status).toBe(204);
      expect(await meEverywhere(stranger.session.accessToken)).toEqual(everywhere(200));
      expect((await post('/token/refresh', { refreshToken: stranger.session.refreshToken })).status).toBe(200);
    });
  });

  it('password reset ends every session: their access tokens are TOKEN_REVOKED on every instance, their refresh tokens too', async () => {
    const { email, password, userId, session } = await signedUp();
    const other = await loggedIn(email, password);
    expect(await meEverywhere(session.accessToken)).toEqual(everywhere(200));

    const started = await post('/otp/start', { identifier: email, purpose: 'password_reset' });
    const reset = await post('/otp/verify', {
      challengeId: started.body.challengeId,
      code: await inboxes.nextCode(email),
      newPassword: `${password}-new`,
    });
    expect(reset.status).toBe(200);

    for (const old of [session, other]) {
      expect(await meEverywhere(old.accessToken)).toEqual(everywhere(401, 'TOKEN_REVOKED'));
      expect(await post('/token/refresh', { refreshToken: old.refreshToken })).toMatchObject({
        status: 401,
        body: { code: 'TOKEN_REVOKED' },
      });
    }
    expect(await meEverywhere(reset.body.accessToken as string)).toEqual(everywhere(200));
    expect(
      auditOf('auth.password_reset')
        .filter((entry) => entry.record.userId === userId)
        .map((entry) => entry.record),
    ).toEqual([expect.objectContaining({ event: 'auth.password_reset', userId, ip: '127.0.0.1' })]);
  });

  it('refuses a token signed with the right secret but without exp, and one claiming to live a year', async () => {
    const { userId, session } = await signedUp();
    const { sid } = claimsOf(session.accessToken);
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: userId, sid, jti: 'hand', iss: 'otp-gateway', aud: 'otp-gateway-api', iat: now };
    const me = (token: string) => call(service.url, 'GET', '/v1/auth/me', undefined, bearer(token));

    expect((await me(handSigned({ ...claims, exp: now + 900 }))).status).toBe(200);
    expect(await me(handSigned(claims))).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    expect(await me(handSigned({ ...claims, exp: now + 365 * 86_400 }))).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    const { iss: _iss, ...withoutIssuer } = { ...claims, exp: now + 900 };
    expect(await me(handSigned(withoutIssuer))).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
  });

  it('ends a session SESSION_MAX_DAYS after sign-in, however often it refreshed', async () => {
    const { session } = await signedUp();
    const refreshed = await post('/token/refresh', { refreshToken: session.refreshToken });
    expect(refreshed.status).toBe(200);
    // The sign-in was 90 days ago: the family's oldest token says when the session started.
    const db = service.app.get<Database>(Database);
    await db
      .update(refreshTokens)
      .set({ createdAt: new Date(Date.now() - 90 * 86_400_000 - 60_000) })
      .where(eq(refreshTokens.familyId, claimsOf(session.accessToken).sid as string));
    expect(await post('/token/refresh', { refreshToken: refreshed.body.refreshToken })).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHORIZED' },
    });
  });

  it('gives two concurrent refreshes of one token a pair each, of the same session; the token presented after 10 s is TOKEN_REUSED', async () => {
    const { userId, session } = await signedUp();
    const [first, second] = await Promise.all([1, 2].map(() => post('/token/refresh', { refreshToken: session.refreshToken })));
    expect([first!.status, second!.status]).toEqual([200, 200]);
    expect(first!.body.refreshToken).not.toBe(second!.body.refreshToken);
    for (const pair of [first!, second!]) {
      expect(claimsOf(pair.body.accessToken as string).sid).toBe(claimsOf(session.accessToken).sid);
      expect(await meEverywhere(pair.body.accessToken as string)).toEqual(everywhere(200));
    }

    await new Promise((resolve) => setTimeout(resolve, 10_500));
    expect(await post('/token/refresh', { refreshToken: session.refreshToken })).toMatchObject({
      status: 401,
      body: { code: 'TOKEN_REUSED' },
    });
    // Theft ends the whole session: both tabs' tokens stop.
    for (const pair of [first!, second!]) {
      expect(await meEverywhere(pair.body.accessToken as string)).toEqual(everywhere(401, 'TOKEN_REVOKED'));
      expect(await post('/token/refresh', { refreshToken: pair.body.refreshToken })).toMatchObject({
        status: 401,
        body: { code: 'TOKEN_REVOKED' },
      });
    }
    const audit = auditOf('auth.refresh_reused').filter((entry) => entry.record.userId === userId);
    expect(audit.map((entry) => entry.record)).toEqual([
      expect.objectContaining({ event: 'auth.refresh_reused', userId, sessionId: claimsOf(session.accessToken).sid, ip: '127.0.0.1' }),
    ]);
    expect(audit[0]!.line).not.toContain(session.refreshToken);
  }, 30_000);

  it('documents the new answers in the OpenAPI document', async () => {
    const document = (await (await fetch(`${service.url}/docs-json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { description?: string }> }>>;
    };
    const unauthorized = (path: string, method: string) => document.paths[path]![method]!.responses['401']!.description ?? '';
    expect(unauthorized('/v1/auth/me', 'patch')).toEqual(expect.stringContaining('INVALID_CREDENTIALS'));
    for (const [path, method] of [
      ['/v1/auth/me', 'get'],
      ['/v1/auth/me', 'patch'],
      ['/v1/auth/logout', 'post'],
      ['/v1/auth/token/refresh', 'post'],
    ] as const) {
      expect(unauthorized(path, method)).toEqual(expect.stringContaining('TOKEN_REVOKED'));
    }
    expect(unauthorized('/v1/auth/token/refresh', 'post')).toEqual(expect.stringContaining('TOKEN_REUSED'));
  });
});
