import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { redisConfig } from '../config/config.namespaces.js';
import type { RedisConfig } from '../config/configuration.types.js';
import { closeRedisConnection, createRedisConnection } from './redis-connection.js';
import { REDIS_CLIENT } from './redis.constants.js';

@Global()
@Module({
  providers: [
    {
      provide: REDIS_CLIENT,
      inject: [redisConfig.KEY],
      useFactory: (config: RedisConfig): Redis | null => (config.url ? createRedisConnection(config.url, 'Redis') : null),
    },
  ],
  exports: [REDIS_CLIENT],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly client: Redis | null) {}

  /** After the HTTP server has closed, so in-flight requests could still use the connection. */
  async onApplicationShutdown(): Promise<void> {
    if (this.client) await closeRedisConnection(this.client);
  }
}
