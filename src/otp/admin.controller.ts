import { Controller, Delete, HttpCode, Param, UseGuards } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiParam, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiErrors, UNAVAILABLE } from '../common/api-errors.js';
import { ApiKeyGuard } from '../common/api-key.guard.js';
import { API_KEY_SCHEME } from '../common/openapi.js';
import { OtpService } from './otp.service.js';

@Controller('admin')
@UseGuards(ApiKeyGuard)
@ApiTags('admin')
@ApiSecurity(API_KEY_SCHEME)
export class AdminController {
  constructor(private readonly otp: OtpService) {}

  /** Clears the cooldown and hourly/daily send counts of one destination (a support action). */
  @Delete('rate-limits/:destination')
  @HttpCode(204)
  @ApiOperation({ summary: 'Clear the send limits of one destination', description: 'The resend cooldown and the hourly and daily send counts.' })
  @ApiParam({ name: 'destination', example: '+447911123456', description: 'An email address or an E.164 phone number (URL-encoded).' })
  @ApiNoContentResponse({ description: 'Cleared (also when there was nothing to clear).' })
  @ApiErrors({ 401: ['UNAUTHORIZED'] }, UNAVAILABLE)
  async resetRateLimits(@Param('destination') destination: string): Promise<void> {
    await this.otp.resetSendLimits(destination);
  }
}
