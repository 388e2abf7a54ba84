import type { Redis } from 'ioredis';
import { RedisConversionCounts, SLOT_MS } from '../src/messaging/provider-conversion.js';
import { FAIL_FAST_OPTIONS, openRedis, waitUntilReady } from '../src/redis/redis-connection.js';
import { eventually } from './support/eventually.js';
import { RedisServer } from './support/redis-server.js';

/**
 * The providers' conversion counts on a real redis-server: the counts added while one batch of replies is
 * handled reach Redis as one command per provider and field, each counted, and every caller learns whether
 * the command carrying its count failed.
 */

/** Lua script calls Redis has run so far (each count is one script call). */
async function scriptCalls(client: Redis): Promise<number> {
  const stats = await client.info('commandstats');
  return [...stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((sum, [, calls]) => sum + Number(calls), 0);
}

describe('RedisConversionCounts', () => {
  let redis: RedisServer;
  let client: Redis;
  let counts: RedisConversionCounts;
  const now = Date.UTC(2026, 11, 5, 12, 0, 0);

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = openRedis({ url: redis.url, clusterNodes: undefined }, { ...FAIL_FAST_OPTIONS, connectionName: 'conversion' }) as Redis;
    await waitUntilReady(client, 5000);
    counts = new RedisConversionCounts(client);
  });
  beforeEach(async () => {
    await client.flushall();
    // Loads the script, so each test counts its calls alone.
    await counts.add('warm-up', 'sent', now);
    await client.config('RESETSTAT');
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('sends the counts of one batch as one command per provider and field, with how many', async () => {
    // As an API approves codes: each count follows the reply that settled its check, a few reactions deep.
    const approval = async (provider: string, event: 'sent' | 'approved', at: number) => {
      await Promise.resolve();
      await Promise.resolve();
      return counts.add(provider, event, at);
    };
    await Promise.all([
      ...Array.from({ length: 30 }, () => approval('smtp', 'approved', now)),
      ...Array.from({ length: 5 }, () => approval('smtp', 'sent', now)),
      ...Array.from({ length: 4 }, () => approval('smtp', 'approved', now - SLOT_MS)),
      ...Array.from({ length: 3 }, () => approval('twilio', 'approved', now)),
    ]);

    expect(await scriptCalls(client)).toBe(4);
    const slot = Math.floor(now / SLOT_MS);
    expect(await client.hgetall('otp:{conversion:smtp}')).toEqual({
      [`approved:${slot}`]: '30',
      [`sent:${slot}`]: '5',
      [`approved:${slot - 1}`]: '4',
    });
    expect(await client.hgetall('otp:{conversion:twilio}')).toEqual({ [`approved:${slot}`]: '3' });
    expect(await client.pttl('otp:{conversion:smtp}')).toBeGreaterThan(60 * 60 * 1000);
    const { lastHour } = await counts.window('smtp', now + 1, 0);
    expect(lastHour).toEqual({ sent: 5, delivered: 0, undelivered: 0, approved: 34 });
  });

  it('counts every add of separate turns, each in its own command', async () => {
    for (let i = 0; i < 5; i++) await counts.add('smtp', 'delivered', now);
    await new Promise((resolve) => setImmediate(resolve));
    await counts.add('smtp', 'delivered', now);

    expect(await scriptCalls(client)).toBe(6);
    expect((await counts.window('smtp', now + 1, 0)).lastHour.delivered).toBe(6);
  });

  it('fails every caller whose count did not reach Redis, and counts again once Redis is back', async () => {
    await redis.stop();
    const outcomes = await Promise.allSettled(Array.from({ length: 3 }, () => counts.add('smtp', 'approved', now)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);

    await redis.restart();
    await eventually(async () => expect(await client.ping()).toBe('PONG'));
    await Promise.all([counts.add('smtp', 'approved', now), counts.add('smtp', 'approved', now)]);
    expect((await counts.window('smtp', now + 1, 0)).lastHour.approved).toBe(2);
  });
});
