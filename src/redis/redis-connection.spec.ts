import { afterEach, beforeEach, jest } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { EventEmitter } from 'node:events';
import { isRedisUnavailableError, openRedis, type RedisClient, waitUntilReady } from './redis-connection.js';

describe('isRedisUnavailableError', () => {
  it.each([
    "Stream isn't writeable and enableOfflineQueue options is false",
    "Cluster isn't ready and enableOfflineQueue options is false",
    'Connection is closed.',
    'Command timed out',
    'Too many Cluster redirections. Last error: ReplyError: MOVED 9050 127.0.0.1:7001',
    'Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down',
    'CLUSTERDOWN Hash slot not served',
    'MOVED 6036 127.0.0.1:43345',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'None of startup nodes is available',
    'Failed to refresh slots cache.',
  ])('counts "%s" as Redis being unavailable', (message) => {
    expect(isRedisUnavailableError(new Error(message))).toBe(true);
  });

  it.each([
    "CROSSSLOT Keys in request don't hash to the same slot",
    'ERR unknown command',
    'WRONGTYPE Operation against a key holding the wrong kind of value',
  ])('does not excuse "%s", which is a bug', (message) => {
    expect(isRedisUnavailableError(new Error(message))).toBe(false);
  });
});

describe('openRedis', () => {
  it('opens a cluster for seeds, with the offline queue and reconnects on the cluster and a command timeout on its nodes', () => {
    const client = openRedis(
      { url: undefined, clusterNodes: [{ host: '127.0.0.1', port: 1 }] },
      { enableOfflineQueue: false, commandTimeout: 1500, lazyConnect: true, retryStrategy: () => 50 },
    );
    try {
      expect(client).toBeInstanceOf(Cluster);
      const options = (client as Cluster).options;
      expect(options).toMatchObject({ enableOfflineQueue: false, lazyConnect: true });
      expect(options.clusterRetryStrategy?.(1)).toBe(50);
      expect(options.redisOptions).toMatchObject({ commandTimeout: 1500 });
      expect(options.redisOptions).not.toHaveProperty('enableOfflineQueue');
      expect(options.redisOptions).not.toHaveProperty('retryStrategy');
      // Fail fast: a command on a master that is gone fails within an API answer's time.
      expect(options.maxRedirections).toBe(6);
    } finally {
      client.disconnect();
    }
  });

  it('asks Sentinels for the master, follows failovers and keeps the fail-fast options', () => {
    const client = openRedis(
      { url: undefined, clusterNodes: undefined, sentinels: [{ host: '127.0.0.1', port: 1 }], sentinelName: 'otp' },
      { enableOfflineQueue: false, commandTimeout: 1500, connectTimeout: 700, lazyConnect: true, retryStrategy: () => 50 },
    );
    try {
      expect(client).toBeInstanceOf(Redis);
      const options = (client as Redis).options;
      expect(options).toMatchObject({
        sentinels: [{ host: '127.0.0.1', port: 1 }],
        name: 'otp',
        enableOfflineQueue: false,
        commandTimeout: 1500,
        failoverDetector: true,
        sentinelCommandTimeout: 700,
      });
      expect(options.sentinelRetryStrategy?.(1)).toBe(50);
      expect(options.reconnectOnError?.(new Error("READONLY You can't write against a read only replica."))).toBe(true);
      expect(options.reconnectOnError?.(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
    } finally {
      client.disconnect();
    }
  });

  it('opens one connection for a URL', () => {
    const client = openRedis({ url: 'redis://127.0.0.1:1', clusterNodes: undefined }, { lazyConnect: true });
    expect(client).toBeInstanceOf(Redis);
    client.disconnect();
  });
});

describe('waitUntilReady', () => {
  /** A connection as waitUntilReady sees one: a status and the events ioredis emits, errors logged elsewhere. */
  const connection = (status: string) =>
    Object.assign(
      new EventEmitter().on('error', () => undefined),
      { status },
    ) as unknown as RedisClient & EventEmitter;
  const settled = (promise: Promise<void>) => {
    const state = { done: false };
    void promise.then(() => (state.done = true));
    return state;
  };

  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('returns at once for a ready connection, and as soon as one becomes ready', async () => {
    await waitUntilReady(connection('ready'), 2000, 10_000);
    const client = connection('connecting');
    const wait = settled(waitUntilReady(client, 2000, 10_000));
    await jest.advanceTimersByTimeAsync(300);
    expect(wait.done).toBe(false);
    client.emit('ready');
    await jest.advanceTimersByTimeAsync(0);
    expect(wait.done).toBe(true);
    expect(client.listenerCount('ready') + client.listenerCount('connect') + client.listenerCount('end')).toBe(0);
  });

  it('gives up after the first timeout on a server it never reached, so the service starts unready', async () => {
    const client = connection('connecting');
    const wait = settled(waitUntilReady(client, 2000, 10_000));
    client.emit('error', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { syscall: 'connect' }));
    await jest.advanceTimersByTimeAsync(1999);
    expect(wait.done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(wait.done).toBe(true);
  });

  it('waits longer for a server that accepted the connection but was slow to answer its handshake', async () => {
    const client = connection('connecting');
    const wait = settled(waitUntilReady(client, 2000, 10_000));
    client.emit('connect');
    // ioredis's ready check timed out: it reconnects, and the server answers this time.
    client.emit('error', new Error('Command timed out'));
    await jest.advanceTimersByTimeAsync(5000);
    expect(wait.done).toBe(false);
    client.emit('ready');
    await jest.advanceTimersByTimeAsync(0);
    expect(wait.done).toBe(true);
  });

  it('still starts, unready, if a server it reached never becomes ready', async () => {
    const client = connection('connect');
    const wait = settled(waitUntilReady(client, 2000, 10_000));
    await jest.advanceTimersByTimeAsync(9999);
    expect(wait.done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(wait.done).toBe(true);
  });

  it('stops waiting when the connection ends for good', async () => {
    const client = connection('connecting');
    const wait = settled(waitUntilReady(client, 2000, 10_000));
    client.emit('connect');
    client.emit('end');
    await jest.advanceTimersByTimeAsync(0);
    expect(wait.done).toBe(true);
  });
});
