import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { call, startApp, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY, FakeSns } from './support/fake-sns.js';
import { FakeTwilio } from './support/fake-twilio.js';
import { RedisServer } from './support/redis-server.js';
import { ServiceProcess } from './support/service-process.js';
import { SmtpTestServer } from './support/smtp-test-server.js';
import { standaloneCode } from './support/codes.js';

/**
 * Delivery end to end: the real app on a real Redis (Bull), a real SMTP server and fake vendor
 * APIs. Every assertion about a message is about what the server or fake vendor received.
 */
let redis: RedisServer;
let smtp: SmtpTestServer;
let twilio: FakeTwilio;
let sns: FakeSns;
const apps: TestApp[] = [];

beforeAll(async () => {
  [redis, smtp, twilio, sns] = await Promise.all([RedisServer.start(), SmtpTestServer.start(), FakeTwilio.start(), FakeSns.start()]);
});
afterAll(async () => {
  await Promise.all([redis.stop(), smtp.stop(), twilio.close(), sns.close()]);
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  smtp.reset();
  twilio.reset();
  sns.reset();
  if (!smtp.running) await smtp.restart();
});

let sequence = 0;
const uniqueEmail = () => `d${++sequence}.${Date.now()}@example.com`;
const uniquePhone = () => `+1415555${String(1000 + (++sequence % 9000)).padStart(4, '0')}`;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    OTP_CHANNELS: 'email,sms,whatsapp',
    EMAIL_PROVIDERS: 'smtp',
    SMS_PROVIDERS: 'twilio',
    WHATSAPP_PROVIDERS: 'twilio-whatsapp',
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtp.port),
    SMTP_FROM: 'Example <no-reply@example.com>',
    TWILIO_ACCOUNT_SID: twilio.accountSid,
    TWILIO_AUTH_TOKEN: twilio.authToken,
    TWILIO_FROM: '+14155550100',
    TWILIO_WHATSAPP_FROM: '+14155550199',
    TWILIO_VERIFY_SERVICE_SID: twilio.verifyServiceSid,
    TWILIO_API_BASE_URL: twilio.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: FAKE_AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: FAKE_AWS_SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL_SNS: sns.url,
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    RATE_LIMIT_IP_PER_MINUTE: '10000',
    OTP_MAX_SENDS_PER_HOUR: '1000',
    OTP_MAX_SENDS_PER_DAY: '1000',
    DELIVERY_BACKOFF_MS: '200',
    ...extra,
  };
}

async function service(extra: Record<string, string> = {}): Promise<TestApp> {
  const app = await startApp(env(extra));
  apps.push(app);
  return app;
}

const codeIn = (text: string | undefined) => /\b(\d{6})\b/.exec(text ?? '')?.[1];

async function mailTo(to: string) {
  let found: (typeof smtp.received)[number] | undefined;
  await eventually(async () => {
    found = smtp.received.find((mail) => mail.to.includes(to));
    expect(found).toBeDefined();
  });
  return found!;
}

async function deliveryOf(app: TestApp, id: string, status: string) {
  let body: Record<string, unknown> = {};
  await eventually(async () => {
    body = (await call(app.url, 'GET', `/v1/verifications/${id}`)).body;
    expect(body.delivery).toMatchObject({ status });
  }, 15_000);
  return body;
}

describe('delivery through each provider', () => {
  it('mails the code with an HTML and a plain-text part, and the code is accepted', async () => {
    const app = await service();
    const to = uniqueEmail();
    const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'login', locale: 'es' });
    expect(started.status).toBe(201);
    const mail = await mailTo(to);
    const code = codeIn(mail.text);
    expect(code).toBeDefined();
    expect(mail.html).toContain(code);
    expect(mail.subject).toBeTruthy();
    expect(mail.from).toContain('no-reply@example.com');
    expect(await deliveryOf(app, started.body.id as string, 'sent')).toMatchObject({
      delivery: { provider: 'smtp', attempts: 1, lastError: null },
    });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: started.body.id, code })).toMatchObject({
      status: 200,
      body: { status: 'approved' },
    });
  });

  it.each([
    ['twilio', 'sms'],
    ['twilio-whatsapp', 'whatsapp'],
  ])('texts the code through %s', async (provider, channel) => {
    const app = await service();
    const to = uniquePhone();
    const started = await call(app.url, 'POST', '/v1/verifications', { channel, to });
    expect(started.status).toBe(201);
    let body = '';
    await eventually(async () => {
      const message = twilio.messages.find((m) => m.To === (channel === 'whatsapp' ? `whatsapp:${to}` : to));
      expect(message).toBeDefined();
      body = message!.Body!;
    });
    if (channel === 'whatsapp') expect(twilio.messages.at(-1)!.From).toBe('whatsapp:+14155550199');
    expect(await deliveryOf(app, started.body.id as string, 'sent')).toMatchObject({ delivery: { provider } });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: started.body.id, code: codeIn(body) })).toMatchObject({
      status: 200,
    });
  });

  it('texts the code through SNS as a transactional SMS', async () => {
    const app = await service({ SMS_PROVIDERS: 'sns' });
    const to = uniquePhone();
    const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'sms', to });
    expect(started.status).toBe(201);
    let publish: (typeof sns.publishes)[number] | undefined;
    await eventually(async () => {
      publish = sns.publishes.find((p) => p.PhoneNumber === to);
      expect(publish).toBeDefined();
    });
    expect(publish!.attributes['AWS.SNS.SMS.SMSType']).toMatchObject({ StringValue: 'Transactional' });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: started.body.id, code: codeIn(publish!.Message) })).toMatchObject({
      status: 200,
    });
  });

  it('lets Twilio Verify issue and check its own code, under our attempt limits', async () => {
    const app = await service({ SMS_PROVIDERS: 'twilio-verify', OTP_MAX_ATTEMPTS: '2' });
    const to = uniquePhone();
    const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'sms', to });
    await deliveryOf(app, started.body.id as string, 'sent');
    const twilioCode = twilio.codeFor(to)!;
    expect(twilioCode).toMatch(/^\d+$/);
    const wrong = twilioCode === '000000' ? '111111' : '000000';
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: started.body.id, code: wrong })).toMatchObject({
      status: 422,
      body: { attemptsRemaining: 1 },
    });
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: started.body.id, code: twilioCode })).toMatchObject({
      status: 200,
    });
    expect(twilio.received.filter((r) => r.path.endsWith('/VerificationCheck'))).toHaveLength(2);
  });
});

describe('failover and circuits', () => {
  it('sends through SNS when Twilio refuses our credentials, opens Twilio’s circuit, and closes it after one trial send', async () => {
    const app = await service({ SMS_PROVIDERS: 'twilio,sns', CIRCUIT_FAILURE_THRESHOLD: '2', CIRCUIT_OPEN_SECONDS: '1' });
    twilio.failAlways({ status: 401, code: 20003, message: 'Authenticate' });
    for (let i = 0; i < 3; i++) {
      const to = uniquePhone();
      const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'sms', to });
      expect(await deliveryOf(app, started.body.id as string, 'sent')).toMatchObject({ delivery: { provider: 'sns' } });
      expect(sns.publishes.some((p) => p.PhoneNumber === to)).toBe(true);
    }
    // Two refusals opened the circuit: the third send went straight to SNS.
    expect(twilio.received.filter((r) => r.path.endsWith('/Messages.json'))).toHaveLength(2);
    const open = (await call(app.url, 'GET', '/health/messaging')).body as {
      channels: Record<string, { providers: Record<string, unknown>[] }>;
    };
    expect(open.channels.sms!.providers[0]).toMatchObject({ id: 'twilio', circuit: 'open', healthy: false, failed: 2, priority: 1 });
    expect(String(open.channels.sms!.providers[0]!.lastError)).toContain('auth');
    expect(open.channels.sms!.providers[1]).toMatchObject({ id: 'sns', circuit: 'closed', sent: 3, priority: 2 });

    twilio.reset();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const to = uniquePhone();
    const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'sms', to });
    expect(await deliveryOf(app, started.body.id as string, 'sent')).toMatchObject({ delivery: { provider: 'twilio' } });
    const closed = (await call(app.url, 'GET', '/health/messaging')).body as {
      channels: Record<string, { providers: Record<string, unknown>[] }>;
    };
    expect(closed.channels.sms!.providers[0]).toMatchObject({ id: 'twilio', circuit: 'closed' });
  });

  it('fails at once, without retries or failover, on a permanent error, and says why', async () => {
    const app = await service({ SMS_PROVIDERS: 'twilio,sns' });
    twilio.failAlways({ status: 400, code: 21211, message: "The 'To' number is not a valid phone number." });
    const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'sms', to: uniquePhone() });
    const failed = await deliveryOf(app, started.body.id as string, 'failed');
    expect(failed).toMatchObject({ status: 'failed', delivery: { attempts: 1 } });
    expect(String((failed.delivery as Record<string, unknown>).lastError)).toContain('twilio');
    expect(sns.publishes).toHaveLength(0);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/otp_deliveries_total\{channel="sms",result="failed"\} 1/);
    expect(metrics).toMatch(/otp_messages_total\{channel="sms",provider="twilio",result="permanent"\} 1/);
  });
});

describe('nothing lost', () => {
  it('delivers once SMTP is back, retrying with backoff', async () => {
    const app = await service({ DELIVERY_BACKOFF_MS: '500', DELIVERY_ATTEMPTS: '6' });
    await smtp.stop();
    const to = uniqueEmail();
    const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to });
    expect(started.status).toBe(201);
    await eventually(async () =>
      expect((await call(app.url, 'GET', `/v1/verifications/${started.body.id}`)).body).toMatchObject({
        delivery: { status: 'queued', attempts: 1 },
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await smtp.restart();
    const mail = await mailTo(to);
    const sent = await deliveryOf(app, started.body.id as string, 'sent');
    expect((sent.delivery as { attempts: number }).attempts).toBeGreaterThan(1);
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id: started.body.id, code: codeIn(mail.text) })).toMatchObject({
      status: 200,
    });
  });

  it('ends failed with the SMTP error when SMTP stays down, and readiness shows the email channel unusable without failing', async () => {
    const app = await service({ DELIVERY_ATTEMPTS: '2', DELIVERY_BACKOFF_MS: '100' });
    await smtp.stop();
    const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: uniqueEmail() });
    const failed = await deliveryOf(app, started.body.id as string, 'failed');
    expect(failed).toMatchObject({ status: 'failed', delivery: { attempts: 2 } });
    expect(String((failed.delivery as Record<string, unknown>).lastError)).toMatch(/smtp: outage: .*(ECONNREFUSED|connect)/i);
    // A provider outage is every replica's: this one can still serve checks and the other channels.
    const ready = await fetch(`${app.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      details: { email: { status: 'down', usable: false }, sms: { status: 'up', usable: true } },
    });
  });

  it('never keeps the code in plain text in a queued job', async () => {
    const app = await service({ OTP_FIXED_CODE: '918273', DELIVERY_BACKOFF_MS: '60000' });
    await smtp.stop();
    const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: uniqueEmail() });
    await eventually(async () =>
      expect((await call(app.url, 'GET', `/v1/verifications/${started.body.id}`)).body).toMatchObject({
        delivery: { status: 'queued', attempts: 1 },
      }),
    );
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('*');
      expect(keys.some((key) => key.startsWith('{otp-delivery}'))).toBe(true);
      const dump: string[] = [];
      for (const key of keys) {
        const type = await client.type(key);
        if (type === 'hash') dump.push(key, ...Object.values(await client.hgetall(key)));
        else if (type === 'string') dump.push(key, (await client.get(key)) ?? '');
        else if (type === 'list') dump.push(key, ...(await client.lrange(key, 0, -1)));
        else if (type === 'zset') dump.push(key, ...(await client.zrange(key, 0, -1)));
        else if (type === 'set') dump.push(key, ...(await client.smembers(key)));
      }
      expect(dump.join('\n')).toContain(String(started.body.id));
      expect(dump.join('\n')).not.toMatch(standaloneCode('918273'));
    } finally {
      client.disconnect();
    }
  });

  it('delivers a queued message exactly once after the process is killed and started again', async () => {
    const processEnv = {
      ...env({ DELIVERY_BACKOFF_MS: '1500', DELIVERY_ATTEMPTS: '8' }),
      NODE_ENV: 'test',
      API_KEYS: 'restart-test-key-000000',
      OTP_SECRET: 'restart-test-otp-secret-0123456789abcdef',
      PORT: '0',
      HOST: '127.0.0.1',
    };
    await smtp.stop();
    const first = ServiceProcess.start(processEnv);
    let second: ServiceProcess | undefined;
    try {
      const url = await first.listening();
      const to = uniqueEmail();
      const response = await fetch(`${url}/v1/verifications`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'restart-test-key-000000' },
        body: JSON.stringify({ channel: 'email', to }),
      });
      expect(response.status).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 500));
      first.kill();
      await first.exited;

      await smtp.restart();
      second = ServiceProcess.start(processEnv);
      await second.listening();
      const restarted = second;
      await mailTo(to).catch((error: unknown) => {
        throw new Error(`${String(error)}\n--- first run ---\n${first.output}\n--- second run ---\n${restarted.output}`);
      });
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(smtp.received.filter((mail) => mail.to.includes(to))).toHaveLength(1);
    } finally {
      // Either left running would deliver from the next test's queue as a worker of its own.
      for (const service of [first, second]) service?.kill();
      await Promise.all([first.exited, second?.exited]);
    }
  }, 180_000); // two starts of the built service, each up to a minute on a busy machine
});

describe('delivery workers', () => {
  const WORKERS_KEY = '{otp-delivery}:workers';
  afterEach(() => jest.useRealTimers());

  const workersSeenBy = async (app: TestApp) =>
    ((await (await fetch(`${app.url}/health/ready`)).json()) as { details: { queue: { workers: number } } }).details.queue.workers;

  it('are counted by Redis’s clock, so replicas whose clocks are off still see each other', async () => {
    const client = new Redis(redis.url);
    const redisNow = async () => {
      const [seconds, micros] = await client.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    try {
      await client.del(WORKERS_KEY);
      // Replicas whose clocks run a minute ahead of the Redis server's (and of every other replica's).
      jest.useFakeTimers({
        now: Date.now() + 60_000,
        advanceTimers: true,
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
      const api = await service({ DELIVERY_WORKER: 'false' });
      expect(await workersSeenBy(api)).toBe(0);

      // A worker in another replica, with a right clock, that beat a moment ago.
      await client.zadd(WORKERS_KEY, await redisNow(), 'elsewhere:1');
      expect(await workersSeenBy(api)).toBe(1);

      // A worker here scores its heartbeat by Redis's clock too, not by its own minute-fast one.
      await service({ DELIVERY_WORKER: 'true' });
      await eventually(async () => expect(await client.zcard(WORKERS_KEY)).toBe(2));
      const scores = (await client.zrange(WORKERS_KEY, 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
      const now = await redisNow();
      for (const score of scores) expect(Math.abs(now - score)).toBeLessThan(10_000);
      expect(await workersSeenBy(api)).toBe(2);
    } finally {
      client.disconnect();
    }
  });
});
