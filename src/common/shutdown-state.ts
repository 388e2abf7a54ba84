import { Injectable } from '@nestjs/common';

/**
 * Set the moment a termination signal arrives, before anything closes, so that readiness answers
 * 503 while in-flight work drains and load balancers stop sending new requests.
 */
@Injectable()
export class ShutdownState {
  private since: Date | undefined;

  begin(): void {
    this.since ??= new Date();
  }

  get shuttingDown(): boolean {
    return this.since !== undefined;
  }
}
