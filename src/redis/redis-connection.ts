import { Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';

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
  retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
};

export function createRedisConnection(url: string, name: string, overrides: RedisOptions = {}): Redis {
  const logger = new Logger(name);
  const client = new Redis(url, { ...FAIL_FAST_OPTIONS, connectionName: name, ...overrides });
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
 * without making Redis a start-up dependency: if it is down, the service starts unready and
 * recovers when Redis does.
 */
export async function waitUntilReady(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    client.once('ready', done);
    function done() {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    }
  });
}

/** Closes politely when Redis answers, and at once when it does not. */
export async function closeRedisConnection(client: Redis, timeoutMs = 1000): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect(false);
    return;
  }
  const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
  await Promise.race([client.quit().then(() => undefined, () => undefined), timer]);
  client.disconnect(false);
}

/**
 * Errors that mean "Redis cannot be reached right now" rather than a bug: the API answers them with
 * 503 and a Retry-After, and recovers by itself once the connection is back.
 */
export function isRedisUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  return /enableOfflineQueue|Connection is closed|Command timed out|max retries per request|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH/i.test(
    error.message,
  );
}
