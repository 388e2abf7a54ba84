import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CHANNELS, type Channel } from '../../config/configuration.types.js';
import { OTP_CHANNELS, type OtpChannel } from '../../database/schema.js';
import type { Challenge, ChallengeStatus, ResentChallenge, StartedChallenge } from '../auth.service.js';
import { AUTHENTICATOR_APP, type ChallengeChannel } from '../totp/totp.constants.js';
import type { PublishedJwk } from '../tokens/signing-keys.js';
import type { Session } from '../tokens/tokens.service.js';
import type { TotpEnrollment } from '../totp/totp.service.js';
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

export class ChallengeResponse implements Challenge {
  @ApiProperty({ format: 'uuid', description: 'Give it to `POST /v1/auth/otp/verify` with the code, or to `/v1/auth/otp/resend`.' })
  challengeId!: string;

  @ApiProperty({
    enum: [...CHANNELS, AUTHENTICATOR_APP],
    example: 'email',
    description: '`totp`: nothing was sent; answer with the code the authenticator app shows, or with a `recoveryCode`.',
  })
  channel!: ChallengeChannel;

  @ApiProperty({ format: 'date-time', description: 'When the code stops working.' })
  expiresAt!: string;

  @ApiProperty({ example: 'a***@example.com', description: 'Where the code went, masked (`authenticator app` for `totp`).' })
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
  @ApiProperty({
    enum: ['queued', 'sending', 'sent', 'failed'],
    example: 'sent',
    description: '`failed`: every provider failed; offer another channel.',
  })
  status!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class ChallengeStatusResponse implements ChallengeStatus {
  @ApiProperty({ format: 'uuid' })
  challengeId!: string;

  @ApiProperty({ enum: [...CHANNELS, AUTHENTICATOR_APP], example: 'sms' })
  channel!: ChallengeChannel;

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

export class TotpEnrollmentResponse implements TotpEnrollment {
  @ApiProperty({
    example: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
    description: 'The shared secret in base32, for typing into the app by hand.',
  })
  secret!: string;

  @ApiProperty({
    example: 'otpauth://totp/otp-gateway:ada%40example.com?issuer=otp-gateway&secret=JBSW...&algorithm=SHA1&digits=6&period=30',
  })
  otpauthUri!: string;

  @ApiProperty({
    example: '<svg xmlns="http://www.w3.org/2000/svg" ...>',
    description: 'The URI as a QR code, an SVG document to show as it is.',
  })
  qrSvg!: string;
}

export class RecoveryCodesResponse {
  @ApiProperty({
    type: [String],
    minItems: 10,
    maxItems: 10,
    example: ['k7m2p-x9rt4'],
    description: 'Shown this once: each signs in once in place of the app (`recoveryCode` at `POST /v1/auth/otp/verify`).',
  })
  recoveryCodes!: string[];
}

export class SessionResponse implements Session {
  @ApiProperty({ format: 'uuid', description: 'Give it to `DELETE /v1/auth/sessions/{id}` to end the session.' })
  id!: string;

  @ApiProperty({ format: 'date-time', description: 'When it signed in.' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', description: 'When its refresh token was last exchanged (or the sign-in, if never).' })
  lastUsedAt!: string;

  @ApiProperty({ type: String, nullable: true, description: 'The User-Agent of its latest refresh.' })
  userAgent!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '203.0.113.7', description: 'The client IP of its latest refresh.' })
  ip!: string | null;

  @ApiProperty({ description: 'Whether it is the session of the access token that asked.' })
  current!: boolean;
}

export class AdminUserResponse extends UserResponse {
  @ApiProperty({ description: 'Whether sign-in asks the authenticator app.' })
  totpEnabled!: boolean;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Sessions that have not ended.' })
  activeSessions!: number;
}

export class JwkResponse implements PublishedJwk {
  @ApiProperty({ enum: ['EC'] })
  kty!: 'EC';

  @ApiProperty({ enum: ['P-256'] })
  crv!: 'P-256';

  @ApiProperty()
  x!: string;

  @ApiProperty()
  y!: string;

  @ApiProperty({ description: "The key's RFC 7638 thumbprint; access tokens name their key with it in the `kid` header." })
  kid!: string;

  @ApiProperty({ enum: ['ES256'] })
  alg!: 'ES256';

  @ApiProperty({ enum: ['sig'] })
  use!: 'sig';
}

export class JwksResponse {
  @ApiProperty({ type: [JwkResponse] })
  keys!: JwkResponse[];
}
