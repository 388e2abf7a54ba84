import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { ShutdownState } from '../../common/shutdown-state.js';

/** Down from the moment a termination signal arrives, so the pod leaves the load balancer first. */
@Injectable()
export class ShutdownHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly state: ShutdownState,
  ) {}

  check(key = 'lifecycle'): HealthIndicatorResult {
    return this.state.shuttingDown ? this.health.check(key).down({ message: 'shutting down' }) : this.health.check(key).up();
  }
}
