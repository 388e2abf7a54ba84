import { Redis } from 'ioredis';
import { randomInt, randomUUID } from 'node:crypto';
import { candidateOf, digestCode, shortDigestCode } from '../src/otp/codes/otp-codes.js';
import { BUDGETS_OF, type VerificationRecord } from '../src/otp/otp.types.js';
import { MemoryOtpStore } from '../src/otp/store/memory-otp.store.js';
import type { OtpStore } from '../src/otp/store/otp-store.js';
import { RedisOtpStore } from '../src/otp/store/redis-otp.store.js';
import { unpackCodes } from '../src/otp/store/verification-hash.js';
import { MemorySendLimiter } from '../src/otp/limits/memory-send-limiter.js';
import { RedisSendLimiter } from '../src/otp/limits/redis-send-limiter.js';
import { DAY_MS, HOUR_MS, type SendLimiter } from '../src/otp/limits/send-limiter.js';
import { REDIS_SCRIPTS } from '../src/redis/redis-scripts.js';
import { RedisDeliveryLedger } from '../src/messaging/delivery/delivery-ledger.js';
import { eventually } from './support/eventually.js';
import { RedisServer } from './support/redis-server.js';
import { standaloneCode } from './support/codes.js';
import { legacyHash } from './support/legacy-verification-hash.js';
import { oldestLayoutHash, olderLayoutHash, previousLayoutHash } from './support/previous-verification-hash.js';
import { mintVerificationId, verificationKey } from '../src/otp/verification-key.js';
import { destinationKey, pendingField } from '../src/otp/destination-hash.js';

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

/** How a version mints a verification's id and digests its code. */
interface Minting {
  id: () => string;
  digest: (id: string, purpose: string, code: string) => string;
}
const THIS_VERSION: Minting = { id: mintVerificationId, digest: (id, _purpose, code) => shortDigestCode(SECRET, id, code) };
/** Earlier versions: version-4 ids, and the digest over the purpose too. */
const EARLIER_VERSIONS: Minting = { id: randomUUID, digest: (id, purpose, code) => digestCode(SECRET, id, purpose, code) };

/** How the verifications of a test are minted: as this version mints them, unless a suite says otherwise. */
let minting = THIS_VERSION;

/** For a describe block: its verifications minted as earlier versions minted them. */
function mintAsEarlierVersions() {
  beforeAll(() => {
    minting = EARLIER_VERSIONS;
  });
  afterAll(() => {
    minting = THIS_VERSION;
  });
}

function record(overrides: Partial<VerificationRecord> = {}, code = '123456'): VerificationRecord {
  const id = overrides.id ?? minting.id();
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
    digest: minting.digest(id, purpose, code),
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
/** A new code's digest, as this version's service gives a resend. */
const digest = (r: VerificationRecord, code: string) => shortDigestCode(SECRET, r.id, code);
const candidate = (r: VerificationRecord, code: string) => candidateOf(SECRET, r.id, r.purpose, code);

type Layout = (r: VerificationRecord) => Record<string, string | number | Buffer>;

/** A verification's hash rewritten in another version's layout, with the expiry it had. */
async function rewriteIn(layout: Layout, r: VerificationRecord) {
  const key = verificationKey(r.id);
  const ttl = await client.pttl(key);
  await client.multi().del(key).hset(key, layout(r)).pexpire(key, ttl).exec();
}
const rewriteInLegacyLayout = (r: VerificationRecord) => rewriteIn(legacyHash, r);

/**
 * The Redis store on verifications an earlier version wrote (each new one is rewritten in its layout as
 * soon as it is stored): they must behave the same for as long as they live, those the previous version
 * writes during a rolling update too.
 */
function redisStoreRewritingIn(layout: Layout): () => OtpStore {
  return () => {
    const store = new RedisOtpStore(client);
    return Object.assign(Object.create(store) as RedisOtpStore, {
      async createPending(r: VerificationRecord) {
        const outcome = await store.createPending(r);
        if (outcome.created) await rewriteIn(layout, r);
        return outcome;
      },
    });
  };
}

describe.each([
  ['memory', () => new MemoryOtpStore() as OtpStore, THIS_VERSION],
  ['redis', () => new RedisOtpStore(client) as OtpStore, THIS_VERSION],
  ['redis, on hashes of the earlier layout,', redisStoreRewritingIn(legacyHash), EARLIER_VERSIONS],
  ['redis, on hashes and ids as the version three before this one wrote them,', redisStoreRewritingIn(oldestLayoutHash), EARLIER_VERSIONS],
  ['redis, on hashes as the version before the previous one wrote them,', redisStoreRewritingIn(olderLayoutHash), THIS_VERSION],
  ['redis, on hashes as the previous version wrote them,', redisStoreRewritingIn(previousLayoutHash), THIS_VERSION],
])('the %s OTP store', (_name, make, mint) => {
  let store: OtpStore;
  beforeEach(() => {
    store = make();
    minting = mint;
  });
  afterEach(() => {
    minting = THIS_VERSION;
    (store as Partial<MemoryOtpStore>).onModuleDestroy?.();
  });

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
    expect(await store.check(first.id, candidate(first, '123456'), Date.now())).toMatchObject({
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
    const outcome = await store.check(r.id, candidate(r, '123456'), Date.now());
    expect(outcome.result).toBe('approved');
    expect((await store.check(r.id, candidate(r, '123456'), Date.now())).result).toBe('not_found');
    const stored = await store.get(r.id);
    expect(stored).toMatchObject({ status: 'approved', digest: '' });
    expect(await store.findPendingId(r.to, r.purpose, 'api', Date.now())).toBeUndefined();
  });

  it('counts wrong digests and locks at the limit', async () => {
    const r = record();
    await store.createPending(r);
    const wrong = candidate(r, '000000');
    expect(await store.check(r.id, wrong, Date.now())).toMatchObject({ result: 'incorrect', record: { attempts: 1 } });
    expect(await store.check(r.id, wrong, Date.now())).toMatchObject({ result: 'incorrect', record: { attempts: 2 } });
    expect(await store.check(r.id, wrong, Date.now())).toMatchObject({
      result: 'incorrect',
      record: { attempts: 3, status: 'max_attempts' },
    });
    expect(await store.check(r.id, candidate(r, '123456'), Date.now())).toMatchObject({ result: 'locked' });
  });

  it('refuses a digest after expiry', async () => {
    const r = record();
    await store.createPending(r);
    expect(await store.check(r.id, candidate(r, '123456'), r.expiresAt)).toEqual({ result: 'not_found' });
  });

  it('decides concurrent checks exactly once each', async () => {
    const r = record({ maxAttempts: 100 });
    await store.createPending(r);
    const wrong = await Promise.all(Array.from({ length: 30 }, () => store.check(r.id, candidate(r, '999999'), Date.now())));
    expect(wrong.every((o) => o.result === 'incorrect')).toBe(true);
    expect((await store.get(r.id))!.attempts).toBe(30);
    const right = await Promise.all(Array.from({ length: 30 }, () => store.check(r.id, candidate(r, '123456'), Date.now())));
    expect(right.filter((o) => o.result === 'approved')).toHaveLength(1);
  });

  it('resends with a fresh digest, keeping failed attempts, up to the send limit', async () => {
    const r = record();
    await store.createPending(r);
    await store.check(r.id, candidate(r, '000000'), Date.now());
    const now = Date.now();
    const resent = await store.resend(r.id, { digest: digest(r, '654321'), expiresAt: now + 600_000, now });
    expect(resent).toMatchObject({ result: 'resent', record: { sends: 2, attempts: 1, delivery: { status: 'queued' } } });
    expect((await store.check(r.id, candidate(r, '123456'), Date.now())).result).toBe('incorrect');
    await store.resend(r.id, { digest: digest(r, '111111'), expiresAt: now + 600_000, now });
    expect(await store.resend(r.id, { digest: digest(r, '222222'), expiresAt: now + 600_000, now })).toMatchObject({ result: 'max_sends' });
    expect((await store.check(r.id, candidate(r, '111111'), Date.now())).result).toBe('approved');
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
    // A message no receipt will name (SMTP) starts its own story too: the one before it is forgotten,
    // and that message's late receipt moves nothing.
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'sent', provider: 'smtp' }, now + 8);
    const relayed = (await store.get(r.id))!.delivery;
    expect([relayed.status, relayed.provider, relayed.messageId, relayed.deliveredAt]).toEqual(['sent', 'smtp', undefined, undefined]);
    expect(await store.updateDelivery(r.id, { sendNumber: 1, status: 'undelivered', messageId: 'SN1' }, now + 9)).toBe('ignored');
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
    expect((await store.check(other.id, { digest: '', short: '' }, Date.now())).result).toBe('incorrect');
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
  ['memory', () => new MemoryOtpStore() as OtpStore],
  ['redis', () => new RedisOtpStore(client) as OtpStore],
])('the %s OTP store, checking by id alone', (_name, make) => {
  const API_SCOPE = { budgets: BUDGETS_OF.api, purpose: 'verify' };
  const short = (r: VerificationRecord, code: string) => shortDigestCode(SECRET, r.id, code);
  let store: OtpStore;
  beforeEach(() => {
    store = make();
  });
  afterEach(() => (store as Partial<MemoryOtpStore>).onModuleDestroy?.());

  it('approves the right code once; then it is not found, with its record', async () => {
    const r = record();
    await store.createPending(r);
    const approved = await store.checkById(r.id, API_SCOPE, short(r, '123456'), Date.now());
    expect(approved).toMatchObject({ result: 'approved', record: { id: r.id, status: 'approved', digest: '' } });
    expect(await store.findPendingId(r.to, r.purpose, 'api', Date.now())).toBeUndefined();
    expect(await store.checkById(r.id, API_SCOPE, short(r, '123456'), Date.now())).toMatchObject({
      result: 'not_found',
      record: { id: r.id, status: 'approved' },
    });
    expect(await store.get(r.id)).toMatchObject({ status: 'approved', attempts: 0 });
  });

  it('counts wrong codes, locks at the limit, and then answers locked even for the right one', async () => {
    const r = record();
    await store.createPending(r);
    for (const attempts of [1, 2]) {
      expect(await store.checkById(r.id, API_SCOPE, short(r, '000000'), Date.now())).toMatchObject({
        result: 'incorrect',
        record: { attempts, status: 'pending' },
      });
    }
    expect(await store.checkById(r.id, API_SCOPE, short(r, '000000'), Date.now())).toMatchObject({
      result: 'incorrect',
      record: { attempts: 3, status: 'max_attempts' },
    });
    expect(await store.checkById(r.id, API_SCOPE, short(r, '123456'), Date.now())).toMatchObject({ result: 'locked' });
  });

  it('finds nothing outside its scope, nor what is missing, and changes nothing there', async () => {
    const r = record();
    await store.createPending(r);
    const right = short(r, '123456');
    // Another realm's budgets, another purpose, an unknown id: as if it did not exist, with no record to tell.
    expect(await store.checkById(r.id, { budgets: BUDGETS_OF.auth }, right, Date.now())).toEqual({ result: 'not_found' });
    expect(await store.checkById(r.id, { ...API_SCOPE, purpose: 'login' }, right, Date.now())).toEqual({ result: 'not_found' });
    expect(await store.checkById(randomUUID(), API_SCOPE, right, Date.now())).toEqual({ result: 'not_found' });
    expect(await store.get(r.id)).toEqual(r);
    // Without a purpose, any of the realm's.
    expect(await store.checkById(r.id, { budgets: BUDGETS_OF.api }, short(r, '000000'), Date.now())).toMatchObject({
      result: 'incorrect',
    });
  });

  it("checks an auth challenge within the auth realm's budgets only", async () => {
    const r = record({ budget: 'anonymous', purpose: 'login' });
    await store.createPending(r);
    expect(await store.checkById(r.id, { budgets: BUDGETS_OF.api }, short(r, '123456'), Date.now())).toEqual({ result: 'not_found' });
    expect(await store.checkById(r.id, { budgets: BUDGETS_OF.auth, purpose: 'login' }, short(r, '123456'), Date.now())).toMatchObject({
      result: 'approved',
    });
  });

  it('finds an expired verification not found, with its record, and counts nothing', async () => {
    const r = record();
    await store.createPending(r);
    expect(await store.checkById(r.id, API_SCOPE, short(r, '000000'), r.expiresAt)).toMatchObject({
      result: 'not_found',
      record: { id: r.id, attempts: 0 },
    });
    expect(await store.get(r.id)).toEqual(r);
  });

  it('defers, untouched, a code its provider checks and a digest bound to the purpose', async () => {
    const issued = record({ digest: '', codeIssuer: 'twilio-verify' });
    const bound = record({ digest: digestCode(SECRET, 'x', 'verify', '123456') });
    for (const r of [issued, bound]) {
      await store.createPending(r);
      expect(await store.checkById(r.id, API_SCOPE, short(r, '123456'), Date.now())).toEqual({ result: 'deferred' });
      expect(await store.get(r.id)).toEqual(r);
    }
    // Its scope first: one outside it is not found, whatever it holds.
    expect(await store.checkById(bound.id, { budgets: BUDGETS_OF.auth }, short(bound, '1'), Date.now())).toEqual({ result: 'not_found' });
  });

  it('decides concurrent checks exactly once each', async () => {
    const r = record({ maxAttempts: 100 });
    await store.createPending(r);
    const wrong = await Promise.all(Array.from({ length: 30 }, () => store.checkById(r.id, API_SCOPE, short(r, '999999'), Date.now())));
    expect(wrong.every((o) => o.result === 'incorrect')).toBe(true);
    expect((await store.get(r.id))!.attempts).toBe(30);
    const right = await Promise.all(Array.from({ length: 30 }, () => store.checkById(r.id, API_SCOPE, short(r, '123456'), Date.now())));
    expect(right.filter((o) => o.result === 'approved')).toHaveLength(1);
    expect(right.filter((o) => o.result === 'not_found')).toHaveLength(29);
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

describe('a verification of the earlier layout', () => {
  const key = (r: VerificationRecord) => verificationKey(r.id);
  const stored = async (r: VerificationRecord) => {
    await new RedisOtpStore(client).createPending(r);
    await rewriteInLegacyLayout(r);
  };
  mintAsEarlierVersions();

  it('is rewritten in the compact layout the first time a script changes it, and reads the same', async () => {
    const store = new RedisOtpStore(client);
    const r = record({ subject: 'account-1' });
    await stored(r);
    const before = await client.memory('USAGE', key(r), 'SAMPLES', 0);
    expect(await client.hget(key(r), 'id')).toBe(r.id);
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'sending', attempts: 1 }, r.createdAt + 5);
    const hash = await client.hgetallBuffer(key(r));
    expect(Object.keys(hash).sort()).toEqual(expect.not.arrayContaining(['id', 'status', 'digest', 'expiresAt', 'dStatus']));
    expect(hash.g).toEqual(Buffer.from(r.digest, 'hex'));
    expect(await client.memory('USAGE', key(r), 'SAMPLES', 0)).toBeLessThan(before!);
    const delivery = { ...r.delivery, status: 'sending', attempts: 1, updatedAt: r.createdAt + 5 };
    expect(await store.get(r.id)).toEqual({ ...r, updatedAt: r.createdAt + 5, delivery });
    expect((await store.check(r.id, candidate(r, '123456'), Date.now())).result).toBe('approved');
  });

  it('is left to a check that reads it first by a check by id alone, and reads the same', async () => {
    const store = new RedisOtpStore(client);
    const r = record();
    await stored(r);
    expect(await store.checkById(r.id, { budgets: BUDGETS_OF.api }, shortDigestCode(SECRET, r.id, '123456'), Date.now())).toEqual({
      result: 'deferred',
    });
    expect(await store.get(r.id)).toEqual(r);
    expect((await store.check(r.id, candidate(r, '123456'), Date.now())).result).toBe('approved');
  });

  it('keeps its expiry when it is rewritten by a change that does not set one', async () => {
    const r = record();
    await stored(r);
    await client.pexpire(key(r), 5_000_000);
    await new RedisOtpStore(client).markDeliveryPrivate(r.id);
    expect(await client.pttl(key(r))).toBeGreaterThan(4_000_000);
    expect(await client.hexists(key(r), 'id')).toBe(0);
    expect(await new RedisOtpStore(client).get(r.id)).toEqual({ ...r, deliveryPrivate: true });
  });

  it('is read as it was, settled or expired', async () => {
    const store = new RedisOtpStore(client);
    const settled = record({ status: 'approved', digest: '', codeIssuer: 'twilio-verify' });
    await stored(settled);
    expect(await store.get(settled.id)).toEqual(settled);
    const expired = record({ createdAt: Date.now() - 700_000 });
    await stored(expired);
    expect(await store.check(expired.id, candidate(expired, '123456'), Date.now())).toEqual({ result: 'not_found' });
    expect(await store.resend(expired.id, { digest: digest(expired, '1'), expiresAt: Date.now() + 1, now: Date.now() })).toEqual({
      result: 'not_pending',
    });
    expect(await store.get(expired.id)).toEqual(expired);
    expect(await client.hexists(key(settled), 'id')).toBe(1);
  });
});

describe('a verification as the previous version wrote it, each code in its own field', () => {
  const key = (r: VerificationRecord) => verificationKey(r.id);
  const stored = async (r: VerificationRecord) => {
    await new RedisOtpStore(client).createPending(r);
    await rewriteIn(previousLayoutHash, r);
  };
  const sent = (overrides: Partial<VerificationRecord> = {}) =>
    record({
      channel: 'email',
      delivery: { status: 'sent', provider: 'smtp', attempts: 1, lastError: null, updatedAt: Date.now() },
      ...overrides,
    });

  it('is read as it is, and a read leaves it so', async () => {
    const store = new RedisOtpStore(client);
    const r = sent();
    await stored(r);
    expect(await client.hmget(key(r), 'f', 'k', 's', 'dp')).toEqual([null, 'e', 'p', 'm']);
    expect(await store.get(r.id)).toEqual(r);
    expect(await store.findPendingId(r.to, r.purpose, r.budget, Date.now())).toBe(r.id);
    expect(await client.hmget(key(r), 'f', 's')).toEqual([null, 'p']);
  });

  it('has its codes packed into one field the first time a script touches it, keeping its expiry, and reads the same', async () => {
    const store = new RedisOtpStore(client);
    // Its delivery reported 5 s after the send: the delivery's time is the verification's.
    const at = Date.now();
    const delivery = { status: 'sent', provider: 'smtp', attempts: 1, lastError: null, updatedAt: at + 5_000 } as const;
    const r = sent({ createdAt: at, updatedAt: at + 5_000, delivery });
    await stored(r);
    expect(await client.hmget(key(r), 'f', 'k', 'b', 's', 'ds', 'dp', 'u', 'du')).toEqual([null, 'e', 'a', 'p', 's', 'm', '5000', '5000']);
    const before = await client.memory('USAGE', key(r), 'SAMPLES', 0);
    await client.pexpire(key(r), 5_000_000);
    await store.markDeliveryPrivate(r.id);
    expect(await client.pttl(key(r))).toBeGreaterThan(4_000_000);
    expect(await client.hmget(key(r), 'f', 'k', 'b', 's', 'ds', 'dp', 'u', 'du')).toEqual([
      'eapsm=',
      null,
      null,
      null,
      null,
      null,
      '5000',
      null,
    ]);
    expect(await client.memory('USAGE', key(r), 'SAMPLES', 0)).toBeLessThanOrEqual(before!);
    expect(await store.get(r.id)).toEqual({ ...r, deliveryPrivate: true });
  });

  it('keeps in its own field a provider without a code, and packs the rest', async () => {
    const store = new RedisOtpStore(client);
    const delivery = { status: 'sent', provider: 'twilio-sms', attempts: 1, lastError: null, updatedAt: Date.now() } as const;
    const r = record({ channel: 'sms', to: `+1500555${randomInt(10_000).toString().padStart(4, '0')}`, delivery });
    await stored(r);
    expect((await store.check(r.id, candidate(r, '000000'), Date.now())).result).toBe('incorrect');
    expect(await client.hmget(key(r), 'f', 'dp', 's')).toEqual(['saps-', 'twilio-sms', null]);
    expect(await store.get(r.id)).toMatchObject({ attempts: 1, delivery: { provider: 'twilio-sms' } });
  });

  it('is checked, locked, re-sent, canceled and delivered by the scripts as one this version wrote', async () => {
    const store = new RedisOtpStore(client);
    const approved = sent();
    await stored(approved);
    const scoped = await store.checkById(
      approved.id,
      { budgets: BUDGETS_OF.api },
      shortDigestCode(SECRET, approved.id, '123456'),
      Date.now(),
    );
    expect(scoped).toMatchObject({ result: 'approved', record: { status: 'approved', channel: 'email', delivery: { provider: 'smtp' } } });

    const locked = sent();
    await stored(locked);
    for (let i = 0; i < 3; i++) await store.check(locked.id, candidate(locked, '000000'), Date.now());
    expect((await store.get(locked.id))!.status).toBe('max_attempts');
    expect(await client.hmget(key(locked), 'f', 's')).toEqual(['eamsm', null]);

    const resent = sent();
    await stored(resent);
    const now = Date.now();
    expect(await store.resend(resent.id, { digest: digest(resent, '654321'), expiresAt: now + 600_000, now })).toMatchObject({
      result: 'resent',
      record: { sends: 2, delivery: { status: 'queued', provider: null } },
    });
    expect((await store.check(resent.id, candidate(resent, '654321'), Date.now())).result).toBe('approved');

    const canceled = sent();
    await stored(canceled);
    expect(await store.cancel(canceled.id, Date.now())).toBe(true);
    expect((await store.get(canceled.id))!.status).toBe('canceled');

    const delivered = sent();
    await stored(delivered);
    await store.updateDelivery(delivered.id, { sendNumber: 1, status: 'failed', attempts: 3, lastError: 'refused' }, Date.now());
    expect(await store.get(delivered.id)).toMatchObject({
      status: 'failed',
      delivery: { status: 'failed', provider: 'smtp', lastError: 'refused' },
    });
  });

  it('keeps one pending verification per destination: a start there finds it pending', async () => {
    const store = new RedisOtpStore(client);
    const r = sent();
    await stored(r);
    expect(await store.createPending(sent({ to: r.to }))).toEqual({ created: false, pendingId: r.id });
  });
});

describe('a verification as this version writes it: its layout and its id', () => {
  const key = (r: VerificationRecord) => verificationKey(r.id);
  const stored = (r: VerificationRecord) => new RedisOtpStore(client).createPending(r);
  /** The fields as the scripts read them: a code from the packed field as its own (`unpackCodes`). */
  const fields = async (r: VerificationRecord, ...names: string[]) => {
    const hash = unpackCodes(await client.hgetallBuffer(key(r)));
    return names.map((name) => hash[name]?.toString() ?? null);
  };

  it("is kept under its id in base64url, and the delivery ledger's keys of it beside it, under the same hash tag", async () => {
    const store = new RedisOtpStore(client);
    const ledger = new RedisDeliveryLedger(client);
    const r = record();
    await stored(r);
    const compact = Buffer.from(r.id.replaceAll('-', ''), 'hex').toString('base64url');
    expect(r.id[14]).toBe('8');
    expect(key(r)).toBe(`otp:{${compact}}`);
    expect(key(r)).toHaveLength(28);
    expect(await client.exists(key(r), `otp:{v:${r.id}}`)).toBe(1);
    expect(verificationKey(randomUUID())).toMatch(/^otp:\{v:[0-9a-f-]{36}\}$/);

    await ledger.markSent(`${r.id}:1`, 600_000);
    await ledger.keep(r.id, { sealed: 'x', sendNumber: 1 }, 600_000);
    expect(await ledger.kept(r.id)).toEqual({ sealed: 'x', sendNumber: 1 });
    expect(await ledger.claimFailover(r.id, 1, 'smtp', 600_000)).toBe(true);
    const keys = (await client.keys(`otp:{${compact}}*`)).sort();
    expect(keys).toEqual([key(r), `${key(r)}:failover:1:smtp`, `${key(r)}:kept`]);
    expect(await ledger.wasSent(`${r.id}:1`)).toBe(true);
    expect(
      await store.updateDelivery(r.id, { sendNumber: 1, status: 'sending', attempts: 2 }, Date.now(), ledger.sentMark(`${r.id}:1`)),
    ).toBe('ignored');
    expect(await store.cancel(r.id, Date.now())).toBe(true);
    expect(await store.get(r.id)).toMatchObject({ id: r.id, status: 'canceled' });
  });

  it('is held in codes, without its zero counters and times, with a 16-byte digest, and reads back as it was', async () => {
    const store = new RedisOtpStore(client);
    const r = record({ subject: 'account-1' });
    await stored(r);
    const hash = await client.hgetall(key(r));
    // Email, the Verifications API's budget, pending, queued, no provider yet: together in one field.
    expect(hash).toMatchObject({ f: 'eapq-' });
    for (const field of ['k', 'b', 's', 'ds', 'dp', 'a', 'u', 'r', 'da', 'du']) expect(hash).not.toHaveProperty(field);
    expect((await client.hgetBuffer(key(r), 'g'))!).toEqual(Buffer.from(shortDigestCode(SECRET, r.id, '123456'), 'hex'));
    expect((await client.hgetBuffer(key(r), 'g'))!).toHaveLength(16);
    expect(await store.get(r.id)).toEqual(r);
    expect(await store.findPendingId(r.to, r.purpose, 'api', Date.now(), 'account-1')).toBe(r.id);
  });

  it('keeps its codes in one field through every script, with the mark while the delivery last changed with it', async () => {
    const store = new RedisOtpStore(client);
    const r = record();
    await stored(r);
    const at = (ms: number) => r.createdAt + ms;
    const raw = () => client.hmget(key(r), 'f', 'u', 'du', 'dp', 'k', 's', 'ds');
    expect(await raw()).toEqual(['eapq-', null, null, null, null, null, null]);
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'sending', attempts: 1 }, at(5));
    expect(await raw()).toEqual(['eapi-=', '5', null, null, null, null, null]);
    // A provider without a code: in its own field, none in its place.
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'sent', provider: 'twilio-sms', messageId: 'm-1' }, at(7));
    expect(await raw()).toEqual(['eaps-=', '7', null, 'twilio-sms', null, null, null]);
    // The verification changed alone: the delivery keeps its time, in its own field.
    expect((await store.check(r.id, candidate(r, '000000'), at(9))).result).toBe('incorrect');
    expect(await raw()).toEqual(['eaps-', '9', '7', 'twilio-sms', null, null, null]);
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'sent', provider: 'smtp', messageId: 'm-2' }, at(11));
    expect(await raw()).toEqual(['eapsm=', '11', null, null, null, null, null]);
    expect(await store.resend(r.id, { digest: digest(r, '654321'), expiresAt: at(600_000), now: at(13) })).toMatchObject({
      result: 'resent',
    });
    expect(await raw()).toEqual(['eapq-=', '13', null, null, null, null, null]);
    expect(await store.cancel(r.id, at(15))).toBe(true);
    expect(await raw()).toEqual(['eacq-', '15', '13', null, null, null, null]);
    expect(await store.get(r.id)).toMatchObject({
      status: 'canceled',
      updatedAt: at(15),
      sends: 2,
      delivery: { status: 'queued', provider: null, updatedAt: at(13) },
    });
  });

  it("holds no locale for the default one, and the delivery's provider as its code, as each report writes it", async () => {
    const store = new RedisOtpStore(client);
    const r = record();
    await stored(r);
    expect(await fields(r, 'l', 'dp')).toEqual([null, null]);
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'sent', provider: 'twilio-verify', codeIssuer: 'twilio-verify' }, Date.now());
    // The provider that issued the code is named in full: checks go to it by that name.
    expect(await fields(r, 'l', 'dp', 'i')).toEqual([null, 'v', 'twilio-verify']);
    expect(await store.get(r.id)).toMatchObject({
      locale: 'en',
      codeIssuer: 'twilio-verify',
      delivery: { status: 'sent', provider: 'twilio-verify' },
    });
    await store.updateDelivery(r.id, { sendNumber: 1, status: 'failed', provider: null }, Date.now());
    expect(await fields(r, 'dp')).toEqual([null]);
    expect((await store.get(r.id))!.delivery.provider).toBeNull();

    const german = record({ locale: 'de' });
    await stored(german);
    await store.updateDelivery(german.id, { sendNumber: 1, status: 'sent', provider: 'smtp' }, Date.now());
    expect(await fields(german, 'l', 'dp')).toEqual(['de', 'm']);
    expect(await store.get(german.id)).toMatchObject({ locale: 'de', delivery: { provider: 'smtp' } });
  });

  it("compares its 16 bytes with the candidate's short digest only: the code's digest of the earlier kind does not match", async () => {
    const store = new RedisOtpStore(client);
    const r = record({ maxAttempts: 5 });
    await stored(r);
    const right = candidate(r, '123456');
    const flipped = (hex: string, at: number) => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
    // The right code's digest of the earlier kind, or its first 16 bytes, with a wrong short digest: wrong, and counted.
    const wrongShort = candidate(r, '000000').short;
    expect(await store.check(r.id, { digest: right.digest, short: wrongShort }, Date.now())).toMatchObject({
      result: 'incorrect',
      record: { attempts: 1 },
    });
    expect(await store.check(r.id, { digest: right.digest, short: right.digest.slice(0, 32) }, Date.now())).toMatchObject({
      result: 'incorrect',
      record: { attempts: 2 },
    });
    expect(await store.check(r.id, { ...right, short: flipped(right.short, 31) }, Date.now())).toMatchObject({
      result: 'incorrect',
      record: { attempts: 3 },
    });
    expect(await fields(r, 'a', 's')).toEqual(['3', 'p']);
    expect(await store.check(r.id, right, Date.now())).toMatchObject({ result: 'approved', record: { status: 'approved', digest: '' } });
    expect(await fields(r, 's', 'g')).toEqual(['a', '']);
    expect(await store.check(r.id, right, Date.now())).toEqual({ result: 'not_found' });
  });

  it('is locked, canceled, re-sent, delivered and failed by the scripts in codes', async () => {
    const store = new RedisOtpStore(client);
    const locking = record({ maxAttempts: 1 });
    await stored(locking);
    expect(await store.check(locking.id, candidate(locking, '000000'), Date.now())).toMatchObject({ result: 'incorrect' });
    expect(await fields(locking, 's', 'a')).toEqual(['m', '1']);
    expect(await store.check(locking.id, candidate(locking, '123456'), Date.now())).toMatchObject({ result: 'locked' });

    const canceled = record();
    await stored(canceled);
    expect(await store.cancel(canceled.id, Date.now())).toBe(true);
    expect(await fields(canceled, 's')).toEqual(['c']);
    expect(await store.get(canceled.id)).toMatchObject({ status: 'canceled' });

    const resent = record({
      delivery: { status: 'sent', provider: 'smtp', attempts: 2, lastError: null, updatedAt: Date.now(), messageId: 'm-0' },
    });
    await stored(resent);
    const now = Date.now();
    expect(await store.resend(resent.id, { digest: digest(resent, '654321'), expiresAt: now + 600_000, now })).toMatchObject({
      result: 'resent',
      record: { sends: 2, delivery: { status: 'queued', attempts: 0 } },
    });
    expect(await fields(resent, 'ds', 'da', 'n')).toEqual(['q', null, '2']);
    expect(await store.updateDelivery(resent.id, { sendNumber: 2, status: 'sending', attempts: 1 }, Date.now())).toBe('applied');
    expect(await fields(resent, 'ds', 'da')).toEqual(['i', '1']);
    expect(
      await store.updateDelivery(resent.id, { sendNumber: 2, status: 'sent', provider: 'smtp', attempts: 1, messageId: 'm-1' }, Date.now()),
    ).toBe('applied');
    expect(await store.updateDelivery(resent.id, { sendNumber: 2, status: 'delivered', messageId: 'm-1' }, Date.now())).toBe('applied');
    expect(await fields(resent, 'ds')).toEqual(['d']);
    expect(await store.get(resent.id)).toMatchObject({ delivery: { status: 'delivered', messageId: 'm-1' } });
    expect((await store.check(resent.id, candidate(resent, '654321'), Date.now())).result).toBe('approved');

    const failed = record();
    await stored(failed);
    expect(await store.updateDelivery(failed.id, { sendNumber: 1, status: 'failed', attempts: 3, lastError: 'refused' }, Date.now())).toBe(
      'failed',
    );
    expect(await fields(failed, 's', 'ds', 'g')).toEqual(['f', 'f', '']);
    expect(await store.get(failed.id)).toMatchObject({ status: 'failed', digest: '', delivery: { status: 'failed', attempts: 3 } });
    // Nothing any script wrote holds a status in full.
    for (const r of [locking, canceled, resent, failed]) {
      const [status, deliveryStatus] = await fields(r, 's', 'ds');
      expect(status).toHaveLength(1);
      expect(deliveryStatus).toHaveLength(1);
    }
  });

  it('is decided by a check by id alone when its code issuer was written empty, as older scripts did', async () => {
    const store = new RedisOtpStore(client);
    const r = record();
    await stored(r);
    await client.hset(key(r), 'i', '');
    expect(await store.checkById(r.id, { budgets: BUDGETS_OF.api }, shortDigestCode(SECRET, r.id, '123456'), Date.now())).toMatchObject({
      result: 'approved',
    });
  });

  it("never matches a stored digest of another length with either of the candidate's", async () => {
    const store = new RedisOtpStore(client);
    const r = record();
    await stored(r);
    const right = candidate(r, '123456');
    for (const stored of [right.short.slice(0, 30), right.digest.slice(0, 40)]) {
      await client.hset(key(r), 'g', Buffer.from(stored, 'hex'));
      expect(await store.check(r.id, right, Date.now())).toMatchObject({ result: 'incorrect' });
    }
  });
});

describe('a verification the version three before this one wrote', () => {
  const key = (r: VerificationRecord) => verificationKey(r.id);
  const stored = async (r: VerificationRecord) => {
    await new RedisOtpStore(client).createPending(r);
    await rewriteIn(oldestLayoutHash, r);
  };
  mintAsEarlierVersions();

  it('stays under its key, in full, until a script changes a field, which it then writes as this version does', async () => {
    const store = new RedisOtpStore(client);
    const r = record({ maxAttempts: 5 });
    await stored(r);
    expect(key(r)).toBe(`otp:{v:${r.id}}`);
    expect(await client.hmget(key(r), 's', 'ds', 'a')).toEqual(['pending', 'queued', '0']);
    expect((await client.hgetBuffer(key(r), 'g'))!).toHaveLength(32);
    expect(await store.get(r.id)).toEqual(r);
    expect(await store.check(r.id, candidate(r, '000000'), Date.now())).toMatchObject({ result: 'incorrect', record: { attempts: 1 } });
    expect(await store.updateDelivery(r.id, { sendNumber: 1, status: 'sending', attempts: 1 }, r.createdAt + 5)).toBe('applied');
    // Its statuses and codes in full are packed as their codes (email, the Verifications API's, pending, sending),
    // and the report changed the delivery when it changed the verification.
    expect(await client.hmget(key(r), 'f', 's', 'ds', 'a', 'du')).toEqual(['eapi-=', null, null, '1', null]);
    // Its 32-byte digest is checked as it was written: the right code approves it.
    expect(await store.check(r.id, candidate(r, '123456'), r.createdAt + 9)).toMatchObject({ result: 'approved' });
    // The check changed the verification alone: the delivery's time is its own again.
    expect(await client.hmget(key(r), 'f', 'u', 'du')).toEqual(['eaai-', '9', '5']);
  });

  it('is left to a check that reads it first by a check by id alone, and decided alone once re-sent', async () => {
    const store = new RedisOtpStore(client);
    const r = record();
    await stored(r);
    const scope = { budgets: BUDGETS_OF.api, purpose: r.purpose };
    expect(await store.checkById(r.id, scope, shortDigestCode(SECRET, r.id, '123456'), Date.now())).toEqual({ result: 'deferred' });
    expect(await store.get(r.id)).toEqual(r);
    // Its budget, written in full, is in the scope as its code is.
    expect(await store.checkById(r.id, { budgets: BUDGETS_OF.auth }, shortDigestCode(SECRET, r.id, '1'), Date.now())).toEqual({
      result: 'not_found',
    });
    const now = Date.now();
    await store.resend(r.id, { digest: digest(r, '654321'), expiresAt: now + 600_000, now });
    expect(await store.checkById(r.id, scope, shortDigestCode(SECRET, r.id, '654321'), Date.now())).toMatchObject({
      result: 'approved',
    });
  });

  it('takes a resend, whose new digest is the short one', async () => {
    const store = new RedisOtpStore(client);
    const r = record();
    await stored(r);
    const now = Date.now();
    await store.resend(r.id, { digest: digest(r, '654321'), expiresAt: now + 600_000, now });
    expect((await client.hgetBuffer(key(r), 'g'))!).toHaveLength(16);
    expect((await store.check(r.id, candidate(r, '123456'), Date.now())).result).toBe('incorrect');
    expect((await store.check(r.id, candidate(r, '654321'), Date.now())).result).toBe('approved');
  });
});

describe.each([
  [
    'memory',
    () => {
      const store = new MemoryOtpStore();
      return { store: store as OtpStore, limiter: new MemorySendLimiter(store) as SendLimiter, close: () => store.onModuleDestroy() };
    },
  ],
  [
    'redis',
    () => ({ store: new RedisOtpStore(client) as OtpStore, limiter: new RedisSendLimiter(client) as SendLimiter, close: () => {} }),
  ],
])('the %s send limiter beside its pending index', (_name, make) => {
  let store: OtpStore;
  let limiter: SendLimiter;
  let close: () => void;
  beforeEach(() => {
    ({ store, limiter, close } = make());
  });
  afterEach(() => close());
  const limits = { cooldownMs: 30_000, perHour: 3, perDay: 4 };

  it('answers the pending verification without counting a send, and counts again once it settled', async () => {
    const first = record();
    const now = Date.now();
    const lookup = { purpose: 'verify' };
    expect(await limiter.consumeUnlessPending(first.to, 'api', limits, now, lookup)).toEqual({ allowed: true });
    await store.createPending(first);
    expect(await limiter.consumeUnlessPending(first.to, 'api', limits, now, lookup)).toEqual({ pendingId: first.id });
    expect(await limiter.consumeUnlessPending(first.to, 'api', limits, now, lookup)).toEqual({ pendingId: first.id });
    // Another purpose, subject or budget has no pending verification: its send is counted (and cools down).
    expect(await limiter.consumeUnlessPending(first.to, 'api', limits, now, { purpose: 'other' })).toMatchObject({ reason: 'cooldown' });
    expect(await limiter.consumeUnlessPending(first.to, 'api', limits, now, { purpose: 'verify', subject: randomUUID() })).toMatchObject({
      reason: 'cooldown',
    });
    expect(await limiter.consumeUnlessPending(first.to, 'anonymous', limits, now, lookup)).toEqual({ allowed: true });

    await store.cancel(first.id, Date.now());
    expect(await limiter.consumeUnlessPending(first.to, 'api', limits, now, lookup)).toMatchObject({ allowed: false, reason: 'cooldown' });
    await limiter.liftCooldown(first.to, 'api');
    expect(await limiter.consumeUnlessPending(first.to, 'api', limits, now, lookup)).toEqual({ allowed: true });
  });

  it('gives concurrent starts to one destination one pending verification, each start counted once', async () => {
    const to = `${randomUUID()}@example.com`;
    const now = Date.now();
    const noCooldown = { cooldownMs: 0, perHour: 100, perDay: 100 };
    const starts = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const found = await limiter.consumeUnlessPending(to, 'anonymous', noCooldown, now, { purpose: 'signup' });
        if ('pendingId' in found) return { id: found.pendingId, counted: false };
        expect(found).toEqual({ allowed: true });
        const r = record({ to, purpose: 'signup', budget: 'anonymous', createdAt: now });
        const created = await store.createPending(r);
        return { id: created.created ? r.id : created.pendingId, counted: true, created: created.created };
      }),
    );
    expect(starts.filter((start) => 'created' in start && start.created)).toHaveLength(1);
    expect(new Set(starts.map((start) => start.id)).size).toBe(1);
    expect(await store.findPendingId(to, 'signup', 'anonymous', Date.now())).toBe(starts[0]!.id);
    // Exactly the counted starts spent the hour: the rest of it is still there.
    const counted = starts.filter((start) => start.counted).length;
    const hour = { cooldownMs: 0, perHour: counted + 1, perDay: 100 };
    expect(await limiter.consume(to, 'anonymous', hour, now)).toEqual({ allowed: true });
    expect(await limiter.consume(to, 'anonymous', hour, now)).toMatchObject({ allowed: false, reason: 'hourly' });
  });
});

describe('the Redis send limiter claiming the pending entry for a verification written ahead', () => {
  const limits = { cooldownMs: 30_000, perHour: 3, perDay: 4 };
  const store = () => new RedisOtpStore(client);
  const limiter = () => new RedisSendLimiter(client);
  const claimFor = (r: VerificationRecord) => ({ purpose: r.purpose, claim: { id: r.id, expiresAt: r.expiresAt } });

  it('counts the send and makes the entry name the new verification in one step', async () => {
    const r = record();
    await store().writeAhead!(r);
    expect(await limiter().consumeUnlessPending(r.to, 'api', limits, r.createdAt, claimFor(r))).toEqual({ allowed: true, claimed: true });
    expect(await store().findPendingId(r.to, r.purpose, 'api', Date.now())).toBe(r.id);
    expect(await store().get(r.id)).toEqual(r);
    // Counted as a send: the cooldown holds the next one.
    expect(await limiter().consume(r.to, 'api', limits, r.createdAt)).toMatchObject({ allowed: false, reason: 'cooldown' });
    // The hash lives at least as long as the entry, whose code (in another budget) outlives every window here.
    const longLived = record({ to: r.to, budget: 'proven', expiresAt: Date.now() + 2 * DAY_MS });
    await store().writeAhead!(longLived);
    const noCooldown = { cooldownMs: 0, perHour: 10, perDay: 10 };
    expect(await limiter().consumeUnlessPending(r.to, 'proven', noCooldown, Date.now(), claimFor(longLived))).toEqual({
      allowed: true,
      claimed: true,
    });
    expect(await store().findPendingId(r.to, r.purpose, 'proven', Date.now())).toBe(longLived.id);
    expect(await client.pttl(destinationKey(r.to))).toBeGreaterThan(2 * DAY_MS - 60_000);
  });

  it('claims nothing for a refused send or where another is pending, and counts nothing for the latter', async () => {
    const first = record();
    await store().createPending(first);
    const second = record({ to: first.to });
    await store().writeAhead!(second);
    expect(await limiter().consumeUnlessPending(first.to, 'api', limits, Date.now(), claimFor(second))).toEqual({ pendingId: first.id });
    expect(await store().findPendingId(first.to, first.purpose, 'api', Date.now())).toBe(first.id);
    // Nothing was counted: the send of another purpose is the first, and is allowed.
    const other = record({ to: first.to, purpose: 'other' });
    await store().writeAhead!(other);
    expect(await limiter().consumeUnlessPending(first.to, 'api', limits, Date.now(), claimFor(other))).toEqual({
      allowed: true,
      claimed: true,
    });

    const refused = record({ to: first.to, purpose: 'third' });
    await store().writeAhead!(refused);
    expect(await limiter().consumeUnlessPending(first.to, 'api', limits, Date.now(), claimFor(refused))).toMatchObject({
      allowed: false,
      reason: 'cooldown',
    });
    expect(await store().findPendingId(first.to, 'third', 'api', Date.now())).toBeUndefined();
    await store().dropAhead!(refused, false);
    expect(await client.exists(verificationKey(refused.id))).toBe(0);
  });

  it("leaves an approved one's entry to the approval's cooldown lift, which drops it only while it names that one", async () => {
    const r = record();
    await store().writeAhead!(r);
    expect(await limiter().consumeUnlessPending(r.to, 'api', limits, r.createdAt, claimFor(r))).toEqual({ allowed: true, claimed: true });
    expect((await store().check(r.id, candidate(r, '123456'), Date.now())).result).toBe('approved');
    // Still in the hash (the store released nothing), and no lookup takes it for pending.
    expect(await client.hget(destinationKey(r.to), pendingField(r.purpose, 'api'))).not.toBeNull();
    expect(await store().findPendingId(r.to, r.purpose, 'api', Date.now())).toBeUndefined();

    await limiter().liftCooldown(r.to, 'api', { id: r.id, purpose: r.purpose });
    expect(await client.hget(destinationKey(r.to), pendingField(r.purpose, 'api'))).toBeNull();
    // In the same step, the cooldown went: the next send is counted at once, and claims the entry for itself.
    const next = record({ to: r.to });
    await store().writeAhead!(next);
    expect(await limiter().consumeUnlessPending(r.to, 'api', limits, Date.now(), claimFor(next))).toEqual({ allowed: true, claimed: true });

    // A lift for the approved one again leaves the entry of the newer one.
    await limiter().liftCooldown(r.to, 'api', { id: r.id, purpose: r.purpose });
    expect(await store().findPendingId(r.to, r.purpose, 'api', Date.now())).toBe(next.id);
    // A locked one leaves the index at once, as before.
    for (let i = 0; i < next.maxAttempts; i++) await store().check(next.id, candidate(next, '000000'), Date.now());
    await eventually(async () => expect(await client.hget(destinationKey(r.to), pendingField(r.purpose, 'api'))).toBeNull());
  });

  it('drops a claimed one with its entry, and leaves an entry that names another', async () => {
    const r = record();
    await store().writeAhead!(r);
    expect(await limiter().consumeUnlessPending(r.to, 'api', limits, r.createdAt, claimFor(r))).toEqual({ allowed: true, claimed: true });
    await store().dropAhead!(r, true);
    expect(await client.exists(verificationKey(r.id))).toBe(0);
    expect(await client.hget(destinationKey(r.to), pendingField(r.purpose, 'api'))).toBeNull();
    // Its send stays counted.
    expect(await limiter().consume(r.to, 'api', limits, r.createdAt)).toMatchObject({ allowed: false, reason: 'cooldown' });

    const winner = record({ to: r.to, purpose: 'other' });
    await store().createPending(winner);
    const loser = record({ to: r.to, purpose: 'other' });
    await store().writeAhead!(loser);
    await store().dropAhead!(loser, true);
    expect(await store().findPendingId(r.to, 'other', 'api', Date.now())).toBe(winner.id);
    expect(await client.exists(verificationKey(loser.id))).toBe(0);
  });

  it('gives concurrent starts to one destination one pending verification, its send counted once', async () => {
    const to = `${randomUUID()}@example.com`;
    const now = Date.now();
    const noCooldown = { cooldownMs: 0, perHour: 100, perDay: 100 };
    const starts = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const r = record({ to, purpose: 'signup', budget: 'anonymous', createdAt: now });
        const [, found] = await Promise.all([
          store().writeAhead!(r),
          limiter().consumeUnlessPending(to, 'anonymous', noCooldown, now, claimFor(r)),
        ]);
        if ('pendingId' in found) {
          await store().dropAhead!(r, false);
          return found.pendingId;
        }
        expect(found).toEqual({ allowed: true, claimed: true });
        return r.id;
      }),
    );
    expect(new Set(starts).size).toBe(1);
    expect(await store().findPendingId(to, 'signup', 'anonymous', Date.now())).toBe(starts[0]);
    const hour = { cooldownMs: 0, perHour: 2, perDay: 100 };
    expect(await limiter().consume(to, 'anonymous', hour, now)).toEqual({ allowed: true });
    expect(await limiter().consume(to, 'anonymous', hour, now)).toMatchObject({ allowed: false, reason: 'hourly' });
  });
});

describe("a destination's Redis hash", () => {
  const limiter = () => new RedisSendLimiter(client);
  const key = (to: string) => `otp:{d:${to}}`;
  const destination = () => `${randomUUID()}@example.com`;
  const floorSeconds = (ms: number) => Math.floor(ms / 1000);
  const ceilSeconds = (ms: number) => Math.ceil(ms / 1000);

  it('holds the limits of each budget and the pending entries, one key with the longest window as its TTL', async () => {
    const store = new RedisOtpStore(client);
    const r = record();
    const now = Date.now();
    // Only a pending entry: the key lives as long as its code.
    await store.createPending(r);
    expect(await client.pttl(key(r.to))).toBeGreaterThan(600_000 - 60_000);
    expect(await client.pttl(key(r.to))).toBeLessThanOrEqual(ceilSeconds(r.expiresAt) * 1000 - r.createdAt);
    expect(await limiter().consume(r.to, 'api', { cooldownMs: 30_000, perHour: 3, perDay: 4 }, now)).toEqual({ allowed: true });
    expect(await client.keys(`otp:{d:${r.to}}*`)).toEqual([key(r.to)]);
    // Times in whole seconds: the limits' ends rounded down, the entry's expiry up.
    expect(await client.hgetall(key(r.to))).toEqual({
      ac: String(floorSeconds(now + 30_000)),
      ah: '1',
      ahw: String(floorSeconds(now + HOUR_MS)),
      ad: '1',
      adw: String(floorSeconds(now + DAY_MS)),
      'a:verify': `${ceilSeconds(r.expiresAt)}:${Buffer.from(r.id.replaceAll('-', ''), 'hex').toString('base64url')}`,
    });
    // The daily window is the longest: the key lives until its end, as the hash holds it.
    expect(await client.pttl(key(r.to))).toBeGreaterThan(DAY_MS - 60_000);
    expect(await client.pttl(key(r.to))).toBeLessThanOrEqual(ceilSeconds(now + DAY_MS) * 1000 - now);
    // Settled, the entry goes; reset clears the limits. Nothing left, nothing kept.
    await store.cancel(r.id, Date.now());
    expect(await client.hexists(key(r.to), 'a:verify')).toBe(0);
    await limiter().reset(r.to);
    expect(await client.exists(key(r.to))).toBe(0);
  });

  it('keeps the pending entries through a reset of the limits', async () => {
    const store = new RedisOtpStore(client);
    const r = record();
    const now = Date.now();
    expect(await limiter().consume(r.to, 'api', { cooldownMs: 30_000, perHour: 3, perDay: 4 }, now)).toEqual({ allowed: true });
    await store.createPending(r);
    await limiter().reset(r.to);
    expect(await client.hkeys(key(r.to))).toEqual(['a:verify']);
    expect(await store.findPendingId(r.to, 'verify', 'api', Date.now())).toBe(r.id);
    expect(await limiter().consume(r.to, 'api', { cooldownMs: 30_000, perHour: 3, perDay: 4 }, now)).toEqual({ allowed: true });
  });

  it("leaves the other budgets' counters untouched however many sends one budget is asked for", async () => {
    const to = destination();
    const now = Date.now();
    const limits = { cooldownMs: 0, perHour: 3, perDay: 4 };
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => limiter().consume(to, 'anonymous', limits, now)));
    expect(verdicts.filter((verdict) => verdict.allowed)).toHaveLength(3);
    expect((await client.hkeys(key(to))).sort()).toEqual(['nd', 'ndw', 'nh', 'nhw']);
    expect(await limiter().consume(to, 'proven', limits, now)).toEqual({ allowed: true });
    expect(await limiter().consume(to, 'api', limits, now)).toEqual({ allowed: true });
    expect(await client.hmget(key(to), 'nh', 'ph', 'ah')).toEqual(['3', '1', '1']);
  });

  it('opens new hour and day windows once theirs have ended, without an expiry per field', async () => {
    const to = destination();
    // On a whole second, which the windows' ends are held in.
    const now = floorSeconds(Date.now()) * 1000;
    const limits = { cooldownMs: 0, perHour: 2, perDay: 3 };
    const consume = (at: number) => limiter().consume(to, 'api', limits, at);
    expect(await consume(now)).toEqual({ allowed: true });
    expect(await consume(now + 1000)).toEqual({ allowed: true });
    expect(await consume(now + 2000)).toEqual({ allowed: false, reason: 'hourly', retryAfterMs: HOUR_MS - 2000 });
    // The hour is over: its count starts again, the day's goes on.
    expect(await consume(now + HOUR_MS)).toEqual({ allowed: true });
    expect(await client.hmget(key(to), 'ah', 'ahw', 'ad', 'adw')).toEqual([
      '1',
      String(floorSeconds(now + 2 * HOUR_MS)),
      '3',
      String(floorSeconds(now + DAY_MS)),
    ]);
    expect(await consume(now + HOUR_MS + 1)).toEqual({ allowed: false, reason: 'daily', retryAfterMs: DAY_MS - HOUR_MS - 1 });
    // The day is over too.
    expect(await consume(now + DAY_MS)).toEqual({ allowed: true });
    expect(await client.hmget(key(to), 'ah', 'ad', 'adw')).toEqual(['1', '1', String(floorSeconds(now + 2 * DAY_MS))]);
    // The key lives as long as the new day window, counted from the send that opened it.
    expect(await client.pttl(key(to))).toBeGreaterThan(DAY_MS - 60_000);
  });

  it("rounds a cooldown's and a window's end down to the second: over when the API said, at most a second early", async () => {
    const to = destination();
    // 1 ms before a whole second: the most a rounding down takes off.
    const now = floorSeconds(Date.now()) * 1000 + 999;
    const limits = { cooldownMs: 30_000, perHour: 1, perDay: 5 };
    expect(await limiter().consume(to, 'api', limits, now)).toEqual({ allowed: true });
    expect(await limiter().consume(to, 'api', limits, now + 29_000)).toEqual({ allowed: false, reason: 'cooldown', retryAfterMs: 1 });
    // The cooldown is over 999 ms before the 30 s asked for (when the API says a resend is available, it is); the hour is not.
    expect(await limiter().consume(to, 'api', limits, now + 29_001)).toEqual({
      allowed: false,
      reason: 'hourly',
      retryAfterMs: HOUR_MS - 30_000,
    });
    expect(await limiter().consume(to, 'api', limits, now + HOUR_MS - 1_000)).toMatchObject({ allowed: false, reason: 'hourly' });
    expect(await limiter().consume(to, 'api', limits, now + HOUR_MS - 999)).toEqual({ allowed: true });
  });

  describe('reads the times earlier versions wrote in milliseconds, so their limits hold through a rolling update', () => {
    const limits = { cooldownMs: 30_000, perHour: 3, perDay: 4 };

    it('a cooldown: still blocks, for as long', async () => {
      const to = destination();
      const now = Date.now();
      await client.hset(key(to), 'ac', now + 20_000);
      const verdict = await limiter().consume(to, 'api', limits, now);
      expect(verdict).toEqual({ allowed: false, reason: 'cooldown', retryAfterMs: 20_000 });
      await client.hset(key(to), 'ac', now - 1);
      expect(await limiter().consume(to, 'api', limits, now)).toEqual({ allowed: true });
      expect(await client.hget(key(to), 'ac')).toBe(String(floorSeconds(now + 30_000)));
    });

    it("a window's end: its count holds until then, and the next send after it opens a new window", async () => {
      const to = destination();
      const now = Date.now();
      await client.hset(key(to), 'ah', 3, 'ahw', now + 1_800_000, 'ad', 3, 'adw', now + 7_200_000);
      const full = await limiter().consume(to, 'api', { ...limits, cooldownMs: 0 }, now);
      expect(full).toEqual({ allowed: false, reason: 'hourly', retryAfterMs: 1_800_000 });
      // The hour over, the day's count (3 of 4) still counts, and its end is now written in seconds.
      await client.hset(key(to), 'ahw', now - 1);
      expect(await limiter().consume(to, 'api', { ...limits, cooldownMs: 0 }, now)).toEqual({ allowed: true });
      expect(await client.hmget(key(to), 'ad', 'adw')).toEqual(['4', String(floorSeconds(now + 7_200_000))]);
      expect(await limiter().consume(to, 'api', { ...limits, cooldownMs: 0 }, now)).toMatchObject({ allowed: false, reason: 'daily' });
    });

    it("a pending entry's expiry: live until then, absent after", async () => {
      const store = new RedisOtpStore(client);
      const r = record();
      await store.createPending(r);
      const field = 'a:verify';
      const [, id] = (await client.hget(key(r.to), field))!.split(':');
      await client.hset(key(r.to), field, `${r.expiresAt}:${id}`);
      const now = Date.now();
      expect(await limiter().consumeUnlessPending(r.to, 'api', limits, now, { purpose: 'verify' })).toEqual({ pendingId: r.id });
      expect(await store.findPendingId(r.to, 'verify', 'api', now)).toBe(r.id);
      await client.hset(key(r.to), field, `${now - 1}:${id}`);
      expect(await store.findPendingId(r.to, 'verify', 'api', now)).toBeUndefined();
      expect(await limiter().consumeUnlessPending(r.to, 'api', limits, now, { purpose: 'verify' })).toEqual({ allowed: true });
    });
  });

  describe("honours the previous version's keys, which its replicas write during a rolling deploy", () => {
    const legacy = (to: string, what: 'cooldown' | 'hour' | 'day') => `otp:{d:${to}}:api:${what}`;

    it('a cooldown there still blocks, until lifted or reset', async () => {
      const to = destination();
      await client.set(legacy(to, 'cooldown'), '1', 'PX', 20_000);
      const verdict = await limiter().consume(to, 'api', { cooldownMs: 30_000, perHour: 3, perDay: 4 }, Date.now());
      expect(verdict).toMatchObject({ allowed: false, reason: 'cooldown' });
      expect((verdict as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(19_000);
      expect((verdict as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(20_000);
      await limiter().liftCooldown(to, 'api');
      expect(await client.exists(legacy(to, 'cooldown'))).toBe(0);
      expect(await limiter().consume(to, 'api', { cooldownMs: 30_000, perHour: 3, perDay: 4 }, Date.now())).toEqual({ allowed: true });
      await client.set(legacy(to, 'cooldown'), '1', 'PX', 20_000);
      await limiter().reset(to);
      expect(await limiter().consume(to, 'api', { cooldownMs: 30_000, perHour: 3, perDay: 4 }, Date.now())).toEqual({ allowed: true });
    });

    it('its hour and day counts add to the hash, and a send fits again when the first window that frees enough ends', async () => {
      const to = destination();
      // On a whole second, which the hash's windows end on.
      const now = floorSeconds(Date.now()) * 1000;
      await client.set(legacy(to, 'hour'), '2', 'PX', 1_800_000);
      await client.set(legacy(to, 'day'), '2', 'PX', 7_200_000);
      const limits = { cooldownMs: 0, perHour: 3, perDay: 10 };
      expect(await limiter().consume(to, 'api', limits, now)).toEqual({ allowed: true });
      // 1 here and 2 there: full until the legacy hour ends, in half an hour.
      const hourly = await limiter().consume(to, 'api', limits, now);
      expect(hourly).toMatchObject({ allowed: false, reason: 'hourly' });
      expect((hourly as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(1_800_000 - 60_000);
      expect((hourly as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(1_800_000);
      // Where the hash alone fills the hour, its own window decides.
      const own = { cooldownMs: 0, perHour: 1, perDay: 10 };
      expect(await limiter().consume(to, 'api', own, now)).toMatchObject({ allowed: false, reason: 'hourly', retryAfterMs: HOUR_MS });
      // 1 here and 2 there fill a day of 3; the legacy day's end frees it.
      const daily = await limiter().consume(to, 'api', { cooldownMs: 0, perHour: 10, perDay: 3 }, now);
      expect(daily).toMatchObject({ allowed: false, reason: 'daily' });
      expect((daily as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(7_200_000 - 60_000);
      expect((daily as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(7_200_000);
      // Nothing is ever written to them.
      expect(await client.mget(legacy(to, 'cooldown'), legacy(to, 'hour'), legacy(to, 'day'))).toEqual([null, '2', '2']);
      await limiter().reset(to);
      expect(await client.exists(legacy(to, 'hour'), legacy(to, 'day'))).toBe(0);
    });
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

  it("marks a send in the verification's hash, which keeps its expiry and reads the same", async () => {
    const store = new RedisOtpStore(client);
    const ledger = new RedisDeliveryLedger(client);
    const r = record();
    await store.createPending(r);
    const ttl = await client.pttl(verificationKey(r.id));
    const before = await client.keys(`${verificationKey(r.id)}*`);
    expect(before).toEqual([verificationKey(r.id)]);

    await ledger.markSent(`${r.id}:1`, 600_000);
    await ledger.markSent(`${r.id}:1:after:smtp`, 600_000);

    expect(await client.keys(`${verificationKey(r.id)}*`)).toEqual(before);
    expect(await client.pttl(verificationKey(r.id))).toBeGreaterThan(ttl - 5_000);
    expect(await ledger.wasSent(`${r.id}:1`)).toBe(true);
    expect(await ledger.wasSent(`${r.id}:1:after:smtp`)).toBe(true);
    expect(await ledger.wasSent(`${r.id}:2`)).toBe(false);
    expect(await ledger.wasSent(`${r.id}:1:after:twilio`)).toBe(false);
    // The record reads as before, and a check, a resend and a cancel leave the marks where they are.
    expect(await store.get(r.id)).toEqual(r);
    await store.check(r.id, candidate(r, '000000'), Date.now());
    await store.cancel(r.id, Date.now());
    expect(await ledger.wasSent(`${r.id}:1`)).toBe(true);
    expect((await store.get(r.id))!.status).toBe('canceled');
  });

  it('honours a mark an earlier version set as a key of its own', async () => {
    const store = new RedisOtpStore(client);
    const ledger = new RedisDeliveryLedger(client);
    // Earlier versions minted version-4 ids, and kept each under `otp:{v:<id>}`.
    const r = record({ id: randomUUID() });
    await store.createPending(r);
    await client.set(`otp:{v:${r.id}}:sent:1`, '1', 'PX', 600_000);

    expect(await ledger.wasSent(`${r.id}:1`)).toBe(true);
    expect(
      await store.updateDelivery(r.id, { sendNumber: 1, status: 'sending', attempts: 2 }, Date.now(), ledger.sentMark(`${r.id}:1`)),
    ).toBe('ignored');
    expect((await store.get(r.id))!.delivery.status).toBe(r.delivery.status);
  });

  it("marks a send whose verification is gone by a key with the send's expiry, leaving no stub hash", async () => {
    const ledger = new RedisDeliveryLedger(client);
    const id = mintVerificationId();

    await ledger.markSent(`${id}:1`, 60_000);

    expect(await client.exists(verificationKey(id))).toBe(0);
    const ttl = await client.pttl(`${verificationKey(id)}:sent:1`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await ledger.wasSent(`${id}:1`)).toBe(true);
  });
});

describe('Redis contents', () => {
  it('never hold a code in plain text', async () => {
    const store = new RedisOtpStore(client);
    const codes = ['482913', '730461', '019283'];
    for (const code of codes) {
      const r = record({}, code);
      await store.createPending(r);
      await store.check(r.id, candidate(r, '000000'), Date.now());
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
