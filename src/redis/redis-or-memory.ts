import type { RedisClient } from './redis-connection.js';
import { REDIS_CLIENT } from './redis.constants.js';

/**
 * A provider's factory for a state-keeping strategy: Redis whenever it is configured (shared by every
 * replica), memory otherwise; chosen here once, invisible to everything else.
 */
export const byRedis = <T>(redisImpl: new (client: RedisClient) => T, memoryImpl: new () => T) => ({
  inject: [REDIS_CLIENT],
  useFactory: (client: RedisClient | null): T => (client ? new redisImpl(client) : new memoryImpl()),
});
