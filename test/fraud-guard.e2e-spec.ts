import { Redis } from 'ioredis';
import type { FraudGuard, GuardedSend, GuardLimits, GuardVerdict } from '../src/otp/fraud/fraud-guard.js';
import { MemoryFraudGuard } from '../src/otp/fraud/memory-fraud-guard.js';
import { RedisFraudGuard } from '../src/otp/fraud/redis-fraud-guard.js';
import { REDIS_SCRIPTS } from '../src/redis/redis-scripts.js';
import { RedisServer } from './support/redis-server.js';

/** One contract, two guards: whatever the memory guard decides, the Redis guard must decide the same way. */
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

const LIMITS: GuardLimits = {
  prefixPerHour: 0,
  countryPerHour: 0,
  channelPerHour: 0,
  minSample: 4,
  graceMs: 1000,
  minConversion: 0.5,
  suspendMs: 10 * 60_000,
};
const HOUR = 3_600_000;
const sms = (country: string, prefix: string, sampled = true): GuardedSend => ({ channel: 'sms', country, prefix, sampled });

describe.each([
  ['memory', () => new MemoryFraudGuard() as FraudGuard],
  ['redis', () => new RedisFraudGuard(client) as FraudGuard],
])('the %s fraud guard', (_name, make) => {
  let guard: FraudGuard;
  let t0: number;
  beforeEach(async () => {
    await client.flushall();
    guard = make();
    t0 = Date.now();
  });

  it('refuses a prefix over its hourly cap, for up to an hour, and admits its neighbours', async () => {
    const limits = { ...LIMITS, prefixPerHour: 3, minConversion: 0 };
    for (let i = 0; i < 3; i++) expect(await guard.admit(sms('GB', '+447700900'), limits, t0)).toMatchObject({ allowed: true });
    const refused = await guard.admit(sms('GB', '+447700900'), limits, t0);
    expect(refused).toMatchObject({ allowed: false, reason: 'prefix' });
    expect(refused.allowed === false && refused.retryAfterMs).toBeGreaterThan(HOUR - 60_000);
    expect(refused.allowed === false && refused.retryAfterMs).toBeLessThanOrEqual(HOUR);
    expect(await guard.admit(sms('GB', '+447700901'), limits, t0)).toMatchObject({ allowed: true });
  });

  it('refuses a country over its cap and not another country, and never counts what it refused', async () => {
    const limits = { ...LIMITS, countryPerHour: 2, minConversion: 0 };
    expect(await guard.admit(sms('GB', '+447700900'), limits, t0)).toMatchObject({ allowed: true });
    expect(await guard.admit(sms('GB', '+447700901'), limits, t0)).toMatchObject({ allowed: true });
    for (let i = 0; i < 3; i++)
      expect(await guard.admit(sms('GB', `+44770090${2 + i}`), limits, t0)).toMatchObject({ allowed: false, reason: 'country' });
    expect(await guard.admit(sms('US', '+1201555010'), limits, t0)).toMatchObject({ allowed: true });
    expect((await guard.overview(t0)).countries).toEqual([
      { country: 'GB', sends: 2, approved: 0 },
      { country: 'US', sends: 1, approved: 0 },
    ]);
  });

  it('caps a whole channel, email included', async () => {
    const limits = { ...LIMITS, channelPerHour: 1, minConversion: 0 };
    expect(await guard.admit({ channel: 'email', sampled: false }, limits, t0)).toMatchObject({ allowed: true });
    expect(await guard.admit({ channel: 'email', sampled: false }, limits, t0)).toMatchObject({ allowed: false, reason: 'channel' });
    expect(await guard.admit(sms('GB', '+447700900'), limits, t0)).toMatchObject({ allowed: true });
  });

  it('suspends a country whose judged sends were approved too rarely, once, and leaves other countries alone', async () => {
    for (let i = 0; i < 4; i++) expect(await guard.admit(sms('GB', `+44770090${i}`), LIMITS, t0)).toMatchObject({ allowed: true });
    await guard.recordApproval('GB', 'approved-1', t0, t0 + 10);
    // Not yet: none of the four is older than the grace.
    expect(await guard.admit(sms('GB', '+447700905'), LIMITS, t0 + 500)).toMatchObject({ allowed: true });
    const suspended = await guard.admit(sms('GB', '+447700906'), LIMITS, t0 + 1500);
    expect(suspended).toEqual({ allowed: false, reason: 'suspended', retryAfterMs: LIMITS.suspendMs, started: { sends: 5, approved: 1 } });
    const again = await guard.admit(sms('GB', '+447700907'), LIMITS, t0 + 1600);
    expect(again).toMatchObject({ allowed: false, reason: 'suspended' });
    expect(again.allowed === false && 'started' in again && again.started).toBeFalsy();
    expect(await guard.admit(sms('US', '+1201555010'), LIMITS, t0 + 1600)).toMatchObject({ allowed: true });

    const overview = await guard.overview(t0 + 1700);
    expect(overview.suspensions).toEqual([{ country: 'GB', since: t0 + 1500, until: t0 + 1500 + LIMITS.suspendMs, sends: 5, approved: 1 }]);
    expect(overview.countries).toEqual([{ country: 'US', sends: 1, approved: 0 }]);
  });

  it('does not suspend a country whose approvals keep up, however many sends', async () => {
    for (let i = 0; i < 8; i++) await guard.admit(sms('GB', `+44770090${i}`), LIMITS, t0);
    for (let i = 0; i < 4; i++) await guard.recordApproval('GB', `v${i}`, t0, t0 + 100);
    expect(await guard.admit(sms('GB', '+447700909'), LIMITS, t0 + 5000)).toMatchObject({ allowed: true });
    expect((await guard.overview(t0 + 5000)).countries).toEqual([{ country: 'GB', sends: 9, approved: 4 }]);
  });

  it('never suspends for sends outside the sample (test destinations, withheld challenges)', async () => {
    for (let i = 0; i < 10; i++) await guard.admit(sms('GB', `+44770090${i}`, false), LIMITS, t0);
    expect(await guard.admit(sms('GB', '+447700911'), LIMITS, t0 + 5000)).toMatchObject({ allowed: true });
  });

  it('lifts a suspension and forgets the window, approvals of earlier sends included', async () => {
    for (let i = 0; i < 4; i++) await guard.admit(sms('GB', `+44770090${i}`), LIMITS, t0);
    expect(await guard.admit(sms('GB', '+447700905'), LIMITS, t0 + 2000)).toMatchObject({ reason: 'suspended' });
    await guard.lift('GB', t0 + 3000);
    expect((await guard.overview(t0 + 3000)).suspensions).toEqual([]);
    await guard.recordApproval('GB', 'late', t0, t0 + 3100);
    expect(await guard.admit(sms('GB', '+447700906'), LIMITS, t0 + 3200)).toMatchObject({ allowed: true });
    expect((await guard.overview(t0 + 3300)).countries).toEqual([{ country: 'GB', sends: 1, approved: 0 }]);
  });

  it('takes back a send it admitted, from every cap and from the sample', async () => {
    const limits = { ...LIMITS, prefixPerHour: 2, countryPerHour: 2, channelPerHour: 2, minConversion: 0 };
    const counted = (verdict: GuardVerdict) => (verdict as Extract<GuardVerdict, { allowed: true }>).counted;
    const first = await guard.admit(sms('GB', '+447700900'), limits, t0);
    const taken = await guard.admit(sms('GB', '+447700900'), limits, t0);
    expect(taken).toMatchObject({ allowed: true });
    await guard.refund(counted(taken));
    // Each cap has room for one more again, and the country's sends hold the first one alone.
    expect((await guard.overview(t0)).countries).toEqual([{ country: 'GB', sends: 1, approved: 0 }]);
    expect(await guard.admit(sms('GB', '+447700900'), limits, t0 + 1)).toMatchObject({ allowed: true });
    expect(await guard.admit(sms('GB', '+447700900'), limits, t0 + 2)).toMatchObject({ allowed: false });
    // The first one taken back: its entry goes, the one after it stays.
    await guard.refund(counted(first));
    expect((await guard.overview(t0 + 2)).countries).toEqual([{ country: 'GB', sends: 1, approved: 0 }]);
    expect(await guard.admit(sms('GB', '+447700901'), limits, t0 + 3)).toMatchObject({ allowed: true });
    expect(await guard.admit(sms('GB', '+447700902'), limits, t0 + 4)).toMatchObject({ allowed: false });
  });

  it('forgets sends and approvals an hour old', async () => {
    for (let i = 0; i < 4; i++) await guard.admit(sms('GB', `+44770090${i}`), LIMITS, t0);
    expect(await guard.admit(sms('GB', '+447700905'), LIMITS, t0 + HOUR + 1)).toMatchObject({ allowed: true });
  });
});

describe("the redis fraud guard's refunds", () => {
  it('leave a counter whose hour ended as it is gone, rather than make it again without an expiry', async () => {
    await client.flushall();
    const guard = new RedisFraudGuard(client);
    const limits = { ...LIMITS, prefixPerHour: 5, countryPerHour: 5, channelPerHour: 5, minConversion: 0 };
    const admitted = await guard.admit(sms('GB', '+447700900'), limits, Date.now());
    const counters = ['otp:{fraud}:channel:sms', 'otp:{fraud}:country:GB', 'otp:{fraud}:prefix:+447700900'];
    expect(await Promise.all(counters.map((counter) => client.get(counter)))).toEqual(['1', '1', '1']);
    await client.del(...counters);
    await guard.refund((admitted as Extract<GuardVerdict, { allowed: true }>).counted);
    expect(await client.exists(...counters)).toBe(0);
    expect(await client.zcard('otp:{fraud}:sent:GB')).toBe(0);
  });
});

describe("the redis fraud guard's record of sends", () => {
  it('keeps each country to the sends of the last hour while traffic never stops, with FRAUD_MIN_CONVERSION at 0 too', async () => {
    await client.flushall();
    const guard = new RedisFraudGuard(client);
    // Nothing judged, a country cap counted: every send is still recorded for the overview, and renews the set's expiry.
    const limits = { ...LIMITS, minConversion: 0, countryPerHour: 10_000 };
    // Two countries taking turns: neither may be left untrimmed by the other's place in the turns.
    const sendBoth = async (now: number) => {
      for (let i = 0; i < 100; i++) {
        expect(await guard.admit(sms('GB', '+447700900'), limits, now)).toMatchObject({ allowed: true });
        expect(await guard.admit(sms('US', '+1201555010'), limits, now)).toMatchObject({ allowed: true });
      }
    };
    const t0 = Date.now();
    await sendBoth(t0);
    expect(await client.zcard('otp:{fraud}:sent:GB')).toBe(100);
    await sendBoth(t0 + HOUR + 1);
    // The hour-old hundred of each went at a trim (one send in 64 to the country makes one), and only they went.
    expect(await client.zcard('otp:{fraud}:sent:GB')).toBe(100);
    expect(await client.zcard('otp:{fraud}:sent:US')).toBe(100);
    expect((await guard.overview(t0 + HOUR + 1)).countries).toEqual([
      { country: 'GB', sends: 100, approved: 0 },
      { country: 'US', sends: 100, approved: 0 },
    ]);
  });
});
