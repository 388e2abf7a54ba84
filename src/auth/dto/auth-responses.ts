import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CHANNELS, type Channel } from '../../config/configuration.types.js';
import { OTP_CHANNELS, type OtpChannel } from '../../database/schema.js';
import type { Challenge, ChallengeStatus, ResentChallenge, StartedChallenge } from '../auth.service.js';
import type { TokenPair } from '../tokens/tokens.service.js';
import type { PublicUser } from '../users/user.js';

/** The response bodies of /v1/auth, for the OpenAPI document; `implements` keeps them in step with the code. */
export class StartedChallengeResponse implements StartedChallenge {
  @ApiProperty({ format: 'uuid', description: 'Give it to `POST /v1/auth/otp/verify` with the code, or to `/v1/auth/otp/resend`.' })
  challengeId!: string;

  @ApiProperty({ enum: CHANNELS, example: 'email' })
  channel!: Channel;

  @ApiProperty({ format: 'date-time', description: 'When the code stops working.' })
  expiresAt!: string;
}

export class ChallengeResponse extends StartedChallengeResponse implements Challenge {
  @ApiProperty({ example: 'a***@example.com', description: 'Where the code went, masked.' })
  to!: string;
}

export class RegisterResponse extends ChallengeResponse {
  @ApiProperty({ format: 'uuid' })
  userId!: string;
}

export class ResentChallengeResponse implements ResentChallenge {
  @ApiProperty({ format: 'uuid' })
  challengeId!: string;

  @ApiProperty({ format: 'date-time', description: 'When the new code stops working.' })
  expiresAt!: string;

  @ApiProperty({ format: 'date-time', description: 'The earliest time another resend is accepted.' })
  resendAvailableAt!: string;
}

export class ChallengeDeliveryResponse {
  @ApiProperty({ enum: ['queued', 'sending', 'sent', 'failed'], example: 'sent', description: '`failed`: every provider failed; offer another channel.' })
  status!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class ChallengeStatusResponse implements ChallengeStatus {
  @ApiProperty({ format: 'uuid' })
  challengeId!: string;

  @ApiProperty({ enum: CHANNELS, example: 'sms' })
  channel!: Channel;

  @ApiProperty({ example: '+44******3456', description: 'Where the code went, masked.' })
  to!: string;

  @ApiProperty({ format: 'date-time', description: 'When the code stops working.' })
  expiresAt!: string;

  @ApiProperty({ format: 'date-time', description: 'The earliest time `POST /v1/auth/otp/resend` is accepted.' })
  resendAvailableAt!: string;

  @ApiPropertyOptional({
    type: ChallengeDeliveryResponse,
    description:
      'For challenges of `register`, `login` and contact changes. ' +
      'Absent for `otp/start` challenges, whose answer is the same whether or not the account exists.',
  })
  delivery?: ChallengeDeliveryResponse;
}

export class UserResponse implements PublicUser {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, format: 'email', nullable: true, example: 'ada@example.com' })
  email!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '+447911123456' })
  phone!: string | null;

  @ApiProperty()
  emailVerified!: boolean;

  @ApiProperty()
  phoneVerified!: boolean;

  @ApiProperty({ enum: OTP_CHANNELS, nullable: true, example: 'email' })
  otpChannel!: OtpChannel | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export class TokenPairResponse implements TokenPair {
  @ApiProperty({ description: 'A signed JWT; send it as `Authorization: Bearer <accessToken>`.' })
  accessToken!: string;

  @ApiProperty({ description: 'Exchange it at `POST /v1/auth/token/refresh`; it can be used once.' })
  refreshToken!: string;

  @ApiProperty({ enum: ['Bearer'], example: 'Bearer' })
  tokenType!: 'Bearer';

  @ApiProperty({ type: 'integer', example: 900, description: 'Seconds until the access token expires.' })
  expiresIn!: number;

  @ApiProperty({ type: UserResponse })
  user!: UserResponse;
}
