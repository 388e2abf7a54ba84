import { Controller, Get, Inject, ServiceUnavailableException, VERSION_NEUTRAL } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { appConfig } from '../config/config.namespaces.js';
import type { AppConfig } from '../config/configuration.types.js';
import { ProviderHealthService, type ChannelHealth } from '../messaging/provider-health.service.js';
import {
  BuildInfoResponse,
  ChannelHealthResponse,
  LiveResponse,
  MessagingHealthResponse,
  NOT_READY_SCHEMA,
  READY_SCHEMA,
} from './health.responses.js';
import { DatabaseHealthIndicator } from './indicators/database.health.js';
import { MessagingHealthIndicator } from './indicators/messaging.health.js';
import { RedisHealthIndicator } from './indicators/redis.health.js';
import { ShutdownHealthIndicator } from './indicators/shutdown.health.js';
import { ReadinessLog } from './readiness-log.js';

@Controller({ path: 'health', version: VERSION_NEUTRAL })
@ApiTags('health')
@ApiExtraModels(ChannelHealthResponse)
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
    private readonly readinessLog: ReadinessLog,
  ) {}

  /** Tells a stale deploy apart: which build, since when. */
  @Get()
  @ApiOperation({ summary: 'Which build is running, since when' })
  @ApiOkResponse({ type: BuildInfoResponse })
  info(): BuildInfoResponse {
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
  @ApiOperation({ summary: 'Liveness', description: 'Checks no dependency.' })
  @ApiOkResponse({ type: LiveResponse })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  // Documented here rather than by Terminus, whose own schema depends on whether it can require() the swagger package.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    summary: 'Readiness',
    description:
      'Ready when this replica can serve: Redis, the database and the queue answer and shutdown has not begun. ' +
      'Each enabled channel is in `details` with its providers and whether it is usable; a channel without a usable ' +
      'provider makes readiness fail only with READINESS_REQUIRES_CHANNELS=true (a provider outage is shared by every replica).',
  })
  @ApiOkResponse({ schema: READY_SCHEMA, description: 'Ready.' })
  @ApiServiceUnavailableResponse({
    schema: NOT_READY_SCHEMA,
    description: 'Not ready: `error` names what is down. `code`: `SERVICE_UNAVAILABLE`',
  })
  async ready(): Promise<HealthCheckResult> {
    const channels = await this.messaging.channels();
    const strict = this.app.readinessRequiresChannels;
    const informative = (result: HealthCheckResult) => {
      // Shown, not judged: an unusable channel is in details without failing the replica.
      if (!strict) for (const channel of channels) Object.assign(result.details, channel);
      this.readinessLog.observe(result);
    };
    try {
      const result = await this.health.check([
        () => this.shutdown.check(),
        () => this.redis.ping(),
        () => this.database.ping(),
        () => this.messaging.queueCounts(),
        ...(strict ? channels.map((result) => () => result) : []),
      ]);
      informative(result);
      return result;
    } catch (error) {
      if (error instanceof ServiceUnavailableException) informative(error.getResponse() as HealthCheckResult);
      throw error;
    }
  }

  /** Each enabled channel's chain with every provider's state: what to read when codes do not arrive. */
  @Get('messaging')
  @ApiOperation({ summary: "Each channel's provider chain with every provider's state" })
  @ApiOkResponse({ type: MessagingHealthResponse })
  async messagingHealth(): Promise<{ channels: Partial<Record<string, ChannelHealth>> }> {
    return { channels: await this.providers.channels() };
  }
}
