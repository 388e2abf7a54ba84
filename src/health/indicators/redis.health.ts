import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { RedisClient } from '../../redis/redis-connection.js';
import { REDIS_CLIENT } from '../../redis/redis.constants.js';

@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(REDIS_CLIENT) private readonly client: RedisClient | null,
  ) {}

  get enabled(): boolean {
    return this.client !== null;
  }

  async ping(key = 'redis'): Promise<HealthIndicatorResult> {
    const client = this.client;
    if (!client) return this.health.check(key).up({ mode: 'in-memory' });
    return this.health
      .check(key)
      .attempt(async () => {
        if (client.status !== 'ready') throw new Error(`connection is ${client.status}`);
        await client.ping();
      })
      .withTimeout(1000);
  }
}
