import { ApiProperty, getSchemaPath, type ReferenceObject, type SchemaObject } from '@nestjs/swagger';
import { CHANNELS, PROVIDERS_BY_CHANNEL, type ProviderId } from '../config/configuration.types.js';
import { ErrorResponse } from '../common/api-errors.js';
import type { ChannelHealth, ProviderHealth } from '../messaging/provider-health.service.js';
import type { CircuitView } from '../messaging/provider-circuits.js';

/**
 * The response bodies of /health, for the OpenAPI document. The controller returns these types (or they
 * `implement` what it returns), which keeps them in step with the code.
 */
export class BuildInfoResponse {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status!: 'ok';

  @ApiProperty({ example: '0.1.0', description: 'The package version.' })
  version!: string;

  @ApiProperty({ example: '6bd43ad', description: 'The commit the image was built from (`unknown` when not given).' })
  commit!: string;

  @ApiProperty({ format: 'date-time' })
  startedAt!: string;

  @ApiProperty({ type: 'integer', minimum: 0 })
  uptimeSeconds!: number;

  @ApiProperty({ enum: ['development', 'test', 'production'], example: 'production' })
  environment!: string;
}

export class LiveResponse {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status!: 'ok';
}

const PROVIDER_IDS = [...new Set(Object.values(PROVIDERS_BY_CHANNEL).flat())];

export class LastHourResponse {
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Codes the provider accepted in the last hour (every replica).' })
  sent!: number;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Of those, reported delivered by the provider.' })
  delivered!: number;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Reported lost (bounce, carrier filter, unreachable handset).' })
  undelivered!: number;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Entered and approved.' })
  approved!: number;
}

export class ProviderHealthResponse implements ProviderHealth {
  @ApiProperty({ enum: PROVIDER_IDS, example: 'smtp' })
  id!: ProviderId;

  @ApiProperty({ type: 'integer', minimum: 1, example: 1, description: "Position in the channel's failover chain." })
  priority!: number;

  @ApiProperty({ description: 'Whether every setting the provider needs is present.' })
  configured!: boolean;

  @ApiProperty({ description: 'Configured, circuit not open, and the latest probe passed.' })
  healthy!: boolean;

  @ApiProperty({ enum: ['closed', 'open', 'half_open'], example: 'closed' })
  circuit!: CircuitView;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastSuccessAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastFailureAt!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null })
  lastError!: string | null;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Messages sent by this process.' })
  sent!: number;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Failed sends by this process.' })
  failed!: number;

  @ApiProperty({ type: LastHourResponse })
  lastHour!: LastHourResponse;

  @ApiProperty({
    description:
      'Of its codes of the last hour sent at least SUSPECT_GRACE_SECONDS ago, at least SUSPECT_MIN_SENDS exist and fewer than ' +
      'SUSPECT_MIN_APPROVAL of them were approved: accepted but not arriving, or a pumping attack.',
  })
  suspect!: boolean;
}

export class ChannelHealthResponse implements ChannelHealth {
  @ApiProperty({ enum: ['up', 'down'], description: '`up` when one of its providers is healthy.' })
  status!: 'up' | 'down';

  @ApiProperty({ type: [ProviderHealthResponse] })
  providers!: ProviderHealthResponse[];
}

export class MessagingHealthResponse {
  @ApiProperty({
    type: 'object',
    description: `One entry per enabled channel, of ${CHANNELS.join(', ')}.`,
    additionalProperties: { $ref: getSchemaPath(ChannelHealthResponse) },
  })
  channels!: Record<string, ChannelHealthResponse>;
}

const indicators: SchemaObject = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'down'] } },
    additionalProperties: true,
  },
  description:
    'By indicator: `lifecycle`, `redis`, `database`, `queue`, and one per enabled channel (`email`, `sms`, …) with `usable` and its ' +
    '`providers`; an unusable channel is `down` in `details` and fails readiness only with READINESS_REQUIRES_CHANNELS=true.',
};

const readiness = (status: 'ok' | 'error'): SchemaObject => ({
  type: 'object',
  required: ['status', 'details'],
  properties: {
    status: { type: 'string', enum: [status], example: status },
    info: { ...indicators, description: 'The indicators that are up.' },
    error: { ...indicators, description: 'The indicators that are down.' },
    details: indicators,
  },
});

/** Terminus' body; a 503 carries it with the fields of the error shape added. */
export const READY_SCHEMA = readiness('ok');
export const NOT_READY_SCHEMA: SchemaObject & Partial<ReferenceObject> = {
  allOf: [{ $ref: getSchemaPath(ErrorResponse) }, readiness('error')],
};
