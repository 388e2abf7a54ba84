import { Inject, Injectable } from '@nestjs/common';
import type { RedisClient } from '../../redis/redis-connection.js';
import { REDIS_CLIENT } from '../../redis/redis.constants.js';
import type { LoginFailures } from './login-failures.js';

const keyOf = (key: string) => `otp:login-failures:{${key}}`;

/** KEYS: counter. ARGV: max. The window's remaining ms when it is full, else 0. */
const BLOCKED_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count < tonumber(ARGV[1]) then return 0 end
return math.max(redis.call('PTTL', KEYS[1]), 1)
`;

/** KEYS: counter. ARGV: window ms. The first failure opens the window; later ones do not extend it. */
const RECORD_SCRIPT = `
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
`;

type Scripted = RedisClient & {
  otpLoginBlocked(key: string, max: number): Promise<number>;
  otpLoginFailed(key: string, windowMs: number): Promise<number>;
};

@Injectable()
export class RedisLoginFailures implements LoginFailures {
  private readonly redis: Scripted;

  constructor(@Inject(REDIS_CLIENT) client: RedisClient) {
    if (!('otpLoginBlocked' in client)) client.defineCommand('otpLoginBlocked', { numberOfKeys: 1, lua: BLOCKED_SCRIPT });
    if (!('otpLoginFailed' in client)) client.defineCommand('otpLoginFailed', { numberOfKeys: 1, lua: RECORD_SCRIPT });
    this.redis = client as Scripted;
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
