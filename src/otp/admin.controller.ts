import { Controller, Delete, HttpCode, Param, UseGuards } from '@nestjs/common';
import { ApiKeyGuard } from '../common/api-key.guard.js';
import { OtpService } from './otp.service.js';

@Controller('admin')
@UseGuards(ApiKeyGuard)
export class AdminController {
  constructor(private readonly otp: OtpService) {}

  /** Clears the cooldown and hourly/daily send counts of one destination (a support action). */
  @Delete('rate-limits/:destination')
  @HttpCode(204)
  async resetRateLimits(@Param('destination') destination: string): Promise<void> {
    await this.otp.resetSendLimits(destination);
  }
}
