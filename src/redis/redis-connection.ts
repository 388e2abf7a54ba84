import { Logger } from '@nestjs/common';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/configuration.types.js';
import { coalesceWrites } from './coalesced-writes.js';
import { REDIS_SCRIPTS } from './redis-scripts.js';

/** One Redis server (named or found through Sentinel) or a Redis Cluster; everything that uses Redis needs only what both offer. */
export type RedisClient = Redis | Cluster;

const reconnectDelay = (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000);

/**
 * Fail fast rather than wait: with Redis down, a command must error at once (so the API can answer
 * 503 within the SPEC's 2 s) instead of queueing until a reconnect that may never come, while the
 * connection keeps retrying in the background so service resumes by itself.
 */
export const FAIL_FAST_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  commandTimeout: 1500,
  retryStrategy: reconnectDelay,
  // No auto-pipelining. It builds an ioredis Pipeline for each event-loop turn that sends a command
  // (each one a copy of every Lua command defined on the connection), and those outlive the young
  // generation: they were half of what a heap profile found surviving it, the old generation grew
  // about 1 MB a scavenge, and a major GC ran every second or two even at an eighth of saturation,
  // stalling every request in flight for 25-60 ms (a send's p99 at half load: 60-250 ms). Without it
  // a send also costs less CPU at saturation (`npm run bench:compare`: 0.75 x). The commands of a pass
  // still leave in one write: openRedis coalesces every connection's writes, with no object per pass.
  enableAutoPipelining: false,
};

/**
 * Connects to the configured server or cluster with the given options. On a cluster, the offline
 * queue and the reconnect strategy belong to the cluster as a whole: it refuses commands while it is
 * not ready and rediscovers the nodes in the background. Its connections to single nodes keep their
 * offline queue, because they open lazily on their first command and must hold it until connected;
 * the command timeout still bounds how long that takes, and a lost node is found again through the
 * slot map rather than by reconnecting to it. Every connection gets every Lua command (REDIS_SCRIPTS)
 * as it is made; on a cluster they belong to the cluster, which sends them to the right node. Every
 * connection sends the commands written in one pass of the event loop in one write (coalesceWrites).
 * `cluster.maxRedirections`: how many redirections and retries after a lost node a command may
 * take before it fails (6 by default, see below).
 */
export function openRedis(config: RedisConfig, options: RedisOptions, cluster: { maxRedirections?: number } = {}): RedisClient {
  const client = connect(config, options, cluster);
  coalesceWrites(client);
  return client;
}

function connect(config: RedisConfig, options: RedisOptions, cluster: { maxRedirections?: number }): RedisClient {
  if (config.sentinels) {
    return new Redis({
      ...options,
      scripts: REDIS_SCRIPTS,
      sentinels: config.sentinels,
      name: config.sentinelName,
      // Asking the Sentinels for the master again after a lost connection follows a failover; the
      // detector also notices a switch announced while the old master still answers.
      sentinelRetryStrategy: options.retryStrategy ?? reconnectDelay,
      failoverDetector: true,
      sentinelCommandTimeout: options.connectTimeout ?? 2000,
      // A demoted master refuses writes until the connection is remade to the new one.
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
    });
  }
  if (!config.clusterNodes) {
    if (!config.url) throw new Error('none of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS is configured');
    return new Redis(config.url, { ...options, scripts: REDIS_SCRIPTS });
  }
  const { enableOfflineQueue = true, retryStrategy, lazyConnect, ...nodeOptions } = options;
  return new Cluster(config.clusterNodes, {
    lazyConnect,
    enableOfflineQueue,
    enableAutoPipelining: nodeOptions.enableAutoPipelining,
    clusterRetryStrategy: retryStrategy ?? reconnectDelay,
    slotsRefreshTimeout: options.connectTimeout ?? 2000,
    // Each redirection or retry after a lost node costs about 100 ms: a few cover a slot that moved
    // (resharding, a replica taking over), while a master that is gone fails the command well within
    // the 2 s an API answer may take, instead of 16 rounds later.
    maxRedirections: cluster.maxRedirections ?? 6,
    scripts: REDIS_SCRIPTS,
    redisOptions: nodeOptions,
  });
}

export function createRedisConnection(config: RedisConfig, name: string): RedisClient {
  const logger = new Logger(name);
  const client = openRedis(config, { ...FAIL_FAST_OPTIONS, connectionName: name });
  // Log transitions, not every reconnect attempt: an outage is one line, its end another.
  let healthy: boolean | undefined;
  client.on('ready', () => {
    if (healthy === false) logger.log('Redis connection restored');
    healthy = true;
  });
  client.on('error', (error: Error) => {
    if (healthy !== false) logger.error(`Redis unavailable: ${error.message}`);
    healthy = false;
  });
  return client;
}

/**
 * Gives a new connection a moment to come up so the first requests after start-up do not fail,
 * without making Redis a start-up dependency: if it cannot be reached within `timeoutMs`, the service
 * starts unready and recovers when Redis does. A server that has accepted the connection but not yet
 * answered its handshake (a long pause in this process or in Redis makes ioredis's ready check time
 * out, and it reconnects) is there and about to be ready, so it gets up to `reachedTimeoutMs`:
 * starting unready a moment before it answers would only turn the first requests into 503s.
 */
export async function waitUntilReady(client: RedisClient, timeoutMs: number, reachedTimeoutMs = timeoutMs): Promise<void> {
  if (client.status === 'ready') return;
  let reached = client.status === 'connect';
  await new Promise<void>((resolve) => {
    let timer = setTimeout(atTimeout, timeoutMs);
    client.once('ready', done);
    client.once('end', done);
    client.on('connect', connected);
    function connected() {
      reached = true;
    }
    function atTimeout() {
      if (reached && reachedTimeoutMs > timeoutMs) timer = setTimeout(done, reachedTimeoutMs - timeoutMs);
      else done();
    }
    function done() {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('end', done);
      client.off('connect', connected);
      resolve();
    }
  });
}

/** Closes politely when Redis answers, and at once when it does not. */
export async function closeRedisConnection(client: RedisClient, timeoutMs = 1000): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect(false);
    return;
  }
  const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
  await Promise.race([
    client.quit().then(
      () => undefined,
      () => undefined,
    ),
    timer,
  ]);
  client.disconnect(false);
}

/**
 * Errors that mean "Redis cannot be reached right now" rather than a bug: the API answers them with
 * 503 and a Retry-After, and recovers by itself once the connection is back.
 */
export function isRedisUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const message = error.message;
  return (
    /enableOfflineQueue|Connection is closed|Command timed out|max retries per request|Stream isn't writeable/i.test(message) ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH/i.test(message) ||
    // The rest come from a cluster: no node reachable, slots without a live master, or a redirection the
    // client could not follow because the master it points to is gone (seen as a bare MOVED reply).
    /CLUSTERDOWN|TRYAGAIN|^(?:ReplyError: )?(?:MOVED|ASK) \d+ /i.test(message) ||
    /Too many Cluster redirections|None of startup nodes is available|Failed to refresh slots cache/i.test(message)
  );
}
