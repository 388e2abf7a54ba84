import { Controller, Delete, Get, HttpCode, Logger, Param, UseGuards } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ValidationFailedError } from '../common/errors.js';
import { ApiErrors, UNAVAILABLE } from '../common/api-errors.js';
import { AdminApiKeyGuard } from '../common/api-key.guard.js';
import { API_KEY_SCHEME } from '../common/openapi.js';
import { ClientInfo, type RequestMeta } from '../common/request-meta.decorator.js';
import { maskDestination } from '../common/masked-destination.js';
import { normalizeAnyDestination } from './destinations/destinations.js';
import { FraudResponse } from './dto/fraud-responses.js';
import { type FraudView, FraudScreen, NON_GEOGRAPHIC } from './fraud/fraud-screen.js';
import { OtpService } from './otp.service.js';

@Controller('admin')
@UseGuards(AdminApiKeyGuard)
@ApiTags('admin')
@ApiSecurity(API_KEY_SCHEME)
export class AdminController {
  private readonly audit = new Logger('Audit');

  constructor(
    private readonly otp: OtpService,
    private readonly fraud: FraudScreen,
  ) {}

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
    this.audit.log({
      event: 'admin.rate_limits_cleared',
      to: maskDestination(normalized.includes('@') ? 'email' : 'sms', normalized),
      ip: client.ip,
    });
  }

  @Get('fraud')
  @ApiOperation({
    summary: 'Read the fraud guard',
    description:
      'Countries suspended now, and the last hour of SMS/WhatsApp codes sent and approved per country. Only the keys of ' +
      '`ADMIN_API_KEYS` are accepted.',
  })
  @ApiOkResponse({ type: FraudResponse })
  @ApiErrors({ 401: ['UNAUTHORIZED'] }, UNAVAILABLE)
  fraudView(): Promise<FraudView> {
    return this.fraud.view(Date.now());
  }

  /** Lifts a suspension and forgets the country's window, so the sends that suspended it cannot do so again. */
  @Delete('fraud/suspensions/:country')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Lift the suspension of one country',
    description:
      'Sends to the country are admitted at once, and its last hour of sends and approvals is forgotten. Only the keys of ' +
      '`ADMIN_API_KEYS` are accepted.',
  })
  @ApiParam({ name: 'country', example: 'GB', description: 'ISO 3166 alpha-2 country code, or 001 for numbers of no country.' })
  @ApiNoContentResponse({ description: 'Lifted (also when it was not suspended).' })
  @ApiErrors({ 400: ['VALIDATION_FAILED'], 401: ['UNAUTHORIZED'] }, UNAVAILABLE)
  async liftSuspension(@Param('country') country: string, @ClientInfo() client: RequestMeta): Promise<void> {
    const code = country.toUpperCase();
    if (!/^[A-Z]{2}$/.test(code) && code !== NON_GEOGRAPHIC) {
      throw new ValidationFailedError({ country: ['country must be an ISO 3166 alpha-2 code such as GB, or 001'] });
    }
    await this.fraud.lift(code, Date.now());
    this.audit.log({ event: 'admin.fraud_suspension_lifted', country: code, ip: client.ip });
  }
}
