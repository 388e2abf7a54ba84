import { call, startApp, type TestApp } from '../support/app.js';
import { Inboxes, JWT_SECRET } from '../support/auth-inboxes.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from '../support/databases.js';
import { RedisServer } from '../support/redis-server.js';
import { LOOSE_LIMITS } from '../support/environments.js';

/**
 * Attacks on accounts through the real app: squatting someone's email address with an unverified
 * claim, guessing passwords from many addresses, and flooding the password hasher. Codes are read
 * from what the SMTP server and the fake Twilio received.
 */
let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(() => redis?.stop());

/** Each database kind with the embedded stores, and PGlite with Redis (where the failure counter is shared by replicas). */
const setups = [
  ...testDatabaseKinds().map((kind) => ({ kind, store: 'memory' as const })),
  { kind: 'PGlite' as const, store: 'redis' as const },
];

const LIMITS = {
  ...LOOSE_LIMITS,
  // Every request below names its own client address in X-Forwarded-For, as a proxy in front would.
  TRUST_PROXY: '127.0.0.1',
};

describe.each(setups)('account abuse on $kind with the $store store', ({ kind, store }) => {
  let database: TestDatabase;
  let inboxes: Inboxes;
  let service: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    inboxes = await Inboxes.start();
    service = await startApp({
      ...inboxes.env(),
      ...LIMITS,
      DATABASE_URL: database.url,
      JWT_SECRET,
      ...(store === 'redis' ? { REDIS_URL: redis.url } : {}),
    });
  }, 120_000);
  afterAll(async () => {
    await service?.close();
    await inboxes?.close();
    await database?.drop();
  });

  let sequence = 0;
  const run = `${kind.toLowerCase()}${store}${Date.now() % 100_000}`;
  const newEmail = () => `person${++sequence}.${run}@example.com`;
  const newPhone = () => `+4479${kind === 'PGlite' ? (store === 'redis' ? '33' : '11') : '22'}${String(100_000 + ++sequence).slice(-6)}`;
  const newPassword = () => `pw-${Math.random().toString(36).slice(2)}-long`;
  const from = (ip: string) => ({ 'x-forwarded-for': ip });
  const post = (path: string, body: unknown, headers: Record<string, string> = from('203.0.113.1')) =>
    call(service.url, 'POST', `/v1/auth${path}`, body, headers);
  const me = (accessToken: string) => call(service.url, 'GET', '/v1/auth/me', undefined, { authorization: `Bearer ${accessToken}` });
  const auditLines = () =>
    service.logs.entries.filter((entry) => entry.context === 'Audit' && entry.record.event === 'auth.sign_in').map((entry) => entry.record);

  describe('an unverified claim of someone else’s email address', () => {
    it('blocks nobody: the victim signs up, owns the address, and the squatter can neither sign in with it nor receive its codes', async () => {
      const victimEmail = newEmail();
      const attackerPhone = newPhone();
      const attackerPassword = newPassword();

      // The attacker claims the victim's address beside their own phone, and confirms only the phone.
      const squat = await post('/register', { email: victimEmail, phone: attackerPhone, password: attackerPassword, otpChannel: 'sms' });
      expect(squat).toMatchObject({ status: 201, body: { channel: 'sms' } });
      const attacker = await post('/otp/verify', { challengeId: squat.body.challengeId, code: await inboxes.nextCode(attackerPhone) });
      expect(attacker).toMatchObject({ status: 200, body: { user: { email: victimEmail, emailVerified: false, phoneVerified: true } } });
      expect(inboxes.messagesTo(victimEmail)).toEqual([]);

      // The unverified address signs nobody in to an account that verified something else.
      expect(await post('/login', { identifier: victimEmail, password: attackerPassword })).toMatchObject({
        status: 401,
        body: { code: 'INVALID_CREDENTIALS' },
      });
      expect(await post('/otp/start', { identifier: victimEmail, purpose: 'login' })).toMatchObject({ status: 202 });

      // The victim signs up with their own address, and the code reaches them.
      const victimPassword = newPassword();
      const registered = await post('/register', { email: victimEmail, password: victimPassword });
      expect(registered).toMatchObject({ status: 201, body: { channel: 'email' } });
      const victim = await post('/otp/verify', { challengeId: registered.body.challengeId, code: await inboxes.nextCode(victimEmail) });
      expect(victim).toMatchObject({
        status: 200,
        body: { user: { id: registered.body.userId, email: victimEmail, emailVerified: true } },
      });

      // Verifying it took the address away from the squatter's account, which keeps its own phone.
      expect((await me(attacker.body.accessToken as string)).body).toMatchObject({
        email: null,
        emailVerified: false,
        phone: attackerPhone,
        phoneVerified: true,
      });
      expect(await post('/login', { identifier: victimEmail, password: attackerPassword })).toMatchObject({
        status: 401,
        body: { code: 'INVALID_CREDENTIALS' },
      });
      expect(await post('/register', { email: victimEmail, password: newPassword() })).toMatchObject({
        status: 409,
        body: { code: 'ACCOUNT_EXISTS' },
      });

      // The victim's password reset arrives at the victim's address and resets the victim's account.
      const reset = await post('/otp/start', { identifier: victimEmail, purpose: 'password_reset' });
      expect(reset.status).toBe(202);
      const message = await inboxes.next(victimEmail);
      expect(message).toMatchObject({ channel: 'email', subject: 'Your password reset code' });
      const code = /code is (\d{6})/.exec(message.text)![1]!;
      const newVictimPassword = newPassword();
      const resetDone = await post('/otp/verify', { challengeId: reset.body.challengeId, code, newPassword: newVictimPassword });
      expect(resetDone).toMatchObject({ status: 200, body: { user: { id: registered.body.userId } } });
      expect(await post('/login', { identifier: victimEmail, password: newVictimPassword })).toMatchObject({
        status: 200,
        body: { channel: 'email' },
      });

      // Nothing of the victim's ever went to the attacker's phone: only its own sign-up code.
      expect(inboxes.messagesTo(attackerPhone)).toHaveLength(1);
    });

    it('lets several unfinished sign-ups share an address; each code signs in to the account it was sent for, and the others lose it', async () => {
      const email = newEmail();
      const firstPassword = newPassword();
      const secondPassword = newPassword();
      const first = await post('/register', { email, password: firstPassword });
      expect(first.status).toBe(201);
      await inboxes.nextCode(email);
      const second = await post('/register', { email, password: secondPassword });
      expect(second.status).toBe(201);
      expect(second.body.userId).not.toBe(first.body.userId);

      const verified = await post('/otp/verify', { challengeId: second.body.challengeId, code: await inboxes.nextCode(email) });
      expect(verified).toMatchObject({ status: 200, body: { user: { id: second.body.userId, emailVerified: true } } });
      // The first account had nothing else: it is gone, and its password opens nothing.
      expect(await post('/login', { identifier: email, password: firstPassword })).toMatchObject({
        status: 401,
        body: { code: 'INVALID_CREDENTIALS' },
      });
      expect((await post('/login', { identifier: email, password: secondPassword })).status).toBe(200);
    });
  });

  describe('a second sign-up with someone else’s email address', () => {
    /** The squatter's account after the victim's code: gone, so neither its password nor its own code signs anyone in. */
    async function expectVictimOwnsTheAddress(
      email: string,
      victim: { userId: string; password: string },
      attacker: { password: string; challengeId: string; code: string },
    ) {
      expect(await post('/login', { identifier: email, password: victim.password })).toMatchObject({
        status: 200,
        body: { channel: 'email' },
      });
      await inboxes.nextCode(email);
      expect(await post('/login', { identifier: email, password: attacker.password })).toMatchObject({
        status: 401,
        body: { code: 'INVALID_CREDENTIALS' },
      });
      // The attacker's sign-up is over: its challenge reads as gone, and sends nothing more to the victim.
      const sent = inboxes.messagesTo(email).length;
      expect(await call(service.url, 'GET', `/v1/auth/otp/${attacker.challengeId}`, undefined, {})).toMatchObject({
        status: 404,
        body: { code: 'VERIFICATION_NOT_FOUND' },
      });
      expect(await post('/otp/resend', { challengeId: attacker.challengeId }, from('198.51.100.66'))).toMatchObject({
        status: 404,
        body: { code: 'VERIFICATION_NOT_FOUND' },
      });
      // Even with the code sent for it, the attacker's sign-up cannot take the address back.
      expect(await post('/otp/verify', { challengeId: attacker.challengeId, code: attacker.code })).toMatchObject({
        status: 404,
        body: { code: 'VERIFICATION_NOT_FOUND' },
      });
      expect(
        auditLines()
          .filter((line) => line.result === 'success' && line.method === 'code')
          .at(-1),
      ).toMatchObject({ userId: victim.userId });
      expect(inboxes.messagesTo(email)).toHaveLength(sent);
    }

    it('victim first: the code from the victim’s inbox signs the victim in to the victim’s own account, not the one registered after it', async () => {
      const email = newEmail();
      const victimPassword = newPassword();
      const attackerPassword = newPassword();
      const victimSignUp = await post('/register', { email, password: victimPassword });
      expect(victimSignUp.status).toBe(201);
      const victimCode = await inboxes.nextCode(email);

      const attackerSignUp = await post('/register', { email, password: attackerPassword }, from('198.51.100.66'));
      expect(attackerSignUp.status).toBe(201);
      // A challenge of its own: the victim's is neither re-sent nor shared.
      expect(attackerSignUp.body.challengeId).not.toBe(victimSignUp.body.challengeId);
      const attackerCode = await inboxes.nextCode(email);

      const verified = await post('/otp/verify', { challengeId: victimSignUp.body.challengeId, code: victimCode });
      expect(verified).toMatchObject({ status: 200, body: { user: { id: victimSignUp.body.userId, email, emailVerified: true } } });
      expect(await me(verified.body.accessToken as string)).toMatchObject({ status: 200, body: { id: victimSignUp.body.userId, email } });
      await expectVictimOwnsTheAddress(
        email,
        { userId: victimSignUp.body.userId as string, password: victimPassword },
        { password: attackerPassword, challengeId: attackerSignUp.body.challengeId as string, code: attackerCode },
      );
    });

    it('attacker first: the code from the victim’s inbox signs the victim in to the victim’s own account, not the one registered before it', async () => {
      const email = newEmail();
      const victimPassword = newPassword();
      const attackerPassword = newPassword();
      const attackerSignUp = await post('/register', { email, password: attackerPassword }, from('198.51.100.66'));
      expect(attackerSignUp.status).toBe(201);
      const attackerCode = await inboxes.nextCode(email);

      const victimSignUp = await post('/register', { email, password: victimPassword });
      expect(victimSignUp.status).toBe(201);
      expect(victimSignUp.body.challengeId).not.toBe(attackerSignUp.body.challengeId);
      const victimCode = await inboxes.nextCode(email);
      // The attacker re-sends their own challenge: a new code for it, nothing changes for the victim's.
      expect((await post('/otp/resend', { challengeId: attackerSignUp.body.challengeId }, from('198.51.100.66'))).status).toBe(202);
      const attackerResent = await inboxes.nextCode(email);
      // A code sent for the other account's sign-up does not complete the victim's.
      expect(await post('/otp/verify', { challengeId: victimSignUp.body.challengeId, code: attackerResent })).toMatchObject({
        status: 422,
        body: { code: 'OTP_INCORRECT' },
      });

      const verified = await post('/otp/verify', { challengeId: victimSignUp.body.challengeId, code: victimCode });
      expect(verified).toMatchObject({ status: 200, body: { user: { id: victimSignUp.body.userId, email, emailVerified: true } } });
      expect(await me(verified.body.accessToken as string)).toMatchObject({ status: 200, body: { id: victimSignUp.body.userId, email } });
      expect(attackerCode).toMatch(/^\d{6}$/);
      await expectVictimOwnsTheAddress(
        email,
        { userId: victimSignUp.body.userId as string, password: victimPassword },
        { password: attackerPassword, challengeId: attackerSignUp.body.challengeId as string, code: attackerResent },
      );
    });

    it('a login code goes to the account whose password was given, though another sign-up claims the address before it is typed', async () => {
      const email = newEmail();
      const victimPassword = newPassword();
      const victimSignUp = await post('/register', { email, password: victimPassword });
      await inboxes.nextCode(email);
      const login = await post('/login', { identifier: email, password: victimPassword });
      expect(login).toMatchObject({ status: 200, body: { channel: 'email' } });
      const loginCode = await inboxes.nextCode(email);

      const attackerPassword = newPassword();
      const attackerSignUp = await post('/register', { email, password: attackerPassword }, from('198.51.100.66'));
      expect(attackerSignUp.status).toBe(201);
      const attackerCode = await inboxes.nextCode(email);

      const verified = await post('/otp/verify', { challengeId: login.body.challengeId, code: loginCode });
      expect(verified).toMatchObject({ status: 200, body: { user: { id: victimSignUp.body.userId, email, emailVerified: true } } });
      expect(await me(verified.body.accessToken as string)).toMatchObject({ status: 200, body: { id: victimSignUp.body.userId } });
      await expectVictimOwnsTheAddress(
        email,
        { userId: victimSignUp.body.userId as string, password: victimPassword },
        { password: attackerPassword, challengeId: attackerSignUp.body.challengeId as string, code: attackerCode },
      );
    });
  });

  describe('wrong passwords', () => {
    /** `LOGIN_MAX_FAILURES` (10) wrong passwords, each from another address and typed another way. */
    async function spendFailures(identifier: string) {
      for (let i = 0; i < 10; i++) {
        const typed = i % 2 === 0 ? identifier : ` ${identifier.toUpperCase()}`;
        expect(await post('/login', { identifier: typed, password: `guess-${i}-password` }, from(`198.51.100.${i + 1}`))).toMatchObject({
          status: 401,
          body: { code: 'INVALID_CREDENTIALS' },
        });
      }
    }

    it('after 10 for one identifier from 10 addresses, the 11th gets 429 LOGIN_RATE_LIMITED, the right password too; a code still signs the owner in', async () => {
      const email = newEmail();
      const password = newPassword();
      const registered = await post('/register', { email, password });
      await post('/otp/verify', { challengeId: registered.body.challengeId, code: await inboxes.nextCode(email) });

      await spendFailures(email);
      const limited = await post('/login', { identifier: email, password: 'guess-11-password' }, from('198.51.100.11'));
      expect(limited).toMatchObject({ status: 429, body: { statusCode: 429, code: 'LOGIN_RATE_LIMITED', retryAfter: expect.any(Number) } });
      expect(limited.body.retryAfter).toBeGreaterThan(14 * 60);
      expect(limited.body.retryAfter).toBeLessThanOrEqual(15 * 60);
      expect(Number(limited.headers.get('retry-after'))).toBe(limited.body.retryAfter);
      expect(auditLines().at(-1)).toMatchObject({
        result: 'failure',
        method: 'password',
        reason: 'LOGIN_RATE_LIMITED',
        ip: '198.51.100.11',
      });
      // Otherwise the limit would only hide which guess was right.
      expect(await post('/login', { identifier: email, password }, from('192.0.2.50'))).toMatchObject({
        status: 429,
        body: { code: 'LOGIN_RATE_LIMITED' },
      });
      expect(inboxes.messagesTo(email)).toHaveLength(1);

      // The owner is not locked out of the account: passwordless login still works.
      const started = await post('/otp/start', { identifier: email, purpose: 'login' }, from('192.0.2.50'));
      expect(started.status).toBe(202);
      const signedIn = await post(
        '/otp/verify',
        { challengeId: started.body.challengeId, code: await inboxes.nextCode(email) },
        from('192.0.2.50'),
      );
      expect(signedIn).toMatchObject({ status: 200, body: { user: { id: registered.body.userId } } });
    });

    it('answers an identifier without an account the same way', async () => {
      const stranger = newEmail();
      await spendFailures(stranger);
      const limited = await post('/login', { identifier: stranger, password: 'guess-11-password' }, from('198.51.100.11'));
      expect(limited).toMatchObject({ status: 429, body: { code: 'LOGIN_RATE_LIMITED' } });
      expect(Object.keys(limited.body).sort()).toEqual(['code', 'message', 'retryAfter', 'statusCode']);
      expect(limited.headers.get('retry-after')).toBe(String(limited.body.retryAfter));
    });

    it('counts per identifier: another account is not affected', async () => {
      const email = newEmail();
      await spendFailures(newEmail());
      expect(await post('/login', { identifier: email, password: 'guess-password' }, from('198.51.100.1'))).toMatchObject({ status: 401 });
    });
  });

  describe('the audit trail', () => {
    it('has one line per sign-in success or failure, with the user id where known and the client IP, and never the password', async () => {
      const email = newEmail();
      const password = newPassword();
      const registered = await post('/register', { email, password }, from('192.0.2.10'));
      const userId = registered.body.userId as string;
      const before = auditLines().length;
      const signUp = await post(
        '/otp/verify',
        { challengeId: registered.body.challengeId, code: await inboxes.nextCode(email) },
        from('192.0.2.11'),
      );
      expect(signUp.status).toBe(200);
      expect(await post('/login', { identifier: email, password: 'wrong-password-1' }, from('192.0.2.12'))).toMatchObject({ status: 401 });
      const login = await post('/login', { identifier: email, password }, from('192.0.2.13'));
      const code = await inboxes.nextCode(email);
      const wrong = code === '000000' ? '111111' : '000000';
      expect(await post('/otp/verify', { challengeId: login.body.challengeId, code: wrong }, from('192.0.2.14'))).toMatchObject({
        status: 422,
      });
      expect(await post('/otp/verify', { challengeId: login.body.challengeId, code }, from('192.0.2.15'))).toMatchObject({ status: 200 });

      expect(auditLines().slice(before)).toEqual([
        expect.objectContaining({ result: 'success', method: 'code', flow: 'signup', userId, ip: '192.0.2.11' }),
        expect.objectContaining({ result: 'failure', method: 'password', reason: 'INVALID_CREDENTIALS', userId, ip: '192.0.2.12' }),
        expect.objectContaining({ result: 'success', method: 'password', userId, ip: '192.0.2.13' }),
        expect.objectContaining({ result: 'failure', method: 'code', flow: 'login', reason: 'OTP_INCORRECT', ip: '192.0.2.14' }),
        expect.objectContaining({ result: 'success', method: 'code', flow: 'login', userId, ip: '192.0.2.15' }),
      ]);
      const log = service.logs.text();
      expect(log).not.toContain(password);
      expect(log).not.toContain('wrong-password-1');
    });

    it('records a failure for an unknown identifier without a user id or the identifier', async () => {
      const stranger = newEmail();
      const before = auditLines().length;
      expect((await post('/login', { identifier: stranger, password: 'wrong-password-2' }, from('192.0.2.20'))).status).toBe(401);
      const lines = auditLines().slice(before);
      expect(lines).toEqual([
        expect.objectContaining({ result: 'failure', method: 'password', reason: 'INVALID_CREDENTIALS', ip: '192.0.2.20' }),
      ]);
      expect(lines[0]).not.toHaveProperty('userId');
      expect(JSON.stringify(lines)).not.toContain(stranger);
    });

    it('puts the client IP, as TRUST_PROXY resolves it, on the HTTP line of every request', async () => {
      const answered = await post('/login', { identifier: newEmail(), password: 'wrong-password-3' }, from('192.0.2.30'));
      const requestId = answered.headers.get('x-request-id');
      const health = await fetch(`${service.url}/health`, { headers: from('192.0.2.31') });
      const line = (id: string | null) =>
        service.logs.entries.find((entry) => entry.context === 'HTTP' && entry.record.requestId === id)?.record;
      expect(line(requestId)).toMatchObject({ ip: '192.0.2.30', res: { statusCode: 401 } });
      expect(line(health.headers.get('x-request-id'))).toMatchObject({ ip: '192.0.2.31', res: { statusCode: 200 } });
    });
  });
});

describe('a flood of logins', () => {
  let service: TestApp;
  beforeAll(async () => {
    service = await startApp({ ...LIMITS, PASSWORD_HASH_CONCURRENCY: '1', LOGIN_MAX_FAILURES: '10000' });
  }, 120_000);
  afterAll(() => service?.close());

  it('computes one hash at a time and answers 503 SERVICE_BUSY with Retry-After to the requests that cannot get one within 2 s', async () => {
    // A thousand: a fast core verifies some 90 % of 300 hashes within the 2 s wait, which left a flood of
    // 300 answering no 503 at all in about one run of three.
    const answers = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        call(
          service.url,
          'POST',
          '/v1/auth/login',
          { identifier: `flood${i}@example.com`, password: 'wrong-password' },
          { 'x-forwarded-for': `198.18.${i >> 8}.${i & 255}` },
        ),
      ),
    );
    const busy = answers.filter((answer) => answer.status === 503);
    const refused = answers.filter((answer) => answer.status === 401);
    expect(busy.length + refused.length).toBe(answers.length);
    expect(refused.length).toBeGreaterThan(0);
    expect(busy.length).toBeGreaterThan(0);
    for (const answer of busy) {
      expect(answer.body).toMatchObject({ statusCode: 503, code: 'SERVICE_BUSY', retryAfter: expect.any(Number) });
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // Once the flood has passed, logins are answered again.
    expect(
      (await call(service.url, 'POST', '/v1/auth/login', { identifier: 'after@example.com', password: 'wrong-password' })).status,
    ).toBe(401);
  });
});

/** Last in the file: a second app in this process takes over Nest's static logger, so earlier log assertions stay apart from it. */
describe('wrong passwords counted in Redis', () => {
  const replicas: TestApp[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) replicas.push(await startApp({ ...LIMITS, JWT_SECRET, REDIS_URL: redis.url }));
  }, 120_000);
  afterAll(() => Promise.all(replicas.map((replica) => replica.close())));

  it('are shared by replicas: 10 on one, and the 11th on the other is refused', async () => {
    const identifier = `replicas.${Date.now()}@example.com`;
    for (let i = 0; i < 10; i++) {
      const answer = await call(
        replicas[i % 2]!.url,
        'POST',
        '/v1/auth/login',
        { identifier, password: `guess-${i}-password` },
        { 'x-forwarded-for': `198.51.100.${i + 1}` },
      );
      expect(answer.status).toBe(401);
    }
    const refused = await call(
      replicas[1]!.url,
      'POST',
      '/v1/auth/login',
      { identifier, password: 'guess-11-password' },
      { 'x-forwarded-for': '198.51.100.99' },
    );
    expect(refused).toMatchObject({ status: 429, body: { code: 'LOGIN_RATE_LIMITED' } });
  });
});
