import { eq } from 'drizzle-orm';
import { Database } from '../../src/database/database.constants.js';
import { users } from '../../src/database/schema.js';
import { call, startApp, type TestApp } from '../support/app.js';
import { Inboxes, JWT_SECRET } from '../support/auth-inboxes.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from '../support/databases.js';
import { LOOSE_LIMITS } from '../support/environments.js';
import { RedisServer } from '../support/redis-server.js';
import { totpCode, totpStep } from '../support/totp.js';

interface Session {
  accessToken: string;
  refreshToken: string;
}

const LOGIN_MAX_FAILURES = 7;

describe('the RFC 6238 code of these tests', () => {
  it('matches the RFC test vector (T = 59 s, SHA-1)', () => {
    // "12345678901234567890" in base32; the RFC's 8-digit 94287082 read as 6 digits.
    expect(totpCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', totpStep(59_000))).toBe('287082');
  });
});

/**
 * Authenticator apps through the real app, on real Redis (challenges, attempt counters) and each database
 * kind: the test is the app, computing its codes by RFC 6238 itself.
 */
describe.each(testDatabaseKinds())('authenticator apps on %s', (kind) => {
  let database: TestDatabase;
  let redis: RedisServer;
  let inboxes: Inboxes;
  let service: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    redis = await RedisServer.start();
    inboxes = await Inboxes.start();
    service = await startApp({
      ...inboxes.env(),
      ...LOOSE_LIMITS,
      LOGIN_MAX_FAILURES: String(LOGIN_MAX_FAILURES),
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      JWT_SECRET,
    });
  }, 120_000);
  afterAll(async () => {
    await service?.close();
    await inboxes?.close();
    await redis?.stop();
    await database?.drop();
  });

  let sequence = 0;
  const run = `${kind.toLowerCase()}${Date.now() % 100_000}`;
  const newEmail = () => `app${++sequence}.${run}@example.com`;
  const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(service.url, 'POST', `/v1/auth${path}`, body, headers);
  const me = (accessToken: string) => call(service.url, 'GET', '/v1/auth/me', undefined, bearer(accessToken));

  async function signedUp(email = newEmail()) {
    const password = `pw-${Math.random().toString(36).slice(2)}-long`;
    const registered = await post('/register', { email, password });
    expect(registered.status).toBe(201);
    const verified = await post('/otp/verify', { challengeId: registered.body.challengeId, code: await inboxes.nextCode(email) });
    expect(verified.status).toBe(200);
    return { email, password, userId: registered.body.userId as string, session: verified.body as unknown as Session };
  }

  /** Signed up with the app on: its secret, its recovery codes, and the last step a code was accepted for. */
  async function withApp() {
    const account = await signedUp();
    const enrolled = await post('/totp/enroll', { password: account.password }, bearer(account.session.accessToken));
    expect(enrolled.status).toBe(200);
    const secret = enrolled.body.secret as string;
    const step = totpStep();
    const confirmed = await post('/totp/confirm', { code: totpCode(secret, step) }, bearer(account.session.accessToken));
    expect(confirmed.status).toBe(200);
    return { ...account, secret, step, recoveryCodes: confirmed.body.recoveryCodes as string[] };
  }

  async function appChallenge(email: string, password: string): Promise<string> {
    const login = await post('/login', { identifier: email, password });
    expect(login).toMatchObject({ status: 200, body: { channel: 'totp' } });
    return login.body.challengeId as string;
  }

  it('enrols with the secret as text, otpauth:// URI and SVG QR code, and confirms with a code of the app', async () => {
    const { password, session } = await signedUp();
    const enrolled = await post('/totp/enroll', { password }, bearer(session.accessToken));
    expect(enrolled.status).toBe(200);
    const secret = enrolled.body.secret as string;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrolled.body.otpauthUri as string);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(Object.fromEntries(uri.searchParams)).toMatchObject({ secret, algorithm: 'SHA1', digits: '6', period: '30' });
    expect(enrolled.body.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);

    // Until it is confirmed, login still sends a code.
    const { email } = (await me(session.accessToken)).body as { email: string };
    const before = await post('/login', { identifier: email, password });
    expect(before.body.channel).toBe('email');
    await inboxes.nextCode(email);

    expect(await post('/totp/confirm', { code: totpCode(secret, totpStep() + 5) }, bearer(session.accessToken))).toMatchObject({
      status: 422,
      body: { code: 'OTP_INCORRECT' },
    });
    const confirmed = await post('/totp/confirm', { code: totpCode(secret, totpStep()) }, bearer(session.accessToken));
    expect(confirmed.status).toBe(200);
    const codes = confirmed.body.recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z0-9]{5}-[a-z0-9]{5}$/);
    expect(await post('/totp/enroll', { password }, bearer(session.accessToken))).toMatchObject({
      status: 409,
      body: { code: 'TOTP_ALREADY_ENABLED' },
    });
  });

  it('keeps the secret and the recovery codes only sealed or digested at rest', async () => {
    const { userId, secret, recoveryCodes } = await withApp();
    const [row] = await service.app.get<Database>(Database).select().from(users).where(eq(users.id, userId));
    expect(row!.totpSecret).toBeTruthy();
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(secret);
    expect(stored.toLowerCase()).not.toContain(secret.toLowerCase());
    for (const code of recoveryCodes) {
      expect(stored).not.toContain(code);
      expect(stored).not.toContain(code.replace('-', ''));
    }
    expect(row!.totpRecoveryCodes).toHaveLength(10);
  });

  it('signs in with the app: login sends nothing and answers channel totp, and the code signs in once', async () => {
    const { email, password, secret, step } = await withApp();
    const challengeId = await appChallenge(email, password);
    const status = await call(service.url, 'GET', `/v1/auth/otp/${challengeId}`);
    expect(status).toMatchObject({ status: 200, body: { challengeId, channel: 'totp' } });
    expect(await post('/otp/resend', { challengeId })).toMatchObject({ status: 404, body: { code: 'VERIFICATION_NOT_FOUND' } });

    // The step the enrolment was confirmed with is used up; the next one (within the ±1 window) is not.
    expect(await post('/otp/verify', { challengeId, code: totpCode(secret, step) })).toMatchObject({
      status: 422,
      body: { code: 'OTP_INCORRECT' },
    });
    const signedIn = await post('/otp/verify', { challengeId, code: totpCode(secret, step + 1) });
    expect(signedIn).toMatchObject({ status: 200, body: { tokenType: 'Bearer', user: { email } } });
    expect((await me(signedIn.body.accessToken as string)).status).toBe(200);

    // The same code again, on a fresh challenge: refused, as is any earlier one.
    const again = await appChallenge(email, password);
    expect(await post('/otp/verify', { challengeId: again, code: totpCode(secret, step + 1) })).toMatchObject({
      status: 422,
      body: { code: 'OTP_INCORRECT', attemptsRemaining: 4 },
    });
    expect(await post('/otp/verify', { challengeId: again, code: totpCode(secret, step - 1) })).toMatchObject({ status: 422 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(inboxes.messagesTo(email)).toHaveLength(1); // the sign-up code only
  });

  it('sends no passwordless login code to an account with the app on, answering as for an unknown account', async () => {
    const { email } = await withApp();
    const started = await post('/otp/start', { identifier: email, purpose: 'login' });
    const unknown = await post('/otp/start', { identifier: `nobody.${run}@example.com`, purpose: 'login' });
    expect(started.status).toBe(202);
    expect(Object.keys(started.body).sort()).toEqual(Object.keys(unknown.body).sort());
    expect((await post('/otp/resend', { challengeId: started.body.challengeId })).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(inboxes.messagesTo(email)).toHaveLength(1); // the sign-up code only
  });

  it('resets the password of an account with the app on by a code to its contact, but signs in only with the app', async () => {
    const { email, password, session, secret, step } = await withApp();
    const started = await post('/otp/start', { identifier: email, purpose: 'password_reset' });
    expect(started.status).toBe(202);
    const newPassword = `new-${password}`;
    const reset = await post('/otp/verify', { challengeId: started.body.challengeId, code: await inboxes.nextCode(email), newPassword });
    expect(reset).toMatchObject({ status: 200, body: { channel: 'totp', to: 'authenticator app' } });
    expect(reset.body).not.toHaveProperty('accessToken');
    expect(reset.body).not.toHaveProperty('refreshToken');
    const challengeId = reset.body.challengeId as string;

    // The password is changed and every earlier session is over.
    expect((await me(session.accessToken)).status).toBe(401);
    expect((await post('/token/refresh', { refreshToken: session.refreshToken })).status).toBe(401);
    expect(await post('/login', { identifier: email, password })).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS' } });
    expect(await post('/login', { identifier: email, password: newPassword })).toMatchObject({ status: 200, body: { channel: 'totp' } });

    // The challenge takes the app's code only, and then signs in.
    const wrong = String((Number(totpCode(secret, step + 1)) + 1) % 1_000_000).padStart(6, '0');
    expect(await post('/otp/verify', { challengeId, code: wrong })).toMatchObject({ status: 422, body: { code: 'OTP_INCORRECT' } });
    const signedIn = await post('/otp/verify', { challengeId, code: totpCode(secret, step + 1) });
    expect(signedIn).toMatchObject({ status: 200, body: { tokenType: 'Bearer', user: { email } } });
    expect((await me(signedIn.body.accessToken as string)).status).toBe(200);
  });

  it('takes each recovery code once, in place of the app', async () => {
    const { email, password, recoveryCodes } = await withApp();
    const [first, second] = recoveryCodes;
    const challengeId = await appChallenge(email, password);
    expect(await post('/otp/verify', { challengeId, recoveryCode: first!.toUpperCase() })).toMatchObject({
      status: 200,
      body: { user: { email } },
    });

    const next = await appChallenge(email, password);
    expect(await post('/otp/verify', { challengeId: next, recoveryCode: first })).toMatchObject({
      status: 422,
      body: { code: 'OTP_INCORRECT' },
    });
    expect(await post('/otp/verify', { challengeId: next, recoveryCode: second })).toMatchObject({ status: 200 });
  });

  it('refuses a recovery code on a challenge that sent a code, and a code of another account', async () => {
    const owner = await withApp();
    const other = await withApp();
    const challengeId = await appChallenge(other.email, other.password);
    expect(await post('/otp/verify', { challengeId, recoveryCode: owner.recoveryCodes[0] })).toMatchObject({ status: 422 });

    const plain = await signedUp();
    const login = await post('/login', { identifier: plain.email, password: plain.password });
    expect(login.body.channel).toBe('email');
    expect(await post('/otp/verify', { challengeId: login.body.challengeId, recoveryCode: owner.recoveryCodes[1] })).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION_FAILED' },
    });
    // The owner's codes were not used up by those attempts.
    const own = await appChallenge(owner.email, owner.password);
    expect(await post('/otp/verify', { challengeId: own, recoveryCode: owner.recoveryCodes[0] })).toMatchObject({ status: 200 });
  });

  it('locks a challenge after OTP_MAX_ATTEMPTS wrong codes, the right one too', async () => {
    const { email, password, secret, step } = await withApp();
    const challengeId = await appChallenge(email, password);
    const wrong = String((Number(totpCode(secret, step + 1)) + 1) % 1_000_000).padStart(6, '0');
    const remaining: unknown[] = [];
    for (let i = 0; i < 5; i++) remaining.push((await post('/otp/verify', { challengeId, code: wrong })).body.attemptsRemaining);
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    expect(await post('/otp/verify', { challengeId, code: totpCode(secret, step + 1) })).toMatchObject({
      status: 429,
      body: { code: 'OTP_ATTEMPTS_EXCEEDED' },
    });
  });

  it('counts wrong codes per account across challenges: a fresh login buys no more guesses than LOGIN_MAX_FAILURES', async () => {
    const { email, password, secret, step } = await withApp();
    const wrong = String((Number(totpCode(secret, step + 1)) + 1) % 1_000_000).padStart(6, '0');
    const first = await appChallenge(email, password);
    for (let i = 0; i < 5; i++) expect((await post('/otp/verify', { challengeId: first, code: wrong })).status).toBe(422);
    // A login after the lock starts a new challenge; the account's counter goes on.
    const second = await appChallenge(email, password);
    expect(second).not.toBe(first);
    for (let i = 5; i < LOGIN_MAX_FAILURES; i++) expect((await post('/otp/verify', { challengeId: second, code: wrong })).status).toBe(422);
    const refused = await post('/otp/verify', { challengeId: second, code: totpCode(secret, step + 1) });
    expect(refused).toMatchObject({ status: 429, body: { code: 'LOGIN_RATE_LIMITED' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Recovery codes are behind the same counter.
    const third = await appChallenge(email, password);
    expect(await post('/otp/verify', { challengeId: third, recoveryCode: 'aaaaa-bbbbb' })).toMatchObject({
      status: 429,
      body: { code: 'LOGIN_RATE_LIMITED' },
    });
  });

  it("needs the account's own Bearer token and password to enrol, confirm or turn the app off", async () => {
    const victim = await signedUp();
    const attacker = await signedUp();
    expect(await post('/totp/enroll', { password: victim.password })).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    expect(await post('/totp/enroll', { password: 'not-the-password' }, bearer(victim.session.accessToken))).toMatchObject({
      status: 401,
      body: { code: 'INVALID_CREDENTIALS' },
    });
    // Another account's token enrols that other account, never the victim's.
    const own = await post('/totp/enroll', { password: attacker.password }, bearer(attacker.session.accessToken));
    expect(own.status).toBe(200);
    expect(
      await post('/totp/confirm', { code: totpCode(own.body.secret as string, totpStep()) }, bearer(victim.session.accessToken)),
    ).toMatchObject({
      status: 409,
      body: { code: 'TOTP_NOT_ENROLLED' },
    });
    expect((await post('/login', { identifier: victim.email, password: victim.password })).body.channel).toBe('email');
    await inboxes.nextCode(victim.email);

    const enabled = await withApp();
    const off = (password: string, headers: Record<string, string>) => call(service.url, 'DELETE', '/v1/auth/totp', { password }, headers);
    expect(await off(enabled.password, {})).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    expect(await off('not-the-password', bearer(enabled.session.accessToken))).toMatchObject({
      status: 401,
      body: { code: 'INVALID_CREDENTIALS' },
    });
    expect((await appChallenge(enabled.email, enabled.password)).length).toBeGreaterThan(0);
    expect((await off(enabled.password, bearer(enabled.session.accessToken))).status).toBe(204);
    const login = await post('/login', { identifier: enabled.email, password: enabled.password });
    expect(login.body.channel).toBe('email');
    expect(await post('/otp/verify', { challengeId: login.body.challengeId, code: await inboxes.nextCode(enabled.email) })).toMatchObject({
      status: 200,
    });
  });
});
