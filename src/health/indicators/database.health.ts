import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { DatabaseConnection } from '../../database/database-connection.js';
import { DATABASE_CONNECTION } from '../../database/database.constants.js';

@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(DATABASE_CONNECTION) private readonly connection: DatabaseConnection,
  ) {}

  async ping(key = 'database'): Promise<HealthIndicatorResult> {
    return this.health
      .check(key)
      .attempt(async () => {
        await this.connection.ping();
        return { kind: this.connection.kind };
      })
      .withTimeout(1000);
  }
}
