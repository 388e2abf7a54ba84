import type { Cluster } from 'ioredis';
import { QUEUE_CLOSE_WITHIN_MS } from '../src/messaging/bull-shutdown.js';
import { BULL_CONNECTIONS } from '../src/messaging/delivery/bull-delivery.queue.js';
import type { RedisClient } from '../src/redis/redis-connection.js';
import { verificationKey } from '../src/otp/verification-key.js';
import { ADMIN, call, startApp, TEST_API_KEY, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { reachableProviders } from './support/environments.js';
import { FakeTwilio } from './support/fake-twilio.js';
import { RedisCluster } from './support/redis-cluster.js';
import { ServiceProcess } from './support/service-process.js';
import { SmtpTestServer } from './support/smtp-test-server.js';

/**
 * The service on a real three-master Redis Cluster (REDIS_CLUSTER_NODES): OTP state, limits, the IP
 * throttle and the Bull delivery queue all in the cluster, with codes delivered through a real SMTP
 * server and a fake Twilio. A script that touched keys of two slots would fail here with CROSSSLOT.
 */
let cluster: RedisCluster;
let smtp: SmtpTestServer;
let twilio: FakeTwilio;
const apps: TestApp[] = [];

/** The SPEC's bound on a graceful shutdown (as in shutdown.e2e-spec.ts); Kubernetes' grace period is set above it. */
const SHUTDOWN_BOUND_MS = 25_000;

beforeAll(async () => {
  [cluster, smtp, twilio] = await Promise.all([RedisCluster.start(), SmtpTestServer.start(), FakeTwilio.start()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([cluster?.stop(), smtp?.stop(), twilio?.close()]);
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

let sequence = 0;
const uniqueEmail = () => `c${++sequence}.${Date.now()}@example.com`;

/** Every app shares the secrets: replicas on one queue must decrypt each other's jobs. */
async function service(extra: Record<string, string> = {}): Promise<TestApp> {
  const app = await startApp({
    REDIS_CLUSTER_NODES: cluster.seeds,
    JWT_SECRET: 'cluster-test-jwt-secret-0123456789abcdef',
    OTP_SECRET: 'cluster-test-otp-secret-fedcba9876543210',
    OTP_CHANNELS: 'email,sms',
    EMAIL_PROVIDERS: 'smtp',
    SMS_PROVIDERS: 'twilio',
    ...reachableProviders(smtp, twilio),
    SMTP_FROM: 'Example <no-reply@example.com>',
    TWILIO_FROM: '+14155550100',
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    RATE_LIMIT_IP_PER_MINUTE: '100000',
    OTP_MAX_SENDS_PER_HOUR: '1000',
    OTP_MAX_SENDS_PER_DAY: '1000',
    DELIVERY_BACKOFF_MS: '200',
    ...extra,
  });
  apps.push(app);
  return app;
}

const codeIn = (text: string | undefined) => /\b(\d{6})\b/.exec(text ?? '')?.[1];

/** The code of the `nth` mail (1-based) the SMTP server received for `to`. */
async function mailedCode(to: string, nth = 1): Promise<string> {
  let code: string | undefined;
  await eventually(async () => {
    const mails = smtp.received.filter((mail) => mail.to.includes(to));
    expect(mails.length).toBeGreaterThanOrEqual(nth);
    code = codeIn(mails[nth - 1]!.text);
  }, 15_000);
  expect(code).toMatch(/^\d{6}$/);
  return code!;
}

async function send(app: TestApp, body: Record<string, unknown>) {
  const response = await call(app.url, 'POST', '/v1/verifications', body);
  expect(response.status).toBe(201);
  return response.body.id as string;
}

/** `send`, retried until the cluster takes sends again after an outage. */
async function sendOnceBack(app: TestApp, to: string): Promise<string> {
  let id: string | undefined;
  await eventually(async () => {
    id = await send(app, { channel: 'email', to });
  }, 20_000);
  return id!;
}

const check = (app: TestApp, id: string, code: string) => call(app.url, 'POST', '/v1/verifications/check', { id, code });
const status = async (app: TestApp, id: string) => (await call(app.url, 'GET', `/v1/verifications/${id}`)).body;
const wrongFor = (code: string) => (code === '000000' ? '111111' : '000000');

describe('on a Redis Cluster', () => {
  it('says so in the start-up configuration, and is ready with Redis and the queue up', async () => {
    const app = await service();
    expect(app.loaded.configuration.redis).toEqual({
      url: undefined,
      clusterNodes: cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    });
    await eventually(async () => {
      const ready = await fetch(`${app.url}/health/ready`);
      const body = (await ready.json()) as { details: { queue: { workers: number } } };
      expect({ status: ready.status, body }).toMatchObject({
        status: 200,
        body: { details: { redis: { status: 'up' }, queue: { status: 'up' }, email: { status: 'up' } } },
      });
      // The worker heartbeat is written and counted on the cluster too (the queue's slot).
      expect(body.details.queue.workers).toBeGreaterThanOrEqual(1);
    });
  });

  it('delivers the code by email through the queue, approves it once, and reads the status back', async () => {
    const app = await service();
    const to = uniqueEmail();
    const id = await send(app, { channel: 'email', to, purpose: 'login' });
    const code = await mailedCode(to);
    await eventually(async () =>
      expect(await status(app, id)).toMatchObject({ status: 'pending', delivery: { status: 'sent', provider: 'smtp' } }),
    );

    expect(await check(app, id, wrongFor(code))).toMatchObject({ status: 422, body: { code: 'OTP_INCORRECT', attemptsRemaining: 4 } });
    expect(await check(app, id, code)).toMatchObject({ status: 200, body: { status: 'approved' } });
    expect((await check(app, id, code)).status).not.toBe(200);
    expect(await status(app, id)).toMatchObject({ id, status: 'approved', attemptsRemaining: 4 });
  });

  it('texts the code through Twilio, and it is accepted', async () => {
    const app = await service();
    const to = '+14155557788';
    const id = await send(app, { channel: 'sms', to });
    let body = '';
    await eventually(async () => {
      const message = twilio.messages.find((m) => m.To === to);
      expect(message).toBeDefined();
      body = message!.Body!;
    }, 15_000);
    expect(await check(app, id, codeIn(body)!)).toMatchObject({ status: 200, body: { status: 'approved' } });
  });

  it('counts every wrong code and locks the verification at the limit, even against the right code', async () => {
    const app = await service({ OTP_MAX_ATTEMPTS: '3' });
    const to = uniqueEmail();
    const id = await send(app, { channel: 'email', to });
    const code = await mailedCode(to);
    expect(await check(app, id, wrongFor(code))).toMatchObject({ status: 422, body: { attemptsRemaining: 2 } });
    expect(await check(app, id, wrongFor(code))).toMatchObject({ status: 422, body: { attemptsRemaining: 1 } });
    expect(await check(app, id, wrongFor(code))).toMatchObject({ status: 422, body: { attemptsRemaining: 0 } });
    expect(await check(app, id, code)).toMatchObject({ status: 429, body: { code: 'OTP_ATTEMPTS_EXCEEDED' } });
    expect(await status(app, id)).toMatchObject({ status: 'max_attempts', attemptsRemaining: 0 });
  });

  it('resends: same id, a fresh code by mail, the old code refused and the new one approved', async () => {
    const app = await service({ OTP_MAX_SENDS: '2' });
    const to = uniqueEmail();
    const id = await send(app, { channel: 'email', to });
    const first = await mailedCode(to, 1);
    expect(await send(app, { channel: 'email', to })).toBe(id);
    const second = await mailedCode(to, 2);
    expect(await status(app, id)).toMatchObject({ sendsRemaining: 0 });
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to })).toMatchObject({
      status: 429,
      body: { code: 'OTP_MAX_SENDS' },
    });
    if (first !== second) expect((await check(app, id, first)).status).toBe(422);
    expect(await check(app, id, second)).toMatchObject({ status: 200, body: { status: 'approved' } });
  });

  it('shares the per-destination limit between two replicas', async () => {
    const extra = { OTP_MAX_SENDS_PER_HOUR: '2' };
    const [a, b] = [await service(extra), await service(extra)];
    const to = uniqueEmail();
    await send(a, { channel: 'email', to, purpose: 'one' });
    await send(b, { channel: 'email', to, purpose: 'two' });
    const limited = await call(a.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'three' });
    expect(limited).toMatchObject({ status: 429, body: { code: 'OTP_RATE_LIMITED' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await call(b.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'four' })).toMatchObject({ status: 429 });

    expect((await call(b.url, 'DELETE', `/v1/admin/rate-limits/${encodeURIComponent(to)}`, undefined, ADMIN)).status).toBeLessThan(300);
    expect((await call(a.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'three' })).status).toBe(201);
  });

  it('shares the per-IP throttle between two replicas', async () => {
    // A client address of its own (through a trusted proxy hop): the earlier tests' requests all came from loopback.
    const extra = { RATE_LIMIT_IP_PER_MINUTE: '3', TRUST_PROXY: '127.0.0.1' };
    const [a, b] = [await service(extra), await service(extra)];
    const client = { 'x-forwarded-for': `198.51.100.${(Date.now() % 250) + 1}` };
    const challenge = '00000000-0000-4000-8000-000000000000';
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await call(i % 2 === 0 ? a.url : b.url, 'GET', `/v1/auth/otp/${challenge}`, undefined, client);
      statuses.push(response.status);
      if (response.status === 429) expect(response.body).toMatchObject({ code: 'RATE_LIMITED' });
    }
    expect(statuses).toEqual([404, 404, 404, 429]);
  });

  it('spreads its keys over more than one master', async () => {
    const app = await service();
    for (let i = 0; i < 12; i++) await send(app, { channel: 'email', to: uniqueEmail() });
    const counts = await cluster.keyCounts();
    expect(counts.filter((count) => count > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('with the master of the queue down, answers sends 503, still reads what other masters hold, and recovers', async () => {
    const app = await service();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await send(app, { channel: 'email', to: uniqueEmail() }));
    const queueNode = await cluster.nodeFor('{otp-delivery}');
    const elsewhere: string[] = [];
    for (const id of ids) if ((await cluster.nodeFor(verificationKey(id))) !== queueNode) elsewhere.push(id);
    // Six random ids all on the queue's master would be a one-in-729 coincidence.
    expect(elsewhere.length).toBeGreaterThan(0);

    await queueNode.stop();
    try {
      expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: uniqueEmail() })).toMatchObject({
        status: 503,
        body: { code: 'SERVICE_UNAVAILABLE' },
      });
      expect(await call(app.url, 'GET', `/v1/verifications/${elsewhere[0]}`)).toMatchObject({ status: 200, body: { id: elsewhere[0] } });
      const ready = await fetch(`${app.url}/health/ready`);
      expect({ status: ready.status, body: await ready.json() }).toMatchObject({
        status: 503,
        body: { error: { queue: { status: 'down' } } },
      });
    } finally {
      await queueNode.restart();
      await cluster.waitUntilOk();
    }
    const to = uniqueEmail();
    const id = await sendOnceBack(app, to);
    expect(await check(app, id, await mailedCode(to))).toMatchObject({ status: 200, body: { status: 'approved' } });
  }, 60_000);

  // It stops the whole cluster, and starts it again.
  it('answers 503 while the cluster is down, and sends and delivers again once it is back', async () => {
    const app = await service();
    await eventually(async () => expect((await fetch(`${app.url}/health/ready`)).status).toBe(200));
    await cluster.stopAll();
    const to = uniqueEmail();
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to })).toMatchObject({
      status: 503,
      body: { code: 'SERVICE_UNAVAILABLE' },
    });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { to, code: '123456' })).toMatchObject({
      status: 503,
      body: { code: 'SERVICE_UNAVAILABLE' },
    });
    const down = await fetch(`${app.url}/health/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ error: { redis: { status: 'down' } } });
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);

    await cluster.restartAll();
    const id = await sendOnceBack(app, to);
    const code = await mailedCode(to);
    expect(await check(app, id, code)).toMatchObject({ status: 200, body: { status: 'approved' } });
    await eventually(async () => expect((await fetch(`${app.url}/health/ready`)).status).toBe(200));
  }, 60_000);

  // It leaves the whole cluster down.
  it('a replica stopped while the whole cluster is down still closes: Bull is given a bound, then its connections are cut', async () => {
    const app = await service();
    apps.splice(apps.indexOf(app), 1);
    await eventually(async () => expect((await fetch(`${app.url}/health/ready`)).status).toBe(200));
    const bull = app.app.get<RedisClient[]>(BULL_CONNECTIONS, { strict: false });
    const blocking = bull.find((connection) => (connection as Cluster).options.redisOptions?.connectionName === 'otp-delivery-bclient');
    await cluster.stopAll();
    await eventually(async () => expect((await fetch(`${app.url}/health/ready`)).status).toBe(503));
    // Bull's blocking connection has lost its node and waits to reconnect: its `end`, which Bull's own
    // close waits for, never comes.
    await eventually(async () => expect(blocking?.status).toBe('reconnecting'));

    const startedAt = Date.now();
    const closed = await Promise.race([
      app.close().then(() => 'closed'),
      new Promise<string>((resolve) => setTimeout(() => resolve('still closing'), QUEUE_CLOSE_WITHIN_MS + 10_000).unref()),
    ]);
    expect(closed).toBe('closed');
    // Bull's own close hangs when it catches the connection between two reconnect attempts, which is
    // nearly always (the attempt itself takes a millisecond, the wait between them 2 s): then the bound
    // ends it, with a warning. Either way the close is over within the bound.
    const warnings = app.logs.entries.filter((entry) => entry.level === 'warn' && entry.message.includes("Bull's close"));
    const tookMs = Date.now() - startedAt;
    const bullWarning = new RegExp(
      `^queue delivery: Bull's close was not over ${QUEUE_CLOSE_WITHIN_MS} ms after its last job settled; its 3 Redis connection`,
    );
    expect(warnings.map((entry) => entry.message)).toEqual(tookMs >= QUEUE_CLOSE_WITHIN_MS ? [expect.stringMatching(bullWarning)] : []);
  }, 60_000);

  it('the built service, sent SIGTERM while the whole cluster is down, exits 0 within the shutdown bound', async () => {
    await cluster.restartAll();
    await cluster.waitUntilOk();
    const service = ServiceProcess.start({
      NODE_ENV: 'development',
      REDIS_CLUSTER_NODES: cluster.seeds,
      PORT: '0',
      HOST: '127.0.0.1',
      API_KEYS: TEST_API_KEY,
      JWT_SECRET: 'cluster-test-jwt-secret-0123456789abcdef',
      OTP_SECRET: 'cluster-test-otp-secret-fedcba9876543210',
      EMAIL_PROVIDERS: 'smtp',
      ...reachableProviders(smtp, twilio),
      SMTP_FROM: 'Example <no-reply@example.com>',
      SHUTDOWN_DRAIN_MS: '0',
    });
    try {
      const url = await service.listening(45_000);
      await eventually(async () => expect((await fetch(`${url}/health/ready`)).status).toBe(200), 20_000);
      await cluster.stopAll();
      await eventually(async () => expect((await fetch(`${url}/health/ready`)).status).toBe(503));
      // Long enough for Bull's connections to lose their nodes and fall to reconnecting.
      await new Promise((resolve) => setTimeout(resolve, 2000));

      service.signal('SIGTERM');
      const exit = await Promise.race([
        service.exited,
        new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), SHUTDOWN_BOUND_MS).unref()),
      ]);
      // Neither held open by Bull's close nor ended (code 1) by one of Bull's promises failing unhandled, as the cluster
      // comes back at the start or goes at the end.
      expect({ exit, output: exit === 'still running' || exit.code !== 0 ? service.output : '' }).toEqual({
        exit: { code: 0, signal: null },
        output: '',
      });
      expect(service.output).toContain('exiting with code 0');
    } finally {
      service.kill();
    }
  }, 90_000);
});
