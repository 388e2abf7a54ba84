import { Controller, Delete, HttpCode, Logger, Param, UseGuards } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiParam, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiErrors, UNAVAILABLE } from '../common/api-errors.js';
import { AdminApiKeyGuard } from '../common/api-key.guard.js';
import { API_KEY_SCHEME } from '../common/openapi.js';
import { ClientInfo, type RequestMeta } from '../common/request-meta.decorator.js';
import { maskDestination } from '../common/masked-destination.js';
import { normalizeAnyDestination } from './destinations/destinations.js';
import { OtpService } from './otp.service.js';

@Controller('admin')
@UseGuards(AdminApiKeyGuard)
@ApiTags('admin')
@ApiSecurity(API_KEY_SCHEME)
export class AdminController {
  private readonly audit = new Logger('Audit');

  constructor(private readonly otp: OtpService) {}

  /** Clears the cooldown and hourly/daily send counts of one destination (a support action). */
  @Delete('rate-limits/:destination')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Clear the send limits of one destination',
    description: 'The resend cooldown and the hourly and daily send counts. Only the keys of `ADMIN_API_KEYS` are accepted.',
  })
  @ApiParam({ name: 'destination', example: '+447911123456', description: 'An email address or an E.164 phone number (URL-encoded).' })
  @ApiNoContentResponse({ description: 'Cleared (also when there was nothing to clear).' })
  @ApiErrors({ 401: ['UNAUTHORIZED'] }, UNAVAILABLE)
  async resetRateLimits(@Param('destination') destination: string, @ClientInfo() client: RequestMeta): Promise<void> {
    await this.otp.resetSendLimits(destination);
    // Which admin key did it is on the line too (the request's log context carries its name).
    const normalized = normalizeAnyDestination(destination);
    this.audit.log({ event: 'admin.rate_limits_cleared', to: maskDestination(normalized.includes('@') ? 'email' : 'sms', normalized), ip: client.ip });
  }
}
