import { Injectable, Logger } from '@nestjs/common';
import type { HealthCheckResult } from '@nestjs/terminus';

/**
 * Readiness changing state is one WARN line each way. Kubernetes probes every few seconds; a line per
 * failed probe (or per probe during a normal drain) buried what changed and when.
 */
@Injectable()
export class ReadinessLog {
  private readonly logger = new Logger('Readiness');
  private ready: boolean | undefined;

  observe(result: HealthCheckResult): void {
    const ready = result.status === 'ok';
    const before = this.ready;
    this.ready = ready;
    if (ready === before || (ready && before === undefined)) return;
    if (ready) {
      this.logger.warn({ msg: 'ready again: /health/ready answers 200', ready: true });
      return;
    }
    const down = describeDown(result.error ?? {});
    this.logger.warn({
      msg: `not ready: /health/ready answers 503 (${down.join('; ')})`,
      ready: false,
      down: Object.keys(result.error ?? {}),
    });
  }
}

function describeDown(error: Record<string, unknown>): string[] {
  return Object.entries(error).map(([key, state]) => {
    const message = (state as { message?: unknown }).message;
    return typeof message === 'string' ? `${key}: ${message}` : key;
  });
}
