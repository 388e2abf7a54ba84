import { ApiProperty } from '@nestjs/swagger';
import type { FraudView } from '../fraud/fraud-screen.js';

/** The response body of GET /v1/admin/fraud, for the OpenAPI document; `implements` keeps it in step with the code. */
export class FraudSuspensionResponse {
  @ApiProperty({ example: 'GB', description: 'ISO 3166 alpha-2 country code (001: numbers of no country, such as +882).' })
  country!: string;

  @ApiProperty({ format: 'date-time' })
  suspendedAt!: string;

  @ApiProperty({ format: 'date-time', description: 'When sends to the country are admitted again, unless lifted before.' })
  until!: string;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    example: 31,
    description: 'The judged sends (older than FRAUD_GRACE_SECONDS) that suspended it.',
  })
  sends!: number;

  @ApiProperty({ type: 'integer', minimum: 0, example: 2, description: 'How many of those were approved.' })
  approved!: number;
}

export class FraudCountryResponse {
  @ApiProperty({ example: 'US' })
  country!: string;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    example: 120,
    description: 'SMS/WhatsApp codes sent there in the last hour (test destinations and withheld challenges excluded).',
  })
  sends!: number;

  @ApiProperty({ type: 'integer', minimum: 0, example: 87, description: 'Approvals of those codes so far.' })
  approved!: number;
}

export class FraudResponse implements FraudView {
  @ApiProperty({ type: [FraudSuspensionResponse], description: 'Countries suspended now.' })
  suspensions!: FraudSuspensionResponse[];

  @ApiProperty({
    type: [FraudCountryResponse],
    description: "Each country's last hour, since its latest suspension or lift, which forget the sends before them.",
  })
  countries!: FraudCountryResponse[];
}
