import { ApiProperty } from '@nestjs/swagger';
import { CHANNELS, type Channel } from '../../config/configuration.types.js';
import type { VerificationView } from '../otp.service.js';
import { DELIVERY_STATUSES, VERIFICATION_STATUSES, type VerificationStatus } from '../otp.types.js';

/** The response bodies of /v1/verifications, for the OpenAPI document; `implements` keeps them in step with the code. */
export class DeliveryResponse {
  @ApiProperty({ enum: DELIVERY_STATUSES, example: 'queued' })
  status!: string;

  @ApiProperty({ type: String, nullable: true, example: 'smtp', description: 'The provider that sent it, or is trying to.' })
  provider!: string | null;

  @ApiProperty({ type: 'integer', minimum: 0, example: 1, description: 'Queue attempts of the whole provider chain so far.' })
  attempts!: number;

  @ApiProperty({ type: String, nullable: true, example: null, description: "Each provider's error from the latest failed attempt." })
  lastError!: string | null;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: "The provider's code for a message it reported undelivered (Twilio 30003, an SMTP status such as 5.1.1).",
  })
  errorCode!: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: null,
    description: 'When the provider reported it delivered.',
  })
  deliveredAt!: string | null;
}

export class VerificationResponse implements VerificationView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: VERIFICATION_STATUSES, example: 'pending' })
  status!: VerificationStatus;

  @ApiProperty({ enum: CHANNELS, example: 'email' })
  channel!: Channel;

  @ApiProperty({ example: 'a***@example.com', description: 'The destination, masked.' })
  to!: string;

  @ApiProperty({ example: 'verify' })
  purpose!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', description: 'When the current code stops working.' })
  expiresAt!: string;

  @ApiProperty({ type: 'integer', minimum: 0, example: 5 })
  attemptsRemaining!: number;

  @ApiProperty({ type: 'integer', minimum: 0, example: 4 })
  sendsRemaining!: number;

  @ApiProperty({ format: 'date-time', description: 'The earliest time a resend to this destination is accepted.' })
  resendAvailableAt!: string;

  @ApiProperty({ type: DeliveryResponse })
  delivery!: DeliveryResponse;
}

export class CheckVerificationResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: ['approved'], example: 'approved' })
  status!: 'approved';
}

export class CancelVerificationResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: ['canceled'], example: 'canceled' })
  status!: 'canceled';
}
