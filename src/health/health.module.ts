import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller.js';
import { DatabaseHealthIndicator } from './indicators/database.health.js';
import { MessagingHealthIndicator } from './indicators/messaging.health.js';
import { RedisHealthIndicator } from './indicators/redis.health.js';
import { ShutdownHealthIndicator } from './indicators/shutdown.health.js';
import { ReadinessLog } from './readiness-log.js';

@Module({
  // Terminus would log an ERROR for every failed probe; ReadinessLog writes one line per change instead.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [DatabaseHealthIndicator, MessagingHealthIndicator, RedisHealthIndicator, ShutdownHealthIndicator, ReadinessLog],
})
export class HealthModule {}
