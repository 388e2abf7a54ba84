import { Controller, Get, Inject, VERSION_NEUTRAL } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { appConfig } from '../config/config.namespaces.js';
import type { AppConfig } from '../config/configuration.types.js';
import { ProviderHealthService, type ChannelHealth } from '../messaging/provider-health.service.js';
import { DatabaseHealthIndicator } from './indicators/database.health.js';
import { MessagingHealthIndicator } from './indicators/messaging.health.js';
import { RedisHealthIndicator } from './indicators/redis.health.js';
import { ShutdownHealthIndicator } from './indicators/shutdown.health.js';

export interface BuildInfo {
  status: 'ok';
  version: string;
  commit: string;
  startedAt: string;
  uptimeSeconds: number;
  environment: string;
}

@Controller({ path: 'health', version: VERSION_NEUTRAL })
export class HealthController {
  private readonly startedAt = new Date();

  constructor(
    @Inject(appConfig.KEY) private readonly app: AppConfig,
    private readonly health: HealthCheckService,
    private readonly shutdown: ShutdownHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly database: DatabaseHealthIndicator,
    private readonly messaging: MessagingHealthIndicator,
    private readonly providers: ProviderHealthService,
  ) {}

  /** Tells a stale deploy apart: which build, since when. */
  @Get()
  info(): BuildInfo {
    return {
      status: 'ok',
      version: this.app.version,
      commit: this.app.commit,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.floor((Date.now() - this.startedAt.getTime()) / 1000),
      environment: this.app.env,
    };
  }

  /** Liveness checks nothing outside the process: a Redis outage must not get pods restarted. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  async ready(): Promise<HealthCheckResult> {
    const channels = await this.messaging.channels();
    return this.health.check([
      () => this.shutdown.check(),
      () => this.redis.ping(),
      () => this.database.ping(),
      () => this.messaging.queueCounts(),
      ...channels.map((result) => () => result),
    ]);
  }

  /** Each enabled channel's chain with every provider's state: what to read when codes do not arrive. */
  @Get('messaging')
  async messagingHealth(): Promise<{ channels: Partial<Record<string, ChannelHealth>> }> {
    return { channels: await this.providers.channels() };
  }
}
