import { Transform } from 'class-transformer';
import { IsEmail, IsIn, IsNotEmpty, IsOptional, IsPhoneNumber, IsString, IsUUID, Length, Matches, MaxLength, ValidateIf } from 'class-validator';
import { CHANNELS, type Channel } from '../../config/configuration.types.js';
import { OTP_CHANNELS, type OtpChannel } from '../../database/schema.js';

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

export class RegisterDto {
  // Checked when given, and also when neither contact is: then this names what is missing.
  @ValidateIf((dto: RegisterDto) => dto.email !== undefined || dto.phone === undefined)
  @trimmed()
  @IsEmail({}, { message: `${EMAIL_MESSAGE}; an email address or a phone number (or both) is required` })
  email?: string;

  @IsOptional()
  @IsPhoneNumber(undefined, { message: PHONE_MESSAGE })
  phone?: string;

  @IsString({ message: `password must be a string that ${PASSWORD_LENGTH_MESSAGE}` })
  @Length(PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, { message: `password ${PASSWORD_LENGTH_MESSAGE}` })
  password!: string;

  @IsOptional()
  @IsIn(OTP_CHANNELS, { message: OTP_CHANNEL_MESSAGE })
  otpChannel?: OtpChannel;
}

export class LoginDto {
  @IsString({ message: 'identifier must be an email address or a phone number' })
  @IsNotEmpty({ message: 'identifier must be an email address or a phone number' })
  @MaxLength(320, { message: 'identifier must be at most 320 characters' })
  identifier!: string;

  @IsString({ message: 'password must be a string' })
  @IsNotEmpty({ message: 'password must not be empty' })
  @MaxLength(PASSWORD_MAX_LENGTH, { message: `password must be at most ${PASSWORD_MAX_LENGTH} characters` })
  password!: string;

  @IsOptional()
  @IsIn(CHANNELS, { message: CHANNEL_MESSAGE })
  channel?: Channel;
}

export class StartOtpDto {
  @IsString({ message: 'identifier must be an email address or a phone number' })
  @IsNotEmpty({ message: 'identifier must be an email address or a phone number' })
  @MaxLength(320, { message: 'identifier must be at most 320 characters' })
  identifier!: string;

  @IsIn(START_PURPOSES, { message: `purpose must be one of: ${START_PURPOSES.join(', ')}` })
  purpose!: StartPurpose;

  @IsOptional()
  @IsIn(CHANNELS, { message: CHANNEL_MESSAGE })
  channel?: Channel;
}

export class VerifyOtpDto {
  @IsUUID('all', { message: 'challengeId must be the challengeId of a started flow' })
  challengeId!: string;

  @IsString({ message: 'code must be a string of digits' })
  @Matches(/^\d{4,10}$/, { message: 'code must be 4 to 10 digits' })
  code!: string;

  @IsOptional()
  @IsString({ message: `newPassword must be a string that ${PASSWORD_LENGTH_MESSAGE}` })
  @Length(PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, { message: `newPassword ${PASSWORD_LENGTH_MESSAGE}` })
  newPassword?: string;
}

export class ResendOtpDto {
  @IsUUID('all', { message: 'challengeId must be the challengeId of a started flow' })
  challengeId!: string;
}

export class RefreshTokenDto {
  @IsString({ message: 'refreshToken must be a string' })
  @IsNotEmpty({ message: 'refreshToken must not be empty' })
  @MaxLength(256, { message: 'refreshToken must be at most 256 characters' })
  refreshToken!: string;
}

export class LogoutDto {
  @IsOptional()
  @IsString({ message: 'refreshToken must be a string' })
  @MaxLength(256, { message: 'refreshToken must be at most 256 characters' })
  refreshToken?: string;
}

export class UpdateMeDto {
  @IsOptional()
  @IsIn(OTP_CHANNELS, { message: OTP_CHANNEL_MESSAGE })
  otpChannel?: OtpChannel;

  @IsOptional()
  @trimmed()
  @IsEmail({}, { message: EMAIL_MESSAGE })
  email?: string;

  @IsOptional()
  @IsPhoneNumber(undefined, { message: PHONE_MESSAGE })
  phone?: string;
}
