import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { redisConfig } from '../config/config.namespaces.js';
import { usesRedis, type RedisConfig } from '../config/configuration.types.js';
import { closeRedisConnection, createRedisConnection, waitUntilReady, type RedisClient } from './redis-connection.js';
import { REDIS_CLIENT } from './redis.constants.js';

@Global()
@Module({
  providers: [
    {
      provide: REDIS_CLIENT,
      inject: [redisConfig.KEY],
      useFactory: async (config: RedisConfig): Promise<RedisClient | null> => {
        if (!usesRedis(config)) return null;
        const client = createRedisConnection(config, 'Redis');
        await waitUntilReady(client, 2000, 10_000);
        return client;
      },
    },
  ],
  exports: [REDIS_CLIENT],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly client: RedisClient | null) {}

  /** After the HTTP server has closed, so in-flight requests could still use the connection. */
  async onApplicationShutdown(): Promise<void> {
    if (this.client) await closeRedisConnection(this.client);
  }
}
