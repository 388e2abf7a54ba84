import { Redis } from 'ioredis';
import { shortDigestCode } from '../src/otp/codes/otp-codes.js';
import { destinationKey, entryId } from '../src/otp/destination-hash.js';
import type { VerificationRecord } from '../src/otp/otp.types.js';
import { verificationKey } from '../src/otp/verification-key.js';
import { call, startApp, type TestApp } from './support/app.js';
import { Inboxes, JWT_SECRET } from './support/auth-inboxes.js';
import { LOOSE_LIMITS } from './support/environments.js';
import { nextLayoutHash, nextVersionId, sentEmailVerification } from './support/next-verification-hash.js';
import { RedisServer } from './support/redis-server.js';

/**
 * During a rolling update to the next version, its replicas store verifications that replicas of this
 * version serve: hashes of the next layout, under the keys of version-8 ids, and pending entries with
 * their expiry in seconds. Through this version's API, each must read, check and re-send as one of its own.
 */
const run = Date.now() % 100_000;
let redis: RedisServer;
let inboxes: Inboxes;
let client: Redis;
let service: TestApp;
beforeAll(async () => {
  [redis, inboxes] = await Promise.all([RedisServer.start(), Inboxes.start()]);
  client = new Redis(redis.url);
  service = await startApp({ ...inboxes.env(), JWT_SECRET, ...LOOSE_LIMITS, REDIS_URL: redis.url });
}, 60_000);
afterAll(async () => {
  await service?.close();
  client?.disconnect();
  await inboxes?.close();
  await redis?.stop();
});

/** What a replica of the next version leaves in Redis for a new email verification whose code it sent. */
async function storedByTheNextVersion(to: string, code: string): Promise<VerificationRecord & { hourEndsSeconds: number }> {
  const now = Date.now();
  const record = sentEmailVerification(nextVersionId(), to, now);
  const key = verificationKey(record.id);
  const secret = service.loaded.configuration.otp.secret;
  await client.hset(key, nextLayoutHash(record, shortDigestCode(secret, record.id, code)));
  await client.pexpire(key, 600_000 + 86_400_000);
  const seconds = (ms: number) => Math.ceil(ms / 1000);
  const hourEndsSeconds = seconds(now + 3_600_000);
  await client.hset(destinationKey(to), 'a:login', `${seconds(record.expiresAt)}:${entryId(record.id)}`, 'ah', 1, 'ahw', hourEndsSeconds);
  await client.pexpire(destinationKey(to), 86_400_000);
  return { ...record, hourEndsSeconds };
}

it('reads its status, counts a wrong code and approves the right one, found by its id or by its destination', async () => {
  const to = `next-${run}-1@example.com`;
  const record = await storedByTheNextVersion(to, '482913');
  expect(verificationKey(record.id)).toMatch(/^otp:\{[A-Za-z0-9_-]{22}\}$/);

  const status = await call(service.url, 'GET', `/v1/verifications/${record.id}`);
  expect(status.status).toBe(200);
  expect(status.body).toMatchObject({
    id: record.id,
    status: 'pending',
    channel: 'email',
    purpose: 'login',
    attemptsRemaining: 5,
    sendsRemaining: 4,
    createdAt: new Date(record.createdAt).toISOString(),
    delivery: { status: 'sent', provider: 'smtp', attempts: 1 },
  });

  const wrong = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code: '000000' });
  expect([wrong.status, wrong.body.code, wrong.body.attemptsRemaining]).toEqual([422, 'OTP_INCORRECT', 4]);
  const right = await call(service.url, 'POST', '/v1/verifications/check', { to, purpose: 'login', code: '482913' });
  expect([right.status, right.body]).toEqual([200, { id: record.id, status: 'approved' }]);
  expect((await call(service.url, 'GET', `/v1/verifications/${record.id}`)).body.status).toBe('approved');
});

it('is the pending verification a new send re-sends, whose new code then approves it', async () => {
  const to = `next-${run}-2@example.com`;
  const record = await storedByTheNextVersion(to, '482913');

  const resent = await call(service.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'login', clientIp: '203.0.113.7' });
  expect(resent.status).toBe(201);
  expect(resent.body).toMatchObject({ id: record.id, sendsRemaining: 3 });
  const code = await inboxes.nextCode(to);
  // The old code stopped working with the resend.
  if (code !== '482913') {
    const old = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code: '482913' });
    expect(old.status).toBe(422);
  }
  const right = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code });
  expect([right.status, right.body.status]).toEqual([200, 'approved']);
  // The resend counted in the hour the next version opened: its count went on, and it ends when it did (now in ms).
  expect(await client.hmget(destinationKey(to), 'ah', 'ahw')).toEqual(['2', String(record.hourEndsSeconds * 1000)]);
});
