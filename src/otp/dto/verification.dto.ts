import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsIn, IsIP, IsOptional, IsString, IsUUID, Matches, MaxLength, ValidateIf } from 'class-validator';
import { CHANNELS, type Channel } from '../../config/configuration.types.js';

const PURPOSE = /^[a-z][a-z0-9_]{0,31}$/;
const PURPOSE_MESSAGE = 'purpose must be 1-32 lower-case letters, digits or underscores, starting with a letter';
const LOCALE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const CODE = /^\d{4,10}$/;
const TO_DESCRIPTION = 'An email address (trimmed and lower-cased) or a phone number in E.164 format.';
const PURPOSE_DESCRIPTION = 'What the code is for; it is part of the message, and a code checks only for its own purpose.';
const CLIENT_IP_DESCRIPTION =
  "The end user's IP address as your backend saw it. When given, `RATE_LIMIT_IP_PER_MINUTE` applies to that address " +
  '(per API key), beside the per-key limit; without it only the per-key limit applies.';

/** Shared by send and check: the per-IP limit of the end user behind a backend. */
const ClientIp = () =>
  applyDecorators(
    ApiPropertyOptional({ example: '203.0.113.7', description: CLIENT_IP_DESCRIPTION }),
    IsOptional(),
    IsIP(undefined, { message: 'clientIp must be an IPv4 or IPv6 address' }),
  );

export class CreateVerificationDto {
  @ApiProperty({ enum: CHANNELS, example: 'email', description: 'One of the channels enabled by `OTP_CHANNELS`.' })
  @IsIn(CHANNELS, { message: `channel must be one of: ${CHANNELS.join(', ')}` })
  channel!: Channel;

  @ApiProperty({ maxLength: 320, example: 'ada@example.com', description: TO_DESCRIPTION })
  @IsString({ message: 'to must be a string' })
  @MaxLength(320, { message: 'to must be at most 320 characters' })
  to!: string;

  @ApiPropertyOptional({ pattern: PURPOSE.source, maxLength: 32, default: 'verify', example: 'verify', description: PURPOSE_DESCRIPTION })
  @IsOptional()
  @IsString({ message: 'purpose must be a string' })
  @Matches(PURPOSE, { message: PURPOSE_MESSAGE })
  purpose?: string;

  @ApiPropertyOptional({
    pattern: LOCALE.source,
    default: 'en',
    example: 'es-MX',
    description: 'Language of the message; English when there is no template for it.',
  })
  @IsOptional()
  @IsString({ message: 'locale must be a string' })
  @Matches(LOCALE, { message: 'locale must be a language tag such as en or es-MX' })
  locale?: string;
  @ClientIp()
  clientIp?: string;
}

@ApiSchema({ description: 'The `code` with either the verification `id`, or its `to` (and `purpose`).' })
export class CheckVerificationDto {
  @ApiProperty({ pattern: CODE.source, minLength: 4, maxLength: 10, example: '123456', description: 'The code as received, digits only.' })
  @IsString({ message: 'code must be a string of digits' })
  @Matches(CODE, { message: 'code must be 4 to 10 digits' })
  code!: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The verification to check; or give `to` (and `purpose`) instead.' })
  @ValidateIf((dto: CheckVerificationDto) => dto.to === undefined || dto.id !== undefined)
  @IsUUID('all', { message: 'id must be a verification id (or give to and purpose instead)' })
  id?: string;

  @ApiPropertyOptional({
    maxLength: 320,
    example: 'ada@example.com',
    description: `Without \`id\`: the destination of the pending verification. ${TO_DESCRIPTION}`,
  })
  @ValidateIf((dto: CheckVerificationDto) => dto.id === undefined || dto.to !== undefined)
  @IsString({ message: 'to must be a string (or give id instead)' })
  @MaxLength(320, { message: 'to must be at most 320 characters' })
  to?: string;

  @ApiPropertyOptional({
    pattern: PURPOSE.source,
    maxLength: 32,
    example: 'verify',
    description: 'With `to`: the purpose of the pending verification (`verify` when not given). With `id`: when given, it must match.',
  })
  @IsOptional()
  @IsString({ message: 'purpose must be a string' })
  @Matches(PURPOSE, { message: PURPOSE_MESSAGE })
  purpose?: string;

  @ClientIp()
  clientIp?: string;
}
