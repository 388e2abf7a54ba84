import { Redis } from 'ioredis';
import { shortDigestCode } from '../src/otp/codes/otp-codes.js';
import { destinationKey, entryId } from '../src/otp/destination-hash.js';
import { RETENTION_MS } from '../src/otp/store/otp-store.js';
import { mintVerificationId, verificationKey } from '../src/otp/verification-key.js';
import { call, startApp, type TestApp } from './support/app.js';
import { Inboxes, JWT_SECRET } from './support/auth-inboxes.js';
import { LOOSE_LIMITS } from './support/environments.js';
import { nextLayoutHash } from './support/next-verification-hash.js';
import { sentEmailVerification } from './support/previous-verification-hash.js';
import { RedisServer } from './support/redis-server.js';

/**
 * During a rolling update to the next version, its replicas store verifications that replicas of this
 * version serve: hashes without a locale field for the default locale, and with the delivery's provider
 * as its code. Through this version's API, each must read, check and re-send as one of its own.
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

/** What a replica of the next version leaves in Redis for a new email verification whose code it sent by SMTP. */
async function storedByTheNextVersion(to: string, code: string) {
  const sent = sentEmailVerification(mintVerificationId(), to, Date.now());
  const record = { ...sent, digest: shortDigestCode(service.loaded.configuration.otp.secret, sent.id, code) };
  const key = verificationKey(record.id);
  await client.hset(key, nextLayoutHash(record));
  await client.pexpire(key, 600_000 + RETENTION_MS);
  await client.hset(destinationKey(to), 'a:login', `${Math.ceil(record.expiresAt / 1000)}:${entryId(record.id)}`);
  await client.pexpire(destinationKey(to), 86_400_000);
  return record;
}

it('reads its provider from its code, and checks it by its id', async () => {
  const to = `next-${run}-1@example.com`;
  const record = await storedByTheNextVersion(to, '482913');
  expect(await client.hmget(verificationKey(record.id), 'l', 'dp')).toEqual([null, 'm']);

  const status = await call(service.url, 'GET', `/v1/verifications/${record.id}`);
  expect(status).toMatchObject({ status: 200, body: { id: record.id, status: 'pending', delivery: { status: 'sent', provider: 'smtp' } } });
  const wrong = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code: '000000' });
  expect([wrong.status, wrong.body.attemptsRemaining]).toEqual([422, 4]);
  const right = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code: '482913' });
  expect([right.status, right.body]).toEqual([200, { id: record.id, status: 'approved' }]);
});

it('re-sends it in the default locale, the one it was started in', async () => {
  const to = `next-${run}-2@example.com`;
  const record = await storedByTheNextVersion(to, '482913');
  const resent = await call(service.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'login', clientIp: '203.0.113.7' });
  expect(resent).toMatchObject({ status: 201, body: { id: record.id, sendsRemaining: 3 } });
  const message = await inboxes.next(to);
  expect(message.subject).toMatch(/^Your .* code$/);
  const code = /\b(\d{6})\b/.exec(message.text)![1]!;
  const right = await call(service.url, 'POST', '/v1/verifications/check', { to, purpose: 'login', code });
  expect([right.status, right.body.status]).toEqual([200, 'approved']);
});
