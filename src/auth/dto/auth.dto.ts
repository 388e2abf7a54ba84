import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsNotEmpty, IsOptional, IsString, IsUUID, Length, Matches, MaxLength, ValidateIf } from 'class-validator';
import { CHANNELS, type Channel } from '../../config/configuration.types.js';
import { OTP_CHANNELS, type OtpChannel } from '../../database/schema.js';
import { IsEmailAddress, IsInternationalPhoneNumber } from '../../otp/destinations/address.validators.js';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
const PASSWORD_LENGTH_MESSAGE = `must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`;

/** Passwordless login and forgotten passwords: the flows a person can start without signing in. */
export const START_PURPOSES = ['login', 'password_reset'] as const;
export type StartPurpose = (typeof START_PURPOSES)[number];

const trimmed = () => Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));
const EMAIL_MESSAGE = 'email must be an email address';
const PHONE_MESSAGE = 'phone must be a phone number in E.164 format, such as +447911123456';
const CHANNEL_MESSAGE = `channel must be one of: ${CHANNELS.join(', ')}`;
const OTP_CHANNEL_MESSAGE = `otpChannel must be one of: ${OTP_CHANNELS.join(', ')}`;
const CODE = /^\d{4,10}$/;

const IDENTIFIER = ApiProperty({ maxLength: 320, example: 'ada@example.com', description: 'The email address or E.164 phone number of the account.' });
const CHALLENGE_ID = ApiProperty({ format: 'uuid', description: 'The `challengeId` of the flow, as returned when it was started.' });
const CHANNEL = ApiPropertyOptional({ enum: CHANNELS, description: 'Where to send the code; by default the channel that fits the identifier.' });
const OTP_CHANNEL = ApiPropertyOptional({ enum: OTP_CHANNELS, description: 'The channel that login codes go to by default.' });
const EMAIL = ApiPropertyOptional({
  format: 'email',
  maxLength: 254,
  example: 'ada@example.com',
  description: '`local@domain` with a dot-atom local part (no quotes, comments, spaces, commas or angle brackets); trimmed and lower-cased.',
});
const PHONE = ApiPropertyOptional({ example: '+447911123456', description: 'E.164 format.' });
const REFRESH_TOKEN = { maxLength: 256, description: 'A `refreshToken` from a token pair.' };

@ApiSchema({ description: 'At least one of `email` and `phone`; the code goes to the new contact.' })
export class RegisterDto {
  @EMAIL
  // Checked when given, and also when neither contact is: then this names what is missing.
  @ValidateIf((dto: RegisterDto) => dto.email !== undefined || dto.phone === undefined)
  @trimmed()
  @IsEmailAddress({ message: `${EMAIL_MESSAGE}; an email address or a phone number (or both) is required` })
  email?: string;

  @PHONE
  @IsOptional()
  @IsInternationalPhoneNumber({ message: PHONE_MESSAGE })
  phone?: string;

  @ApiProperty({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, format: 'password' })
  @IsString({ message: `password must be a string that ${PASSWORD_LENGTH_MESSAGE}` })
  @Length(PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, { message: `password ${PASSWORD_LENGTH_MESSAGE}` })
  password!: string;

  @OTP_CHANNEL
  @IsOptional()
  @IsIn(OTP_CHANNELS, { message: OTP_CHANNEL_MESSAGE })
  otpChannel?: OtpChannel;
}

export class LoginDto {
  @IDENTIFIER
  @IsString({ message: 'identifier must be an email address or a phone number' })
  @IsNotEmpty({ message: 'identifier must be an email address or a phone number' })
  @MaxLength(320, { message: 'identifier must be at most 320 characters' })
  identifier!: string;

  @ApiProperty({ maxLength: PASSWORD_MAX_LENGTH, format: 'password' })
  @IsString({ message: 'password must be a string' })
  @IsNotEmpty({ message: 'password must not be empty' })
  @MaxLength(PASSWORD_MAX_LENGTH, { message: `password must be at most ${PASSWORD_MAX_LENGTH} characters` })
  password!: string;

  @ApiPropertyOptional({ enum: CHANNELS, description: "Where to send the second factor; by default the account's preferred channel." })
  @IsOptional()
  @IsIn(CHANNELS, { message: CHANNEL_MESSAGE })
  channel?: Channel;
}

export class StartOtpDto {
  @IDENTIFIER
  @IsString({ message: 'identifier must be an email address or a phone number' })
  @IsNotEmpty({ message: 'identifier must be an email address or a phone number' })
  @MaxLength(320, { message: 'identifier must be at most 320 characters' })
  identifier!: string;

  @ApiProperty({ enum: START_PURPOSES, example: 'login', description: 'Passwordless login, or a forgotten password.' })
  @IsIn(START_PURPOSES, { message: `purpose must be one of: ${START_PURPOSES.join(', ')}` })
  purpose!: StartPurpose;

  @CHANNEL
  @IsOptional()
  @IsIn(CHANNELS, { message: CHANNEL_MESSAGE })
  channel?: Channel;
}

export class VerifyOtpDto {
  @CHALLENGE_ID
  @IsUUID('all', { message: 'challengeId must be the challengeId of a started flow' })
  challengeId!: string;

  @ApiProperty({ pattern: CODE.source, minLength: 4, maxLength: 10, example: '123456', description: 'The code as received, digits only.' })
  @IsString({ message: 'code must be a string of digits' })
  @Matches(CODE, { message: 'code must be 4 to 10 digits' })
  code!: string;

  @ApiPropertyOptional({
    minLength: PASSWORD_MIN_LENGTH,
    maxLength: PASSWORD_MAX_LENGTH,
    format: 'password',
    description: 'Required to complete a password reset, refused in any other flow.',
  })
  @IsOptional()
  @IsString({ message: `newPassword must be a string that ${PASSWORD_LENGTH_MESSAGE}` })
  @Length(PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, { message: `newPassword ${PASSWORD_LENGTH_MESSAGE}` })
  newPassword?: string;
}

export class ResendOtpDto {
  @CHALLENGE_ID
  @IsUUID('all', { message: 'challengeId must be the challengeId of a started flow' })
  challengeId!: string;
}

export class RefreshTokenDto {
  @ApiProperty(REFRESH_TOKEN)
  @IsString({ message: 'refreshToken must be a string' })
  @IsNotEmpty({ message: 'refreshToken must not be empty' })
  @MaxLength(256, { message: 'refreshToken must be at most 256 characters' })
  refreshToken!: string;
}

export class LogoutDto {
  @ApiPropertyOptional({ ...REFRESH_TOKEN, description: 'Also revoke this refresh token and every token rotated from the same login.' })
  @IsOptional()
  @IsString({ message: 'refreshToken must be a string' })
  @MaxLength(256, { message: 'refreshToken must be at most 256 characters' })
  refreshToken?: string;
}

@ApiSchema({
  description:
    '`otpChannel`, and at most one new contact: a new `email` or `phone` needs the current `password`, ' +
    'and is sent a code before it replaces the old one.',
})
export class UpdateMeDto {
  @OTP_CHANNEL
  @IsOptional()
  @IsIn(OTP_CHANNELS, { message: OTP_CHANNEL_MESSAGE })
  otpChannel?: OtpChannel;

  @EMAIL
  @IsOptional()
  @trimmed()
  @IsEmailAddress({ message: EMAIL_MESSAGE })
  email?: string;

  @PHONE
  @IsOptional()
  @IsInternationalPhoneNumber({ message: PHONE_MESSAGE })
  phone?: string;

  @ApiPropertyOptional({ maxLength: PASSWORD_MAX_LENGTH, format: 'password', description: 'The current password: required with `email` or `phone`.' })
  @IsOptional()
  @IsString({ message: 'password must be a string' })
  @MaxLength(PASSWORD_MAX_LENGTH, { message: `password must be at most ${PASSWORD_MAX_LENGTH} characters` })
  password?: string;
}
