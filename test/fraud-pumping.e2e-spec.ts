import { Redis } from 'ioredis';
import { destinationKey } from '../src/otp/destination-hash.js';
import { ADMIN, call, startApp, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { FakeTwilio } from './support/fake-twilio.js';
import { RedisServer } from './support/redis-server.js';

/**
 * An SMS pumping burst against the real application on a real Redis, texts going to a fake Twilio:
 * sequential numbers of one range, stopped by the prefix limit; then one number in each of many ranges
 * of the same country, no code ever entered, until the country is suspended. Meanwhile people in
 * another country receive and enter their codes, and are never refused.
 */
const GRACE_SECONDS = 1;
const MIN_SAMPLE = 8;
const PREFIX_CAP = 5;

let redis: RedisServer;
let twilio: FakeTwilio;
let app: TestApp;
let redisClient: Redis;

/** The verifications Redis holds: a hash under `otp:{<id in base64url>}` each (verification-key.ts). */
async function verificationsIn(client: Redis): Promise<number> {
  let count = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', 'otp:{*}', 'COUNT', 1000);
    count += keys.filter((key) => /^otp:\{[A-Za-z0-9_-]{22}\}$/.test(key)).length;
    cursor = next;
  } while (cursor !== '0');
  return count;
}

beforeAll(async () => {
  [redis, twilio] = await Promise.all([RedisServer.start(), FakeTwilio.start()]);
  app = await startApp({
    REDIS_URL: redis.url,
    OTP_CHANNELS: 'email,sms',
    ...textsThroughTwilio(),
    OTP_RESEND_COOLDOWN_SECONDS: '0',
    SMS_MAX_SENDS_PER_PREFIX_PER_HOUR: String(PREFIX_CAP),
    SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: '*:1000',
    FRAUD_MIN_SAMPLE: String(MIN_SAMPLE),
    FRAUD_GRACE_SECONDS: String(GRACE_SECONDS),
    FRAUD_MIN_CONVERSION: '0.5',
    FRAUD_SUSPEND_MINUTES: '30',
  });
  redisClient = new Redis(redis.url);
}, 60_000);
afterAll(async () => {
  redisClient?.disconnect();
  await app?.close();
  await Promise.all([twilio?.close(), redis?.stop()]);
});

/** Texts sent through the fake Twilio, and no per-IP limit in the way of a burst from one client. */
const textsThroughTwilio = () => ({
  SMS_PROVIDERS: 'twilio',
  TWILIO_ACCOUNT_SID: twilio.accountSid,
  TWILIO_AUTH_TOKEN: twilio.authToken,
  TWILIO_FROM: '+14155550100',
  TWILIO_API_BASE_URL: twilio.url,
  RATE_LIMIT_IP_PER_MINUTE: '100000',
});

const send = (to: string) => call(app.url, 'POST', '/v1/verifications', { channel: 'sms', to });
const textsTo = (to: string) => twilio.messages.filter((message) => message.To === to);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A person in the US: a number of a range of its own, the code read from the text Twilio received, and entered. */
let person = 0;
async function legitimateSignIn(): Promise<void> {
  const to = `+1201555${++person % 10}${String(100 + person).slice(-3)}`;
  const started = await send(to);
  expect(started.status).toBe(201);
  await eventually(async () => expect(textsTo(to)).toHaveLength(1));
  const code = /\b(\d{6})\b/.exec(textsTo(to)[0]!.Body!)![1];
  expect(await call(app.url, 'POST', '/v1/verifications/check', { id: started.body.id, code })).toMatchObject({ status: 200 });
}

it('stops a pumping burst by its prefix, then suspends its country, and never refuses another country', async () => {
  // The same minutes' real traffic elsewhere: enough US sends for the rule to judge, all entered.
  for (let i = 0; i < MIN_SAMPLE; i++) await legitimateSignIn();

  // Sequential numbers of one range: the prefix limit stops them.
  const range = Array.from({ length: 8 }, (_, i) => `+447400123${String(i).padStart(3, '0')}`);
  const answers = [];
  for (const to of range) answers.push(await send(to));
  expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201, 201, 429, 429, 429]);
  const throttled = answers[5]!;
  expect(throttled.body).toMatchObject({ code: 'DESTINATION_THROTTLED', retryAfter: expect.any(Number) });
  expect(Number(throttled.headers.get('retry-after'))).toBe(throttled.body.retryAfter);
  expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(3500);
  await eventually(async () => expect(twilio.messages.filter((m) => m.To!.startsWith('+447400123'))).toHaveLength(PREFIX_CAP));
  // A refused send leaves no verification, and no pending entry that names one, though its send was counted.
  for (const to of range.slice(PREFIX_CAP)) {
    expect(Object.keys(await redisClient.hgetall(destinationKey(to))).filter((field) => field.includes(':'))).toEqual([]);
  }
  expect(await verificationsIn(redisClient)).toBe(MIN_SAMPLE + PREFIX_CAP);

  // One number in each of many ranges of the same country: no prefix limit binds, no code is entered.
  const spread = Array.from({ length: 5 }, (_, i) => `+4474001${24 + i}555`);
  for (const to of spread) expect((await send(to)).status).toBe(201);
  await legitimateSignIn();

  // Once those sends are older than the grace, the next one finds GB's rate at 0 of 10, and GB is suspended.
  await sleep(GRACE_SECONDS * 1000 + 200);
  const next = '+447400200001';
  const suspended = await send(next);
  expect(suspended).toMatchObject({ status: 403, body: { code: 'DESTINATION_SUSPENDED', retryAfter: 1800 } });
  expect(suspended.headers.get('retry-after')).toBe('1800');
  expect((await send('+447400300001')).body.code).toBe('DESTINATION_SUSPENDED');
  // The auth routes go through the same path, and answer the same whether or not an account exists.
  expect(await call(app.url, 'POST', '/v1/auth/otp/start', { identifier: '+447400400001', purpose: 'login' })).toMatchObject({
    status: 403,
    body: { code: 'DESTINATION_SUSPENDED' },
  });
  expect(await call(app.url, 'POST', '/v1/auth/register', { phone: '+447400500001', password: 'a-long-enough-password' })).toMatchObject({
    status: 403,
    body: { code: 'DESTINATION_SUSPENDED' },
  });
  // Nothing of the refused sends reached Twilio.
  await sleep(300);
  expect(twilio.messages.filter((m) => m.To!.startsWith('+44'))).toHaveLength(PREFIX_CAP + spread.length);

  // The US, in the same minutes, is untouched: sends and approvals go on.
  for (let i = 0; i < 3; i++) await legitimateSignIn();

  // The admin view, the metrics and the log all show it.
  const view = await call(app.url, 'GET', '/v1/admin/fraud', undefined, ADMIN);
  expect(view.status).toBe(200);
  expect(view.body.suspensions).toEqual([
    { country: 'GB', suspendedAt: expect.any(String), until: expect.any(String), sends: PREFIX_CAP + spread.length, approved: 0 },
  ]);
  expect(view.body.countries).toEqual([{ country: 'US', sends: MIN_SAMPLE + 4, approved: MIN_SAMPLE + 4 }]);
  const metrics = await (await fetch(`${app.url}/metrics`)).text();
  expect(metrics).toContain('otp_fraud_refusals_total{reason="prefix",country="GB"} 3');
  expect(metrics).toContain('otp_fraud_refusals_total{reason="suspended",country="GB"} 4');
  expect(metrics).toContain('otp_fraud_suspensions_total{country="GB"} 1');
  expect(metrics).toContain('otp_fraud_suspended{country="GB"} 1');
  expect(metrics).not.toMatch(/otp_fraud_refusals_total\{[^}]*country="US"/);
  const warnings = app.logs.entries.filter((entry) => entry.level === 'warn' && entry.context === 'FraudGuard');
  expect(warnings).toHaveLength(1);
  expect(warnings[0]!.message).toContain(`GB suspended for 30 minutes: of the ${PREFIX_CAP + spread.length} SMS/WhatsApp codes`);
  expect(warnings[0]!.message).not.toMatch(/\d{6}/);
  expect(app.logs.entries.filter((entry) => entry.record.event === 'fraud.suspended')).toHaveLength(1);

  // Lifted by an admin: GB's sends go out again, and the sends that suspended it cannot do so twice.
  expect((await call(app.url, 'DELETE', '/v1/admin/fraud/suspensions/gb', undefined, ADMIN)).status).toBe(204);
  expect((await call(app.url, 'GET', '/v1/admin/fraud', undefined, ADMIN)).body.suspensions).toEqual([]);
  expect((await send('+447400600001')).status).toBe(201);
  await eventually(async () => expect(textsTo('+447400600001')).toHaveLength(1));
  expect(app.logs.entries.some((entry) => entry.record.event === 'admin.fraud_suspension_lifted' && entry.record.country === 'GB')).toBe(
    true,
  );
}, 60_000);

it('accepts only the admin keys, and refuses a country code that is not one', async () => {
  expect((await call(app.url, 'GET', '/v1/admin/fraud')).status).toBe(401);
  expect((await call(app.url, 'DELETE', '/v1/admin/fraud/suspensions/GB')).status).toBe(401);
  expect(await call(app.url, 'DELETE', '/v1/admin/fraud/suspensions/GBR', undefined, ADMIN)).toMatchObject({
    status: 400,
    body: { code: 'VALIDATION_FAILED' },
  });
});

describe("sends a destination's own limits refuse", () => {
  const CAP = 4;
  let limited: TestApp;
  // A Redis of its own: the other application's worker would take this one's messages from a shared queue.
  let ownRedis: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    ownRedis = await RedisServer.start();
    client = new Redis(ownRedis.url);
    limited = await startApp({
      REDIS_URL: ownRedis.url,
      OTP_CHANNELS: 'sms',
      ...textsThroughTwilio(),
      OTP_RESEND_COOLDOWN_SECONDS: '600',
      SMS_MAX_SENDS_PER_PREFIX_PER_HOUR: String(CAP),
      SMS_MAX_SENDS_PER_COUNTRY_PER_HOUR: '*:1000',
      FRAUD_MIN_CONVERSION: '0',
    });
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await limited?.close();
    await ownRedis?.stop();
  });

  // The fraud guard is asked beside the destination's own limits and counts what it admits: a send those limits
  // refuse must give its count back before it is answered, or a stranger's refused sends would spend a prefix's cap.
  it("leave the fraud guard's counts as they were, however many arrive at once", async () => {
    // French mobile numbers sharing all but their last three digits.
    const range = '+33612345';
    const sendTo = (to: string, purpose = 'verify') => call(limited.url, 'POST', '/v1/verifications', { channel: 'sms', to, purpose });
    expect((await sendTo(`${range}001`)).status).toBe(201);
    // Within the cooldown: a re-send of that verification, and new verifications for other purposes, all refused.
    const refused = await Promise.all(Array.from({ length: 60 }, (_, i) => sendTo(`${range}001`, i % 2 === 0 ? 'verify' : `purpose_${i}`)));
    expect(refused.map((answer) => answer.body.code)).toEqual(Array(60).fill('OTP_RESEND_TOO_SOON'));
    expect(await client.get(`otp:{fraud}:prefix:${range}`)).toBe('1');
    expect(await client.get('otp:{fraud}:country:FR')).toBe('1');
    expect(await client.zcard('otp:{fraud}:sent:FR')).toBe(1);
    // The prefix's cap is whole for the neighbours: three more numbers, and only then is the range refused.
    for (const to of [`${range}002`, `${range}003`, `${range}004`]) expect((await sendTo(to)).status).toBe(201);
    expect(await sendTo(`${range}005`)).toMatchObject({ status: 429, body: { code: 'DESTINATION_THROTTLED' } });
    expect(await client.get(`otp:{fraud}:prefix:${range}`)).toBe(String(CAP));
    await eventually(async () => expect(twilio.messages.filter((m) => m.To!.startsWith(range))).toHaveLength(CAP));
  }, 30_000);
});
