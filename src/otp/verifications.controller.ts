import { Body, Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiErrors, BODY_ERRORS, type DocumentedErrors, UNAVAILABLE } from '../common/api-errors.js';
import { ApiKeyGuard } from '../common/api-key.guard.js';
import { API_KEY_SCHEME } from '../common/openapi.js';
import { ClientInfo, type RequestMeta } from '../common/request-meta.decorator.js';
import { CancelVerificationResponse, CheckVerificationResponse, VerificationResponse } from './dto/verification-responses.js';
import { CheckVerificationDto, CreateVerificationDto } from './dto/verification.dto.js';
import { IpThrottlerGuard } from './limits/ip-throttler.guard.js';
import { OtpService, type VerificationView } from './otp.service.js';
import { ParseVerificationIdPipe } from './verification-id.pipe.js';

const KEY_ERRORS: DocumentedErrors = { 401: ['UNAUTHORIZED'], 429: ['RATE_LIMITED'], ...UNAVAILABLE };
const ID = ApiParam({ name: 'id', format: 'uuid', description: 'The `id` returned when the verification was started.' });

/** The end user as the backend saw them: their `clientIp` goes in the audit lines in place of the backend's address. */
function endUser(client: RequestMeta, clientIp: string | undefined): RequestMeta {
  return clientIp === undefined ? client : { ...client, ip: clientIp };
}

/** Server-to-server verifications, the shape of Twilio Verify's resource. */
@Controller('verifications')
// The key first: the per-key limit and a `clientIp`'s per-IP limit are counted under the key's name.
@UseGuards(ApiKeyGuard, IpThrottlerGuard)
@ApiTags('verifications')
@ApiSecurity(API_KEY_SCHEME)
export class VerificationsController {
  constructor(private readonly otp: OtpService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Start a verification (send a code)',
    description:
      'Starting one for a `to` and `purpose` that already have a pending verification is a resend of it: the same `id`, ' +
      'a fresh code, and the previous code stops working.',
  })
  @ApiResponse({ status: 201, type: VerificationResponse, description: 'Started (or resent); `delivery.status` is `queued`.' })
  @ApiErrors(
    KEY_ERRORS,
    BODY_ERRORS,
    { 400: ['DESTINATION_NOT_ALLOWED'], 429: ['OTP_RESEND_TOO_SOON', 'OTP_RATE_LIMITED', 'OTP_MAX_SENDS', 'RATE_LIMITED'] },
    { 503: ['CHANNEL_UNAVAILABLE'] },
  )
  create(@Body() body: CreateVerificationDto, @ClientInfo() client: RequestMeta): Promise<VerificationView> {
    return this.otp.start({ channel: body.channel, to: body.to, purpose: body.purpose ?? 'verify', locale: body.locale ?? 'en' }, endUser(client, body.clientIp), { budget: 'api' });
  }

  @Post('check')
  @HttpCode(200)
  @ApiOperation({ summary: 'Check a code', description: 'By `id`, or by `to` and `purpose`. A code is accepted once.' })
  @ApiResponse({ status: 200, type: CheckVerificationResponse, description: 'The code is right; the verification is approved.' })
  @ApiErrors(KEY_ERRORS, BODY_ERRORS, {
    404: ['VERIFICATION_NOT_FOUND'],
    422: ['OTP_INCORRECT'],
    429: ['OTP_ATTEMPTS_EXCEEDED', 'RATE_LIMITED'],
  })
  async check(@Body() body: CheckVerificationDto, @ClientInfo() client: RequestMeta): Promise<{ id: string; status: 'approved' }> {
    const input = body.id !== undefined
      ? { id: body.id, code: body.code, purpose: body.purpose, realm: 'api' as const }
      : { to: body.to!, code: body.code, purpose: body.purpose ?? 'verify', realm: 'api' as const };
    const { id, status } = await this.otp.check(input, endUser(client, body.clientIp));
    return { id, status };
  }

  @Get(':id')
  @SkipThrottle()
  @ApiOperation({ summary: 'Read a verification and its delivery status', description: 'Readable for at least 24 hours.' })
  @ID
  @ApiResponse({ status: 200, type: VerificationResponse })
  @ApiErrors(KEY_ERRORS, { 404: ['VERIFICATION_NOT_FOUND'] })
  get(@Param('id', ParseVerificationIdPipe) id: string): Promise<VerificationView> {
    return this.otp.get(id, 'api');
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @SkipThrottle()
  @ApiOperation({ summary: 'Cancel a pending verification' })
  @ID
  @ApiResponse({ status: 200, type: CancelVerificationResponse })
  @ApiErrors(KEY_ERRORS, { 404: ['VERIFICATION_NOT_FOUND'] })
  cancel(@Param('id', ParseVerificationIdPipe) id: string, @ClientInfo() client: RequestMeta): Promise<{ id: string; status: 'canceled' }> {
    return this.otp.cancel(id, 'api', client);
  }
}
