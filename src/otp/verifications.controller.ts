import { Body, Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiKeyGuard } from '../common/api-key.guard.js';
import { ClientInfo, type ClientMeta } from '../common/request-meta.decorator.js';
import { CheckVerificationDto, CreateVerificationDto } from './dto/verification.dto.js';
import { IpThrottlerGuard } from './limits/ip-throttler.guard.js';
import { OtpService, type VerificationView } from './otp.service.js';

/** Server-to-server verifications, the shape of Twilio Verify's resource. */
@Controller('verifications')
@UseGuards(IpThrottlerGuard, ApiKeyGuard)
export class VerificationsController {
  constructor(private readonly otp: OtpService) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: CreateVerificationDto, @ClientInfo() client: ClientMeta): Promise<VerificationView> {
    return this.otp.start({ channel: body.channel, to: body.to, purpose: body.purpose ?? 'verify', locale: body.locale ?? 'en' }, client);
  }

  @Post('check')
  @HttpCode(200)
  async check(@Body() body: CheckVerificationDto, @ClientInfo() client: ClientMeta): Promise<{ id: string; status: 'approved' }> {
    const input = body.id !== undefined
      ? { id: body.id, code: body.code, purpose: body.purpose }
      : { to: body.to!, code: body.code, purpose: body.purpose ?? 'verify' };
    const { id, status } = await this.otp.check(input, client);
    return { id, status };
  }

  @Get(':id')
  @SkipThrottle()
  get(@Param('id') id: string): Promise<VerificationView> {
    return this.otp.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @SkipThrottle()
  cancel(@Param('id') id: string, @ClientInfo() client: ClientMeta): Promise<{ id: string; status: 'canceled' }> {
    return this.otp.cancel(id, client);
  }
}
