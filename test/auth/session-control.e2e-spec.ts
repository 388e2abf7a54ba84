import { ADMIN, call, startApp, type TestApp } from '../support/app.js';
import { Inboxes, JWT_SECRET } from '../support/auth-inboxes.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from '../support/databases.js';
import { LOOSE_LIMITS } from '../support/environments.js';

interface Session {
  accessToken: string;
  refreshToken: string;
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

/**
 * Seeing and ending sessions, deleting an account, and the operators' user routes, through the real app on
 * each database kind (on PostgreSQL a second instance shares the database: a replica that never saw the change).
 */
describe.each(testDatabaseKinds())('session control on %s', (kind) => {
  let database: TestDatabase;
  let inboxes: Inboxes;
  let service: TestApp;
  let replica: TestApp | undefined;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    inboxes = await Inboxes.start();
    const env = { ...inboxes.env(), ...LOOSE_LIMITS, DATABASE_URL: database.url, JWT_SECRET };
    service = await startApp(env);
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
  const newEmail = () => `sessions${++sequence}.${run}@example.com`;
  const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(service.url, 'POST', `/v1/auth${path}`, body, headers);
  const instances = () => (replica ? [service, replica] : [service]);
  /** GET /v1/auth/me on every instance: the statuses and codes they answer. */
  const meEverywhere = async (accessToken: string) =>
    (await Promise.all(instances().map((app) => call(app.url, 'GET', '/v1/auth/me', undefined, bearer(accessToken))))).map((answer) => ({
      status: answer.status,
      code: answer.body.code,
    }));
  const everywhere = (status: number, code?: string) => instances().map(() => ({ status, code }));

  async function loggedIn(email: string, password: string, userAgent = 'test-browser'): Promise<Session> {
    const login = await post('/login', { identifier: email, password }, { 'user-agent': userAgent });
    expect(login.status).toBe(200);
    const verified = await post(
      '/otp/verify',
      { challengeId: login.body.challengeId, code: await inboxes.nextCode(email) },
      { 'user-agent': userAgent },
    );
    expect(verified.status).toBe(200);
    return verified.body as unknown as Session;
  }

  async function signedUp(email = newEmail()) {
    const password = `pw-${Math.random().toString(36).slice(2)}-long`;
    const registered = await post('/register', { email, password });
    expect(registered.status).toBe(201);
    const verified = await post('/otp/verify', { challengeId: registered.body.challengeId, code: await inboxes.nextCode(email) });
    expect(verified.status).toBe(200);
    return { email, password, userId: registered.body.userId as string, session: verified.body as unknown as Session };
  }

  const sessionsOf = async (accessToken: string) => {
    const listed = await call(service.url, 'GET', '/v1/auth/sessions', undefined, bearer(accessToken));
    expect(listed.status).toBe(200);
    return listed.body as unknown as Array<{
      id: string;
      createdAt: string;
      lastUsedAt: string;
      userAgent: string | null;
      ip: string | null;
      current: boolean;
    }>;
  };

  it("lists the account's live sessions, marking the current one", async () => {
    const { email, password, session: first } = await signedUp();
    const second = await loggedIn(email, password, 'phone-browser');
    const listed = await sessionsOf(second.accessToken);
    expect(listed).toHaveLength(2);
    expect(listed.find((s) => s.current)).toMatchObject({
      id: claimsOf(second.accessToken).sid,
      userAgent: 'phone-browser',
      ip: '127.0.0.1',
    });
    expect(listed.find((s) => !s.current)!.id).toBe(claimsOf(first.accessToken).sid);
    for (const s of listed) expect(Date.parse(s.lastUsedAt)).toBeGreaterThanOrEqual(Date.parse(s.createdAt));
  });

  it('ends a session from another one: its access token is refused at once, on every instance, and its refresh token too', async () => {
    const { email, password, session: laptop } = await signedUp();
    const phone = await loggedIn(email, password);
    const phoneSession = claimsOf(phone.accessToken).sid as string;
    expect(await meEverywhere(phone.accessToken)).toEqual(everywhere(200));

    expect((await call(service.url, 'DELETE', `/v1/auth/sessions/${phoneSession}`, undefined, bearer(laptop.accessToken))).status).toBe(
      204,
    );
    expect(await meEverywhere(phone.accessToken)).toEqual(everywhere(401, 'TOKEN_REVOKED'));
    expect(await post('/token/refresh', { refreshToken: phone.refreshToken })).toMatchObject({
      status: 401,
      body: { code: 'TOKEN_REVOKED' },
    });
    expect(await meEverywhere(laptop.accessToken)).toEqual(everywhere(200));
    expect((await sessionsOf(laptop.accessToken)).map((s) => s.id)).toEqual([claimsOf(laptop.accessToken).sid]);
    // Ended already: as unknown as a stranger's.
    expect(await call(service.url, 'DELETE', `/v1/auth/sessions/${phoneSession}`, undefined, bearer(laptop.accessToken))).toMatchObject({
      status: 404,
      body: { code: 'SESSION_NOT_FOUND' },
    });
  });

  it("answers 404 to a stranger deleting someone else's session, and leaves it alone", async () => {
    const owner = await signedUp();
    const stranger = await signedUp();
    const ownerSession = claimsOf(owner.session.accessToken).sid as string;
    const remove = (id: string) => call(service.url, 'DELETE', `/v1/auth/sessions/${id}`, undefined, bearer(stranger.session.accessToken));
    expect(await remove(ownerSession)).toMatchObject({ status: 404, body: { code: 'SESSION_NOT_FOUND' } });
    expect(await remove('00000000-0000-4000-8000-000000000000')).toMatchObject({ status: 404, body: { code: 'SESSION_NOT_FOUND' } });
    expect(await remove('not-a-session-id')).toMatchObject({ status: 404, body: { code: 'SESSION_NOT_FOUND' } });
    expect(await meEverywhere(owner.session.accessToken)).toEqual(everywhere(200));
    expect((await call(service.url, 'GET', '/v1/auth/sessions')).status).toBe(401);
  });

  it('lets an operator find a user and revoke every session of theirs, with the admin key only', async () => {
    const { email, password, userId, session: first } = await signedUp();
    const second = await loggedIn(email, password);
    const find = (identifier: string, headers: Record<string, string> = ADMIN) =>
      call(service.url, 'GET', `/v1/admin/users?identifier=${encodeURIComponent(identifier)}`, undefined, headers);
    expect(await find(email)).toMatchObject({
      status: 200,
      body: { id: userId, email, emailVerified: true, totpEnabled: false, activeSessions: 2 },
    });
    expect(await find(userId)).toMatchObject({ status: 200, body: { id: userId } });
    expect(await find(` ${email.toUpperCase()} `)).toMatchObject({ status: 200, body: { id: userId } });
    expect(await find(`nobody.${run}@example.com`)).toMatchObject({ status: 404, body: { code: 'USER_NOT_FOUND' } });
    // An application's key, or none, opens nothing here.
    expect(await find(email, {})).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    expect(await find(email, bearer(first.accessToken))).toMatchObject({ status: 401 });

    const revoke = (id: string, headers: Record<string, string> = ADMIN) =>
      call(service.url, 'POST', `/v1/admin/users/${id}/sessions/revoke`, undefined, headers);
    expect((await revoke(userId, {})).status).toBe(401);
    expect(await meEverywhere(first.accessToken)).toEqual(everywhere(200));
    expect((await revoke(userId)).status).toBe(204);
    for (const session of [first, second]) {
      expect(await meEverywhere(session.accessToken)).toEqual(everywhere(401, 'TOKEN_REVOKED'));
      expect(await post('/token/refresh', { refreshToken: session.refreshToken })).toMatchObject({
        status: 401,
        body: { code: 'TOKEN_REVOKED' },
      });
    }
    expect(await find(email)).toMatchObject({ status: 200, body: { activeSessions: 0 } });
    expect(await revoke('00000000-0000-4000-8000-000000000000')).toMatchObject({ status: 404, body: { code: 'USER_NOT_FOUND' } });
    // The user signs in again as before.
    await loggedIn(email, password);
  });

  it('deletes an account with its password: its tokens stop, and signing in fails exactly as for an unknown account', async () => {
    const { email, password, userId, session } = await signedUp();
    const other = await loggedIn(email, password);
    const remove = (body: unknown, headers: Record<string, string>) => call(service.url, 'DELETE', '/v1/auth/me', body, headers);
    expect(await remove({ password }, {})).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    expect(await remove({ password: 'not-the-password' }, bearer(session.accessToken))).toMatchObject({
      status: 401,
      body: { code: 'INVALID_CREDENTIALS' },
    });
    expect(await remove({}, bearer(session.accessToken))).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect(await meEverywhere(session.accessToken)).toEqual(everywhere(200));

    expect((await remove({ password }, bearer(session.accessToken))).status).toBe(204);
    for (const token of [session, other]) {
      expect(await meEverywhere(token.accessToken)).toEqual(everywhere(401, 'TOKEN_REVOKED'));
      expect((await post('/token/refresh', { refreshToken: token.refreshToken })).status).toBe(401);
    }
    expect((await call(service.url, 'GET', `/v1/admin/users?identifier=${userId}`, undefined, ADMIN)).status).toBe(404);
    expect((await call(service.url, 'GET', `/v1/admin/users?identifier=${encodeURIComponent(email)}`, undefined, ADMIN)).status).toBe(404);

    const deleted = await post('/login', { identifier: email, password });
    const unknown = await post('/login', { identifier: `never.${run}@example.com`, password });
    expect(deleted.status).toBe(401);
    expect(deleted.body).toEqual(unknown.body);
    const startedDeleted = await post('/otp/start', { identifier: email, purpose: 'login' });
    const startedUnknown = await post('/otp/start', { identifier: `never2.${run}@example.com`, purpose: 'login' });
    expect(startedDeleted.status).toBe(startedUnknown.status);
    expect(Object.keys(startedDeleted.body).sort()).toEqual(Object.keys(startedUnknown.body).sort());
    // The address is free again: a new account can be made with it.
    expect((await post('/register', { email, password })).status).toBe(201);
  });

  it('lets an operator delete a user: tokens refused, sign-in as for an unknown account', async () => {
    const { email, password, userId, session } = await signedUp();
    expect((await call(service.url, 'DELETE', `/v1/admin/users/${userId}`, undefined, {})).status).toBe(401);
    expect((await call(service.url, 'DELETE', `/v1/admin/users/${userId}`, undefined, ADMIN)).status).toBe(204);
    expect(await meEverywhere(session.accessToken)).toEqual(everywhere(401, 'TOKEN_REVOKED'));
    expect(await post('/login', { identifier: email, password })).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS' } });
    expect(await call(service.url, 'DELETE', `/v1/admin/users/${userId}`, undefined, ADMIN)).toMatchObject({
      status: 404,
      body: { code: 'USER_NOT_FOUND' },
    });
    expect((await call(service.url, 'DELETE', '/v1/admin/users/not-a-user-id', undefined, ADMIN)).status).toBe(404);
  });
});
