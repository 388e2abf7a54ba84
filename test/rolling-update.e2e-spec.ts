import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { digestCode, shortDigestCode } from '../src/otp/codes/otp-codes.js';
import { destinationKey, entryId } from '../src/otp/destination-hash.js';
import type { VerificationRecord } from '../src/otp/otp.types.js';
import { RETENTION_MS } from '../src/otp/store/otp-store.js';
import { mintVerificationId, verificationKey } from '../src/otp/verification-key.js';
import { call, startApp, type TestApp } from './support/app.js';
import { Inboxes, JWT_SECRET } from './support/auth-inboxes.js';
import { LOOSE_LIMITS } from './support/environments.js';
import { eventually } from './support/eventually.js';
import { oldestLayoutHash, olderLayoutHash, previousLayoutHash, sentEmailVerification } from './support/previous-verification-hash.js';
import { RedisServer } from './support/redis-server.js';

/**
 * A rolling update mixes replicas of two versions, each serving what the other stores. Through this version's
 * API, what the previous version stored, and what the versions before it stored a day before, must read, check
 * and re-send as this version's own; the previous version reads what this one stores (verification-hash.ts).
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

describe('a verification the version three before this one stored', () => {
  // From that version: hashes with statuses in full, zeros written out and 32-byte digests, under the keys of
  // version-4 ids, and destinations' times in milliseconds; what this version then writes is its own layout.
  /** What a replica of that version left in Redis for a new email verification whose code it sent. */
  async function storedByAnOlderVersion(to: string, code: string): Promise<VerificationRecord & { hourEnds: number }> {
    const now = Date.now();
    const sent = sentEmailVerification(randomUUID(), to, now);
    const record = { ...sent, digest: digestCode(service.loaded.configuration.otp.secret, sent.id, sent.purpose, code) };
    const key = verificationKey(record.id);
    await client.hset(key, oldestLayoutHash(record));
    await client.pexpire(key, 600_000 + 86_400_000);
    const hourEnds = now + 3_600_000;
    await client.hset(destinationKey(to), 'a:login', `${record.expiresAt}:${entryId(record.id)}`, 'ah', 1, 'ahw', hourEnds);
    await client.pexpire(destinationKey(to), 86_400_000);
    return { ...record, hourEnds };
  }

  it('reads its status, counts a wrong code and approves the right one, found by its id or by its destination', async () => {
    const to = `older-${run}-1@example.com`;
    const record = await storedByAnOlderVersion(to, '482913');
    expect(verificationKey(record.id)).toBe(`otp:{v:${record.id}}`);

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
    // Email, the Verifications API's budget, approved, sent by SMTP: its codes together in one field, as this version writes them.
    expect(await client.hmget(verificationKey(record.id), 'f', 's')).toEqual(['eaasm', null]);
  });

  it('is the pending verification a new send re-sends, whose new code then approves it', async () => {
    const to = `older-${run}-2@example.com`;
    const record = await storedByAnOlderVersion(to, '482913');

    const resent = await call(service.url, 'POST', '/v1/verifications', {
      channel: 'email',
      to,
      purpose: 'login',
      clientIp: '203.0.113.7',
    });
    expect(resent.status).toBe(201);
    expect(resent.body).toMatchObject({ id: record.id, sendsRemaining: 3 });
    const code = await inboxes.nextCode(to);
    // The new code's digest is this version's, under the key the verification has had all along.
    expect((await client.hgetBuffer(verificationKey(record.id), 'g'))!).toHaveLength(16);
    // The old code stopped working with the resend.
    if (code !== '482913') {
      const old = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code: '482913' });
      expect(old.status).toBe(422);
    }
    const right = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code });
    expect([right.status, right.body.status]).toEqual([200, 'approved']);
    // The resend counted in the hour the previous version opened: its count went on, and it ends when it did (now in seconds).
    expect(await client.hmget(destinationKey(to), 'ah', 'ahw')).toEqual(['2', String(Math.floor(record.hourEnds / 1000))]);
  });

  it('mints a new verification as this version does: a version-8 id under its compact key', async () => {
    const to = `older-${run}-3@example.com`;
    const sent = await call(service.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'login', clientIp: '203.0.113.7' });
    expect(sent.status).toBe(201);
    expect(sent.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const key = verificationKey(String(sent.body.id));
    expect(key).toMatch(/^otp:\{[A-Za-z0-9_-]{22}\}$/);
    expect(await client.hmget(key, 'f', 'k', 's', 'b')).toEqual([expect.stringMatching(/^eap/), null, null, null]);
    const code = await inboxes.nextCode(to);
    // The default locale is no field, and the provider is its code, with the others in one field: what the previous version reads already.
    await eventually(async () => expect(await client.hmget(key, 'l', 'f', 'ds', 'dp')).toEqual([null, 'eapsm=', null, null]));
    expect((await call(service.url, 'GET', `/v1/verifications/${sent.body.id}`)).body).toMatchObject({
      delivery: { status: 'sent', provider: 'smtp' },
    });
    const right = await call(service.url, 'POST', '/v1/verifications/check', { id: sent.body.id, code });
    expect([right.status, right.body.status]).toEqual([200, 'approved']);
  });
});

/**
 * What a replica of the previous version, or of the one before it, leaves in Redis for a new email verification whose code it
 * sent by SMTP, in that version's `layout` (both write destinations as this version does).
 */
async function storedIn(
  layout: (record: VerificationRecord) => Record<string, string | number | Buffer>,
  to: string,
  code: string,
  locale = 'en',
) {
  const sent = { ...sentEmailVerification(mintVerificationId(), to, Date.now()), locale };
  const record = { ...sent, digest: shortDigestCode(service.loaded.configuration.otp.secret, sent.id, code) };
  const key = verificationKey(record.id);
  await client.hset(key, layout(record));
  await client.pexpire(key, 600_000 + RETENTION_MS);
  await client.hset(destinationKey(to), 'a:login', `${Math.ceil(record.expiresAt / 1000)}:${entryId(record.id)}`);
  await client.pexpire(destinationKey(to), 86_400_000);
  return record;
}

describe('a verification the version before the previous one stored', () => {
  // From that version: a field for the default locale, and the delivery's provider in full.
  const storedByThePreviousVersion = (to: string, code: string, locale = 'en') => storedIn(olderLayoutHash, to, code, locale);

  it('reads its provider in full, and checks it by its id', async () => {
    const to = `last-${run}-1@example.com`;
    const record = await storedByThePreviousVersion(to, '482913');
    expect(await client.hmget(verificationKey(record.id), 'l', 'dp')).toEqual(['en', 'smtp']);

    const status = await call(service.url, 'GET', `/v1/verifications/${record.id}`);
    expect(status).toMatchObject({
      status: 200,
      body: { id: record.id, status: 'pending', delivery: { status: 'sent', provider: 'smtp' } },
    });
    const wrong = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code: '000000' });
    expect([wrong.status, wrong.body.attemptsRemaining]).toEqual([422, 4]);
    const right = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code: '482913' });
    expect([right.status, right.body]).toEqual([200, { id: record.id, status: 'approved' }]);
  });

  it('re-sends it in the locale it was started in', async () => {
    const to = `last-${run}-2@example.com`;
    const record = await storedByThePreviousVersion(to, '482913', 'es');
    const resent = await call(service.url, 'POST', '/v1/verifications', {
      channel: 'email',
      to,
      purpose: 'login',
      clientIp: '203.0.113.7',
    });
    expect(resent).toMatchObject({ status: 201, body: { id: record.id, sendsRemaining: 3 } });
    const message = await inboxes.next(to);
    expect(message.subject).toMatch(/^Tu código de /);
    const code = /\b(\d{6})\b/.exec(message.text)![1]!;
    const right = await call(service.url, 'POST', '/v1/verifications/check', { to, purpose: 'login', code });
    expect([right.status, right.body.status]).toEqual([200, 'approved']);
  });
});

describe('a verification the previous version stored', () => {
  // From the previous version: the codes of the channel, the budget, both statuses and the provider each in its own field.
  const storedByThePreviousVersion = (to: string, code: string) => storedIn(previousLayoutHash, to, code);

  it('reads its codes from their fields, checks it by its id, and packs them the first time it changes it', async () => {
    const to = `prev-${run}-1@example.com`;
    const record = await storedByThePreviousVersion(to, '482913');
    expect(await client.hmget(verificationKey(record.id), 'f', 's', 'dp')).toEqual([null, 'p', 'm']);

    const status = await call(service.url, 'GET', `/v1/verifications/${record.id}`);
    expect(status).toMatchObject({
      status: 200,
      body: { id: record.id, channel: 'email', status: 'pending', delivery: { status: 'sent', provider: 'smtp' } },
    });
    const wrong = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code: '000000' });
    expect([wrong.status, wrong.body.attemptsRemaining]).toEqual([422, 4]);
    expect(await client.hmget(verificationKey(record.id), 'f', 's', 'dp')).toEqual(['eapsm', null, null]);
    const right = await call(service.url, 'POST', '/v1/verifications/check', { id: record.id, code: '482913' });
    expect([right.status, right.body]).toEqual([200, { id: record.id, status: 'approved' }]);
  });

  it('is the pending verification a new send re-sends, whose new code then approves it', async () => {
    const to = `prev-${run}-2@example.com`;
    const record = await storedByThePreviousVersion(to, '482913');
    const resent = await call(service.url, 'POST', '/v1/verifications', {
      channel: 'email',
      to,
      purpose: 'login',
      clientIp: '203.0.113.8',
    });
    expect(resent).toMatchObject({ status: 201, body: { id: record.id, sendsRemaining: 3 } });
    const code = /\b(\d{6})\b/.exec((await inboxes.next(to)).text)![1]!;
    const right = await call(service.url, 'POST', '/v1/verifications/check', { to, purpose: 'login', code });
    expect([right.status, right.body]).toEqual([200, { id: record.id, status: 'approved' }]);
  });
});
