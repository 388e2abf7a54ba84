import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { ADMIN, call, startApp, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { RedisServer } from './support/redis-server.js';
import { standaloneCode } from './support/codes.js';

/**
 * The verifications API end to end, over HTTP, once on the embedded in-memory store and once on a
 * real Redis: both must behave the same.
 */
const PHONE = '+447400123456';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(() => redis.stop());

describe.each(['memory', 'redis'] as const)('verifications on the %s store', (store) => {
  const started: TestApp[] = [];
  async function service(env: Record<string, string> = {}): Promise<TestApp> {
    const app = await startApp({
      RATE_LIMIT_IP_PER_MINUTE: '100000',
      OTP_RESEND_COOLDOWN_SECONDS: '0',
      OTP_MAX_SENDS_PER_HOUR: '1000',
      OTP_MAX_SENDS_PER_DAY: '1000',
      ...(store === 'redis' ? { REDIS_URL: redis.url } : {}),
      ...env,
    });
    started.push(app);
    return app;
  }
  afterEach(async () => {
    jest.useRealTimers();
    await Promise.all(started.splice(0).map((app) => app.close()));
  });

  let counter = 0;
  /** A destination no other test uses, so limits and pending verifications never interfere. */
  const email = () => `user${++counter}.${store}.${Date.now()}@example.com`;

  async function begin(app: TestApp, body: Record<string, unknown>) {
    const since = app.logs.entries.length;
    const response = await call(app.url, 'POST', '/v1/verifications', body);
    expect(response.status).toBe(201);
    const code = await app.logs.nextCodeFor(String(body.to).trim().toLowerCase(), since);
    expect(code).toMatch(/^\d{6}$/);
    return { id: response.body.id as string, code, body: response.body };
  }

  it('issues a code, never shows it, and approves it once', async () => {
    const app = await service();
    const to = email();
    const { id, code, body } = await begin(app, { channel: 'email', to: `  ${to.toUpperCase()} ` });
    expect(body).toMatchObject({
      id,
      status: 'pending',
      channel: 'email',
      to: `u***@example.com`,
      purpose: 'verify',
      attemptsRemaining: 5,
      sendsRemaining: 4,
      delivery: { status: expect.any(String) },
    });
    expect(Date.parse(body.expiresAt as string) - Date.now()).toBeGreaterThan(590_000);
    expect(typeof body.resendAvailableAt).toBe('string');
    expect(JSON.stringify(body)).not.toMatch(standaloneCode(code));

    expect(await call(app.url, 'POST', '/v1/verifications/check', { id, code })).toMatchObject({
      status: 200,
      body: { id, status: 'approved' },
    });
    let read = await call(app.url, 'GET', `/v1/verifications/${id}`);
    await eventually(async () => {
      read = await call(app.url, 'GET', `/v1/verifications/${id}`);
      expect(read.body).toMatchObject({ id, status: 'approved', delivery: { status: 'sent', provider: 'console', attempts: 1 } });
    });
    expect(JSON.stringify(read.body)).not.toMatch(standaloneCode(code));

    const replay = await call(app.url, 'POST', '/v1/verifications/check', { id, code });
    expect(replay).toMatchObject({ status: 404, body: { code: 'VERIFICATION_NOT_FOUND' } });

    // The audit trail has every step, with the destination masked and never the code.
    const audit = app.logs.entries.filter((entry) => entry.context === 'Audit');
    expect(audit.map((entry) => entry.record.event)).toEqual(['verification.started', 'verification.approved', 'verification.checked']);
    expect(audit.map((entry) => entry.line).join('\n')).not.toContain(to);
    const everythingButTheConsoleProvider = app.logs.entries
      .filter((entry) => entry.context !== 'ConsoleProvider')
      .map((entry) => entry.line);
    expect(everythingButTheConsoleProvider.join('\n')).not.toMatch(standaloneCode(code));
  });

  it('checks by destination and purpose as well as by id', async () => {
    const app = await service();
    const { id, code } = await begin(app, { channel: 'sms', to: PHONE.replace('123', String(100 + (counter++ % 800))), purpose: 'login' });
    const to = (await call(app.url, 'GET', `/v1/verifications/${id}`)).body.to as string;
    expect(to).toMatch(/^\+44\*+\d{4}$/);
    const record = await call(app.url, 'GET', `/v1/verifications/${id}`);
    expect(record.status).toBe(200);
    const phone = app.logs.entries
      .filter((e) => e.context === 'ConsoleProvider')
      .at(-1)!
      .message.match(/ for (\+\d+) \(/)![1]!;
    expect(await call(app.url, 'POST', '/v1/verifications/check', { to: phone, code })).toMatchObject({ status: 404 });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { to: phone, purpose: 'login', code })).toMatchObject({
      status: 200,
      body: { id, status: 'approved' },
    });
  });

  it('counts wrong codes down and then locks, refusing even the right code', async () => {
    const app = await service({ OTP_MAX_ATTEMPTS: '3' });
    const { id, code } = await begin(app, { channel: 'email', to: email() });
    const wrong = code === '000000' ? '111111' : '000000';
    const first = await call(app.url, 'POST', '/v1/verifications/check', { id, code: wrong });
    expect(first).toMatchObject({ status: 422, body: { statusCode: 422, code: 'OTP_INCORRECT', attemptsRemaining: 2 } });
    expect((await call(app.url, 'POST', '/v1/verifications/check', { id, code: wrong })).body.attemptsRemaining).toBe(1);
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id, code: wrong })).toMatchObject({
      status: 422,
      body: { attemptsRemaining: 0 },
    });
    const locked = await call(app.url, 'POST', '/v1/verifications/check', { id, code });
    expect(locked).toMatchObject({ status: 429, body: { code: 'OTP_ATTEMPTS_EXCEEDED' } });
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(app.url, 'GET', `/v1/verifications/${id}`)).body).toMatchObject({ status: 'max_attempts', attemptsRemaining: 0 });
  });

  it('refuses a code after it expires', async () => {
    const app = await service({ OTP_TTL_SECONDS: '60' });
    const { id, code } = await begin(app, { channel: 'email', to: email() });
    jest.useFakeTimers({
      doNotFake: [
        'setTimeout',
        'setInterval',
        'setImmediate',
        'clearTimeout',
        'clearInterval',
        'nextTick',
        'queueMicrotask',
        'hrtime',
        'performance',
      ],
    });
    jest.setSystemTime(Date.now() + 61_000);
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id, code })).toMatchObject({
      status: 404,
      body: { code: 'VERIFICATION_NOT_FOUND' },
    });
    expect((await call(app.url, 'GET', `/v1/verifications/${id}`)).body.status).toBe('expired');
  });

  it('binds a code to its own verification and purpose', async () => {
    const app = await service();
    const to = email();
    const a = await begin(app, { channel: 'email', to, purpose: 'signup' });
    const b = await begin(app, { channel: 'email', to, purpose: 'password_reset' });
    expect(a.id).not.toBe(b.id);
    if (a.code !== b.code) {
      expect(await call(app.url, 'POST', '/v1/verifications/check', { id: b.id, code: a.code })).toMatchObject({ status: 422 });
    }
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: a.id, code: a.code, purpose: 'password_reset' })).toMatchObject({
      status: 404,
    });
    expect(
      await call(app.url, 'POST', '/v1/verifications/check', {
        to,
        purpose: 'password_reset',
        code: a.code === b.code ? '999999' : a.code,
      }),
    ).toMatchObject({ status: 422 });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: a.id, code: a.code })).toMatchObject({ status: 200 });
  });

  it('cancels a pending verification', async () => {
    const app = await service();
    const { id, code } = await begin(app, { channel: 'email', to: email() });
    expect(await call(app.url, 'POST', `/v1/verifications/${id}/cancel`)).toMatchObject({ status: 200, body: { id, status: 'canceled' } });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id, code })).toMatchObject({ status: 404 });
    expect(await call(app.url, 'POST', `/v1/verifications/${id}/cancel`)).toMatchObject({ status: 404 });
    expect((await call(app.url, 'GET', `/v1/verifications/${id}`)).body.status).toBe('canceled');
  });

  it('approves exactly one of 50 concurrent checks with the right code', async () => {
    const app = await service();
    const { id, code } = await begin(app, { channel: 'email', to: email() });
    const results = await Promise.all(Array.from({ length: 50 }, () => call(app.url, 'POST', '/v1/verifications/check', { id, code })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 404)).toHaveLength(49);
  });

  it('consumes exactly one attempt per concurrent wrong code, never below zero', async () => {
    const app = await service({ OTP_MAX_ATTEMPTS: '25' });
    const { id, code } = await begin(app, { channel: 'email', to: email() });
    const wrong = code === '123456' ? '654321' : '123456';
    const results = await Promise.all(
      Array.from({ length: 20 }, () => call(app.url, 'POST', '/v1/verifications/check', { id, code: wrong })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(422));
    expect(results.map((r) => r.body.attemptsRemaining).sort((x, y) => Number(x) - Number(y))).toEqual(
      Array.from({ length: 20 }, (_, i) => 5 + i),
    );
    expect((await call(app.url, 'GET', `/v1/verifications/${id}`)).body.attemptsRemaining).toBe(5);

    // Its own Redis database: two apps on one queue would deliver each other's codes (as replicas should).
    const small = await service({ OTP_MAX_ATTEMPTS: '5', ...(store === 'redis' ? { REDIS_URL: `${redis.url}/1` } : {}) });
    const other = await begin(small, { channel: 'email', to: email() });
    const wrong2 = other.code === '123456' ? '654321' : '123456';
    const burst = await Promise.all(
      Array.from({ length: 20 }, () => call(small.url, 'POST', '/v1/verifications/check', { id: other.id, code: wrong2 })),
    );
    expect(burst.filter((r) => r.status === 422)).toHaveLength(5);
    expect(burst.filter((r) => r.status === 429)).toHaveLength(15);
    expect((await call(small.url, 'GET', `/v1/verifications/${other.id}`)).body).toMatchObject({
      attemptsRemaining: 0,
      status: 'max_attempts',
    });
  });

  it('resends: same id, fresh code, the old one refused, failed attempts kept, sends capped', async () => {
    const app = await service({ OTP_MAX_SENDS: '3' });
    const to = email();
    const first = await begin(app, { channel: 'email', to });
    const wrong = first.code === '000000' ? '111111' : '000000';
    expect((await call(app.url, 'POST', '/v1/verifications/check', { id: first.id, code: wrong })).status).toBe(422);

    const second = await begin(app, { channel: 'email', to });
    expect(second.id).toBe(first.id);
    expect(second.body).toMatchObject({ attemptsRemaining: 4, sendsRemaining: 1 });
    if (first.code !== second.code) {
      expect(await call(app.url, 'POST', '/v1/verifications/check', { id: first.id, code: first.code })).toMatchObject({
        status: 422,
        body: { attemptsRemaining: 3 },
      });
    }
    await begin(app, { channel: 'email', to });
    const capped = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to });
    expect(capped).toMatchObject({ status: 429, body: { code: 'OTP_MAX_SENDS' } });
    expect(capped.headers.get('retry-after')).toMatch(/^\d+$/);

    await eventually(async () =>
      expect((await call(app.url, 'GET', `/v1/verifications/${first.id}`)).body).toMatchObject({ delivery: { status: 'sent' } }),
    );
    const latest = app.logs.lastCodeFor(to)!;
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: first.id, code: latest })).toMatchObject({ status: 200 });
  });

  it('gives concurrent starts to one destination and purpose one pending verification', async () => {
    const app = await service({ OTP_MAX_SENDS: '20' });
    const to = email();
    const starts = await Promise.all(Array.from({ length: 8 }, () => call(app.url, 'POST', '/v1/verifications', { channel: 'email', to })));
    expect(starts.map((response) => response.status)).toEqual(starts.map(() => 201));
    expect(new Set(starts.map((response) => response.body.id)).size).toBe(1);
    // One verification, sent once per start: the first send and a resend for each of the others.
    expect(starts.map((response) => response.body.sendsRemaining).sort((x, y) => Number(y) - Number(x))).toEqual(
      Array.from({ length: 8 }, (_, i) => 19 - i),
    );
  });

  it('enforces the resend cooldown per destination', async () => {
    const app = await service({ OTP_RESEND_COOLDOWN_SECONDS: '30' });
    const to = email();
    await begin(app, { channel: 'email', to });
    const tooSoon = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to });
    expect(tooSoon).toMatchObject({ status: 429, body: { code: 'OTP_RESEND_TOO_SOON', retryAfter: 30 } });
    expect(tooSoon.headers.get('retry-after')).toBe('30');
    expect(tooSoon.body.message).toBe('A code was sent moments ago. Try again in 30 seconds.');
  });

  it('refuses the 6th send in an hour to one destination, with Retry-After', async () => {
    const app = await service({ OTP_MAX_SENDS_PER_HOUR: '5', OTP_MAX_SENDS: '20' });
    const to = email();
    for (let i = 0; i < 5; i++) await begin(app, { channel: 'email', to, purpose: `p${i % 2}` });
    const sixth = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'other' });
    expect(sixth).toMatchObject({ status: 429, body: { code: 'OTP_RATE_LIMITED' } });
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(3500);
    expect(sixth.body.retryAfter).toBe(Number(sixth.headers.get('retry-after')));
    expect(sixth.body.message).toBe('Too many codes requested. Try again in 60 minutes.');

    expect((await call(app.url, 'DELETE', `/v1/admin/rate-limits/${encodeURIComponent(to.toUpperCase())}`, undefined, ADMIN)).status).toBe(
      204,
    );
    await begin(app, { channel: 'email', to, purpose: 'other' });
  });

  it('sends nothing to test destinations, under the same send limits, and allows their fixed code OTP_MAX_ATTEMPTS wrong guesses a day', async () => {
    const app = await service({
      OTP_TEST_DESTINATIONS: 'review@example.com:424242',
      OTP_MAX_SENDS_PER_HOUR: '2',
      OTP_MAX_SENDS: '2',
      OTP_MAX_ATTEMPTS: '2',
    });
    const first = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: 'Review@Example.com' });
    const second = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: 'review@example.com', purpose: 'other' });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(
      await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: 'review@example.com', purpose: 'third' }),
    ).toMatchObject({
      status: 429,
      body: { code: 'OTP_RATE_LIMITED' },
    });
    expect(app.logs.lastCodeFor('review@example.com')).toBeUndefined();
    expect((await call(app.url, 'GET', `/v1/verifications/${first.body.id as string}`)).body).toMatchObject({
      delivery: { status: 'sent', provider: 'test-destination' },
    });

    // One wrong guess on each verification spends the destination's allowance for the day.
    expect((await call(app.url, 'POST', '/v1/verifications/check', { id: first.body.id, code: '000001' })).status).toBe(422);
    expect((await call(app.url, 'POST', '/v1/verifications/check', { id: second.body.id, code: '000002' })).status).toBe(422);
    const refused = await call(app.url, 'POST', '/v1/verifications/check', { id: second.body.id, code: '424242' });
    expect(refused).toMatchObject({ status: 429, body: { code: 'OTP_ATTEMPTS_EXCEEDED' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(86_000);

    // Clearing the destination's limits (a support action) clears its guess count too.
    expect((await call(app.url, 'DELETE', '/v1/admin/rate-limits/review%40example.com', undefined, ADMIN)).status).toBe(204);
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: second.body.id, code: '424242' })).toMatchObject({ status: 200 });
  });

  it('validates destinations and refuses countries outside SMS_ALLOWED_COUNTRIES', async () => {
    const app = await service({ SMS_ALLOWED_COUNTRIES: 'GB' });
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'sms', to: '07911123456' })).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION_FAILED', errors: { to: ['to must be a valid phone number in E.164 format, such as +447911123456'] } },
    });
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'sms', to: '+14155550123' })).toMatchObject({
      status: 400,
      body: { code: 'DESTINATION_NOT_ALLOWED' },
    });
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: 'not-an-email' })).toMatchObject({
      status: 400,
      body: { errors: { to: ['to must be an email address'] } },
    });
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'whatsapp', to: PHONE })).toMatchObject({
      status: 400,
      body: { errors: { channel: ['channel must be one of: email, sms'] } },
    });
  });

  it('answers 503 CHANNEL_UNAVAILABLE and stores nothing when no provider can deliver', async () => {
    const app = await service({ EMAIL_PROVIDERS: 'smtp' });
    const to = email();
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to })).toMatchObject({
      status: 503,
      body: { code: 'CHANNEL_UNAVAILABLE' },
    });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { to, code: '123456' })).toMatchObject({ status: 404 });
  });

  it('requires a valid API key', async () => {
    const app = await service();
    expect(
      await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: email() }, { 'x-api-key': 'wrong-key-0000000000' }),
    ).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHORIZED' },
    });
    expect((await fetch(`${app.url}/v1/verifications/00000000-0000-4000-8000-000000000000`)).status).toBe(401);
    expect((await call(app.url, 'DELETE', '/v1/admin/rate-limits/x', undefined, { 'x-api-key': '' })).status).toBe(401);
  });
});

describe('per-IP limits', () => {
  const apps: TestApp[] = [];
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(() => redis.stop());
  afterEach(async () => Promise.all(apps.splice(0).map((app) => app.close())));

  // A public route: on /v1/verifications the per-IP limit applies to the clientIp a backend passes (test/api-keys.e2e-spec.ts).
  it('cannot be dodged with X-Forwarded-For unless TRUST_PROXY trusts that hop, and holds across replicas', async () => {
    const env = { REDIS_URL: redis.url, RATE_LIMIT_IP_PER_MINUTE: '3', OTP_RESEND_COOLDOWN_SECONDS: '0' };
    const [a, b] = [await startApp(env), await startApp(env)];
    apps.push(a, b);
    const statuses: number[] = [];
    const challenge = `/v1/auth/otp/${randomUUID()}`;
    for (let i = 0; i < 4; i++) {
      const target = i % 2 === 0 ? a : b;
      const response = await call(target.url, 'GET', challenge, undefined, { 'x-forwarded-for': `203.0.113.${i + 1}` });
      statuses.push(response.status);
      if (response.status === 429) {
        expect(response.body).toMatchObject({ code: 'RATE_LIMITED' });
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    }
    expect(statuses).toEqual([404, 404, 404, 429]);

    const trusting = await startApp({ ...env, TRUST_PROXY: '127.0.0.1' });
    apps.push(trusting);
    for (let i = 0; i < 6; i++) {
      const response = await call(trusting.url, 'GET', challenge, undefined, { 'x-forwarded-for': `198.51.100.${i + 1}` });
      expect(response.status).toBe(404);
    }
  });

  it.each(['redis', 'memory'] as const)(
    'says, on the %s store, how long until the minute that filled up frees: Retry-After counts from its first request',
    async (store) => {
      const app = await startApp({
        ...(store === 'redis' ? { REDIS_URL: redis.url } : {}),
        RATE_LIMIT_IP_PER_MINUTE: '2',
        TRUST_PROXY: '127.0.0.1',
      });
      apps.push(app);
      // An address of its own: the other tests' requests on this Redis do not count here.
      const from = { 'x-forwarded-for': `198.51.100.${store === 'redis' ? 201 : 202}` };
      const challenge = `/v1/auth/otp/${randomUUID()}`;
      const windowOpened = Date.now();
      expect((await call(app.url, 'GET', challenge, undefined, from)).status).toBe(404);
      const firstAnswered = Date.now();
      expect((await call(app.url, 'GET', challenge, undefined, from)).status).toBe(404);
      await new Promise((resolve) => setTimeout(resolve, 2_500));

      const asked = Date.now();
      const refused = await call(app.url, 'GET', challenge, undefined, from);
      const answered = Date.now();
      expect(refused).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(refused.body.retryAfter).toBe(retryAfter);
      // The window opened between windowOpened and firstAnswered and lasts 60 s: what is left of it, in whole seconds.
      expect(retryAfter).toBeLessThanOrEqual(Math.ceil((firstAnswered + 60_000 - asked) / 1000));
      expect(retryAfter).toBeGreaterThanOrEqual(Math.floor((windowOpened + 60_000 - answered) / 1000));
      expect(retryAfter).toBeLessThan(60);
    },
  );

  it('shares per-destination limits between two instances on one Redis', async () => {
    const env = { REDIS_URL: redis.url, OTP_MAX_SENDS_PER_HOUR: '2', OTP_RESEND_COOLDOWN_SECONDS: '0', RATE_LIMIT_IP_PER_MINUTE: '1000' };
    const [a, b] = [await startApp(env), await startApp(env)];
    apps.push(a, b);
    const to = `shared.${Date.now()}@example.com`;
    expect((await call(a.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'one' })).status).toBe(201);
    expect((await call(b.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'two' })).status).toBe(201);
    expect(await call(a.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'three' })).toMatchObject({
      status: 429,
      body: { code: 'OTP_RATE_LIMITED' },
    });
    const id = (await call(b.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'one' })).body;
    expect(id).toMatchObject({ code: 'OTP_RATE_LIMITED' });
  });
});

describe('with Redis down', () => {
  let app: TestApp;
  let own: RedisServer;
  beforeAll(async () => {
    own = await RedisServer.start();
    app = await startApp({ REDIS_URL: own.url, RATE_LIMIT_IP_PER_MINUTE: '1000', OTP_RESEND_COOLDOWN_SECONDS: '0' });
  });
  afterAll(async () => {
    await app.close();
    await own.stop();
  });

  /** The SPEC's promise with Redis down: send and check answer 503 within 2 s, never hang. */
  async function expectSendAndCheckUnavailable(to: string) {
    for (const [path, body] of [
      ['/v1/verifications', { channel: 'email', to }],
      ['/v1/verifications/check', { to, code: '123456' }],
    ] as const) {
      const started = Date.now();
      const response = await call(app.url, 'POST', path, body);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(response).toMatchObject({ status: 503, body: { code: 'SERVICE_UNAVAILABLE' } });
      expect(response.headers.get('retry-after')).toBe('5');
    }
  }

  it('answers send and check with 503 within 2 s, and recovers without a restart', async () => {
    const to = `outage.${Date.now()}@example.com`;
    expect((await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to })).status).toBe(201);
    await own.stop();
    await expectSendAndCheckUnavailable(to);
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);
    expect((await fetch(`${app.url}/health/ready`)).status).toBe(503);

    await own.restart();
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: `back.${Date.now()}@example.com` })).status;
      if (status === 201) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(status).toBe(201);
  });

  // A frozen Redis (a long pause of the server or its machine) keeps the connection open and answers
  // nothing, so no connection error ends the wait: only the command timeout (1.5 s) does.
  it('answers send and check with 503 within 2 s while Redis is frozen, and serves again once it answers', async () => {
    const to = `frozen.${Date.now()}@example.com`;
    const first = app.logs.entries.length;
    expect((await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to })).status).toBe(201);
    // Delivered before the freeze, so the code read after it is the resend's.
    await app.logs.nextCodeFor(to, first);
    own.pause();
    try {
      await expectSendAndCheckUnavailable(to);
      expect((await fetch(`${app.url}/health/live`)).status).toBe(200);
    } finally {
      own.resume();
    }
    // The replies to the commands that timed out still come, and must not be taken for the next ones'.
    const next = `thawed.${Date.now()}@example.com`;
    await eventually(async () =>
      expect((await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: next })).status).toBe(201),
    );
    const since = app.logs.entries.length;
    const resent = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to });
    expect(resent.status).toBe(201);
    const code = await app.logs.nextCodeFor(to, since);
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: resent.body.id, code })).toMatchObject({
      status: 200,
      body: { status: 'approved' },
    });
  });
});

describe('Redis at start-up', () => {
  const apps: TestApp[] = [];
  const servers: RedisServer[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await Promise.all(
      servers.splice(0).map((server) => {
        server.resume();
        return server.stop();
      }),
    );
  });

  // A long pause of the machine or of Redis as a replica starts makes ioredis's handshake time out
  // (1.5 s) and reconnect; starting unready a moment before Redis answers turned the first send into a 503.
  it('waits for a Redis that accepted the connection but is slow to answer, and answers the first send', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    server.pause();
    const resumed = setTimeout(() => server.resume(), 3000);
    try {
      const app = await startApp({ REDIS_URL: server.url, OTP_RESEND_COOLDOWN_SECONDS: '0' });
      apps.push(app);
      expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
      expect((await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: `slow.${Date.now()}@example.com` })).status).toBe(
        201,
      );
    } finally {
      clearTimeout(resumed);
    }
  });

  // Jest fails a test on an unhandled rejection: Bull's worker name, sent while Redis was away, was one
  // as the app closed (see settleSetName).
  it('starts unready with a Redis it cannot reach, serves once Redis is up, and shuts down cleanly', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    await server.stop();
    // How long it waits (2 s, where a reached server gets 10) is redis-connection.spec's, on fake timers.
    const app = await startApp({ REDIS_URL: server.url, OTP_RESEND_COOLDOWN_SECONDS: '0' });
    apps.push(app);
    expect((await fetch(`${app.url}/health/ready`)).status).toBe(503);
    expect((await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: `early.${Date.now()}@example.com` })).status).toBe(
      503,
    );

    await server.restart();
    await eventually(async () => expect((await fetch(`${app.url}/health/ready`)).status).toBe(200));
    expect((await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: `later.${Date.now()}@example.com` })).status).toBe(
      201,
    );
  });
});
