import { Controller, Get, Inject, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiErrors, UNAVAILABLE } from '../common/api-errors.js';
import { AdminApiKeyGuard } from '../common/api-key.guard.js';
import { API_KEY_SCHEME } from '../common/openapi.js';
import { EVENT_TYPES } from '../events/event-publisher.port.js';
import { WebhookFailures } from './webhook-failures.js';

class WebhookFailureResponse {
  @ApiProperty({ example: 'msg_6f1c2a4e-7b1d-4a53-9d1e-2f0c9d1e5b7a', description: 'The `webhook-id` every attempt carried.' })
  webhookId!: string;
  @ApiProperty({ enum: EVENT_TYPES })
  type!: string;
  @ApiProperty({ example: 'https://app.example.com/hooks/otp', description: 'The receiver, without credentials or query.' })
  url!: string;
  @ApiProperty({ example: 15 })
  attempts!: number;
  @ApiProperty({ example: 'receiver answered 503' })
  lastError!: string;
  @ApiProperty({ format: 'date-time' })
  failedAt!: string;
}

class WebhookFailuresResponse {
  @ApiProperty({ type: [WebhookFailureResponse], description: 'Newest first; the latest 1000.' })
  failures!: WebhookFailureResponse[];
}

@Controller('admin/webhooks')
@UseGuards(AdminApiKeyGuard)
@ApiTags('admin')
@ApiSecurity(API_KEY_SCHEME)
export class WebhooksAdminController {
  constructor(@Inject(WebhookFailures) private readonly failures: WebhookFailures) {}

  @Get('failures')
  @ApiOperation({
    summary: 'Events a receiver never took',
    description:
      'Events whose every retry over 24 h failed, per receiver of `WEBHOOK_URLS`. Only the keys of `ADMIN_API_KEYS` are accepted.',
  })
  @ApiOkResponse({ type: WebhookFailuresResponse })
  @ApiErrors({ 401: ['UNAUTHORIZED'] }, UNAVAILABLE)
  async list(): Promise<WebhookFailuresResponse> {
    return { failures: await this.failures.list() };
  }
}
