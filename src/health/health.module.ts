import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller.js';
import { DatabaseHealthIndicator } from './indicators/database.health.js';
import { MessagingHealthIndicator } from './indicators/messaging.health.js';
import { RedisHealthIndicator } from './indicators/redis.health.js';
import { ShutdownHealthIndicator } from './indicators/shutdown.health.js';

@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json' })],
  controllers: [HealthController],
  providers: [DatabaseHealthIndicator, MessagingHealthIndicator, RedisHealthIndicator, ShutdownHealthIndicator],
})
export class HealthModule {}
