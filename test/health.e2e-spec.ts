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
    service = await startApp({ ...COMPLETE_PRODUCTION, ...reachableProviders(smtp, twilio), REDIS_URL: redis.url, DATABASE_URL: database.url });
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
