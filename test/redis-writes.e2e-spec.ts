import { jest } from '@jest/globals';
import { type Cluster, Redis } from 'ioredis';
import { FAIL_FAST_OPTIONS, openRedis, type RedisClient, waitUntilReady } from '../src/redis/redis-connection.js';
import { verificationKey as verificationKeyOf } from '../src/otp/verification-key.js';
import { destinationKey } from '../src/otp/destination-hash.js';
import { REDIS_CLIENT } from '../src/redis/redis.constants.js';
import { call, startApp, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { RedisCluster } from './support/redis-cluster.js';
import { RedisServer } from './support/redis-server.js';

/**
 * Every connection the service opens (openRedis) sends the commands of one event-loop turn in one write
 * to the system, on a real redis-server and a real Redis Cluster: what reaches the socket's own write
 * (`_write` for one chunk, `_writev` for several) and what Redis answered to each command.
 */

/** Calls `record` with the chunks of each hand-over to the system from now on, one chunk per command. */
function onHandover(client: Redis, record: (chunks: unknown[]) => void): void {
  const stream = client.stream as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const { _write, _writev } = stream;
  jest.spyOn(stream, '_write').mockImplementation((...args: unknown[]) => {
    record([args[0]]);
    return _write.apply(stream, args);
  });
  jest.spyOn(stream, '_writev').mockImplementation((...args: unknown[]) => {
    record((args[0] as { chunk: unknown }[]).map(({ chunk }) => chunk));
    return _writev.apply(stream, args);
  });
}

/** Each hand-over to the system from now on: how many commands it carried. */
function handovers(client: Redis): number[] {
  const counts: number[] = [];
  onHandover(client, (chunks) => counts.push(chunks.length));
  return counts;
}

/** Twenty commands at once, sets and reads interleaved: each must get its own answer. */
async function twentyCommands(client: RedisClient, tag: string) {
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => [client.set(`{${tag}}:${i}`, `value-${i}`), client.get(`{${tag}}:${i}`)]).flat(),
  );
  expect(results).toEqual(Array.from({ length: 10 }, (_, i) => ['OK', `value-${i}`]).flat());
}

describe('commands written to Redis in one turn', () => {
  let redis: RedisServer;
  let client: Redis | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(() => client?.disconnect());
  afterAll(async () => {
    await redis?.stop();
  });

  it('leave in one write, each answered in order, also on the socket of a reconnect', async () => {
    client = openRedis({ url: redis.url, clusterNodes: undefined }, { ...FAIL_FAST_OPTIONS, connectionName: 'writes' }) as Redis;
    await waitUntilReady(client, 5000, 5000);
    // The 'connect' listener that wraps the socket runs on the tick after it connects.
    await eventually(async () => expect(await client!.ping()).toBe('PONG'));
    let counts = handovers(client);
    await twentyCommands(client, 'first');
    expect(counts).toEqual([20]);

    // A new socket after Redis went away and came back.
    await redis.stop();
    await redis.restart();
    await eventually(async () => expect(await client!.ping()).toBe('PONG'), 10_000);
    counts = handovers(client);
    await twentyCommands(client, 'again');
    expect(counts).toEqual([20]);
  }, 30_000);

  it('are written one by one on a connection that did not come from openRedis', async () => {
    client = new Redis(redis.url, { enableAutoPipelining: false });
    await client.ping();
    const counts = handovers(client);
    await twentyCommands(client, 'plain');
    expect(counts.length).toBeGreaterThan(1);
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(20);
  });
});

describe('commands written to a Redis Cluster in one turn', () => {
  let cluster: RedisCluster;
  let client: Cluster | undefined;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
  }, 60_000);
  afterEach(() => client?.disconnect());
  afterAll(async () => {
    await cluster?.stop();
  });

  it('leave in one write to the node that holds their slot', async () => {
    const clusterNodes = cluster.seeds.split(',').map((seed) => {
      const [host, port] = seed.split(':');
      return { host: host!, port: Number(port) };
    });
    client = openRedis({ url: undefined, clusterNodes }, { ...FAIL_FAST_OPTIONS, connectionName: 'writes' }) as Cluster;
    await waitUntilReady(client, 10_000, 10_000);
    const tag = 'slot';
    // Connects the node's socket and finds which node it is.
    await eventually(async () => expect(await client!.set(`{${tag}}:probe`, '1')).toBe('OK'));
    const slot = Number(await client.cluster('KEYSLOT', `{${tag}}:probe`));
    const node = client.nodes('master').find((master) => {
      const slots = (client as unknown as { slots: string[][] }).slots[slot] ?? [];
      return slots[0] === `${master.options.host}:${master.options.port}`;
    });
    expect(node).toBeDefined();
    const counts = handovers(node!);
    await twentyCommands(client, tag);
    expect(counts).toEqual([20]);
  }, 60_000);
});

/** What each hand-over to the system from now on carried, as the bytes of its commands. */
function handedOver(client: Redis): string[] {
  const writes: string[] = [];
  const text = (chunk: unknown) => (Buffer.isBuffer(chunk) ? chunk.toString('latin1') : String(chunk));
  onHandover(client, (chunks) => writes.push(chunks.map(text).join('')));
  return writes;
}

/** A verification's key as it crosses the wire: `otp:{<its id in base64url>}` (verification-key.ts). */
const VERIFICATION_KEY = /otp:\{[A-Za-z0-9_-]{22}\}/g;

describe("a new verification's send, on the service's Redis connection", () => {
  let redis: RedisServer;
  let app: TestApp | undefined;
  let counter = 0;
  const email = () => `writes${++counter}.${Date.now()}@example.com`;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await app?.close();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  /** `warmUp`: the key of the first send's verification, whose delivery reports may share any later write. */
  async function started(): Promise<{ app: TestApp; client: Redis; warmUp: string }> {
    app = await startApp({ REDIS_URL: redis.url, RATE_LIMIT_IP_PER_MINUTE: '100000', OTP_RESEND_COOLDOWN_SECONDS: '30' });
    const client = app.app.get<Redis>(REDIS_CLIENT);
    // A first send loads the scripts, which a cold one would send again after NOSCRIPT.
    const first = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: email() });
    expect(first.status).toBe(201);
    return { app, client, warmUp: verificationKeyOf(first.body.id as string) };
  }

  it('writes the verification and its counted, indexed send in one write, the verification first, and nothing more there', async () => {
    const { app, client } = await started();
    const to = email();
    const writes = handedOver(client);
    const response = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to });
    expect(response.status).toBe(201);
    const destination = destinationKey(to);
    const record = verificationKeyOf(response.body.id as string);
    const touching = writes.filter((write) => write.includes(destination));
    expect(touching).toHaveLength(1);
    expect(touching[0]!.indexOf(record)).toBeGreaterThanOrEqual(0);
    expect(touching[0]!.indexOf(record)).toBeLessThan(touching[0]!.indexOf(destination));
    // That step alone made it the pending one: a check by destination finds it.
    expect(await call(app.url, 'POST', '/v1/verifications/check', { to, code: '000000' })).toMatchObject({
      status: 422,
      body: { code: 'OTP_INCORRECT' },
    });
    expect((await call(app.url, 'GET', `/v1/verifications/${response.body.id}`)).body).toMatchObject({ attemptsRemaining: 4 });
  });

  it('asks the fraud guard about a new SMS send in that same write, and about nothing else after it', async () => {
    app = await startApp({
      REDIS_URL: redis.url,
      RATE_LIMIT_IP_PER_MINUTE: '100000',
      OTP_CHANNELS: 'sms',
      SMS_PROVIDERS: 'console',
      SMS_MAX_SENDS_PER_PREFIX_PER_HOUR: '50',
    });
    const client = app.app.get<Redis>(REDIS_CLIENT);
    const sms = (to: string) => call(app!.url, 'POST', '/v1/verifications', { channel: 'sms', to });
    // The first loads the scripts.
    expect((await sms('+447400123001')).status).toBe(201);
    const writes = handedOver(client);
    const to = '+447400123002';
    expect((await sms(to)).status).toBe(201);
    const touching = writes.filter((write) => write.includes(destinationKey(to)));
    expect(touching).toHaveLength(1);
    expect(touching[0]).toContain('otp:{fraud}:prefix:+447400123');
    expect(writes.filter((write) => write.includes('otp:{fraud}:'))).toHaveLength(1);
    expect(await client.get('otp:{fraud}:prefix:+447400123')).toBe('2');
  });

  it('leaves nothing of what it wrote ahead of a send that was refused, or that found another pending', async () => {
    const { app, client, warmUp } = await started();
    const to = email();
    const first = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to });
    expect(first.status).toBe(201);
    const writes = handedOver(client);
    // Another purpose, in the destination's cooldown: refused.
    expect((await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to, purpose: 'other' })).status).toBe(429);
    // The same purpose: the first is pending, and its resend is refused by the same cooldown.
    expect(await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to })).toMatchObject({
      status: 429,
      body: { code: 'OTP_RESEND_TOO_SOON' },
    });
    const firstKey = verificationKeyOf(first.body.id as string);
    const writtenAhead = new Set(
      writes.filter((write) => write.includes(destinationKey(to))).flatMap((write) => write.match(VERIFICATION_KEY) ?? []),
    );
    // Both delivered in the same process, whose reports on them may leave in any of these writes.
    writtenAhead.delete(firstKey);
    writtenAhead.delete(warmUp);
    expect(writtenAhead.size).toBe(2);
    await eventually(async () => expect(await client.exists(...writtenAhead)).toBe(0));
    expect(await client.exists(firstKey)).toBe(1);
  });

  it("approves a code with one command to its destination's hash: the cooldown lifted and the pending entry dropped together", async () => {
    const { app, client } = await started();
    const approve = async (to: string) => {
      const response = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to });
      expect(response.status).toBe(201);
      await eventually(async () => expect(app.logs.lastCodeFor(to)).toBeDefined());
      return { id: response.body.id as string, code: app.logs.lastCodeFor(to) };
    };
    // A first approval loads the scripts an approval runs, which a cold one would send again after NOSCRIPT.
    const first = await approve(email());
    expect((await call(app.url, 'POST', '/v1/verifications/check', first)).status).toBe(200);
    const to = email();
    const { id, code } = await approve(to);
    const destination = destinationKey(to);
    expect(Object.keys(await client.hgetall(destination)).filter((field) => field.includes(':'))).toHaveLength(1);
    const writes = handedOver(client);
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id, code })).toMatchObject({
      status: 200,
      body: { status: 'approved' },
    });
    // The hash's key as an argument of its own (the previous version's cooldown key, named after it, is another).
    expect(writes.join('').split(`${destination}\r\n`).length - 1).toBe(1);
    expect(Object.keys(await client.hgetall(destination)).filter((field) => field.includes(':'))).toEqual([]);
    // The cooldown went in the same step: the next code is sent at once.
    expect((await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to })).status).toBe(201);
  });

  it('approves a code of a chain that follows no receipts without asking Redis to forget a kept message', async () => {
    const { app, client } = await started();
    const to = email();
    const response = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to });
    expect(response.status).toBe(201);
    await eventually(async () => expect(app.logs.lastCodeFor(to)).toBeDefined());
    const writes = handedOver(client);
    const id = response.body.id as string;
    expect(await call(app.url, 'POST', '/v1/verifications/check', { id, code: app.logs.lastCodeFor(to) })).toMatchObject({
      status: 200,
      body: { status: 'approved' },
    });
    // The console provider keeps nothing for a failover (only a provider whose receipts are followed does).
    expect(writes.join('')).toContain(verificationKeyOf(id));
    expect(writes.join('')).not.toContain(`${verificationKeyOf(id)}:kept`);
  });
});
