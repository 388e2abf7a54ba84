import { jest } from '@jest/globals';
import { type Cluster, Redis } from 'ioredis';
import { FAIL_FAST_OPTIONS, openRedis, type RedisClient, waitUntilReady } from '../src/redis/redis-connection.js';
import { eventually } from './support/eventually.js';
import { RedisCluster } from './support/redis-cluster.js';
import { RedisServer } from './support/redis-server.js';

/**
 * Every connection the service opens (openRedis) sends the commands of one event-loop turn in one write
 * to the system, on a real redis-server and a real Redis Cluster: what reaches the socket's own write
 * (`_write` for one chunk, `_writev` for several) and what Redis answered to each command.
 */

/** Each hand-over to the system from now on: how many commands it carried. */
function handovers(client: Redis): number[] {
  const stream = client.stream as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const counts: number[] = [];
  const { _write, _writev } = stream;
  jest.spyOn(stream, '_write').mockImplementation((...args: unknown[]) => {
    counts.push(1);
    return _write.apply(stream, args);
  });
  jest.spyOn(stream, '_writev').mockImplementation((...args: unknown[]) => {
    counts.push((args[0] as unknown[]).length);
    return _writev.apply(stream, args);
  });
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
