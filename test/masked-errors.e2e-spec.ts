import { Redis } from 'ioredis';
import { call, startApp, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { FakeTwilio } from './support/fake-twilio.js';
import { RedisServer } from './support/redis-server.js';
import { SmtpTestServer } from './support/smtp-test-server.js';

/**
 * Vendors quote the destination back in their errors, sometimes reformatted. None of those forms may
 * reach what the service stores or shows: /health/messaging, a verification's delivery.lastError,
 * the log, or anything in Redis (the queue's failed-job reasons included).
 */
const EMAIL = 'jane.doe@corp.example';
const EMAIL_FORMS = [EMAIL, 'jane.doe', 'Jane.Doe@Corp.Example', 'jane.doe%40corp.example'];
const PHONE = '+447911123456';
const PHONE_FORMS = [PHONE, '447911123456', '7911123456', '7911 123456', '07911 123456', '%2B447911123456'];

let redis: RedisServer;
let smtp: SmtpTestServer;
let twilio: FakeTwilio;
let service: TestApp;

beforeAll(async () => {
  [redis, smtp, twilio] = await Promise.all([RedisServer.start(), SmtpTestServer.start(), FakeTwilio.start()]);
  // A busy mailbox first (a retried attempt), then a refusal for good, each quoting the address.
  smtp.failNext({ stage: 'rcpt', code: 451, message: `4.2.1 <${EMAIL}>: mailbox busy, try Jane.Doe@Corp.Example later` });
  smtp.failAlways({ stage: 'rcpt', code: 550, message: `5.1.1 <${EMAIL}>: Recipient address rejected (jane.doe%40corp.example)` });
  twilio.failAlways({
    status: 400,
    code: 21211,
    message: "The 'To' number +447911123456 is not a valid phone number (07911 123456, 44 7911 123456, To=%2B447911123456)",
  });
  service = await startApp({
    REDIS_URL: redis.url,
    OTP_CHANNELS: 'email,sms',
    EMAIL_PROVIDERS: 'smtp',
    SMS_PROVIDERS: 'twilio',
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtp.port),
    SMTP_FROM: 'Example <no-reply@example.com>',
    TWILIO_ACCOUNT_SID: twilio.accountSid,
    TWILIO_AUTH_TOKEN: twilio.authToken,
    TWILIO_FROM: '+14155550100',
    TWILIO_API_BASE_URL: twilio.url,
    DELIVERY_ATTEMPTS: '3',
    DELIVERY_BACKOFF_MS: '100',
  });
}, 120_000);
afterAll(async () => {
  await service?.close();
  await Promise.all([redis?.stop(), smtp?.stop(), twilio?.close()]);
});

/** Every key of the test Redis with its whole value, one line each. */
async function everythingInRedis(): Promise<string[]> {
  const client = new Redis(redis.url);
  try {
    const lines: string[] = [];
    for (const key of await client.keys('*')) {
      const type = await client.type(key);
      let value: unknown;
      if (type === 'string') value = await client.get(key);
      else if (type === 'hash') value = await client.hgetall(key);
      else if (type === 'list') value = await client.lrange(key, 0, -1);
      else if (type === 'set') value = await client.smembers(key);
      else if (type === 'zset') value = await client.zrange(key, 0, -1, 'WITHSCORES');
      else value = (await client.dumpBuffer(key))?.toString('latin1');
      lines.push(`${key} ${JSON.stringify(value)}`);
    }
    return lines;
  } finally {
    client.disconnect();
  }
}

/**
 * Where the store keeps a destination by design (the verification's `to`, field `t` of its compact hash,
 * and the destination's hash of send limits and pending index is keyed by it): removed, so what remains
 * is everything else.
 */
function withoutTheStoresOwnDestinationFields(line: string, destination: string): string {
  return line.split(`{d:${destination}}`).join('{d:…}').split(`"t":"${destination}"`).join('"t":"…"');
}

async function failedDelivery(channel: 'email' | 'sms', to: string): Promise<Record<string, unknown>> {
  const started = await call(service.url, 'POST', '/v1/verifications', { channel, to });
  expect(started.status).toBe(201);
  let delivery: Record<string, unknown> = {};
  await eventually(async () => {
    const read = await call(service.url, 'GET', `/v1/verifications/${started.body.id as string}`);
    delivery = read.body.delivery as Record<string, unknown>;
    expect(delivery.status).toBe('failed');
  }, 15_000);
  return delivery;
}

it('masks the address an SMTP server quotes, and the number Twilio quotes, everywhere they are kept or shown', async () => {
  const email = await failedDelivery('email', EMAIL);
  const sms = await failedDelivery('sms', PHONE);
  // The vendors did quote them: what is shown is their message, masked.
  expect(email.lastError).toContain('<j***@corp.example>');
  expect(sms.lastError).toContain('+44******3456');
  expect(smtp.refusedCount).toBeGreaterThanOrEqual(2);

  const health = await (await fetch(`${service.url}/health/messaging`)).text();
  expect(health).toContain('j***@corp.example');
  expect(health).toContain('+44******3456');

  const redisLines = await everythingInRedis();
  expect(redisLines.join('\n')).toContain('j***@corp.example');

  const logs = service.logs.text();
  for (const [forms, destination] of [
    [EMAIL_FORMS, EMAIL],
    [PHONE_FORMS, PHONE],
  ] as const) {
    for (const form of forms) {
      expect(JSON.stringify(email)).not.toContain(form);
      expect(JSON.stringify(sms)).not.toContain(form);
      expect(health).not.toContain(form);
      expect(logs).not.toContain(form);
      for (const line of redisLines) expect(withoutTheStoresOwnDestinationFields(line, destination)).not.toContain(form);
    }
  }
}, 60_000);
