import { type DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module.js';
import { CommonModule } from './common/common.module.js';
import { configModuleFor } from './config/config.namespaces.js';
import type { AppConfiguration } from './config/configuration.types.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { MessagingModule } from './messaging/messaging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { OtpModule } from './otp/otp.module.js';
import { RedisModule } from './redis/redis.module.js';
import { UiModule } from './ui/ui.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({})
export class AppModule {
  /** Built from an already validated configuration, so tests can run several differently configured apps at once. */
  static forRoot(configuration: AppConfiguration): DynamicModule {
    return {
      module: AppModule,
      imports: [
        configModuleFor(configuration),
        CommonModule,
        RedisModule,
        DatabaseModule,
        HealthModule,
        MetricsModule,
        WebhooksModule.register(configuration),
        MessagingModule.register(configuration),
        OtpModule,
        AuthModule,
        ...(configuration.app.uiEnabled ? [UiModule] : []),
      ],
    };
  }
}
