import pg from 'pg';
import { startApp, type TestApp } from './support/app.js';
import { createTestDatabase, postgresServerUrl, type TestDatabase } from './support/databases.js';
import { COMPLETE_PRODUCTION, reachableProviders } from './support/environments.js';
import { FakeTwilio } from './support/fake-twilio.js';
import { SmtpTestServer } from './support/smtp-test-server.js';
import { eventually } from './support/eventually.js';
import { RedisServer } from './support/redis-server.js';

describe('health in embedded development mode', () => {
  let service: TestApp;
  beforeAll(async () => {
    service = await startApp({ NODE_ENV: 'development' });
  });
  afterAll(() => service.close());

  it('is live with no environment at all', async () => {
    const response = await fetch(`${service.url}/health/live`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('is ready, with the in-memory store and the embedded database reported', async () => {
    const response = await fetch(`${service.url}/health/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      details: { redis: { status: 'up', mode: 'in-memory' }, database: { status: 'up', kind: 'pglite' } },
    });
  });

  it('tells which build is running', async () => {
    const body = (await (await fetch(`${service.url}/health`)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'ok', version: '0.1.0', environment: 'development' });
    expect(typeof body.commit).toBe('string');
    expect(Date.parse(body.startedAt as string)).toBeLessThanOrEqual(Date.now());
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0);
  });

  it('answers an unknown route with the error shape', async () => {
    const response = await fetch(`${service.url}/v1/nothing-here`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ statusCode: 404, code: 'NOT_FOUND', message: 'Cannot GET /v1/nothing-here' });
  });
});

describe('readiness is about this replica: a provider outage is shown, not failed on', () => {
  let redis: RedisServer;
  let smtp: SmtpTestServer;
  let service: TestApp;
  let strict: TestApp | undefined;
  let env: Record<string, string>;
  beforeAll(async () => {
    [redis, smtp] = await Promise.all([RedisServer.start(), SmtpTestServer.start()]);
    env = {
      REDIS_URL: redis.url,
      OTP_CHANNELS: 'email,sms',
      EMAIL_PROVIDERS: 'smtp',
      SMS_PROVIDERS: 'console',
      SMTP_HOST: smtp.host,
      SMTP_PORT: String(smtp.port),
      SMTP_FROM: 'otp@example.com',
    };
    service = await startApp(env);
    // Before any probe ran: the relay is gone.
    await smtp.stop();
  }, 120_000);
  afterAll(async () => {
    await (strict ?? service)?.close();
    await Promise.all([redis?.stop(), smtp?.stop()]);
  });

  const ready = async (app: TestApp) => {
    const response = await fetch(`${app.url}/health/ready`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const warnings = (app: TestApp, context: string) =>
    app.logs.entries.filter((entry) => entry.level === 'warn' && entry.context === context);

  it('stays ready with SMTP down, showing the email channel unusable in its details, /health/messaging and /metrics', async () => {
    for (let probe = 0; probe < 3; probe += 1) {
      expect(await ready(service)).toMatchObject({
        status: 200,
        body: {
          status: 'ok',
          error: {},
          details: {
            redis: { status: 'up' },
            database: { status: 'up' },
            queue: { status: 'up' },
            email: {
              status: 'down',
              usable: false,
              providers: [
                {
                  id: 'smtp',
                  configured: true,
                  healthy: false,
                  circuit: 'closed',
                  lastError: expect.stringMatching(/^probe failed: SMTP: .*ECONNREFUSED/),
                },
              ],
            },
            sms: { status: 'up', usable: true, providers: [{ id: 'console', configured: true, healthy: true }] },
          },
        },
      });
    }
    const messaging = (await (await fetch(`${service.url}/health/messaging`)).json()) as { channels: Record<string, { status: string }> };
    expect(messaging.channels.email?.status).toBe('down');
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/^otp_channel_usable\{channel="email"\} 0$/m);
    expect(metrics).toMatch(/^otp_channel_usable\{channel="sms"\} 1$/m);

    // One WARN line for the channel, however many probes saw it; none for readiness, which did not change.
    expect(warnings(service, 'Messaging').map((entry) => entry.message)).toEqual([
      expect.stringMatching(/^email: no usable provider, codes cannot be sent on this channel \(smtp: probe failed: SMTP: .*ECONNREFUSED/),
    ]);
    expect(warnings(service, 'Readiness')).toEqual([]);
    expect(service.logs.entries.filter((entry) => entry.level === 'error')).toEqual([]);
  });

  it('writes one WARN line when Redis takes readiness down, whatever the number of probes, and one when it is back', async () => {
    await redis.stop();
    for (let probe = 0; probe < 3; probe += 1) expect((await ready(service)).status).toBe(503);
    await redis.restart();
    await eventually(async () => expect((await ready(service)).status).toBe(200), 15_000);
    for (let probe = 0; probe < 2; probe += 1) expect((await ready(service)).status).toBe(200);
    expect(warnings(service, 'Readiness').map((entry) => entry.message)).toEqual([
      expect.stringMatching(/^not ready: \/health\/ready answers 503 \(redis: /),
      'ready again: /health/ready answers 200',
    ]);
    expect(warnings(service, 'HTTP').filter((entry) => entry.message.startsWith('GET /health/ready'))).toEqual([]);
  });

  it('is 503 for the same outage with READINESS_REQUIRES_CHANNELS=true, with one WARN line however often it is probed', async () => {
    // One application at a time: Nest's static Logger writes to the latest one's log.
    await service.close();
    strict = await startApp({ ...env, READINESS_REQUIRES_CHANNELS: 'true' });
    for (let probe = 0; probe < 3; probe += 1) {
      expect(await ready(strict)).toMatchObject({
        status: 503,
        body: {
          status: 'error',
          code: 'SERVICE_UNAVAILABLE',
          error: { email: { status: 'down', usable: false } },
          details: { sms: { status: 'up' } },
        },
      });
    }
    expect(warnings(strict, 'Readiness').map((entry) => entry.message)).toEqual([
      'not ready: /health/ready answers 503 (email: no usable email provider)',
    ]);
    // Neither Terminus' own ERROR per failed probe nor a request line per probe.
    expect(strict.logs.entries.filter((entry) => entry.level === 'error')).toEqual([]);
    expect(warnings(strict, 'HTTP')).toEqual([]);
  }, 120_000);
});

// Production needs a real PostgreSQL: these run when TEST_DATABASE_URL names one (.ci/run does).
(postgresServerUrl() ? describe : describe.skip)('health in production against a real Redis and PostgreSQL', () => {
  let redis: RedisServer;
  let database: TestDatabase;
  let service: TestApp;
  let smtp: SmtpTestServer;
  let twilio: FakeTwilio;
  beforeAll(async () => {
    [redis, smtp, twilio] = await Promise.all([RedisServer.start(), SmtpTestServer.start(), FakeTwilio.start()]);
    database = await createTestDatabase('PostgreSQL');
    service = await startApp({
      ...COMPLETE_PRODUCTION,
      ...reachableProviders(smtp, twilio),
      REDIS_URL: redis.url,
      DATABASE_URL: database.url,
    });
  });
  afterAll(async () => {
    await service?.close();
    await Promise.all([redis?.stop(), smtp?.stop(), twilio?.close()]);
    await database?.drop();
  });

  it('starts with a complete environment and no problem', () => {
    expect(service.loaded.problems).toEqual([]);
  });

  it('is ready while Redis answers, 503 while it is down, and ready again once it is back', async () => {
    await eventually(async () => expect((await fetch(`${service.url}/health/ready`)).status).toBe(200));

    await redis.stop();
    const started = Date.now();
    const down = await fetch(`${service.url}/health/ready`);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(down.status).toBe(503);
    const body = (await down.json()) as { status: string; error: Record<string, unknown>; details: Record<string, unknown> };
    expect(body.status).toBe('error');
    expect(body.error).toHaveProperty('redis');
    expect((await fetch(`${service.url}/health/live`)).status).toBe(200);

    await redis.restart();
    await eventually(async () => expect((await fetch(`${service.url}/health/ready`)).status).toBe(200));
  });

  it('has migrated the database before it listens, and reports it up', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      await client.end();
    }
    const ready = await fetch(`${service.url}/health/ready`);
    expect(await ready.json()).toMatchObject({ details: { database: { status: 'up', kind: 'postgresql' } } });
  });

  // Last: the database does not come back.
  it('is 503 with the database gone, within the probe timeout', async () => {
    await database.drop();
    const started = Date.now();
    const down = await fetch(`${service.url}/health/ready`);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    expect((await fetch(`${service.url}/health/live`)).status).toBe(200);
  });
});
