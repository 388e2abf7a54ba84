import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { digestCode } from '../src/otp/codes/otp-codes.js';
import type { VerificationRecord } from '../src/otp/otp.types.js';
import { MemoryOtpStore } from '../src/otp/store/memory-otp.store.js';
import type { OtpStore } from '../src/otp/store/otp-store.js';
import { RedisOtpStore } from '../src/otp/store/redis-otp.store.js';
import { MemorySendLimiter } from '../src/otp/limits/memory-send-limiter.js';
import { RedisSendLimiter } from '../src/otp/limits/redis-send-limiter.js';
import { DAY_MS, type SendLimiter } from '../src/otp/limits/send-limiter.js';
import { REDIS_SCRIPTS } from '../src/redis/redis-scripts.js';
import { RedisDeliveryLedger } from '../src/messaging/delivery/delivery-ledger.js';
import { RedisServer } from './support/redis-server.js';
import { standaloneCode } from './support/codes.js';

/** One contract, two stores: whatever the memory store guarantees, the Redis store must too. */
const SECRET = 'contract-secret-0123456789abcdefghijkl';
let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  redis = await RedisServer.start();
  client = new Redis(redis.url, { scripts: REDIS_SCRIPTS });
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

function record(overrides: Partial<VerificationRecord> = {}, code = '123456'): VerificationRecord {
  const id = overrides.id ?? randomUUID();
  const now = overrides.createdAt ?? Date.now();
  const purpose = overrides.purpose ?? 'verify';
  return {
    id,
    channel: 'email',
    to: `${id}@example.com`,
    purpose,
    budget: 'api',
    locale: 'en',
    status: 'pending',
    digest: digestCode(SECRET, id, purpose, code),
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 600_000,
    attempts: 0,
    maxAttempts: 3,
    sends: 1,
    maxSends: 3,
    lastSentAt: now,
    delivery: { status: 'queued', provider: null, attempts: 0, lastError: null, updatedAt: now },
    codeIssuer: null,
    ...overrides,
  };
}
const digest = (r: VerificationRecord, code: string) => digestCode(SECRET, r.id, r.purpose, code);

describe.each([
  ['memory', () => new MemoryOtpStore() as OtpStore],
  ['redis', () => new RedisOtpStore(client) as OtpStore],
])('the %s OTP store', (_name, make) => {
  let store: OtpStore;
  beforeEach(() => {
    store = make();
  });
  afterEach(() => (store as Partial<MemoryOtpStore>).onModuleDestroy?.());

  it('stores a pending verification and finds it by destination and purpose', async () => {
    const r = record();
    expect(await store.createPending(r)).toEqual({ created: true });
    expect(await store.findPendingId(r.to, r.purpose, 'api', Date.now())).toBe(r.id);
    expect(await store.findPendingId(r.to, 'other', 'api', Date.now())).toBeUndefined();
    expect(await store.get(r.id)).toEqual(r);
  });

  it('keeps one pending verification per destination and purpose', async () => {
    const first = record();
    const second = record({ to: first.to });
    await store.createPending(first);
    expect(await store.createPending(second)).toEqual({ created: false, pendingId: first.id });
    expect(await store.get(second.id)).toBeUndefined();
  });

  it('keeps the pending verifications of different budgets apart, though destination and purpose match', async () => {
    const api = record({ purpose: 'password_reset' });
    const anonymous = record({ to: api.to, purpose: 'password_reset', budget: 'anonymous' });
    const proven = record({ to: api.to, purpose: 'password_reset', budget: 'proven' });
    for (const r of [api, anonymous, proven]) expect(await store.createPending(r)).toEqual({ created: true });
    expect(await store.findPendingId(api.to, 'password_reset', 'api', Date.now())).toBe(api.id);
    expect(await store.findPendingId(api.to, 'password_reset', 'anonymous', Date.now())).toBe(anonymous.id);
    expect(await store.findPendingId(api.to, 'password_reset', 'proven', Date.now())).toBe(proven.id);
    expect(await store.get(anonymous.id)).toMatchObject({ budget: 'anonymous' });
    await store.cancel(api.id, Date.now());
    expect(await store.findPendingId(api.to, 'password_reset', 'api', Date.now())).toBeUndefined();
    expect(await store.findPendingId(api.to, 'password_reset', 'anonymous', Date.now())).toBe(anonymous.id);
  });

  it('keeps the pending verifications of different subjects apart, and each resend and settlement within its own', async () => {
    const first = record({ purpose: 'signup', budget: 'anonymous', subject: randomUUID() });
    const second = record({ to: first.to, purpose: 'signup', budget: 'anonymous', subject: randomUUID() });
    const unbound = record({ to: first.to, purpose: 'signup', budget: 'anonymous' });
    for (const r of [first, second, unbound]) expect(await store.createPending(r)).toEqual({ created: true });
    const again = record({ to: first.to, purpose: 'signup', budget: 'anonymous', subject: first.subject });
    expect(await store.createPending(again)).toEqual({ created: false, pendingId: first.id });
    expect(await store.get(first.id)).toEqual(first);
    expect(await store.findPendingId(first.to, 'signup', 'anonymous', Date.now(), first.subject)).toBe(first.id);
    expect(await store.findPendingId(first.to, 'signup', 'anonymous', Date.now(), second.subject)).toBe(second.id);
    expect(await store.findPendingId(first.to, 'signup', 'anonymous', Date.now())).toBe(unbound.id);
    expect(await store.findPendingId(first.to, 'signup', 'anonymous', Date.now(), randomUUID())).toBeUndefined();

    const now = Date.now();
    expect(await store.resend(second.id, { digest: digest(second, '654321'), expiresAt: now + 600_000, now })).toMatchObject({
      result: 'resent',
      record: { subject: second.subject, sends: 2 },
    });
    expect((await store.get(first.id))!.sends).toBe(1);
    expect(await store.check(first.id, digest(first, '123456'), Date.now())).toMatchObject({
      result: 'approved',
      record: { subject: first.subject },
    });
    expect(await store.findPendingId(first.to, 'signup', 'anonymous', Date.now(), first.subject)).toBeUndefined();
    expect(await store.findPendingId(first.to, 'signup', 'anonymous', Date.now(), second.subject)).toBe(second.id);
    expect(await store.findPendingId(first.to, 'signup', 'anonymous', Date.now())).toBe(unbound.id);
  });

  it('replaces a settled verification as the pending one', async () => {
    const first = record();
    await store.createPending(first);
    await store.cancel(first.id, Date.now());
    const second = record({ to: first.to });
    expect(await store.createPending(second)).toEqual({ created: true });
    expect(await store.findPendingId(first.to, 'verify', 'api', Date.now())).toBe(second.id);
  });

  it('does not find an expired verification as pending', async () => {
    const r = record();
    await store.createPending(r);
    expect(await store.findPendingId(r.to, r.purpose, 'api', r.expiresAt)).toBeUndefined();
  });

  it('approves the right digest once', async () => {
    const r = record();
    await store.createPending(r);
    const outcome = await store.check(r.id, digest(r, '123456'), Date.now());
    expect(outcome.result).toBe('approved');
    expect((await store.check(r.id, digest(r, '123456'), Date.now())).result).toBe('not_found');
    const stored = await store.get(r.id);
    expect(stored).toMatchObject({ status: 'approved', digest: '' });
    expect(await store.findPendingId(r.to, r.purpose, 'api', Date.now())).toBeUndefined();
  });

  it('counts wrong digests and locks at the limit', async () => {
    const r = record();
    await store.createPending(r);
    const wrong = digest(r, '000000');
    expect(await store.check(r.id, wrong, Date.now())).toMatchObject({ result: 'incorrect', record: { attempts: 1 } });
    expect(await store.check(r.id, wrong, Date.now())).toMatchObject({ result: 'incorrect', record: { attempts: 2 } });
    expect(await store.check(r.id, wrong, Date.now())).toMatchObject({
      result: 'incorrect',
      record: { attempts: 3, status: 'max_attempts' },
    });
    expect(await store.check(r.id, digest(r, '123456'), Date.now())).toMatchObject({ result: 'locked' });
  });

  it('refuses a digest after expiry', async () => {
    const r = record();
    await store.createPending(r);
    expect(await store.check(r.id, digest(r, '123456'), r.expiresAt)).toEqual({ result: 'not_found' });
  });

  it('decides concurrent checks exactly once each', async () => {
    const r = record({ maxAttempts: 100 });
    await store.createPending(r);
    const wrong = await Promise.all(Array.from({ length: 30 }, () => store.check(r.id, digest(r, '999999'), Date.now())));
    expect(wrong.every((o) => o.result === 'incorrect')).toBe(true);
    expect((await store.get(r.id))!.attempts).toBe(30);
    const right = await Promise.all(Array.from({ length: 30 }, () => store.check(r.id, digest(r, '123456'), Date.now())));
    expect(right.filter((o) => o.result === 'approved')).toHaveLength(1);
  });

  it('resends with a fresh digest, keeping failed attempts, up to the send limit', async () => {
    const r = record();
    await store.createPending(r);
    await store.check(r.id, digest(r, '000000'), Date.now());
    const now = Date.now();
    const resent = await store.resend(r.id, { digest: digest(r, '654321'), expiresAt: now + 600_000, now });
    expect(resent).toMatchObject({ result: 'resent', record: { sends: 2, attempts: 1, delivery: { status: 'queued' } } });
    expect((await store.check(r.id, digest(r, '123456'), Date.now())).result).toBe('incorrect');
    await store.resend(r.id, { digest: digest(r, '111111'), expiresAt: now + 600_000, now });
    expect(await store.resend(r.id, { digest: digest(r, '222222'), expiresAt: now + 600_000, now })).toMatchObject({ result: 'max_sends' });
    expect((await store.check(r.id, digest(r, '111111'), Date.now())).result).toBe('approved');
    expect(await store.resend(r.id, { digest: digest(r, '333333'), expiresAt: now + 600_000, now })).toEqual({ result: 'not_pending' });
  });

  it('applies delivery reports of the current send only, and fails the verification on a final failure', async () => {
    const r = record();
    await store.createPending(r);
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'sending', attempts: 1 }, Date.now());
    expect((await store.get(r.id))!.delivery).toMatchObject({ status: 'sending', attempts: 1 });
    const now = Date.now();
    await store.resend(r.id, { digest: digest(r, '222222'), expiresAt: now + 600_000, now });
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'failed', lastError: 'stale' }, Date.now());
    expect((await store.get(r.id))!).toMatchObject({ status: 'pending', delivery: { status: 'queued' } });
    await store.updateDelivery(r.id, { sendNumber: 2, status: 'sent', provider: 'smtp', attempts: 2, codeIssuer: null }, Date.now());
    expect((await store.get(r.id))!.delivery).toMatchObject({ status: 'sent', provider: 'smtp', attempts: 2, lastError: null });
    await store.updateDelivery(r.id, { sendNumber: 2, status: 'failed', lastError: 'smtp: 550 mailbox unavailable' }, Date.now());
    expect(await store.get(r.id)).toMatchObject({
      status: 'failed',
      digest: '',
      delivery: { status: 'failed', lastError: 'smtp: 550 mailbox unavailable' },
    });
    expect(await store.findPendingId(r.to, r.purpose, 'api', Date.now())).toBeUndefined();
  });

  it('moves a sent message to delivered or undelivered once, by its own receipt only, never backwards', async () => {
    const r = record();
    await store.createPending(r);
    const now = Date.now();
    expect(await store.updateDelivery(r.id, { sendNumber: 1, status: 'sent', provider: 'twilio', messageId: 'SM1' }, now)).toBe('applied');
    // Another message's receipt, then the right one, then a duplicate and a contradicting late one.
    expect(await store.updateDelivery(r.id, { sendNumber: 1, status: 'delivered', messageId: 'SM2' }, now + 1)).toBe('ignored');
    const undelivered = { sendNumber: 1, status: 'undelivered' as const, messageId: 'SM1', errorCode: '30003' };
    expect(await store.updateDelivery(r.id, undelivered, now + 2)).toBe('applied');
    expect(await store.updateDelivery(r.id, undelivered, now + 3)).toBe('ignored');
    expect(await store.updateDelivery(r.id, { sendNumber: 1, status: 'delivered', messageId: 'SM1' }, now + 4)).toBe('ignored');
    expect((await store.get(r.id))!.delivery).toMatchObject({
      status: 'undelivered',
      provider: 'twilio',
      messageId: 'SM1',
      errorCode: '30003',
    });
    // The next provider's message starts its own story, and is delivered.
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'sending', attempts: 1 }, now + 5);
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'sent', provider: 'sns', messageId: 'SN1' }, now + 6);
    expect(await store.updateDelivery(r.id, { sendNumber: 1, status: 'delivered', messageId: 'SN1', deliveredAt: now + 7 }, now + 8)).toBe(
      'applied',
    );
    const delivered = (await store.get(r.id))!;
    expect(delivered.delivery).toMatchObject({ status: 'delivered', provider: 'sns', messageId: 'SN1', deliveredAt: now + 7 });
    expect(delivered.delivery.errorCode).toBeUndefined();
    expect(delivered.status).toBe('pending');
    // A resend forgets the earlier message.
    await store.resend(r.id, { digest: digest(r, '654321'), expiresAt: now + 600_000, now: now + 9 });
    const resent = (await store.get(r.id))!.delivery;
    expect([resent.status, resent.messageId, resent.deliveredAt]).toEqual(['queued', undefined, undefined]);
  });

  it('settles provider-checked codes under the same attempt rules', async () => {
    const r = record({ digest: '', codeIssuer: 'twilio-verify', maxAttempts: 2 });
    await store.createPending(r);
    expect((await store.settleExternalCheck(r.id, false, Date.now())).result).toBe('incorrect');
    expect((await store.settleExternalCheck(r.id, false, Date.now())).result).toBe('incorrect');
    expect((await store.settleExternalCheck(r.id, true, Date.now())).result).toBe('locked');
    const other = record({ digest: '', codeIssuer: 'twilio-verify' });
    await store.createPending(other);
    expect((await store.check(other.id, '', Date.now())).result).toBe('incorrect');
    expect((await store.settleExternalCheck(other.id, true, Date.now())).result).toBe('approved');
  });

  it('cancels only what is pending', async () => {
    const r = record();
    await store.createPending(r);
    expect(await store.cancel(r.id, Date.now())).toBe(true);
    expect(await store.cancel(r.id, Date.now())).toBe(false);
    expect(await store.cancel(randomUUID(), Date.now())).toBe(false);
  });

  it('marks a delivery private for good, through resends, and creates nothing for an unknown id', async () => {
    const r = record();
    await store.createPending(r);
    expect((await store.get(r.id))!.deliveryPrivate).toBeUndefined();
    await store.markDeliveryPrivate(r.id);
    await store.resend(r.id, { digest: digest(r, '654321'), expiresAt: Date.now() + 600_000, now: Date.now() });
    expect(await store.get(r.id)).toMatchObject({ deliveryPrivate: true, sends: 2 });
    const unknown = randomUUID();
    await store.markDeliveryPrivate(unknown);
    expect(await store.get(unknown)).toBeUndefined();
  });
});

describe.each([
  ['memory', () => new MemorySendLimiter() as SendLimiter],
  ['redis', () => new RedisSendLimiter(client) as SendLimiter],
])('the %s send limiter', (_name, make) => {
  const limits = { cooldownMs: 30_000, perHour: 3, perDay: 4 };

  it('enforces the cooldown, then the hourly and daily caps, and resets', async () => {
    const limiter = make();
    const to = `${randomUUID()}@example.com`;
    const now = Date.now();
    expect(await limiter.consume(to, 'api', limits, now)).toEqual({ allowed: true });
    const cooling = await limiter.consume(to, 'api', limits, now);
    expect(cooling).toMatchObject({ allowed: false, reason: 'cooldown' });
    expect((cooling as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(28_000);

    const noCooldown = { ...limits, cooldownMs: 0 };
    expect(await limiter.reset(to)).toBeUndefined();
    for (let i = 0; i < 3; i++) expect(await limiter.consume(to, 'api', noCooldown, now)).toEqual({ allowed: true });
    const hourly = await limiter.consume(to, 'api', noCooldown, now);
    expect(hourly).toMatchObject({ allowed: false, reason: 'hourly' });
    expect((hourly as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(3_590_000);

    await limiter.reset(to);
    expect(await limiter.consume(to, 'api', noCooldown, now)).toEqual({ allowed: true });
  });

  it('counts concurrent sends exactly', async () => {
    const limiter = make();
    const to = `${randomUUID()}@example.com`;
    const verdicts = await Promise.all(
      Array.from({ length: 10 }, () => limiter.consume(to, 'api', { cooldownMs: 0, perHour: 4, perDay: 10 }, Date.now())),
    );
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(4);
  });

  it('keeps the three budgets of a destination apart: spending one leaves the others whole', async () => {
    const limiter = make();
    const to = `${randomUUID()}@example.com`;
    const now = Date.now();
    expect(await limiter.consume(to, 'anonymous', limits, now)).toEqual({ allowed: true });
    expect(await limiter.consume(to, 'anonymous', limits, now)).toMatchObject({ allowed: false, reason: 'cooldown' });
    expect(await limiter.consume(to, 'proven', limits, now)).toEqual({ allowed: true });
    expect(await limiter.consume(to, 'api', limits, now)).toEqual({ allowed: true });

    const noCooldown = { ...limits, cooldownMs: 0 };
    await limiter.reset(to);
    for (let i = 0; i < 3; i++) expect(await limiter.consume(to, 'anonymous', noCooldown, now)).toEqual({ allowed: true });
    expect(await limiter.consume(to, 'anonymous', noCooldown, now)).toMatchObject({ allowed: false, reason: 'hourly' });
    for (let i = 0; i < 3; i++) expect(await limiter.consume(to, 'proven', noCooldown, now)).toEqual({ allowed: true });
    expect(await limiter.consume(to, 'api', noCooldown, now)).toEqual({ allowed: true });
  });

  it('lifts the cooldown of one budget only, and keeps its counts', async () => {
    const limiter = make();
    const to = `${randomUUID()}@example.com`;
    const now = Date.now();
    const twoAnHour = { ...limits, perHour: 2 };
    expect(await limiter.consume(to, 'anonymous', twoAnHour, now)).toEqual({ allowed: true });
    expect(await limiter.consume(to, 'proven', twoAnHour, now)).toEqual({ allowed: true });
    await limiter.liftCooldown(to, 'anonymous');
    await limiter.liftCooldown(`${randomUUID()}@example.com`, 'api');
    expect(await limiter.consume(to, 'anonymous', twoAnHour, now)).toEqual({ allowed: true });
    expect(await limiter.consume(to, 'proven', twoAnHour, now)).toMatchObject({ allowed: false, reason: 'cooldown' });
    await limiter.liftCooldown(to, 'anonymous');
    expect(await limiter.consume(to, 'anonymous', twoAnHour, now)).toMatchObject({ allowed: false, reason: 'hourly' });
  });

  it("allows a destination's guesses up to the daily count, gives back refunded ones, and resets", async () => {
    const limiter = make();
    const to = `${randomUUID()}@example.com`;
    const now = Date.now();
    for (let i = 0; i < 3; i++) expect(await limiter.takeGuess(to, 3, now)).toEqual({ allowed: true });
    const refused = await limiter.takeGuess(to, 3, now);
    expect(refused).toMatchObject({ allowed: false });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(DAY_MS - 60_000);
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(DAY_MS);
    await limiter.refundGuess(to, now);
    expect(await limiter.takeGuess(to, 3, now)).toEqual({ allowed: true });
    expect(await limiter.takeGuess(to, 3, now)).toMatchObject({ allowed: false });
    // Sends are not guesses, and guesses are not sends.
    expect(await limiter.consume(to, 'api', limits, now)).toEqual({ allowed: true });
    await limiter.reset(to);
    expect(await limiter.takeGuess(to, 3, now)).toEqual({ allowed: true });
    // Never below zero: refunds beyond what was taken give nothing extra.
    const other = `${randomUUID()}@example.com`;
    for (let i = 0; i < 3; i++) await limiter.refundGuess(other, now);
    for (let i = 0; i < 2; i++) expect(await limiter.takeGuess(other, 2, now)).toEqual({ allowed: true });
    expect(await limiter.takeGuess(other, 2, now)).toMatchObject({ allowed: false });
  });

  it('counts concurrent guesses exactly', async () => {
    const limiter = make();
    const to = `${randomUUID()}@example.com`;
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => limiter.takeGuess(to, 5, Date.now())));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(5);
  });
});

describe('the Redis OTP store beside the delivery ledger', () => {
  it("applies a report that names a send's mark until the ledger marks the send, and ignores it after", async () => {
    const store = new RedisOtpStore(client);
    const ledger = new RedisDeliveryLedger(client);
    const r = record();
    await store.createPending(r);
    const mark = ledger.sentMark(`${r.id}:1`);

    expect(await store.updateDelivery(r.id, { sendNumber: 1, status: 'sending', attempts: 1 }, Date.now(), mark)).toBe('applied');
    expect((await store.get(r.id))!.delivery).toMatchObject({ status: 'sending', attempts: 1 });
    await store.updateDelivery(
      r.id,
      { sendNumber: 1, status: 'sent', provider: 'smtp', attempts: 1, messageId: '<m1@example.com>' },
      Date.now(),
    );
    await ledger.markSent(`${r.id}:1`, 600_000);

    // The same job run again: its 'sending' leaves with the ledger's check and changes nothing.
    expect(await store.updateDelivery(r.id, { sendNumber: 1, status: 'sending', attempts: 2 }, Date.now(), mark)).toBe('ignored');
    expect((await store.get(r.id))!.delivery).toMatchObject({
      status: 'sent',
      provider: 'smtp',
      attempts: 1,
      messageId: '<m1@example.com>',
    });
    // Another send of the verification (a failover) has a mark of its own.
    const failover = ledger.sentMark(`${r.id}:1:after:smtp`);
    expect(await store.updateDelivery(r.id, { sendNumber: 1, status: 'sending', attempts: 1 }, Date.now(), failover)).toBe('applied');
  });
});

describe('Redis contents', () => {
  it('never hold a code in plain text', async () => {
    const store = new RedisOtpStore(client);
    const codes = ['482913', '730461', '019283'];
    for (const code of codes) {
      const r = record({}, code);
      await store.createPending(r);
      await store.check(r.id, digest(r, '000000'), Date.now());
    }
    const dump: string[] = [];
    for (const key of await client.keys('*')) {
      const type = await client.type(key);
      if (type === 'hash') dump.push(key, ...Object.values(await client.hgetall(key)));
      else if (type === 'string') dump.push(key, (await client.get(key)) ?? '');
      else dump.push(key);
    }
    expect(dump.length).toBeGreaterThan(0);
    for (const code of codes) expect(dump.join('\n')).not.toMatch(standaloneCode(code));
  });
});
