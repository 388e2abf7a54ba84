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
