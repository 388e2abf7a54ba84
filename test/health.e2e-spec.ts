import { startApp, type TestApp } from './support/app.js';
import { COMPLETE_PRODUCTION } from './support/environments.js';
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

  it('is ready, with the in-memory store reported', async () => {
    const response = await fetch(`${service.url}/health/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', details: { redis: { status: 'up', mode: 'in-memory' } } });
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

describe('health in production against a real Redis', () => {
  let redis: RedisServer;
  let service: TestApp;
  beforeAll(async () => {
    redis = await RedisServer.start();
    service = await startApp({ ...COMPLETE_PRODUCTION, REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await service?.close();
    await redis?.stop();
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
});
