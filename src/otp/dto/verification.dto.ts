import { IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength, ValidateIf } from 'class-validator';
import { CHANNELS, type Channel } from '../../config/configuration.types.js';

const PURPOSE = /^[a-z][a-z0-9_]{0,31}$/;
const PURPOSE_MESSAGE = 'purpose must be 1-32 lower-case letters, digits or underscores, starting with a letter';

export class CreateVerificationDto {
  @IsIn(CHANNELS, { message: `channel must be one of: ${CHANNELS.join(', ')}` })
  channel!: Channel;

  @IsString({ message: 'to must be a string' })
  @MaxLength(320, { message: 'to must be at most 320 characters' })
  to!: string;

  @IsOptional()
  @IsString({ message: 'purpose must be a string' })
  @Matches(PURPOSE, { message: PURPOSE_MESSAGE })
  purpose?: string;

  @IsOptional()
  @IsString({ message: 'locale must be a string' })
  @Matches(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, { message: 'locale must be a language tag such as en or es-MX' })
  locale?: string;
}

export class CheckVerificationDto {
  @IsString({ message: 'code must be a string of digits' })
  @Matches(/^\d{4,10}$/, { message: 'code must be 4 to 10 digits' })
  code!: string;

  @ValidateIf((dto: CheckVerificationDto) => dto.to === undefined || dto.id !== undefined)
  @IsUUID('all', { message: 'id must be a verification id (or give to and purpose instead)' })
  id?: string;

  @ValidateIf((dto: CheckVerificationDto) => dto.id === undefined || dto.to !== undefined)
  @IsString({ message: 'to must be a string (or give id instead)' })
  @MaxLength(320, { message: 'to must be at most 320 characters' })
  to?: string;

  @IsOptional()
  @IsString({ message: 'purpose must be a string' })
  @Matches(PURPOSE, { message: PURPOSE_MESSAGE })
  purpose?: string;
}
