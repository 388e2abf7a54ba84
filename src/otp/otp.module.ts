import { Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import type { RedisClient } from '../redis/redis-connection.js';
import { AdminApiKeyGuard, ApiKeyGuard } from '../common/api-key.guard.js';
import { otpConfig } from '../config/config.namespaces.js';
import type { OtpConfig } from '../config/configuration.types.js';
import { REDIS_CLIENT } from '../redis/redis.constants.js';
import { byRedis } from '../redis/redis-or-memory.js';
import { AdminController } from './admin.controller.js';
import { API_KEY_THROTTLER, IP_THROTTLER, IpThrottlerGuard } from './limits/ip-throttler.guard.js';
import { PublishedFraudEvents, FraudEvents } from './fraud/fraud-events.js';
import { FraudGuard } from './fraud/fraud-guard.js';
import { FraudScreen } from './fraud/fraud-screen.js';
import { MemoryFraudGuard } from './fraud/memory-fraud-guard.js';
import { RedisFraudGuard } from './fraud/redis-fraud-guard.js';
import { MemorySendLimiter } from './limits/memory-send-limiter.js';
import { RedisSendLimiter } from './limits/redis-send-limiter.js';
import { RedisThrottlerStorage } from './limits/redis-throttler.storage.js';
import { SendLimiter } from './limits/send-limiter.js';
import { OtpStore } from './store/otp-store.js';
import { OtpService } from './otp.service.js';
import { VerificationRecordsModule } from './verification-records.module.js';
import { VerificationsController } from './verifications.controller.js';

@Module({
  imports: [
    VerificationRecordsModule,
    ThrottlerModule.forRootAsync({
      inject: [otpConfig.KEY, REDIS_CLIENT],
      useFactory: (config: OtpConfig, client: RedisClient | null) => ({
        // No block beyond the minute: a client over the limit is refused until its window frees, and Retry-After says when.
        throttlers: [
          { name: IP_THROTTLER, ttl: 60_000, limit: config.rateLimitIpPerMinute, blockDuration: 0 },
          { name: API_KEY_THROTTLER, ttl: 60_000, limit: config.apiKeyRateLimitPerMinute, blockDuration: 0 },
        ],
        // An API key's requests take their hits in leases (one round trip per lease); an address's, one at a time.
        storage: client ? new RedisThrottlerStorage(client, new Set([API_KEY_THROTTLER])) : undefined,
      }),
    }),
  ],
  controllers: [VerificationsController, AdminController],
  providers: [
    OtpService,
    ApiKeyGuard,
    AdminApiKeyGuard,
    IpThrottlerGuard,
    {
      provide: SendLimiter,
      inject: [REDIS_CLIENT, OtpStore],
      // In memory, the pending index is the memory store's own.
      useFactory: (client: RedisClient | null, store: OtpStore): SendLimiter =>
        client ? new RedisSendLimiter(client) : new MemorySendLimiter(store),
    },
    FraudScreen,
    { provide: FraudGuard, ...byRedis<FraudGuard>(RedisFraudGuard, MemoryFraudGuard) },
    // Outgoing events replace this when they exist; until then a new suspension is an audit line.
    { provide: FraudEvents, useClass: PublishedFraudEvents },
  ],
  exports: [OtpService, IpThrottlerGuard],
})
export class OtpModule {}
