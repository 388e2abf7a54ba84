import { Redis } from 'ioredis';
import { call, startApp, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { RedisServer } from './support/redis-server.js';

/**
 * Named API keys, the admin keys kept apart, the per-key limit, the per-IP limit of the `clientIp`
 * a backend passes, and the warning about an X-Forwarded-For nobody trusts.
 */
const BACKEND_KEY = 'backend-key-0123456789abcdef';
const OTHER_KEY = 'other-app-key-0123456789abcdef';
const SUPPORT_KEY = 'support-admin-key-0123456789abcdef';
const KEYS = { API_KEYS: `backend:${BACKEND_KEY},other-app:${OTHER_KEY}`, ADMIN_API_KEYS: `support:${SUPPORT_KEY}` };
const as = (key: string) => ({ 'x-api-key': key });

let run = 0;
const email = (label: string) => `${label}.${Date.now()}.${++run}@example.com`;

describe('one backend behind one address', () => {
  let app: TestApp;
  beforeAll(async () => {
    // The default per-IP limit (30 a minute) and a per-key limit well above it.
    app = await startApp({ ...KEYS, API_KEY_RATE_LIMIT_PER_MINUTE: '1000' });
  });
  afterAll(() => app.close());

  it("sends 100 codes a minute for distinct users, while one end user's clientIp is still stopped at the per-IP limit", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      statuses.push((await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: email('user') }, as(BACKEND_KEY))).status);
    }
    expect(statuses.filter((status) => status === 201)).toHaveLength(100);

    const endUser = { clientIp: '203.0.113.77' };
    for (let i = 0; i < 30; i++) {
      expect(
        (await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: email('same-user'), ...endUser }, as(BACKEND_KEY)))
          .status,
      ).toBe(201);
    }
    const stopped = await call(
      app.url,
      'POST',
      '/v1/verifications',
      { channel: 'email', to: email('same-user'), ...endUser },
      as(BACKEND_KEY),
    );
    expect(stopped).toMatchObject({
      status: 429,
      body: { code: 'RATE_LIMITED', message: expect.stringMatching(/^Too many requests from this address/) },
    });
    expect(Number(stopped.headers.get('retry-after'))).toBeGreaterThan(0);
    // The same address in IPv6-mapped form is the same end user.
    expect(
      (
        await call(
          app.url,
          'POST',
          '/v1/verifications',
          { channel: 'email', to: email('same-user'), clientIp: '::ffff:203.0.113.77' },
          as(BACKEND_KEY),
        )
      ).status,
    ).toBe(429);
    // Another end user of the same backend, and the backend without clientIp, go on.
    expect(
      (await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: email('user'), clientIp: '203.0.113.78' }, as(BACKEND_KEY)))
        .status,
    ).toBe(201);
    expect((await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: email('user') }, as(BACKEND_KEY))).status).toBe(201);
    // Another application's users behind the same address keep their own budget: one key cannot spend another's.
    expect(
      (await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: email('user'), ...endUser }, as(OTHER_KEY))).status,
    ).toBe(201);
  });

  it('applies the per-IP limit of clientIp to checks too, and refuses a clientIp that is not an address', async () => {
    const endUser = { clientIp: '2001:db8:1234:5678::1' };
    const check = (extra: Record<string, unknown>) =>
      call(
        app.url,
        'POST',
        '/v1/verifications/check',
        { id: '00000000-0000-4000-8000-000000000000', code: '123456', ...extra },
        as(BACKEND_KEY),
      );
    for (let i = 0; i < 30; i++) expect((await check(endUser)).status).toBe(404);
    expect(await check(endUser)).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    // Another address in the same /64 is the same end user (a home network hands them out freely).
    expect((await check({ clientIp: '2001:db8:1234:5678::2' })).status).toBe(429);
    expect(await check({ clientIp: 'not-an-ip' })).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION_FAILED', errors: { clientIp: expect.any(Array) } },
    });
  });

  it('names the key, never the key itself, on the request line, the audit line and the started-verifications counter', async () => {
    const requestId = `named-key-${Date.now()}`;
    const started = await call(
      app.url,
      'POST',
      '/v1/verifications',
      { channel: 'email', to: email('named') },
      { ...as(OTHER_KEY), 'x-request-id': requestId },
    );
    expect(started.status).toBe(201);
    await eventually(async () =>
      expect(app.logs.entries.some((entry) => entry.context === 'HTTP' && entry.record.requestId === requestId)).toBe(true),
    );
    const lines = app.logs.entries.filter((entry) => entry.record.requestId === requestId);
    expect(lines.find((entry) => entry.context === 'HTTP')?.record.apiKeyName).toBe('other-app');
    expect(lines.find((entry) => entry.context === 'Audit')?.record).toMatchObject({
      event: 'verification.started',
      apiKeyName: 'other-app',
    });
    expect(app.logs.text()).not.toContain(OTHER_KEY);
    expect(app.logs.text()).not.toContain(BACKEND_KEY);

    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/^otp_verifications_started_total\{channel="email",kind="new",api_key="other-app"\} [1-9]/m);
    expect(metrics).toMatch(/^otp_verifications_started_total\{channel="email",kind="new",api_key="backend"\} 1\d\d$/m);
    expect(metrics).not.toContain(OTHER_KEY);
  });

  it('keeps admin keys and application keys apart', async () => {
    const destination = encodeURIComponent(email('support'));
    expect(await call(app.url, 'DELETE', `/v1/admin/rate-limits/${destination}`, undefined, as(BACKEND_KEY))).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHORIZED' },
    });
    const requestId = `admin-${Date.now()}`;
    expect(
      (await call(app.url, 'DELETE', `/v1/admin/rate-limits/${destination}`, undefined, { ...as(SUPPORT_KEY), 'x-request-id': requestId }))
        .status,
    ).toBe(204);
    await eventually(async () => {
      const audit = app.logs.entries.find((entry) => entry.context === 'Audit' && entry.record.requestId === requestId);
      expect(audit?.record).toMatchObject({
        event: 'admin.rate_limits_cleared',
        apiKeyName: 'support',
        to: expect.stringContaining('***@example.com'),
      });
    });
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: email('admin') }, as(SUPPORT_KEY))).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHORIZED' },
    });
    expect((await call(app.url, 'GET', '/v1/verifications/00000000-0000-4000-8000-000000000000', undefined, as(SUPPORT_KEY))).status).toBe(
      401,
    );
    expect(app.logs.text()).not.toContain(SUPPORT_KEY);
  });
});

describe('the per-key limit', () => {
  let redis: RedisServer;
  const apps: TestApp[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await redis.stop();
  });

  it('stops a key past API_KEY_RATE_LIMIT_PER_MINUTE on every route, across replicas, with Retry-After; another key is unaffected', async () => {
    const env = { ...KEYS, REDIS_URL: redis.url, API_KEY_RATE_LIMIT_PER_MINUTE: '5', RATE_LIMIT_IP_PER_MINUTE: '1000' };
    const [a, b] = [await startApp(env), await startApp(env)];
    apps.push(a, b);
    const started = await call(a.url, 'POST', '/v1/verifications', { channel: 'email', to: email('limited') }, as(BACKEND_KEY));
    expect(started.status).toBe(201);
    // Every route of the key counts, reads included, whichever replica answers.
    expect((await call(b.url, 'GET', `/v1/verifications/${started.body.id}`, undefined, as(BACKEND_KEY))).status).toBe(200);
    expect((await call(a.url, 'POST', '/v1/verifications/check', { id: started.body.id, code: '000000' }, as(BACKEND_KEY))).status).toBe(
      422,
    );
    expect((await call(b.url, 'POST', '/v1/verifications', { channel: 'email', to: email('limited') }, as(BACKEND_KEY))).status).toBe(201);
    expect((await call(a.url, 'POST', `/v1/verifications/${started.body.id}/cancel`, undefined, as(BACKEND_KEY))).status).toBe(200);

    const refused = await call(b.url, 'POST', '/v1/verifications', { channel: 'email', to: email('limited') }, as(BACKEND_KEY));
    expect(refused).toMatchObject({
      status: 429,
      body: { code: 'RATE_LIMITED', message: expect.stringMatching(/^Too many requests with this API key/) },
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body.retryAfter).toBe(retryAfter);
    expect((await call(a.url, 'GET', `/v1/verifications/${started.body.id}`, undefined, as(BACKEND_KEY))).status).toBe(429);

    expect((await call(a.url, 'POST', '/v1/verifications', { channel: 'email', to: email('other') }, as(OTHER_KEY))).status).toBe(201);
    // Public routes are limited per IP only: the key's exhaustion does not reach them.
    expect((await call(a.url, 'GET', '/v1/auth/otp/00000000-0000-4000-8000-000000000000', undefined, {})).status).toBe(404);
  });
});

describe('the per-key limit, leased', () => {
  let redis: RedisServer;
  let admin: Redis;
  const apps: TestApp[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    admin.disconnect();
    await redis.stop();
  });

  const UNKNOWN = '/v1/verifications/00000000-0000-4000-8000-000000000000';
  const hitsInRedis = async () => {
    const keys = await admin.keys('otp:{t:api-key:*}:hits');
    return keys.length === 0 ? 0 : Number(await admin.get(keys[0]!));
  };

  it("takes a key's hits from Redis a hundredth of the limit at a time, and lets exactly the limit through across replicas", async () => {
    const env = { ...KEYS, REDIS_URL: redis.url, API_KEY_RATE_LIMIT_PER_MINUTE: '500', RATE_LIMIT_IP_PER_MINUTE: '1000' };
    const [a, b] = [await startApp(env), await startApp(env)];
    apps.push(a, b);

    // Five hits a round trip: three requests on one replica took one lease, a sixth takes the next.
    for (let i = 0; i < 3; i++) expect((await call(a.url, 'GET', UNKNOWN, undefined, as(BACKEND_KEY))).status).toBe(404);
    expect(await hitsInRedis()).toBe(5);
    for (let i = 0; i < 3; i++) expect((await call(a.url, 'GET', UNKNOWN, undefined, as(BACKEND_KEY))).status).toBe(404);
    expect(await hitsInRedis()).toBe(10);

    // Both replicas until each is refused: every hit leased is spent, and not one more.
    let passed = 6;
    const refused = new Map<TestApp, Awaited<ReturnType<typeof call>>>();
    for (let i = 0; refused.size < 2 && i < 1000; i++) {
      const app = i % 2 === 0 ? a : b;
      if (refused.has(app)) continue;
      const answer = await call(app.url, 'GET', UNKNOWN, undefined, as(BACKEND_KEY));
      if (answer.status === 404) passed += 1;
      else refused.set(app, answer);
    }
    expect(passed).toBe(500);
    expect(await hitsInRedis()).toBe(500);
    for (const answer of refused.values()) {
      expect(answer).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
      const retryAfter = Number(answer.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    // Refused without a round trip: the spent window is known until it ends.
    expect((await call(a.url, 'GET', UNKNOWN, undefined, as(BACKEND_KEY))).status).toBe(429);
    expect(await hitsInRedis()).toBe(500);
    // Another key's window is its own.
    expect((await call(b.url, 'GET', UNKNOWN, undefined, as(OTHER_KEY))).status).toBe(404);
  });

  it("takes nothing from a key's window for a request without the key or with a wrong one", async () => {
    await admin.flushall();
    const app = await startApp({ ...KEYS, REDIS_URL: redis.url, API_KEY_RATE_LIMIT_PER_MINUTE: '500', RATE_LIMIT_IP_PER_MINUTE: '1000' });
    apps.push(app);

    // A stranger cannot spend a customer's limit: the key is checked before anything is counted.
    for (let i = 0; i < 20; i++) {
      expect((await call(app.url, 'GET', UNKNOWN, undefined, as(`${BACKEND_KEY}-guess${i}`))).status).toBe(401);
      expect((await call(app.url, 'GET', UNKNOWN, undefined, {})).status).toBe(401);
    }
    expect(await hitsInRedis()).toBe(0);
    expect((await call(app.url, 'GET', UNKNOWN, undefined, as(BACKEND_KEY))).status).toBe(404);
    expect(await hitsInRedis()).toBe(5);
  });

  it('has requests that arrive together while a lease is taken wait for it, rather than each take one', async () => {
    await admin.flushall();
    const app = await startApp({ ...KEYS, REDIS_URL: redis.url, API_KEY_RATE_LIMIT_PER_MINUTE: '500', RATE_LIMIT_IP_PER_MINUTE: '1000' });
    apps.push(app);

    const answers = await Promise.all(Array.from({ length: 50 }, () => call(app.url, 'GET', UNKNOWN, undefined, as(BACKEND_KEY))));

    expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(404));
    // Ten leases of five: none taken while another was in flight or before the last was spent.
    expect(await hitsInRedis()).toBe(50);
  });
});

describe('without keys', () => {
  it('says so in the 401: no application keys, no admin keys', async () => {
    const app = await startApp({ API_KEYS: undefined, ADMIN_API_KEYS: undefined });
    try {
      expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: email('nokey') }, as(BACKEND_KEY))).toMatchObject({
        status: 401,
        body: { code: 'UNAUTHORIZED', message: 'No API keys are configured: set API_KEYS.' },
      });
      expect(await call(app.url, 'DELETE', '/v1/admin/rate-limits/x%40example.com', undefined, as(SUPPORT_KEY))).toMatchObject({
        status: 401,
        body: { code: 'UNAUTHORIZED', message: 'No admin API keys are configured: set ADMIN_API_KEYS.' },
      });
    } finally {
      await app.close();
    }
  });
});

describe('an X-Forwarded-For nobody trusts', () => {
  const trustWarnings = (app: TestApp) => app.logs.entries.filter((entry) => entry.context === 'TrustProxy');
  const probe = (app: TestApp, forwardedFor: string) =>
    call(app.url, 'GET', '/v1/auth/otp/00000000-0000-4000-8000-000000000000', undefined, { 'x-forwarded-for': forwardedFor });

  // One app at a time: Nest's static logger writes to the app started last.
  it('is one WARN line per process with TRUST_PROXY unset, however many requests carry one', async () => {
    const app = await startApp({});
    try {
      await call(app.url, 'GET', '/health/live');
      expect(trustWarnings(app)).toEqual([]);
      for (let i = 0; i < 3; i++) expect((await probe(app, `198.51.100.${i + 1}`)).status).toBe(404);
      await eventually(async () => expect(trustWarnings(app)).toHaveLength(1));
      const [warning] = trustWarnings(app);
      expect(warning!.level).toBe('warn');
      expect(warning!.message).toContain('X-Forwarded-For from 127.0.0.1');
      expect(warning!.message).toContain('set TRUST_PROXY');
    } finally {
      await app.close();
    }
  });

  it('is said when TRUST_PROXY lists other addresses than the peer, and not when it trusts the peer', async () => {
    const elsewhere = await startApp({ TRUST_PROXY: '10.0.0.0/8' });
    try {
      await probe(elsewhere, '198.51.100.9');
      await eventually(async () => expect(trustWarnings(elsewhere)).toHaveLength(1));
    } finally {
      await elsewhere.close();
    }
    for (const trustProxy of ['1', '127.0.0.1']) {
      const trusting = await startApp({ TRUST_PROXY: trustProxy });
      try {
        for (let i = 0; i < 3; i++) await probe(trusting, `198.51.100.${i + 20}`);
        await call(trusting.url, 'GET', '/health/live');
        expect(trustWarnings(trusting)).toEqual([]);
      } finally {
        await trusting.close();
      }
    }
  });
});
