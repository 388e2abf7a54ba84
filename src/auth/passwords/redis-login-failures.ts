import { Inject, Injectable } from '@nestjs/common';
import type { RedisClient } from '../../redis/redis-connection.js';
import { requireScripts } from '../../redis/redis-scripts.js';
import { REDIS_CLIENT } from '../../redis/redis.constants.js';
import type { LoginFailures } from './login-failures.js';
import { LOGIN_FAILURES_SCRIPTS } from './login-failures.scripts.js';

const keyOf = (key: string) => `otp:login-failures:{${key}}`;

@Injectable()
export class RedisLoginFailures implements LoginFailures {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClient) {
    requireScripts(redis, LOGIN_FAILURES_SCRIPTS);
  }

  async blockedForMs(key: string, max: number): Promise<number> {
    return Number(await this.redis.otpLoginBlocked(keyOf(key), max));
  }

  async record(key: string, windowMs: number): Promise<void> {
    await this.redis.otpLoginFailed(keyOf(key), windowMs);
  }

  async clear(key: string): Promise<void> {
    await this.redis.del(keyOf(key));
  }
}
