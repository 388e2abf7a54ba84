import { Controller, Get, Header, VERSION_NEUTRAL } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { MetricsService } from './metrics.service.js';

@Controller({ path: 'metrics', version: VERSION_NEUTRAL })
@ApiTags('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics', description: 'Text exposition format 0.0.4.' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ schema: { type: 'string', example: 'otp_verifications_started_total{channel="email",kind="new"} 1' } })
  async scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
