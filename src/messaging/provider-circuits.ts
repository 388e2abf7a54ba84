import { Inject, Injectable, Logger } from '@nestjs/common';
import { CircuitBreakerPolicy, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import { messagingConfig } from '../config/config.namespaces.js';
import type { MessagingConfig, ProviderId } from '../config/configuration.types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProviderError } from './message-provider.js';

export type CircuitView = 'closed' | 'open' | 'half_open';

/**
 * A permanent error is about the destination (an invalid number), not the provider, so it never
 * counts toward the circuit; authentication errors and outages do.
 */
const countsAgainstProvider = (error: Error) => !(error instanceof ProviderError && error.kind === 'permanent');

const GAUGE: Record<CircuitView, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * One circuit breaker per provider: CIRCUIT_FAILURE_THRESHOLD consecutive failures open it, and
 * after CIRCUIT_OPEN_SECONDS a single trial send decides whether it closes again.
 */
@Injectable()
export class ProviderCircuits {
  private readonly logger = new Logger(ProviderCircuits.name);
  private readonly breakers = new Map<ProviderId, CircuitBreakerPolicy>();
  /** When each circuit last opened, from its onBreak event: the breaker itself does not say. */
  private readonly openedAt = new Map<ProviderId, number>();

  constructor(
    @Inject(messagingConfig.KEY) private readonly config: MessagingConfig,
    private readonly metrics: MetricsService,
  ) {}

  execute<T>(provider: ProviderId, send: () => Promise<T>): Promise<T> {
    return this.breaker(provider).execute(send);
  }

  /** What an operator should read: an open circuit whose wait is over is waiting for its trial send. */
  state(provider: ProviderId): CircuitView {
    const breaker = this.breakers.get(provider);
    if (!breaker) return 'closed';
    if (breaker.state === CircuitState.Closed) return 'closed';
    if (breaker.state === CircuitState.HalfOpen) return 'half_open';
    return this.waitIsOver(provider) ? 'half_open' : 'open';
  }

  /** Whether a send may go to this provider now: closed, or open with its wait over (the trial send). */
  allowsTraffic(provider: ProviderId): boolean {
    const breaker = this.breakers.get(provider);
    if (!breaker || breaker.state === CircuitState.Closed) return true;
    if (breaker.state === CircuitState.HalfOpen) return false;
    return this.waitIsOver(provider);
  }

  private waitIsOver(provider: ProviderId): boolean {
    return Date.now() - (this.openedAt.get(provider) ?? 0) >= this.config.circuit.openSeconds * 1000;
  }

  private breaker(provider: ProviderId): CircuitBreakerPolicy {
    let breaker = this.breakers.get(provider);
    if (!breaker) {
      breaker = circuitBreaker(handleWhen(countsAgainstProvider), {
        halfOpenAfter: this.config.circuit.openSeconds * 1000,
        breaker: new ConsecutiveBreaker(this.config.circuit.failureThreshold),
      });
      // Before the state change is reported, so whoever reads the state on that event sees when it opened.
      breaker.onBreak(() => this.openedAt.set(provider, Date.now()));
      breaker.onStateChange((state) => {
        const view: CircuitView = state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half_open' : 'open';
        this.metrics.circuitState.set({ provider }, GAUGE[view]);
        if (view === 'open') {
          const { failureThreshold, openSeconds } = this.config.circuit;
          this.logger.warn(`${provider}: circuit open after ${failureThreshold} consecutive failures; retrying in ${openSeconds}s`);
        }
        if (view === 'closed') this.logger.log(`${provider}: circuit closed, the provider is sending again`);
      });
      this.metrics.circuitState.set({ provider }, 0);
      this.breakers.set(provider, breaker);
    }
    return breaker;
  }
}
